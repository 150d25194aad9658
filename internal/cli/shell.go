package cli

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"golang.org/x/term"

	"github.com/s3limit/s3limit/internal/shell"
)

const shellUsage = `usage: s3limit shell (-server URL [-accessKey AK -secretKey SK | -profile P] | -config FILE) [-c COMMAND]

Edits the circuit breaker of a running server (through its admin API, as an
identity holding the Admin action) or a circuit-breaker file directly.
Credentials: -accessKey/-secretKey, else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
else the shared AWS config and credentials files (-profile or AWS_PROFILE).
With -c it runs one command; otherwise it reads commands from standard input,
with a "> " prompt when that is a terminal. In the non-interactive forms the
first failing command stops the shell with a non-zero exit status.

flags:
`

// runShell implements `s3limit shell`.
func runShell(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("shell", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	server := fs.String("server", "", "`URL` of a running s3limit server, e.g. http://127.0.0.1:8333")
	config := fs.String("config", "", "circuit-breaker `FILE` to edit directly (created when missing)")
	accessKey := fs.String("accessKey", "", "access key of an Admin identity (default $AWS_ACCESS_KEY_ID)")
	secretKey := fs.String("secretKey", "", "secret key (default $AWS_SECRET_ACCESS_KEY)")
	command := fs.String("c", "", "run one `COMMAND` and exit, e.g. -c 's3.circuitBreaker'")
	profile := fs.String("profile", "", "shared-config `PROFILE` for the credentials when no keys are given (default $AWS_PROFILE)")
	fs.Usage = func() {
		io.WriteString(env.Stderr, shellUsage)
		fs.PrintDefaults()
		io.WriteString(env.Stderr, "\nType help at the prompt (or -c help) for the commands.\n")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &ExitError{Code: ExitUsage, Err: errSilent}
	}
	if fs.NArg() > 0 {
		return usageError("unexpected argument %q (quote a command and pass it with -c)", fs.Arg(0))
	}
	cFlagSet := false
	fs.Visit(func(f *flag.Flag) { cFlagSet = cFlagSet || f.Name == "c" })

	var backend shell.Backend
	switch {
	case *server != "" && *config != "":
		return usageError("-server and -config cannot be combined (use one)")
	case *config != "":
		if *accessKey != "" || *secretKey != "" {
			return usageError("-accessKey and -secretKey are for -server, not -config")
		}
		backend = &shell.FileBackend{Path: *config}
	case *server != "":
		creds := aws.Credentials{AccessKeyID: *accessKey, SecretAccessKey: *secretKey}
		if creds.AccessKeyID == "" && creds.SecretAccessKey == "" {
			creds.SessionToken = env.Getenv("AWS_SESSION_TOKEN")
		}
		if creds.AccessKeyID == "" {
			creds.AccessKeyID = env.Getenv("AWS_ACCESS_KEY_ID")
		}
		if creds.SecretAccessKey == "" {
			creds.SecretAccessKey = env.Getenv("AWS_SECRET_ACCESS_KEY")
		}
		if creds.AccessKeyID == "" && creds.SecretAccessKey == "" {
			// As s3limit cp and the AWS CLI do: the shared config and
			// credentials files, AWS_PROFILE or -profile.
			if shared, ok := sharedCredentials(ctx, env, *profile); ok {
				creds = shared
			}
		}
		b, err := shell.NewAdminBackend(*server, creds)
		if err != nil {
			return usageError("%v", err)
		}
		backend = b
	default:
		return usageError("one of -server URL or -config FILE is required")
	}

	stdin := env.Stdin
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	sh := &shell.Shell{Backend: backend, Stdout: env.Stdout, Stderr: env.Stderr}
	var err error
	switch {
	case cFlagSet:
		err = sh.Exec(ctx, *command)
		if errors.Is(err, shell.ErrExit) {
			err = nil
		}
	case isTerminal(stdin):
		err = sh.RunInteractive(ctx, stdin)
	default:
		err = sh.RunScript(ctx, stdin)
	}
	if err == nil {
		return nil
	}
	var ue *shell.UsageError
	if errors.As(err, &ue) {
		return &ExitError{Code: ExitUsage, Err: err}
	}
	return &ExitError{Code: ExitFailure, Err: err}
}

// sharedCredentials loads credentials from the shared AWS config and
// credentials files (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, or
// ~/.aws), for profile, else AWS_PROFILE, else "default".
func sharedCredentials(ctx context.Context, env *Env, profile string) (aws.Credentials, bool) {
	if profile == "" {
		profile = env.Getenv("AWS_PROFILE")
	}
	// Only the shared files: the instance metadata service is not where
	// an operator keeps admin keys, and asking it stalls and logs.
	opts := []func(*config.LoadOptions) error{config.WithEC2IMDSClientEnableState(imds.ClientDisabled)}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	if f := env.Getenv("AWS_SHARED_CREDENTIALS_FILE"); f != "" {
		opts = append(opts, config.WithSharedCredentialsFiles([]string{f}))
	}
	if f := env.Getenv("AWS_CONFIG_FILE"); f != "" {
		opts = append(opts, config.WithSharedConfigFiles([]string{f}))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Credentials{}, false
	}
	c, err := cfg.Credentials.Retrieve(ctx)
	if err != nil || c.AccessKeyID == "" {
		return aws.Credentials{}, false
	}
	return c, true
}

// isTerminal reports whether r is a terminal.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
