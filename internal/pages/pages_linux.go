package pages

import (
	"syscall"
	"unsafe"
)

// madvPopulateWrite is MADV_POPULATE_WRITE (Linux 5.14): the pages of the
// range are made present and writable, as a write to each would, in one
// call, their content unchanged.
const madvPopulateWrite = 23

// Populate makes the whole pages inside [p, p+n) present and writable and
// reports whether the kernel did (an older one refuses: the pages then
// fault in as they are touched). It changes no byte.
func Populate(p unsafe.Pointer, n uintptr) bool {
	start, size := inner(p, n)
	if size == 0 {
		return true
	}
	_, _, e := syscall.Syscall(syscall.SYS_MADVISE, start, size, madvPopulateWrite)
	return e == 0
}

// Resident reports, page by page, whether the pages of b (which starts on
// a page boundary) are in memory (mincore): for tests.
func Resident(b []byte) ([]bool, error) {
	vec := make([]byte, (len(b)+Size-1)/Size)
	if _, _, e := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		return nil, e
	}
	out := make([]bool, len(vec))
	for i, v := range vec {
		out[i] = v&1 != 0
	}
	return out, nil
}

// madvHugepage is MADV_HUGEPAGE: the range may be backed by transparent
// huge pages (2 MiB on x86-64) where the kernel's setting is "madvise",
// Debian's default, as well as "always".
const madvHugepage = 14

// Huge asks the kernel to back the whole huge pages inside [p, p+n) with
// transparent huge pages when they are first made present (by a touch or
// Populate after this call; pages already present stay as they are), and
// reports whether it accepted. For large tables read at random (the UTXO
// set, the address cache, the open segment's arrays): one TLB entry maps
// 2 MiB instead of 4 KiB, and a miss walks one level less of the page
// table, two in a virtual machine's nested tables.
func Huge(p unsafe.Pointer, n uintptr) bool {
	start := (uintptr(p) + HugeSize - 1) &^ (HugeSize - 1)
	end := (uintptr(p) + n) &^ (HugeSize - 1)
	if end <= start {
		return false
	}
	_, _, e := syscall.Syscall(syscall.SYS_MADVISE, start, end-start, madvHugepage)
	return e == 0
}
