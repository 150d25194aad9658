package server_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/s3limit/s3limit/internal/server/servertest"
)

// TestSmallResponseInOneWrite checks that a small object's headers and
// body reach the client in one segment (the kernel's count of data
// segments received on the client's socket; a loopback segment holds
// 64 KiB), and that responses of every size, held or not, follow each
// other intact on one connection.
func TestSmallResponseInOneWrite(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	createBucket(t, s.Client(), "coalesce")
	sizes := map[string]int{
		"inline":  4096,  // kept in the database, held
		"file":    20000, // in a data file (sendfile), held up to the file
		"large":   70000, // not held
		"oneByte": 1,
	}
	objects := map[string][]byte{}
	seed := uint64(1)
	for key, n := range sizes {
		objects[key] = randomBytes(seed, n)
		seed++
		putObject(t, s.Client(), "coalesce", key, objects[key])
	}

	c, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	send := func(method, key, rng string) {
		t.Helper()
		r, err := http.NewRequest(method, s.URL+"/coalesce/"+key, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rng != "" {
			r.Header.Set("Range", rng)
		}
		signRequest(t, r, s.AccessKey, s.SecretKey, emptySHA256, time.Time{})
		if err := r.Write(c); err != nil {
			t.Fatal(err)
		}
	}

	if err := c.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	dataSegsIn := func() uint32 {
		t.Helper()
		rc, err := c.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var info *unix.TCPInfo
		var serr error
		if err := rc.Control(func(fd uintptr) {
			info, serr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		}); err != nil || serr != nil {
			t.Fatal(err, serr)
		}
		return info.Data_segs_in
	}

	// The inline object, twice: its response is one segment.
	for i := range 2 {
		before := dataSegsIn()
		send(http.MethodGet, "inline", "")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(got, objects["inline"]) {
			t.Fatalf("GET inline: status %d, %d of %d body bytes (%v)", resp.StatusCode, len(got), len(objects["inline"]), err)
		}
		if segs := dataSegsIn() - before; segs != 1 {
			t.Fatalf("GET %d of the inline object: the response came in %d segments, want 1", i, segs)
		}
	}

	// Then a mix on the same connection, read in order.
	type want struct {
		method, key, rng string
		status           int
		body             []byte
	}
	wants := []want{
		{http.MethodGet, "file", "", 200, objects["file"]},
		{http.MethodGet, "large", "", 200, objects["large"]},
		{http.MethodHead, "inline", "", 200, nil},
		{http.MethodGet, "file", "bytes=100-4299", 206, objects["file"][100:4300]},
		{http.MethodGet, "oneByte", "", 200, objects["oneByte"]},
		{http.MethodGet, "missing", "", 404, nil},
		{http.MethodGet, "inline", "bytes=10-", 206, objects["inline"][10:]},
	}
	for _, w := range wants {
		send(w.method, w.key, w.rng)
	}
	for _, w := range wants {
		resp, err := http.ReadResponse(br, &http.Request{Method: w.method})
		if err != nil {
			t.Fatalf("%s %s %s: %v", w.method, w.key, w.rng, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != w.status {
			t.Fatalf("%s %s %s: status %d, %v", w.method, w.key, w.rng, resp.StatusCode, err)
		}
		if w.status < 300 && !bytes.Equal(got, w.body) {
			t.Fatalf("%s %s %s: %d body bytes, want %d equal ones", w.method, w.key, w.rng, len(got), len(w.body))
		}
	}
}
