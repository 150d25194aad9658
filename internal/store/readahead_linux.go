package store

import (
	"os"

	"golang.org/x/sys/unix"
)

// adviseSequential tells the kernel that length bytes of f from off
// will be read once, in order: it doubles the file's read-ahead window
// (POSIX_FADV_SEQUENTIAL) and starts reading the first readAhead bytes
// of the range in the background (POSIX_FADV_WILLNEED), so that a
// download from a cold cache does not wait for the disk piece by piece.
// Advice is only advice: errors are ignored.
func adviseSequential(f *os.File, off, length int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.Fadvise(int(fd), off, length, unix.FADV_SEQUENTIAL)
		_ = unix.Fadvise(int(fd), off, min(length, readAhead), unix.FADV_WILLNEED)
	})
}
