package cli

import (
	"bytes"
	"context"
	"flag"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/server/servertest"
)

// cpEnv is a test server with a bucket, and the process environment set so
// that the standard AWS configuration chain finds its credentials and
// nothing of the machine's own AWS setup.
type cpEnv struct {
	srv    *servertest.Server
	client *s3.Client
	dir    string
}

func newCpEnv(t *testing.T, buckets ...string) *cpEnv {
	t.Helper()
	srv := servertest.Start(t, servertest.Options{})
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           srv.AccessKey,
		"AWS_SECRET_ACCESS_KEY":       srv.SecretKey,
		"AWS_SESSION_TOKEN":           "",
		"AWS_REGION":                  "us-east-1",
		"AWS_DEFAULT_REGION":          "",
		"AWS_PROFILE":                 "",
		"AWS_CA_BUNDLE":               "",
		"AWS_ENDPOINT_URL":            "",
		"AWS_ENDPOINT_URL_S3":         "",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "no-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "no-credentials"),
	} {
		t.Setenv(k, v)
	}
	c := srv.Client()
	for _, b := range buckets {
		if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	return &cpEnv{srv: srv, client: c, dir: dir}
}

// cp runs `s3limit cp` with the endpoint flag added.
func (e *cpEnv) cp(t *testing.T, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var out, errOut bytes.Buffer
	env := &Env{Stdin: stdin, Stdout: &out, Stderr: &errOut, Getenv: os.Getenv}
	all := append([]string{"cp", "--endpoint-url", e.srv.URL}, args...)
	code = Main(context.Background(), all, env)
	return code, out.String(), errOut.String()
}

func (e *cpEnv) object(t *testing.T, bucket, key string) []byte {
	t.Helper()
	out, err := e.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	return b
}

func (e *cpEnv) keys(t *testing.T, bucket, prefix string) []string {
	t.Helper()
	out, err := e.client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	slices.Sort(keys)
	return keys
}

func cpRandomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 1}).Read(b)
	return b
}

func cpWriteFile(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCpUploadAndDownloadFiles(t *testing.T) {
	e := newCpEnv(t, "bkt")
	sizes := []int{0, 1, 5<<20 - 1, 5 << 20, 5<<20 + 1, 11 << 20}
	for _, size := range sizes {
		data := cpRandomBytes(size, uint64(size))
		src := filepath.Join(e.dir, "src.bin")
		cpWriteFile(t, src, data)
		key := "files/obj"
		code, stdout, stderr := e.cp(t, nil, src, "s3://bkt/"+key, "--multipart-threshold", "5MB", "--multipart-chunksize", "5MiB", "--no-progress")
		if code != 0 {
			t.Fatalf("size %d upload: exit %d, stderr %q", size, code, stderr)
		}
		if want := "upload: " + src + " to s3://bkt/" + key + "\n"; stdout != want || stderr != "" {
			t.Fatalf("upload output %q / %q, want %q", stdout, stderr, want)
		}
		if got := e.object(t, "bkt", key); !bytes.Equal(got, data) {
			t.Fatalf("size %d: stored object differs (%d bytes)", size, len(got))
		}
		dst := filepath.Join(e.dir, "dst.bin")
		code, _, stderr = e.cp(t, nil, "s3://bkt/"+key, dst, "--multipart-threshold=5MB", "--multipart-chunksize=5242880", "--quiet")
		if code != 0 || stderr != "" {
			t.Fatalf("size %d download: exit %d, stderr %q", size, code, stderr)
		}
		if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
			t.Fatalf("size %d: downloaded file differs", size)
		}
	}
	// No temporary files are left next to the destination.
	entries, _ := os.ReadDir(e.dir)
	for _, en := range entries {
		if strings.Contains(en.Name(), "s3limit-part") {
			t.Fatalf("left behind: %s", en.Name())
		}
	}
}

