package server

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestIsLoopback(t *testing.T) {
	for _, c := range []struct {
		addr net.Addr
		want bool
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, true},
		{&net.TCPAddr{IP: net.IPv4(127, 3, 2, 1), Port: 1}, true},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 1}, true},
		{&net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 1}, false},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 1}, false},
		{&net.UnixAddr{Name: "/tmp/s", Net: "unix"}, false},
	} {
		if got := isLoopback(c.addr); got != c.want {
			t.Errorf("isLoopback(%v) = %v, want %v", c.addr, got, c.want)
		}
	}
}

// TestCoalescingConnReadFrom sends a file through ReadFrom both ways —
// copied (a loopback client) and handed to the kernel (any other) — after
// a held response head, and checks the client gets every byte in order.
func TestCoalescingConnReadFrom(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	data := make([]byte, 3<<20+123)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	path := filepath.Join(t.TempDir(), "object")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, loopback := range []bool{true, false} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan []byte, 1)
		go func() {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				got <- nil
				return
			}
			defer c.Close()
			b, _ := io.ReadAll(c)
			got <- b
		}()
		raw, err := ln.Accept()
		ln.Close()
		if err != nil {
			t.Fatal(err)
		}
		cc := &coalescingConn{TCPConn: raw.(*net.TCPConn), loopback: loopback}
		cc.hold()
		if _, err := cc.Write([]byte("head:")); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		n, err := cc.ReadFrom(&io.LimitedReader{R: f, N: int64(len(data))})
		f.Close()
		if err != nil || n != int64(len(data)) {
			t.Fatalf("loopback=%v: ReadFrom = %d, %v; want %d", loopback, n, err, len(data))
		}
		cc.Close()
		b := <-got
		if want := append([]byte("head:"), data...); !bytes.Equal(b, want) {
			t.Fatalf("loopback=%v: client got %d bytes, not the head and the file (%d)", loopback, len(b), len(want))
		}
	}
}
