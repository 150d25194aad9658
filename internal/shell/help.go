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

const circuitBreakerHelp = `s3.circuitBreaker [-global] [-buckets b1,b2] [-users u1,u2] [-type count|MB|ops/s|MB/s] [-actions A1,A2] [-values v1,v2] [-shadow[=false]] [-wait 5s] [-disable | -delete] [-apply]

View or change the circuit breaker: limits per action on simultaneous
requests (count) or the bytes they carry (MB), on requests per second
(ops/s) or on body bandwidth (MB/s), globally, per bucket and per user.
Over a limit the server answers 429 SlowDown (count, ops/s; with
Retry-After) or RequestBytesExceed (MB); MB/s limits slow bodies down to
the rate and refuse nothing.

Without -apply the command prints the configuration that would result and
changes nothing; with -apply it saves it and prints it.

  -global           the global section
  -buckets b1,b2    these buckets' sections
  -users u1,u2      these users' sections, by identity name; "anonymous"
                    is the user of unsigned requests
  -type count|MB|ops/s|MB/s
                    count: simultaneous requests; MB: MiB of simultaneous
                    request content (stored in bytes); ops/s: requests
                    admitted per second; MB/s: MiB of request and response
                    bodies per second (stored in bytes/s)
  -actions A1,A2    actions: Read, Write, List, Tagging, Admin
  -values v1,v2     non-negative integers, one per action or one for all;
                    0 blocks the action. Values are set (other limits stay)
                    and switch the section on unless -disable is given
  -shadow           put the sections in shadow mode: their limits are
                    evaluated and counted in the metrics but never refuse
                    or slow a request; -shadow=false enforces them again
  -wait 5s          a request over the sections' count or bytes limits
                    waits up to this long for room, first come first
                    served, and is refused only after it; -wait 0 refuses
                    at once again
  -disable          switch the section off, keeping its limits
                    (naming a section without -disable switches it on)
  -delete           remove the named sections, or only -actions of -type
                    (every type when -type is omitted) from the named scope;
                    with no scope, remove everything
  -apply            save the result

examples:
  s3.circuitBreaker -global -type count -actions Read,Write -values 500,200 -apply
  s3.circuitBreaker -global -type MB -actions Write -values 1024 -apply
  s3.circuitBreaker -buckets mybucket,otherbucket -type count -actions Read,Write -values 200,100 -apply
  s3.circuitBreaker -global -type ops/s -actions Read -values 2000 -apply
  s3.circuitBreaker -buckets backups -type MB/s -actions Write -values 200 -apply
  s3.circuitBreaker -users alice -type ops/s -actions Write -values 100 -apply
  s3.circuitBreaker -users anonymous -shadow -type ops/s -actions Read -values 10 -apply
  s3.circuitBreaker -users anonymous -shadow=false -apply
  s3.circuitBreaker -buckets backups -wait 5s -type count -actions Write -values 2 -apply
  s3.circuitBreaker
  s3.circuitBreaker -buckets mybucket -disable -apply
  s3.circuitBreaker -users alice -delete -apply
  s3.circuitBreaker -global -actions Read -type count -delete -apply
  s3.circuitBreaker -delete -apply
`