func TestCpDestinationNaming(t *testing.T) {
	e := newCpEnv(t, "bkt")
	src := filepath.Join(e.dir, "report.csv")
	cpWriteFile(t, src, []byte("a,b\n"))
	// A key ending in "/" takes the base name, like aws s3 cp.
	if code, _, stderr := e.cp(t, nil, "--quiet", src, "s3://bkt/in/"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got := e.object(t, "bkt", "in/report.csv"); string(got) != "a,b\n" {
		t.Fatalf("got %q", got)
	}
	// A bucket alone also does.
	if code, _, stderr := e.cp(t, nil, "--quiet", src, "s3://bkt"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got := e.object(t, "bkt", "report.csv"); string(got) != "a,b\n" {
		t.Fatalf("got %q", got)
	}
	// The Content-Type is guessed from the extension.
	head, err := e.client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("report.csv")})
	if err != nil || !strings.HasPrefix(aws.ToString(head.ContentType), "text/csv") {
		t.Fatalf("Content-Type %q, err %v", aws.ToString(head.ContentType), err)
	}
	// Downloading into an existing directory keeps the object's name.
	outDir := filepath.Join(e.dir, "out")
	os.Mkdir(outDir, 0o755)
	if code, _, stderr := e.cp(t, nil, "--quiet", "s3://bkt/in/report.csv", outDir); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(outDir, "report.csv")); string(got) != "a,b\n" {
		t.Fatalf("got %q", got)
	}
	// A device is written to, not replaced.
	if code, _, stderr := e.cp(t, nil, "--quiet", "s3://bkt/in/report.csv", os.DevNull); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if fi, err := os.Stat(os.DevNull); err != nil || fi.Mode().IsRegular() {
		t.Fatalf("%s was replaced: %v %v", os.DevNull, fi.Mode(), err)
	}
	// A path ending in a separator is a directory, created as needed.
	if code, _, stderr := e.cp(t, nil, "--quiet", "s3://bkt/in/report.csv", filepath.Join(e.dir, "new", "dir")+string(filepath.Separator)); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(e.dir, "new", "dir", "report.csv")); string(got) != "a,b\n" {
		t.Fatalf("got %q", got)
	}
}

func TestCpStdinAndStdout(t *testing.T) {
	e := newCpEnv(t, "bkt")
	data := cpRandomBytes(13<<20+5, 3)
	// A pipe-like reader (no ReadAt, no size): streamed in parts.
	code, _, stderr := e.cp(t, io.MultiReader(bytes.NewReader(data)), "-", "s3://bkt/stream.bin", "--multipart-chunksize", "5MB", "--no-progress")
	if code != 0 {
		t.Fatalf("upload from stdin: exit %d: %s", code, stderr)
	}
	if got := e.object(t, "bkt", "stream.bin"); !bytes.Equal(got, data) {
		t.Fatal("object from stdin differs")
	}
	code, stdout, stderr := e.cp(t, nil, "s3://bkt/stream.bin", "-", "--multipart-threshold", "5MB", "--multipart-chunksize", "5MB")
	if code != 0 {
		t.Fatalf("download to stdout: exit %d: %s", code, stderr)
	}
	// Standard output carries the object and nothing else.
	if !bytes.Equal([]byte(stdout), data) {
		t.Fatalf("stdout has %d bytes, want the %d of the object", len(stdout), len(data))
	}
}

