package shell

// helpText returns the help for topic ("" = the list of commands).
func helpText(topic string) string {
	switch topic {
	case CmdCircuitBreaker:
		return circuitBreakerHelp
	case CmdHelp:
		return "help [command]: list the commands, or show one command's help\n"
	case CmdExit:
		return "exit (or quit): leave the shell\n"
	}
	return commandsHelp
}

const commandsHelp = `commands:
  s3.circuitBreaker   view or change the circuit breaker (help s3.circuitBreaker for its flags)
  help [command]      list the commands, or show one command's help
  exit, quit          leave the shell
`

const circuitBreakerHelp = `s3.circuitBreaker [-global] [-buckets b1,b2] [-type count|MB] [-actions A1,A2] [-values v1,v2] [-disable | -delete] [-apply]

View or change the circuit breaker: limits on simultaneous requests (count)
or on the bytes they carry (MB) per action, globally and per bucket. Over a
limit the server answers 429 SlowDown (count) or RequestBytesExceed (MB).

Without -apply the command prints the configuration that would result and
changes nothing; with -apply it saves it and prints it.

  -global           the global section
  -buckets b1,b2    these buckets' sections
  -type count|MB    count: simultaneous requests; MB: MiB of simultaneous
                    request content (stored in bytes)
  -actions A1,A2    actions: Read, Write, List, Tagging, Admin
  -values v1,v2     non-negative integers, one per action or one for all;
                    0 blocks the action. Values are set (other limits stay)
                    and switch the section on unless -disable is given
  -disable          switch the section off, keeping its limits
                    (naming a section without -disable switches it on)
  -delete           remove the named buckets, or only -actions of -type
                    (both types when -type is omitted) from the named scope;
                    with no scope, remove everything
  -apply            save the result

examples:
  s3.circuitBreaker -global -type count -actions Read,Write -values 500,200 -apply
  s3.circuitBreaker -global -type MB -actions Write -values 1024 -apply
  s3.circuitBreaker -buckets mybucket,otherbucket -type count -actions Read,Write -values 200,100 -apply
  s3.circuitBreaker
  s3.circuitBreaker -buckets mybucket -disable -apply
  s3.circuitBreaker -global -actions Read -type count -delete -apply
  s3.circuitBreaker -delete -apply
`
