package testpeer

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Redis is a redis-server a test started on a free loopback port, in a
// temporary directory, without persistence. It is stopped (by its PID)
// when the test ends.
type Redis struct {
	t      testing.TB
	bin    string
	dir    string
	Port   int
	proc   *os.Process // nil when not running
	exited chan error  // the process's end
}

// RedisServerPath returns the path of redis-server ($S3LIMIT_REDIS_SERVER
// or redis-server on PATH, or /usr/bin/redis-server where Debian puts it).
func RedisServerPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("S3LIMIT_REDIS_SERVER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("testpeer: S3LIMIT_REDIS_SERVER=%s: %v", p, err)
		}
		return p
	}
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/redis-server"); err == nil {
		return "/usr/bin/redis-server"
	}
	Missing(t, "needs redis-server, which is not on PATH (install it with apt-get install redis-server, or set S3LIMIT_REDIS_SERVER)")
	return ""
}

// StartRedis starts a redis-server for the test.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	r := &Redis{t: t, bin: RedisServerPath(t), dir: t.TempDir()}
	var err error
	for range 5 {
		if r.Port, err = freePort(); err != nil {
			continue
		}
		if err = r.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("testpeer: redis-server: %v", err)
	}
	t.Cleanup(r.Stop)
	return r
}

// URL is the redis:// URL of the server.
func (r *Redis) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.Port) }

// Addr is host:port.
func (r *Redis) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.Port)) }

// Stop kills the server (SIGKILL, by PID) and waits for it; it does
// nothing when the server is not running.
func (r *Redis) Stop() {
	if r.proc == nil {
		return
	}
	_ = r.proc.Kill()
	<-r.exited
	r.proc = nil
}

// Restart starts the server again on the same port, empty.
func (r *Redis) Restart() {
	r.t.Helper()
	r.Stop()
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err = r.start(); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatalf("testpeer: restarting redis-server: %v", err)
	}
}

// Do sends one command in the inline protocol and returns the first line
// of the answer.
func (r *Redis) Do(args ...string) string {
	r.t.Helper()
	c, err := net.DialTimeout("tcp", r.Addr(), 2*time.Second)
	if err != nil {
		r.t.Fatalf("testpeer: redis: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		r.t.Fatalf("testpeer: redis: %v", err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		r.t.Fatalf("testpeer: redis %v: %v", args, err)
	}
	return strings.TrimSpace(line)
}

func (r *Redis) start() error {
	cmd := exec.Command(r.bin,
		"--bind", "127.0.0.1", "--port", strconv.Itoa(r.Port),
		"--dir", r.dir, "--save", "", "--appendonly", "no",
		"--enable-debug-command", "local", "--protected-mode", "yes")
	logf, err := os.Create(filepath.Join(r.dir, "redis.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", r.Addr(), 200*time.Millisecond)
		if err == nil {
			c.Close()
			r.proc, r.exited = cmd.Process, exited
			return nil
		}
		select {
		case err := <-exited:
			out, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
			return fmt.Errorf("exited (%v): %s", err, out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("not listening on %s after 5s", r.Addr())
		}
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
