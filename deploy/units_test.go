// Package deploy holds the files an operator installs next to the binary:
// systemd units and Prometheus alerts (docs/operations.md). Its tests check
// the units against the real binary and, where it is installed, against
// systemd-analyze.
package deploy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/server/servertest"
	"github.com/s3limit/s3limit/internal/testpeer"
)

// The paths the units install to; the tests map them into temporary
// directories.
const (
	unitBinary   = "/usr/local/bin/s3limit"
	unitStateDir = "/var/lib/s3limit"
	unitConfDir  = "/etc/s3limit"
)

// unitFiles are the shipped units; instance is what %i expands to.
var unitFiles = []struct{ file, instance string }{
	{file: "s3limit.service"},
	{file: "s3limit@.service", instance: "test"},
}

// unit is a parsed systemd unit file: section -> key -> values in order.
type unit map[string]map[string][]string

func (u unit) get(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// parseUnit reads a unit file: sections, Key=Value lines, backslash
// continuations, # and ; comments.
func parseUnit(text string) (unit, error) {
	u := unit{}
	section := ""
	var logical []string
	var cur strings.Builder
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';') {
			continue
		}
		if cont, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur.WriteString(strings.TrimSpace(cont) + " ")
			continue
		}
		cur.WriteString(trimmed)
		logical = append(logical, cur.String())
		cur.Reset()
	}
	if cur.Len() != 0 {
		return nil, errors.New("the file ends inside a continued line")
	}
	for _, l := range logical {
		if strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]") {
			section = l[1 : len(l)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok || section == "" {
			return nil, fmt.Errorf("not a Key=Value line in a section: %q", l)
		}
		k = strings.TrimSpace(k)
		u[section][k] = append(u[section][k], strings.TrimSpace(v))
	}
	return u, nil
}

func readUnit(t *testing.T, file string) unit {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	u, err := parseUnit(string(raw))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return u
}

// serveFlag is one flag of `s3limit serve`, as its -h output lists it.
type serveFlag struct {
	bool bool   // takes no value
	def  string // the default it prints, or ""
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cmd/s3limit once for all tests of the package.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "s3limit-deploy-test")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "s3limit")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/s3limit").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/s3limit: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

var flagLineRE = regexp.MustCompile(`^  -([A-Za-z0-9.]+)(?: (\S+))?$`)
var defaultRE = regexp.MustCompile(`\(default "?([^")]*)"?\)$`)

// serveFlags runs `s3limit serve -h` and returns the flags it lists.
func serveFlags(t *testing.T, bin string) map[string]serveFlag {
	t.Helper()
	out, _ := exec.Command(bin, "serve", "-h").CombinedOutput() // -h exits non-zero
	flags := map[string]serveFlag{}
	last := ""
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		if m := flagLineRE.FindStringSubmatch(line); m != nil {
			last = m[1]
			flags[last] = serveFlag{bool: m[2] == ""}
			continue
		}
		if m := defaultRE.FindStringSubmatch(strings.TrimSpace(line)); m != nil && last != "" {
			f := flags[last]
			f.def = m[1]
			flags[last] = f
		}
	}
	if len(flags) < 10 || flags["dir"].bool || !flags["quiet"].bool {
		t.Fatalf("cannot read the flags from `s3limit serve -h`:\n%s", out)
	}
	return flags
}

// execStart splits the unit's ExecStart into the binary, and the flags
// with their values; a $VARIABLE stays one element.
func execStart(t *testing.T, u unit, instance string) []string {
	t.Helper()
	args := strings.Fields(strings.ReplaceAll(u.get("Service", "ExecStart"), "%i", instance))
	if len(args) < 2 || args[0] != unitBinary || args[1] != "serve" {
		t.Fatalf("ExecStart = %q, want %s serve ...", u.get("Service", "ExecStart"), unitBinary)
	}
	return args
}

