package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/server/servertest"
	"github.com/s3limit/s3limit/internal/testkit"
)

// reloadWithin bounds how long a circuit-breaker file edit may take to
// apply (the server promises "within a second").
const reloadWithin = 3 * time.Second

// writeRaw replaces path atomically with data, as an operator's editor
// that writes a temporary file and renames it would.
func writeRaw(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".edit.tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestCircuitBreakerReload(t *testing.T) {
	t.Parallel()
	s, g := startGated(t, servertest.Options{})
	c := s.Client()
	ctx := context.Background()
	createBucket(t, c, "live")
	putObject(t, c, "live", "before", []byte("x"))
	reloads := func(result string) float64 {
		return scrape(t, s).value("s3limit_s3_config_reloads_total", "file", "circuit_breaker", "result", result)
	}
	putErr := func() error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("live"), Key: aws.String("probe"), Body: strings.NewReader("x")})
		return err
	}
	wantPutThrottled := func(why string) {
		t.Helper()
		testkit.Eventually(t, reloadWithin, func() string {
			if err := putErr(); errorCode(err) != "SlowDown" {
				return why + ": PutObject returned " + errString(err) + ", want SlowDown"
			}
			return ""
		})
	}
	wantPutOK := func(why string) {
		t.Helper()
		testkit.Eventually(t, reloadWithin, func() string {
			if err := putErr(); err != nil {
				return why + ": PutObject returned " + err.Error()
			}
			return ""
		})
	}

	if err := limits.WriteConfigFile(s.ConfigPath, &limits.Config{Buckets: map[string]*limits.Section{"live": section(map[string]int64{"Write:count": 0})}}); err != nil {
		t.Fatal(err)
	}
	wantPutThrottled("after setting Write:count 0")
	okBefore, failBefore := reloads("success"), reloads("failure")
	if okBefore < 1 {
		t.Errorf("config_reloads_total{result=success} = %v after a reload", okBefore)
	}

	// An invalid edit is rejected and the last good limits stay.
	writeRaw(t, s.ConfigPath, []byte(`{"buckets": {"live": {"enabled": true, "actions": {"Write:cnt": 5}}}}`))
	testkit.Eventually(t, reloadWithin, func() string {
		if got := reloads("failure"); got <= failBefore {
			return "no failed reload counted after an invalid edit"
		}
		return ""
	})
	if err := putErr(); errorCode(err) != "SlowDown" {
		t.Fatalf("after an invalid edit PutObject returned %v; the old limit (Write:count 0) must stay", err)
	}
	writeRaw(t, s.ConfigPath, []byte(`{"buckets": {"live": {"enabled": tru`))
	testkit.Eventually(t, reloadWithin, func() string {
		if got := reloads("failure"); got <= failBefore+1 {
			return "no failed reload counted after a truncated file"
		}
		return ""
	})
	if err := putErr(); errorCode(err) != "SlowDown" {
		t.Fatalf("after a truncated file PutObject returned %v; the old limit must stay", err)
	}

	// The form SeaweedFS writes is accepted too.
	writeRaw(t, s.ConfigPath, []byte(`{"buckets": {"live": {"enabled": true, "actions": {"Write:Count": "1"}}}}`))
	wantPutOK("after Write:Count \"1\"")

	// Counters survive a reload: one request in flight, limit 1, reload.
	held := goPut(ctx, c, "live", "hold/1", []byte("held"))
	g.await(t)
	if err := putErr(); errorCode(err) != "SlowDown" {
		t.Fatalf("second write with Write:count 1: %v, want SlowDown", err)
	}
	okBefore = reloads("success")
	if err := limits.WriteConfigFile(s.ConfigPath, &limits.Config{Buckets: map[string]*limits.Section{"live": section(map[string]int64{"Write:count": 1, "Read:count": 7})}}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, reloadWithin, func() string {
		if reloads("success") <= okBefore {
			return "reload not applied"
		}
		return ""
	})
	if err := putErr(); errorCode(err) != "SlowDown" {
		t.Fatalf("after a reload the held write no longer counts: %v", err)
	}
	g.releaseOne(t)
	if err := result(t, held); err != nil {
		t.Fatal(err)
	}
	wantPutOK("after the held write finished")

	// Deleting the file removes every limit.
	if err := limits.WriteConfigFile(s.ConfigPath, &limits.Config{Global: section(map[string]int64{"Write:count": 0})}); err != nil {
		t.Fatal(err)
	}
	wantPutThrottled("after global Write:count 0")
	if err := os.Remove(s.ConfigPath); err != nil {
		t.Fatal(err)
	}
	wantPutOK("after deleting the file")
	wantGauges(t, s, "files=0 bytes=0 waiting=0 requests=0")
}

func errString(err error) string {
	if err == nil {
		return "success"
	}
	return err.Error()
}
