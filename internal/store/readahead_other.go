//go:build !linux

package store

import "os"

// adviseSequential does nothing where posix_fadvise is not used.
func adviseSequential(*os.File, int64, int64) {}