func TestCpRecursive(t *testing.T) {
	e := newCpEnv(t, "bkt")
	tree := filepath.Join(e.dir, "tree")
	files := map[string][]byte{
		"a.txt":          []byte("alpha"),
		"sub/b.bin":      cpRandomBytes(6<<20, 1),
		"sub/deep/c.txt": []byte("gamma"),
		"empty":          {},
	}
	for name, data := range files {
		cpWriteFile(t, filepath.Join(tree, filepath.FromSlash(name)), data)
	}
	// Flags after the paths, with single and double dashes.
	code, stdout, stderr := e.cp(t, nil, tree, "s3://bkt/backup", "--recursive", "-multipart-chunksize", "5MB", "--no-progress")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	wantKeys := []string{"backup/a.txt", "backup/empty", "backup/sub/b.bin", "backup/sub/deep/c.txt"}
	if got := e.keys(t, "bkt", "backup/"); !reflect.DeepEqual(got, wantKeys) {
		t.Fatalf("keys %q, want %q", got, wantKeys)
	}
	if n := strings.Count(stdout, "upload: "); n != 4 {
		t.Fatalf("stdout %q", stdout)
	}

	// Back down into a new directory: the same tree.
	back := filepath.Join(e.dir, "back")
	if code, _, stderr := e.cp(t, nil, "--recursive", "--quiet", "s3://bkt/backup", back); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for name, data := range files {
		if got, err := os.ReadFile(filepath.Join(back, filepath.FromSlash(name))); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: %v / %d bytes", name, err, len(got))
		}
	}

	// S3 to S3, under another prefix.
	if code, _, stderr := e.cp(t, nil, "--recursive", "--quiet", "s3://bkt/backup/", "s3://bkt/copy/"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got := e.object(t, "bkt", "copy/sub/b.bin"); !bytes.Equal(got, files["sub/b.bin"]) {
		t.Fatal("copied object differs")
	}
	if got := e.keys(t, "bkt", "copy/"); len(got) != 4 {
		t.Fatalf("copy keys %q", got)
	}
}

func TestCpS3ToS3Single(t *testing.T) {
	e := newCpEnv(t, "one", "two")
	data := cpRandomBytes(9<<20, 8)
	if _, err := e.client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String("one"), Key: aws.String("k"), Body: bytes.NewReader(data),
		ContentType: aws.String("application/x-test"), Metadata: map[string]string{"owner": "ops"},
	}); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := e.cp(t, nil, "s3://one/k", "s3://two/", "--no-progress")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if stdout != "copy: s3://one/k to s3://two/k\n" {
		t.Fatalf("stdout %q", stdout)
	}
	if got := e.object(t, "two", "k"); !bytes.Equal(got, data) {
		t.Fatal("copy differs")
	}
	head, err := e.client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("two"), Key: aws.String("k")})
	if err != nil || aws.ToString(head.ContentType) != "application/x-test" || head.Metadata["owner"] != "ops" {
		t.Fatalf("headers not copied: %v %+v", err, head)
	}
}

// --max-bandwidth is applied: 3 MiB at 2 MiB/s cannot finish in much
// under 1.5 s (the pacing bucket's burst is 50 ms).
func TestCpMaxBandwidthIsApplied(t *testing.T) {
	e := newCpEnv(t, "bkt")
	src := filepath.Join(e.dir, "f")
	cpWriteFile(t, src, cpRandomBytes(3<<20, 2))
	start := time.Now()
	code, _, stderr := e.cp(t, nil, src, "s3://bkt/f", "--max-bandwidth", "2MB/s")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if el := time.Since(start); el < 1400*time.Millisecond {
		t.Fatalf("3 MiB at 2 MiB/s took %v", el)
	}
	// Not a terminal: a plain summary line on stderr.
	if !strings.Contains(stderr, "1 file(s), 3.0 MiB in ") {
		t.Fatalf("stderr %q", stderr)
	}
}