// flagValues returns the value of every flag on the command line,
// checking that each is a flag of `s3limit serve`.
func flagValues(args []string, flags map[string]serveFlag) (map[string]string, error) {
	values := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "$") {
			continue
		}
		name, ok := strings.CutPrefix(a, "-")
		if !ok {
			return nil, fmt.Errorf("%q is not a flag", a)
		}
		f, ok := flags[name]
		if !ok {
			return nil, fmt.Errorf("s3limit serve has no flag -%s", name)
		}
		if f.bool {
			values[name] = "true"
			continue
		}
		if i+1 >= len(args) || strings.HasPrefix(args[i+1], "-") || strings.HasPrefix(args[i+1], "$") {
			return nil, fmt.Errorf("-%s has no value", name)
		}
		values[name] = args[i+1]
		i++
	}
	return values, nil
}

// hardening is what every unit sets, whatever else differs.
var hardening = map[string]string{
	"Type":                    "exec",
	"User":                    "s3limit",
	"Group":                   "s3limit",
	"ExecReload":              "/bin/kill -HUP $MAINPID",
	"Restart":                 "on-failure",
	"NoNewPrivileges":         "yes",
	"ProtectSystem":           "strict",
	"ProtectHome":             "yes",
	"PrivateTmp":              "yes",
	"PrivateDevices":          "yes",
	"RestrictSUIDSGID":        "yes",
	"MemoryDenyWriteExecute":  "yes",
	"CapabilityBoundingSet":   "",
	"AmbientCapabilities":     "",
	"SystemCallFilter":        "@system-service",
	"SystemCallErrorNumber":   "EPERM",
	"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
}

// perUnit are the [Service] keys that may differ between the units.
var perUnit = []string{"StateDirectory", "EnvironmentFile", "ExecStart"}

func TestUnitStructure(t *testing.T) {
	bin := binary(t)
	flags := serveFlags(t, bin)
	// systemd must wait longer than the server drains after SIGTERM.
	var drain time.Duration
	for _, name := range []string{"shutdownTimeout", "shutdownDelay"} {
		if f, ok := flags[name]; ok && f.def != "" {
			d, err := time.ParseDuration(f.def)
			if err != nil {
				t.Fatalf("-%s default %q: %v", name, f.def, err)
			}
			drain += d
		}
	}
	if drain == 0 {
		t.Fatal("s3limit serve -h shows no -shutdownTimeout default")
	}
	var services []map[string][]string
	for _, uf := range unitFiles {
		t.Run(uf.file, func(t *testing.T) {
			u := readUnit(t, uf.file)
			services = append(services, u["Service"])
			for _, want := range []struct{ section, key, value string }{
				{"Unit", "After", "network-online.target"},
				{"Unit", "Wants", "network-online.target"},
				{"Install", "WantedBy", "multi-user.target"},
			} {
				if got := u.get(want.section, want.key); got != want.value {
					t.Errorf("[%s] %s = %q, want %q", want.section, want.key, got, want.value)
				}
			}
			if u.get("Unit", "Description") == "" {
				t.Error("[Unit] has no Description")
			}
			for k, want := range hardening {
				if vs := u["Service"][k]; len(vs) != 1 || vs[0] != want {
					t.Errorf("%s = %q, want exactly %q", k, vs, want)
				}
			}
			stop, err := time.ParseDuration(u.get("Service", "TimeoutStopSec"))
			if err != nil || stop <= drain {
				t.Errorf("TimeoutStopSec = %q: want a duration longer than the server's drain (%v)", u.get("Service", "TimeoutStopSec"), drain)
			}

			args := execStart(t, u, uf.instance)
			values, err := flagValues(args[2:], flags)
			if err != nil {
				t.Fatalf("ExecStart: %v", err)
			}
			if last := args[len(args)-1]; last != "$S3LIMIT_OPTS" {
				t.Errorf("ExecStart ends with %q; $S3LIMIT_OPTS must come last so that it overrides", last)
			}
			state := strings.ReplaceAll(u.get("Service", "StateDirectory"), "%i", uf.instance)
			if want := "/var/lib/" + state; values["dir"] != want {
				t.Errorf("-dir %q is not the StateDirectory %q", values["dir"], want)
			}
			if !strings.HasPrefix(values["config"], unitConfDir+"/") {
				t.Errorf("-config %q is not under %s", values["config"], unitConfDir)
			}
		})
	}
	// Hardening added to one unit belongs in both.
	if len(services) == 2 {
		a, b := services[0], services[1]
		for k := range a {
			if !slices.Contains(perUnit, k) && !slices.Equal(a[k], b[k]) {
				t.Errorf("[Service] %s: %q in %s, %q in %s", k, a[k], unitFiles[0].file, b[k], unitFiles[1].file)
			}
		}
		for k := range b {
			if _, ok := a[k]; !ok && !slices.Contains(perUnit, k) {
				t.Errorf("[Service] %s is set only in %s", k, unitFiles[1].file)
			}
		}
	}
}

