//go:build !linux

package server

import "net"

// tcpState cannot read the kernel's TCP state on this platform.
func tcpState(*net.TCPConn) (tcpInfo, bool) { return tcpInfo{}, false }

// closedCheck cannot read the kernel's TCP state on this platform.
func closedCheck(*net.TCPConn) func() bool { return nil }