func TestCpBadArguments(t *testing.T) {
	e := newCpEnv(t, "bkt")
	file := filepath.Join(e.dir, "f")
	cpWriteFile(t, file, []byte("x"))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no arguments", nil, "expected SRC and DST"},
		{"one argument", []string{file}, "expected SRC and DST"},
		{"three arguments", []string{file, "s3://bkt/a", "s3://bkt/b"}, "expected SRC and DST"},
		{"local to local", []string{file, filepath.Join(e.dir, "g")}, "at least one of SRC and DST must be an s3://"},
		{"no bucket", []string{file, "s3://"}, "has no bucket"},
		{"missing source", []string{filepath.Join(e.dir, "nope"), "s3://bkt/"}, "does not exist"},
		{"directory without --recursive", []string{e.dir, "s3://bkt/"}, "is a directory; add --recursive"},
		{"--recursive on a file", []string{file, "s3://bkt/", "--recursive"}, "is not a directory"},
		{"--recursive with stdin", []string{"-", "s3://bkt/x", "--recursive"}, "--recursive cannot read standard input"},
		{"prefix source without --recursive", []string{"s3://bkt/dir/", file}, "names a prefix"},
		{"stdin to a prefix", []string{"-", "s3://bkt/dir/"}, "needs an object key"},
		{"bad bandwidth", []string{file, "s3://bkt/", "--max-bandwidth", "fast"}, "--max-bandwidth"},
		{"zero bandwidth", []string{file, "s3://bkt/", "--max-bandwidth", "0"}, "at least 1 byte per second"},
		{"chunk too small", []string{file, "s3://bkt/", "--multipart-chunksize", "1MB"}, "between 5MiB and 5GiB"},
		{"bad threshold", []string{file, "s3://bkt/", "--multipart-threshold", "big"}, "--multipart-threshold"},
		{"zero concurrency", []string{file, "s3://bkt/", "--max-concurrent-requests", "0"}, "at least 1"},
		{"bad endpoint", []string{file, "s3://bkt/", "--endpoint-url", "localhost:9000"}, "expected an http:// or https:// URL"},
		{"unknown flag", []string{file, "s3://bkt/", "--frobnicate"}, "flag provided but not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: os.Getenv}
			// The last --endpoint-url wins, so the bad one is seen.
			code := Main(context.Background(), append([]string{"cp", "--endpoint-url", e.srv.URL}, tc.args...), env)
			if code != ExitUsage || !strings.Contains(errOut.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 mentioning %q", code, errOut.String(), tc.want)
			}
		})
	}
}

func TestCpTransferFailures(t *testing.T) {
	e := newCpEnv(t, "bkt")
	file := filepath.Join(e.dir, "f")
	cpWriteFile(t, file, []byte("x"))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing object", []string{"s3://bkt/missing", filepath.Join(e.dir, "out")},
			"download failed: s3://bkt/missing to " + filepath.Join(e.dir, "out") + ": not found: s3://bkt/missing\n"},
		{"missing object to stdout", []string{"s3://bkt/missing", "-"}, "download failed: s3://bkt/missing to -: not found: s3://bkt/missing\n"},
		{"missing source of a copy", []string{"s3://bkt/missing", "s3://bkt/copy"}, "copy failed: s3://bkt/missing to s3://bkt/copy: not found: s3://bkt/missing\n"},
		{"missing bucket", []string{file, "s3://no-such-bucket/f"}, "upload failed: " + file + " to s3://no-such-bucket/f: bucket not found: s3://no-such-bucket\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := e.cp(t, nil, append(tc.args, "--no-progress")...)
			if code != ExitFailure || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 1 mentioning %q", code, stderr, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(e.dir, "out")); err == nil {
		t.Fatal("a failed download created its destination")
	}
}

func TestCpNeedsCredentials(t *testing.T) {
	e := newCpEnv(t, "bkt")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	code, _, stderr := e.cp(t, nil, "s3://bkt/x", "-")
	if code != ExitFailure || !strings.Contains(stderr, "no usable AWS credentials") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestCpHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"cp", "--help"}, &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut})
	if code != ExitOK || !strings.Contains(errOut.String(), "usage: s3limit cp SRC DST") || !strings.Contains(errOut.String(), "-max-bandwidth") {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
}

