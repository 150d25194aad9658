package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/bandwidth"
	"github.com/s3limit/s3limit/transfer"
)

const cpUsage = `usage: s3limit cp SRC DST [flags]

Copies under a bandwidth cap. SRC and DST are each a local path, - (standard
input or output) or s3://bucket/key; at least one is an s3:// location. A
destination key ending in / (or no key) takes the source's base name, and a
local destination that is a directory receives the file under its own name.
With --recursive, SRC is a directory or an s3:// prefix and every file or
object under it is copied; --include and --exclude choose which. S3 to S3
copies are made by the server (CopyObject, or UploadPartCopy for objects
from --multipart-threshold on): the bytes do not pass through this machine
and do not count against the cap.

Progress: on a terminal, a status line redrawn every 0.2 s; otherwise (a
pipe, a log file) a "progress:" line every 5 s. Both end with a summary.
--no-progress leaves only the lines naming each file copied; --quiet only
errors.

Credentials and region come from the standard AWS chain (environment,
shared config and credentials files, --profile). Flags may come before or
after the paths, with one or two dashes.

Exit status: 0 on success, 1 if a transfer failed, 2 for bad arguments.

flags:
`

// cpFlags are the flags of `s3limit cp`, named as the AWS CLI names them.
type cpFlags struct {
	endpoint, region, profile          string
	maxBandwidth, threshold, chunkSize string
	maxConcurrent                      int
	recursive, quiet, noProgress       bool
	contentType                        string
	filters                            []transfer.Option // --include and --exclude, in order
}

func (f *cpFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.endpoint, "endpoint-url", "", "S3 endpoint `URL` (path-style addressing), e.g. http://127.0.0.1:8333")
	fs.StringVar(&f.region, "region", "", "AWS `region` (default: from the environment or profile; us-east-1 with --endpoint-url)")
	fs.StringVar(&f.profile, "profile", "", "shared config `profile` to use")
	fs.StringVar(&f.maxBandwidth, "max-bandwidth", "", "cap on the `rate` of all transfers together: 1048576 (bytes/s), 50MB/s, 10Mb/s (bits) (default: unlimited)")
	fs.StringVar(&f.threshold, "multipart-threshold", "8MB", "`size` from which uploads and copies are multipart and downloads ranged: 8MB, 8MiB, 8388608")
	fs.StringVar(&f.chunkSize, "multipart-chunksize", "8MB", "part `size`, at least 5MB (raised for objects of more than 10,000 parts)")
	fs.IntVar(&f.maxConcurrent, "max-concurrent-requests", transfer.DefaultMaxConcurrency, "most S3 requests in flight at once")
	fs.BoolVar(&f.recursive, "recursive", false, "copy a directory or every object under a prefix")
	fs.Func("include", "with --recursive: copy the files whose path below SRC matches `pattern` (* ? [a-z]; * crosses /), even if an earlier --exclude left them out", func(p string) error {
		f.filters = append(f.filters, transfer.WithInclude(p))
		return nil
	})
	fs.Func("exclude", "with --recursive: leave out the files whose path below SRC matches `pattern`; the last matching --include or --exclude decides", func(p string) error {
		f.filters = append(f.filters, transfer.WithExclude(p))
		return nil
	})
	fs.BoolVar(&f.quiet, "quiet", false, "print nothing but errors")
	fs.BoolVar(&f.noProgress, "no-progress", false, "no progress display (the lines naming each copied file remain)")
	fs.StringVar(&f.contentType, "content-type", "", "Content-`Type` of uploaded objects (default: guessed from the file name extension; copies keep the source's)")
}

// transferConfig turns the flags into a transfer.Config; errors are bad
// arguments. warn receives notes about values that are valid but likely
// not meant.
func (f *cpFlags) transferConfig(warn func(string)) (transfer.Config, error) {
	var cfg transfer.Config
	if f.maxBandwidth != "" {
		rate, err := bandwidth.ParseRate(f.maxBandwidth)
		if err != nil {
			return cfg, fmt.Errorf("--max-bandwidth: %w", err)
		}
		cfg.MaxBandwidth = rate
		if w := bitsWarning(f.maxBandwidth, rate); w != "" {
			warn(w)
		}
	}
	threshold, err := bandwidth.ParseSize(f.threshold)
	if err != nil {
		return cfg, fmt.Errorf("--multipart-threshold: %w", err)
	}
	if threshold < 1 {
		return cfg, fmt.Errorf("--multipart-threshold %q: must be at least 1 byte", f.threshold)
	}
	chunk, err := bandwidth.ParseSize(f.chunkSize)
	if err != nil {
		return cfg, fmt.Errorf("--multipart-chunksize: %w", err)
	}
	if chunk < transfer.MinPartSize || chunk > transfer.MaxPartSize {
		return cfg, fmt.Errorf("--multipart-chunksize %q: must be between 5MiB and 5GiB (S3 part size limits)", f.chunkSize)
	}
	if f.maxConcurrent < 1 {
		return cfg, fmt.Errorf("--max-concurrent-requests %d: must be at least 1", f.maxConcurrent)
	}
	cfg.MultipartThreshold = threshold
	cfg.MultipartChunkSize = chunk
	cfg.MaxConcurrency = f.maxConcurrent
	return cfg, nil
}

