package server_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/s3limit/s3limit/internal/s3api"
	"github.com/s3limit/s3limit/internal/server/servertest"
	"github.com/s3limit/s3limit/internal/testkit"
)

// TestStalledDownloadReleasesItsSlot: a client that stops reading a large
// GET must not hold its circuit-breaker slot (and open data file)
// forever; the write idle timeout cuts it off.
func TestStalledDownloadReleasesItsSlot(t *testing.T) {
	s := servertest.Start(t, servertest.Options{IdleTimeout: 300 * time.Millisecond})
	c := s.Client()
	createBucket(t, c, "slow")
	putObject(t, c, "slow", "big", randomBytes(7, 32<<20))

	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(64 << 10) // keep the kernel from absorbing the object
	}
	req := newSignedRequest(t, context.Background(), http.MethodGet, s.URL+"/slow/big", nil, s.AccessKey, s.SecretKey)
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET status %d", resp.StatusCode)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 1<<10)); err != nil {
		t.Fatal(err)
	}
	// The client now stops reading. Its slot must come back.
	if n, _ := s.Limits().Breaker().Inflight(s3api.ActionRead); n != 1 {
		t.Fatalf("in-flight reads %d while the download is open, want 1", n)
	}
	testkit.Eventually(t, 10*time.Second, func() string {
		if n, _ := s.Limits().Breaker().Inflight(s3api.ActionRead); n != 0 {
			return "the stalled download still holds its Read slot"
		}
		return ""
	})
	// The slot is free for the next reader. (The object is small: with a
	// 300 ms idle rule a big download could be cut by a client starved of
	// CPU on a loaded machine; slow readers being served in full is
	// asserted by the transfer-rule tests on a virtual clock.)
	putObject(t, c, "slow", "small", randomBytes(8, 64<<10))
	if got := servertest.GetObject(t, c, "slow", "small"); len(got) != 64<<10 {
		t.Fatalf("read after the stall returned %d bytes", len(got))
	}
}
