package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/s3api"
)

// runCheck validates configuration files as `s3limit serve` reads them,
// for CI pipelines and pre-deploy hooks: it exits 0 when every named file
// is valid, and 2 when one is not, with the message the server would log
// for it (the file, the field and the reason). Unlike the server, which
// takes a missing circuit-breaker file for "no limits", it reports a
// missing file: a check names a file that should exist.
func runCheck(_ context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: s3limit check [-config FILE] [-circuitBreaker FILE]\n\nChecks files as s3limit serve reads them; exit status 0 when they are valid, 2 when not.")
		fs.PrintDefaults()
	}
	idPath := fs.String("config", "", "identities JSON `file` to check (serve's -config)")
	cbPath := fs.String("circuitBreaker", "", "circuit breaker JSON `file` to check (serve's -circuitBreaker)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &ExitError{Code: ExitUsage, Err: errSilent}
	}
	if fs.NArg() > 0 {
		return usageError("unexpected argument %q", fs.Arg(0))
	}
	if *idPath == "" && *cbPath == "" {
		return usageError("name a file to check: -config FILE (identities) and/or -circuitBreaker FILE")
	}
	failed := false
	report := func(path, summary string, err error) {
		if err != nil {
			fmt.Fprintf(env.Stderr, "s3limit check: %v\n", err)
			failed = true
			return
		}
		fmt.Fprintf(env.Stdout, "%s: ok (%s)\n", path, summary)
	}
	if *idPath != "" {
		ids, err := s3api.LoadIdentityFile(*idPath)
		n := 0
		if ids != nil {
			n = len(ids.Identities)
		}
		report(*idPath, plural(n, "identity", "identities"), err)
	}
	if *cbPath != "" {
		cfg, err := limits.CheckConfigFile(*cbPath)
		summary := ""
		if cfg != nil {
			summary = fmt.Sprintf("global section: %s, %s, %s", yesNo(cfg.Global != nil),
				plural(len(cfg.Buckets), "bucket section", "bucket sections"), plural(len(cfg.Users), "user section", "user sections"))
		}
		report(*cbPath, summary, err)
	}
	if failed {
		return &ExitError{Code: ExitUsage, Err: errSilent}
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
