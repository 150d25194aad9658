package server

import (
	"net"

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
