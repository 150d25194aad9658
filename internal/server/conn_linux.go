package server

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// Linux TCP states (include/net/tcp_states.h) that mean the peer has
// closed or reset its side.
const (
	tcpClose     = 7
	tcpCloseWait = 8
	tcpLastAck   = 9
)

// tcpState reads TCP_INFO from the connection's socket: one getsockopt.
func tcpState(c *net.TCPConn) (tcpInfo, bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return tcpInfo{}, false
	}
	var info *unix.TCPInfo
	var serr error
	if err := rc.Control(func(fd uintptr) {
		info, serr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil || serr != nil {
		return tcpInfo{}, false
	}
	switch info.State {
	case tcpClose, tcpCloseWait, tcpLastAck:
		return tcpInfo{closed: true, acked: int64(info.Bytes_acked)}, true
	}
	return tcpInfo{acked: int64(info.Bytes_acked)}, true
}

// closedCheck returns a check of whether the peer of c has closed or reset
// its side, made to be called over and over for a queued upload: after
// its first call it allocates nothing. It reads only the first byte of
// TCP_INFO, the state (the kernel copies as much of the struct as asked).
func closedCheck(c *net.TCPConn) func() bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	p := &stateProbe{rc: rc}
	p.read = p.readState
	return p.closed
}

// stateProbe reads a connection's TCP state; one goroutine at a time.
type stateProbe struct {
	rc    syscall.RawConn
	read  func(fd uintptr) // p.readState, bound once
	state byte
	err   error
}

func (p *stateProbe) readState(fd uintptr) {
	p.state, p.err = unix.GetsockoptByte(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
}

func (p *stateProbe) closed() bool {
	if err := p.rc.Control(p.read); err != nil || p.err != nil {
		return false // closed by the server already, or not a socket
	}
	switch p.state {
	case tcpClose, tcpCloseWait, tcpLastAck:
		return true
	}
	return false
}
