package shell

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/s3limit/s3limit/internal/limits"
)

// ErrExit is returned by Exec for "exit" and "quit".
var ErrExit = errors.New("shell: exit")

// defaultAttempts bounds the read-modify-write loop of one command when
// the configuration keeps changing underneath it.
const defaultAttempts = 5

// maxLineBytes is the longest command line the shell reads.
const maxLineBytes = 1 << 20

// Shell runs shell commands against a Backend. Its methods must not be
// called concurrently.
type Shell struct {
	// Backend holds the configuration the commands edit. Required.
	Backend Backend
	// Stdout receives command output: configurations as canonical JSON,
	// help, and the interactive prompt.
	Stdout io.Writer
	// Stderr receives errors and notes in interactive mode.
	Stderr io.Writer
	// MaxAttempts is how many times one command loads, edits and saves
	// when the save finds the configuration changed; zero means 5.
	MaxAttempts int
}

// Exec runs one command line. It returns ErrExit for "exit", a
// *UsageError for a line that cannot run, or the backend's error.
// Nothing is saved when it returns an error.
func (s *Shell) Exec(ctx context.Context, line string) error {
	return s.exec(ctx, line, false)
}

// RunScript runs the commands read from r, one per line (blank lines and
// # comments are skipped). It stops at the first failing command, so no
// later command runs against a configuration the script did not expect,
// and returns that error prefixed with its line number. "exit" ends the
// script successfully.
func (s *Shell) RunScript(ctx context.Context, r io.Reader) error {
	stop := make(chan struct{})
	defer close(stop)
	n := 0
	for l := range readLines(r, stop) {
		n++
		if l.err != nil {
			return fmt.Errorf("line %d: %w", n, l.err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		err := s.exec(ctx, l.text, false)
		if errors.Is(err, ErrExit) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
	}
	return nil
}

// RunInteractive prompts with "> " and runs each line read from r,
// printing errors to Stderr and carrying on. It returns nil at "exit", at
// the end of input or when ctx is done; it returns an error only when r
// fails. A goroutine reads r; if ctx ends first it stays blocked in Read
// until r returns.
func (s *Shell) RunInteractive(ctx context.Context, r io.Reader) error {
	fmt.Fprintf(s.Stderr, "s3limit shell on %s; type help for commands, exit to leave\n", s.Backend)
	stop := make(chan struct{})
	defer close(stop)
	lines := readLines(r, stop)
	for {
		io.WriteString(s.Stdout, "> ")
		select {
		case <-ctx.Done():
			io.WriteString(s.Stdout, "\n")
			return nil
		case l, ok := <-lines:
			if !ok {
				io.WriteString(s.Stdout, "\n")
				return nil
			}
			if l.err != nil {
				return l.err
			}
			err := s.exec(ctx, l.text, true)
			if errors.Is(err, ErrExit) {
				return nil
			}
			if err != nil {
				fmt.Fprintf(s.Stderr, "error: %v\n", err)
			}
		}
	}
}

func (s *Shell) exec(ctx context.Context, line string, interactive bool) error {
	cmd, err := ParseCommand(line)
	if err != nil {
		return err
	}
	switch {
	case cmd.Name == "":
		return nil
	case cmd.Name == CmdExit:
		return ErrExit
	case cmd.Help:
		_, err := io.WriteString(s.Stdout, helpText(cmd.Topic))
		return err
	}
	return s.circuitBreaker(ctx, cmd.CircuitBreaker, interactive)
}

// circuitBreaker loads the configuration, applies op and, with -apply,
// saves the result, starting over from a fresh load when the save meets
// a concurrent change.
func (s *Shell) circuitBreaker(ctx context.Context, op *CircuitBreakerOp, interactive bool) error {
	attempts := s.MaxAttempts
	if attempts <= 0 {
		attempts = defaultAttempts
	}
	for i := 1; ; i++ {
		cur, version, err := s.Backend.Load(ctx)
		if err != nil {
			return err
		}
		next, err := op.Edit(cur)
		if err != nil {
			return err
		}
		oldDoc, err := cur.Marshal()
		if err != nil {
			return err
		}
		doc, err := next.Marshal()
		if err != nil {
			return err
		}
		unchanged := bytes.Equal(oldDoc, doc)
		if !op.Apply || unchanged {
			if _, err := s.Stdout.Write(doc); err != nil {
				return err
			}
			if !op.Apply && !unchanged {
				// Said on every path, not only at the prompt: a script or
				// -c without -apply must not look like it changed limits.
				io.WriteString(s.Stderr, "(not saved: add -apply to save this configuration)\n")
			}
			if fw, ok := s.Backend.(FileWarner); ok && fw.FileWarning() != "" {
				fmt.Fprintf(s.Stderr, "warning: %s\n", fw.FileWarning())
			}
			return nil
		}
		saved, _, err := s.Backend.Save(ctx, next, version)
		if errors.Is(err, ErrConflict) && i < attempts {
			continue
		}
		if errors.Is(err, ErrConflict) {
			return fmt.Errorf("%w; gave up after %d attempts, try again", err, attempts)
		}
		if err != nil {
			return err
		}
		s.warnMissingBuckets(ctx, op)
		return s.print(saved)
	}
}

// BucketChecker is implemented by backends that can tell whether a bucket
// exists on the server (the admin API).
type BucketChecker interface {
	BucketExists(ctx context.Context, bucket string) (bool, error)
}

// warnMissingBuckets warns about limits saved for buckets the server does
// not have: they are kept (the bucket may be created later), but a typo
// would otherwise go unnoticed.
func (s *Shell) warnMissingBuckets(ctx context.Context, op *CircuitBreakerOp) {
	bc, ok := s.Backend.(BucketChecker)
	if !ok || op.Delete {
		return
	}
	for _, b := range op.Buckets {
		if exists, err := bc.BucketExists(ctx, b); err == nil && !exists {
			fmt.Fprintf(s.Stderr, "warning: bucket %s does not exist on the server; its limits apply once it is created\n", quote(b))
		}
	}
}

func (s *Shell) print(cfg *limits.Config) error {
	doc, err := cfg.Marshal()
	if err != nil {
		return err
	}
	_, err = s.Stdout.Write(doc)
	return err
}

type lineOrErr struct {
	text string
	err  error
}

// readLines sends r's lines until EOF, a read error (sent, then the
// channel closes) or stop.
func readLines(r io.Reader, stop <-chan struct{}) <-chan lineOrErr {
	ch := make(chan lineOrErr)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 4096), maxLineBytes)
		for sc.Scan() {
			select {
			case ch <- lineOrErr{text: sc.Text()}:
			case <-stop:
				return
			}
		}
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				err = fmt.Errorf("line longer than %d bytes", maxLineBytes)
			}
			select {
			case ch <- lineOrErr{err: err}:
			case <-stop:
			}
		}
	}()
	return ch
}
