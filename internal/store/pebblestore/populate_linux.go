package pebblestore

import (
	"syscall"
	"unsafe"
)

// madvPopulateWrite is MADV_POPULATE_WRITE (Linux 5.14); an older kernel
// refuses it (EINVAL) and the pages fault in as they are written.
const madvPopulateWrite = 23

// populate makes the whole pages within [p, p+n) present and writable, in
// one call (a hint: a failure changes nothing).
func populate(p unsafe.Pointer, n uintptr) {
	const page = 4096
	start := (uintptr(p) + page - 1) &^ (page - 1)
	end := (uintptr(p) + n) &^ (page - 1)
	if end <= start {
		return
	}
	syscall.Syscall(syscall.SYS_MADVISE, start, end-start, madvPopulateWrite)
}
