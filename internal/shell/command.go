// Package shell is the s3limit admin shell: a command parser (lines →
// Command, pure), an executor that edits a *limits.Config, backends that
// load and store the configuration (a file, or a running server's admin
// API), and the read-eval-print loop that ties them together.
//
// The only configuration command is s3.circuitBreaker, with the flags and
// meaning of SeaweedFS's command of the same name, extended with user
// sections (-users), rate limits (-type ops/s and MB/s) and shadow mode
// (-shadow).
package shell

import (
	"strings"
)

// Command names.
const (
	CmdCircuitBreaker = "s3.circuitBreaker"
	CmdHelp           = "help"
	CmdExit           = "exit"
)

// commandList is shown when a command is unknown.
const commandList = "s3.circuitBreaker, help, exit"

// Command is one parsed shell line.
type Command struct {
	// Name is CmdCircuitBreaker, CmdHelp or CmdExit ("quit" is CmdExit);
	// "" for a blank or comment-only line, which does nothing.
	Name string
	// CircuitBreaker is the operation of an s3.circuitBreaker line; nil
	// when Name is something else or when Help is set.
	CircuitBreaker *CircuitBreakerOp
	// Help asks for the help of Topic: "help [topic]" or
	// "s3.circuitBreaker -h". Topic "" is the list of commands.
	Help  bool
	Topic string
}

// UsageError is a command line that cannot be run as written. Its message
// is one line that names the problem and what is allowed.
type UsageError struct {
	Command string // the command the error is about; "" for the line itself
	Msg     string
}

func (e *UsageError) Error() string {
	if e.Command == "" {
		return oneLine(e.Msg)
	}
	return e.Command + ": " + oneLine(e.Msg)
}

// ParseCommand parses one shell line. It never panics, and every error it
// returns is a *UsageError whose message is a single line.
func ParseCommand(line string) (Command, error) {
	words, err := SplitLine(line)
	if err != nil {
		return Command{}, err
	}
	if len(words) == 0 {
		return Command{}, nil
	}
	name, args := words[0], words[1:]
	switch {
	case strings.EqualFold(name, CmdCircuitBreaker):
		op, err := ParseCircuitBreaker(args)
		if err == errHelp {
			return Command{Name: CmdCircuitBreaker, Help: true, Topic: CmdCircuitBreaker}, nil
		}
		if err != nil {
			return Command{}, err
		}
		return Command{Name: CmdCircuitBreaker, CircuitBreaker: op}, nil
	case strings.EqualFold(name, CmdHelp) || name == "?":
		if len(args) > 1 {
			return Command{}, &UsageError{Command: CmdHelp, Msg: "takes at most one command name (help [" + commandList + "])"}
		}
		c := Command{Name: CmdHelp, Help: true}
		if len(args) == 1 {
			topic, ok := canonicalCommand(args[0])
			if !ok {
				return Command{}, &UsageError{Command: CmdHelp, Msg: "unknown command " + quote(args[0]) + " (commands: " + commandList + ")"}
			}
			c.Topic = topic
		}
		return c, nil
	case strings.EqualFold(name, CmdExit) || strings.EqualFold(name, "quit"):
		if len(args) > 0 {
			return Command{}, &UsageError{Command: CmdExit, Msg: "takes no arguments"}
		}
		return Command{Name: CmdExit}, nil
	}
	return Command{}, &UsageError{Msg: "unknown command " + quote(name) + " (commands: " + commandList + ")"}
}

func canonicalCommand(name string) (string, bool) {
	for _, c := range []string{CmdCircuitBreaker, CmdHelp, CmdExit} {
		if strings.EqualFold(name, c) {
			return c, true
		}
	}
	if strings.EqualFold(name, "quit") {
		return CmdExit, true
	}
	return "", false
}