func TestParseInterleaved(t *testing.T) {
	tests := []struct {
		args    []string
		wantPos []string
		wantRec bool
	}{
		{[]string{"a", "b"}, []string{"a", "b"}, false},
		{[]string{"--recursive", "a", "b"}, []string{"a", "b"}, true},
		{[]string{"a", "--recursive", "b"}, []string{"a", "b"}, true},
		{[]string{"a", "b", "-recursive"}, []string{"a", "b"}, true},
		{[]string{"-", "s3://x/y"}, []string{"-", "s3://x/y"}, false},
		{[]string{"--", "--recursive", "b"}, []string{"--recursive", "b"}, false},
	}
	for _, tc := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		rec := fs.Bool("recursive", false, "")
		pos, err := parseInterleaved(fs, tc.args)
		if err != nil || !reflect.DeepEqual(pos, tc.wantPos) || *rec != tc.wantRec {
			t.Errorf("parseInterleaved(%q) = %q, recursive=%v, err %v", tc.args, pos, *rec, err)
		}
	}
}

// --include and --exclude choose the files of a recursive copy, the last
// matching one deciding; a key that would escape the destination is
// skipped with a warning, not a failure.
func TestCpRecursiveFilters(t *testing.T) {
	e := newCpEnv(t, "bkt")
	tree := filepath.Join(e.dir, "tree")
	for _, name := range []string{"a.txt", "b.log", "sub/c.txt", "tmp/d.txt"} {
		cpWriteFile(t, filepath.Join(tree, filepath.FromSlash(name)), []byte(name))
	}
	code, stdout, stderr := e.cp(t, nil, "--recursive", "--no-progress", tree, "s3://bkt/f/",
		"--exclude", "*", "--include", "*.txt", "--exclude", "tmp/*")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got, want := e.keys(t, "bkt", "f/"), []string{"f/a.txt", "f/sub/c.txt"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("keys %q, want %q", got, want)
	}
	if n := strings.Count(stdout, "upload: "); n != 2 {
		t.Fatalf("stdout %q", stdout)
	}

	if _, err := e.client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String("bkt"), Key: aws.String("f/../../evil"), Body: strings.NewReader("x"),
	}); err != nil {
		t.Fatal(err)
	}
	down := filepath.Join(e.dir, "down")
	code, _, stderr = e.cp(t, nil, "--recursive", "--no-progress", "s3://bkt/f", down, "--exclude", "sub/*")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "warning: skipping s3://bkt/f/../../evil: the key does not map to a path inside "+down) {
		t.Fatalf("stderr %q", stderr)
	}
	if _, err := os.Stat(filepath.Join(down, "a.txt")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(down, "sub")); !os.IsNotExist(err) {
		t.Fatalf("an excluded object was downloaded: %v", err)
	}

	code, _, stderr = e.cp(t, nil, filepath.Join(tree, "a.txt"), "s3://bkt/x", "--include", "*.txt")
	if code != ExitUsage || !strings.Contains(stderr, "add --recursive") {
		t.Fatalf("--include without --recursive: exit %d, %q", code, stderr)
	}
}

// A rate in lower-case bits is accepted with one warning that says what
// it means.
func TestCpWarnsAboutLowerCaseBits(t *testing.T) {
	e := newCpEnv(t, "bkt")
	src := filepath.Join(e.dir, "f")
	cpWriteFile(t, src, []byte("small"))
	code, _, stderr := e.cp(t, nil, src, "s3://bkt/f", "--max-bandwidth", "64mb/s", "--no-progress")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := "warning: --max-bandwidth 64mb/s: a lower-case b means bits, so the cap is 8.0 MiB/s (8388608 bytes/s); write 64MB/s for bytes\n"
	if strings.Count(stderr, "warning:") != 1 || !strings.Contains(stderr, want) {
		t.Fatalf("stderr %q", stderr)
	}
	if _, _, stderr := e.cp(t, nil, src, "s3://bkt/f", "--max-bandwidth", "64mb/s", "--quiet"); stderr != "" {
		t.Fatalf("--quiet printed %q", stderr)
	}
}
