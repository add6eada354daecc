package pebblestore

import (
	"os"
	"syscall"
)

// datasync flushes f's data (and the size it needs) to stable storage.
func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