// TestUnitsVerify runs systemd-analyze verify on each unit, with ExecStart
// pointing at a built binary (verify checks that it exists). Its warnings
// go to its output with exit status 0, so any line naming the unit fails.
func TestUnitsVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		testpeer.Missing(t, "systemd-analyze is not installed (Debian: apt-get install systemd); TestUnitStructure still checks the units")
	}
	bin := binary(t)
	for _, uf := range unitFiles {
		t.Run(uf.file, func(t *testing.T) {
			raw, err := os.ReadFile(uf.file)
			if err != nil {
				t.Fatal(err)
			}
			name := uf.file
			if uf.instance != "" {
				name = strings.Replace(name, "@", "@"+uf.instance, 1)
			}
			path := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(raw), unitBinary, bin)), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(analyze, "verify", path).CombinedOutput()
			if err != nil {
				t.Fatalf("systemd-analyze verify %s: %v\n%s", uf.file, err, out)
			}
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if line == "" {
					continue
				}
				if strings.Contains(line, name) || strings.Contains(line, uf.file) {
					t.Errorf("systemd-analyze verify: %s", line)
				} else {
					t.Logf("systemd-analyze verify (about another unit): %s", line)
				}
			}
		})
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

const (
	testAccessKey = "AKIADEPLOYTEST000000"
	testSecretKey = "deployTestSecretKey00000000000000000000"
)

