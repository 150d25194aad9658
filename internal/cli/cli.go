// Package cli implements the s3limit command line: subcommand dispatch,
// flag parsing and exit codes. Only main calls os.Exit.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1 // the command ran and failed
	ExitUsage   = 2 // bad arguments or flags
)

// Env is what a subcommand may touch of the process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// ExitError carries an exit code up to main.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// usageError is a bad argument: exit code 2.
func usageError(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

type command struct {
	summary string
	run     func(ctx context.Context, env *Env, args []string) error
}

func commands() map[string]command {
	return map[string]command{
		"version": {"print the version", runVersion},
		"serve":   {"run the S3 server (embedded store, or a gateway with -upstream)", runServe},
		"shell":   {"edit circuit-breaker limits of a running server or a config file", runShell},
		"cp":      {"copy files to, from or between S3 locations under a bandwidth cap", runCp},
		"check":   {"validate identities and circuit-breaker files as serve reads them (exit 2 when invalid)", runCheck},
	}
}

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, env *Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(env.Stderr, cmds)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "s3limit: unknown command %q\n", args[0])
		usage(env.Stderr, cmds)
		return ExitUsage
	}
	err := c.run(ctx, env, args[1:])
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil && !errors.Is(ee.Err, errSilent) {
			fmt.Fprintf(env.Stderr, "s3limit %s: %v\n", args[0], ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintf(env.Stderr, "s3limit %s: %v\n", args[0], err)
	return ExitFailure
}

// errSilent marks an error that was already reported.
var errSilent = errors.New("already reported")

func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("usage: s3limit <command> [flags]\n\ncommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-8s %s\n", n, cmds[n].summary)
	}
	b.WriteString("\nRun 's3limit <command> -h' for the flags of a command.\n")
	io.WriteString(w, b.String())
}
