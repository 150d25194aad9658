package server

import (
	"net"
	"testing"
	"time"

	"github.com/s3limit/s3limit/internal/testkit"
)

// acceptPair returns both ends of a loopback TCP connection.
func acceptPair(t *testing.T) (server *net.TCPConn, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn), client
}

// The check of a queued upload's client: false while the client is
// connected (even with unread data), true once it closed or reset, false
// once the server closed the connection itself, and no allocation.
func TestClosedCheck(t *testing.T) {
	for _, tc := range []struct {
		name  string
		leave func(net.Conn)
	}{
		{"FIN", func(c net.Conn) { c.Close() }},
		{"RST", func(c net.Conn) { _ = c.(*net.TCPConn).SetLinger(0); c.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, client := acceptPair(t)
			if _, err := client.Write([]byte("PUT /bkt/key HTTP/1.1\r\n")); err != nil {
				t.Fatal(err)
			}
			gone := closedCheck(srv)
			if gone == nil {
				t.Fatal("no check for a TCP connection on Linux")
			}
			if gone() {
				t.Fatal("a connected client reported gone")
			}
			if n := testing.AllocsPerRun(100, func() { gone() }); n != 0 {
				t.Errorf("the check allocates %v times per call, want 0", n)
			}
			tc.leave(client)
			testkit.Eventually(t, 5*time.Second, func() string {
				if !gone() {
					return "the client left but the check does not report it"
				}
				return ""
			})
			srv.Close()
			if gone() {
				t.Error("a connection the server closed reported gone, want false (nothing to ask)")
			}
		})
	}
}