// TestUnitCommandLineServes runs each unit's ExecStart as systemd would,
// with the unit's paths mapped into temporary directories and
// S3LIMIT_OPTS moving the listeners to loopback ports, then checks that
// the identities file is in force, metrics are served, ExecReload reloads
// it without ending the server, and SIGTERM stops it cleanly within
// TimeoutStopSec.
func TestUnitCommandLineServes(t *testing.T) {
	bin := binary(t)
	for _, uf := range unitFiles {
		t.Run(uf.file, func(t *testing.T) {
			t.Parallel() // each waits out -shutdownDelay on SIGTERM
			u := readUnit(t, uf.file)
			root := t.TempDir()
			state, conf := filepath.Join(root, "state"), filepath.Join(root, "etc")
			if err := os.MkdirAll(conf, 0o750); err != nil {
				t.Fatal(err)
			}
			args := execStart(t, u, uf.instance)
			stateDir := strings.ReplaceAll(u.get("Service", "StateDirectory"), "%i", uf.instance)
			// systemd creates the state directory before it starts the service.
			if err := os.MkdirAll(filepath.Join(state, strings.TrimPrefix(stateDir, "s3limit")), 0o750); err != nil {
				t.Fatal(err)
			}
			ids := fmt.Sprintf(`{"identities": [{"name": "admin", "credentials": [{"accessKey": %q, "secretKey": %q}], "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}`, testAccessKey, testSecretKey)
			if err := os.WriteFile(filepath.Join(conf, "s3.json"), []byte(ids), 0o640); err != nil {
				t.Fatal(err)
			}
			port, metricsPort := freePort(t), freePort(t)
			opts := "-ip.bind 127.0.0.1 -port " + port + " -metricsPort " + metricsPort
			var cmdArgs []string
			for _, a := range args[1:] {
				switch {
				case a == "$S3LIMIT_OPTS":
					cmdArgs = append(cmdArgs, strings.Fields(opts)...)
				case strings.HasPrefix(a, "$"):
					t.Fatalf("ExecStart uses %s, which the test does not know", a)
				default:
					a = strings.Replace(a, unitStateDir, state, 1)
					cmdArgs = append(cmdArgs, strings.Replace(a, unitConfDir, conf, 1))
				}
			}
			cmd := exec.Command(bin, cmdArgs...)
			var out strings.Builder
			var outMu sync.Mutex
			cmd.Stdout = writerFunc(func(p []byte) (int, error) { outMu.Lock(); defer outMu.Unlock(); return out.Write(p) })
			cmd.Stderr = cmd.Stdout
			output := func() string { outMu.Lock(); defer outMu.Unlock(); return out.String() }
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{}) // closed when the process has ended
			var waitErr error             // cmd.Wait's result, once exited is closed
			go func() { waitErr = cmd.Wait(); close(exited) }()
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
			})

			c := servertest.NewClient("http://127.0.0.1:"+port, testAccessKey, testSecretKey)
			deadline := time.Now().Add(15 * time.Second)
			for {
				select {
				case <-exited:
					t.Fatalf("s3limit %s exited: %v\n%s", strings.Join(cmdArgs, " "), waitErr, output())
				default:
				}
				_, err := c.ListBuckets(context.Background(), &s3.ListBucketsInput{})
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no answer to ListBuckets with the identities file's key within 15s: %v\n%s", err, output())
				}
				time.Sleep(10 * time.Millisecond)
			}
			resp, err := http.Get("http://127.0.0.1:" + metricsPort + "/metrics")
			if err != nil {
				t.Fatalf("metrics port: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET /metrics: %s", resp.Status)
			}
			if _, err := os.Stat(filepath.Join(state, strings.TrimPrefix(stateDir, "s3limit"), "meta.db")); err != nil {
				t.Errorf("the store is not in the state directory: %v", err)
			}

			// systemctl reload runs ExecReload: the server re-reads its files
			// (it logs that it does) and goes on serving.
			reload := strings.Fields(strings.ReplaceAll(u.get("Service", "ExecReload"), "$MAINPID", strconv.Itoa(cmd.Process.Pid)))
			if out, err := exec.Command(reload[0], reload[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("ExecReload %q: %v\n%s", reload, err, out)
			}
			reloadDeadline := time.Now().Add(15 * time.Second)
			for !strings.Contains(output(), "SIGHUP") {
				select {
				case <-exited:
					t.Fatalf("s3limit exited on ExecReload: %v\n%s", waitErr, output())
				case <-time.After(10 * time.Millisecond):
				}
				if time.Now().After(reloadDeadline) {
					t.Fatalf("no sign of a reload within 15s of ExecReload\n%s", output())
				}
			}
			if _, err := c.ListBuckets(context.Background(), &s3.ListBucketsInput{}); err != nil {
				t.Fatalf("after ExecReload: %v\n%s", err, output())
			}

			stop, err := time.ParseDuration(u.get("Service", "TimeoutStopSec"))
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-exited:
				if waitErr != nil {
					t.Errorf("after SIGTERM: %v\n%s", waitErr, output())
				}
			case <-time.After(stop):
				t.Errorf("not stopped within TimeoutStopSec (%v) of SIGTERM\n%s", stop, output())
			}
		})
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestParseUnit(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       unit
		err        string
	}{
		{
			name: "continuation and comments",
			text: "# c\n[Service]\n; c\nExecStart=/bin/x \\\n    -a 1 \\\n    -b\nEnvironment=A=1\nEnvironment=B=2\n",
			want: unit{"Service": {"ExecStart": {"/bin/x -a 1 -b"}, "Environment": {"A=1", "B=2"}}},
		},
		{name: "key before any section", text: "A=1\n", err: "not a Key=Value line in a section"},
		{name: "line without =", text: "[Unit]\nnonsense\n", err: "not a Key=Value line"},
		{name: "dangling continuation", text: "[Unit]\nA=1 \\\n", err: "ends inside a continued line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseUnit(tc.text)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFlagValues(t *testing.T) {
	flags := map[string]serveFlag{"dir": {}, "port": {}, "quiet": {bool: true}}
	got, err := flagValues([]string{"-dir", "/x", "-quiet", "-port", "1", "$OPTS"}, flags)
	if err != nil || got["dir"] != "/x" || got["quiet"] != "true" || got["port"] != "1" {
		t.Errorf("flagValues = %v, %v", got, err)
	}
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"-nosuch", "1"}, "no flag -nosuch"},
		{[]string{"-dir"}, "-dir has no value"},
		{[]string{"-dir", "-quiet"}, "-dir has no value"},
		{[]string{"/x"}, `"/x" is not a flag`},
	} {
		if _, err := flagValues(tc.args, flags); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("flagValues(%q) = %v, want %q", tc.args, err, tc.err)
		}
	}
}
