// Package pages makes fresh memory present before it is written. A fresh
// array's pages are mapped by the kernel on first touch, one fault a page;
// when that first touch is a read (a hash-table probe, the garbage
// collector's scan, a write barrier), the page maps the kernel's shared zero
// page and the write after it faults again to copy it, flushing the other
// cores' TLBs on the way. Populate asks for the pages in one call instead
// (BENCHMARKS.md, ninth session, helper offpath). The decoders' slabs and
// the store's tables use it. Huge asks for transparent huge pages under
// large tables read at random, before they are touched (twelfth session).
package pages

import "unsafe"

// Size is the page size the ranges are aligned to (4 KiB divides every
// page size in use).
const Size = 4096

// HugeSize is the size of a transparent huge page on the machines spoor
// runs on (x86-64 and arm64 with 4 KiB pages).
const HugeSize = 2 << 20

// inner returns the whole pages inside [p, p+n), or n == 0.
func inner(p unsafe.Pointer, n uintptr) (start, size uintptr) {
	start = (uintptr(p) + Size - 1) &^ (Size - 1)
	end := (uintptr(p) + n) &^ (Size - 1)
	if end <= start {
		return 0, 0
	}
	return start, end - start
}