// bitsWarning returns a warning for a rate written in bits with no
// capital letter in its unit ("8mb/s", "500kb/s"): in the AWS CLI grammar
// a lower-case b means bits, which is easy to write when bytes were
// meant. "10Mb/s" is the usual way to write bits and passes silently.
func bitsWarning(s string, rate int64) string {
	unit := strings.TrimLeft(strings.TrimSpace(s), "0123456789. ")
	if !strings.HasSuffix(unit, "b/s") || strings.ToLower(unit) != unit {
		return ""
	}
	bytesForm := strings.TrimSpace(s)
	bytesForm = bytesForm[:len(bytesForm)-len(unit)] + strings.ToUpper(strings.TrimSuffix(unit, "b/s")) + "B/s"
	return fmt.Sprintf("warning: --max-bandwidth %s: a lower-case b means bits, so the cap is %s/s (%d bytes/s); write %s for bytes",
		s, transfer.FormatBytes(rate), rate, bytesForm)
}

// parseInterleaved parses flags that may appear before, between and after
// the positional arguments (as the AWS CLI allows) and returns the
// positional ones. Everything after "--" is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// runCp implements `s3limit cp`.
func runCp(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("cp", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var f cpFlags
	f.register(fs)
	fs.Usage = func() {
		io.WriteString(env.Stderr, cpUsage)
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &ExitError{Code: ExitUsage, Err: errSilent}
	}
	if len(pos) != 2 {
		return usageError("expected SRC and DST, got %d argument(s) (see s3limit cp -h)", len(pos))
	}
	src, err := parseLocation(pos[0])
	if err != nil {
		return usageError("SRC: %v", err)
	}
	dst, err := parseLocation(pos[1])
	if err != nil {
		return usageError("DST: %v", err)
	}
	tcfg, err := f.transferConfig(func(w string) {
		if !f.quiet {
			fmt.Fprintln(env.Stderr, w)
		}
	})
	if err != nil {
		return usageError("%v", err)
	}
	if f.endpoint != "" {
		if u, err := url.Parse(f.endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageError("--endpoint-url %q: expected an http:// or https:// URL", f.endpoint)
		}
	}
	if err := checkPair(src, dst, f.recursive); err != nil {
		return usageError("%v", err)
	}
	if len(f.filters) > 0 && !f.recursive {
		return usageError("--include and --exclude choose files of a --recursive copy; add --recursive")
	}
	// Local sources are checked before anything touches the network.
	if !src.isS3() && !src.stdio() {
		if err := checkLocalSource(src.path, f.recursive); err != nil {
			return usageError("%v", err)
		}
	}

	client, err := newS3Client(ctx, &f)
	if err != nil {
		return err
	}
	m, err := transfer.NewManager(client, tcfg)
	if err != nil {
		return usageError("%v", err)
	}

	mode := detectProgressMode(env.Stderr)
	if f.quiet || f.noProgress {
		mode = progressOff
	}
	var j *job
	name := ""
	if !f.recursive {
		j = plan(src, dst)
		name = j.dst.String()
	}
	rep := newReporter(env.Stdout, env.Stderr, mode, name)
	c := &copier{env: env, m: m, rep: rep, flags: &f, announce: !f.quiet && !dst.stdio(),
		progress: transfer.WithProgress(mode.interval(), rep.update)}
	var failed, total int
	if f.recursive {
		failed, total, err = c.recursive(ctx, src, dst)
	} else {
		failed, total = c.single(ctx, j), 1
	}
	m.Close()
	rep.close()

	switch {
	case ctx.Err() != nil:
		return &ExitError{Code: ExitFailure, Err: errors.New("interrupted; incomplete multipart uploads were aborted")}
	case err != nil:
		return &ExitError{Code: ExitFailure, Err: err}
	case failed > 0 && total > 1:
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%d of %d transfer(s) failed", failed, total)}
	case failed > 0:
		return &ExitError{Code: ExitFailure, Err: errSilent}
	}
	return nil
}

// newS3Client builds the client from the standard configuration chain.
// AWS_CA_BUNDLE and other settings are honoured; no custom HTTP client is
// passed (the loader rejects one when a CA bundle is configured).
func newS3Client(ctx context.Context, f *cpFlags) (*s3.Client, error) {
	var opts []func(*config.LoadOptions) error
	if f.region != "" {
		opts = append(opts, config.WithRegion(f.region))
	}
	if f.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(f.profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, usageError("loading the AWS configuration: %v", err)
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return nil, &ExitError{Code: ExitFailure, Err: fmt.Errorf("no usable AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass --profile): %w", err)}
	}
	if cfg.Region == "" {
		if f.endpoint == "" && cfg.BaseEndpoint == nil {
			return nil, usageError("no AWS region: pass --region, set AWS_REGION, or give the profile a region")
		}
		cfg.Region = "us-east-1"
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if f.endpoint != "" {
			o.BaseEndpoint = &f.endpoint
		}
		if o.BaseEndpoint != nil {
			// Custom endpoints (s3limit serve, MinIO, ...) are addressed
			// path-style: no bucket names in DNS.
			o.UsePathStyle = true
		}
	}), nil
}
