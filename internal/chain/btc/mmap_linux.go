package btc

import (
	"os"
	"syscall"
	"unsafe"

	"github.com/spoor-dev/spoor/internal/pages"
)

// mapAdvice is the madvise hint for a mapped blk file (see BENCHMARKS.md,
// sixth session, for the measurement that chose it); populateAhead, when
// positive, is how far ahead of the block being lent the Reader has the
// kernel map the file's pages in one call (MADV_POPULATE_READ), so that
// the decoders reading the mapping do not fault on every few pages.
//
// A mapped file's pages count in the process's resident memory as long as
// they are mapped, which for a 1.3 GB blk file read whole would double the
// ingest's peak RSS; the Reader lets go of the pages more than dropBehind
// behind the block it lends (MADV_DONTNEED: the page cache keeps them, a
// later read of them, a block lent out of order or still being decoded,
// maps them in again).
const (
	mapAdvice     = syscall.MADV_SEQUENTIAL
	populateAhead = 8 << 20
)

const dropBehind = maxInflightHint

// maxInflightHint is about what the ingest pipeline has in flight (its
// raw-block budget, ingest's maxInflight): a block lent that far behind
// was decoded and released.
const maxInflightHint = 16 << 20

// madvPopulateRead is MADV_POPULATE_READ (Linux 5.14); an older kernel
// refuses it (EINVAL) and the pages fault in as they are read.
const madvPopulateRead = 22

// mapFile maps the first size bytes of f read-only; nil, nil when there is
// nothing to map (an empty file, or one too large for an int).
func mapFile(f *os.File, size int64) ([]byte, error) {
	if size <= 0 || int64(int(size)) != size {
		return nil, nil
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	syscall.Madvise(b, mapAdvice) // a hint: its failure changes nothing
	return b, nil
}

func unmapFile(b []byte) error { return syscall.Munmap(b) }

// release lets go of the pages of b (page-aligned, of a mapping): they are
// mapped in again from the page cache if read.
func release(b []byte) {
	if len(b) > 0 {
		syscall.Madvise(b, syscall.MADV_DONTNEED)
	}
}

// populate maps in the pages of b (a page-aligned start of a mapping); a
// hint: an error changes nothing, the pages then fault in when read.
func populate(b []byte) {
	if len(b) > 0 {
		syscall.Madvise(b, madvPopulateRead)
	}
}

// prefault makes the pages of fresh memory b (a new array of the Go heap)
// present and writable before the decoder fills them. Left alone, a fresh
// slab's pages are first touched one by one as blocks are decoded into it,
// and many of those first touches are reads (the garbage collector scans a
// slab of model.Tx or model.Input as soon as it is reachable, and a write
// barrier reads the pointer it overwrites): a read maps the kernel's shared
// zero page, and the write after it faults again to copy it, flushing the
// other core's TLB (an interprocessor interrupt) on the way. That was 3–4 %
// of an ingest's CPU, more than fill's own stores (BENCHMARKS.md, ninth
// session, helper offpath). Populated at once, each page costs one
// allocation and no interrupt. A kernel without MADV_POPULATE_WRITE gets a
// written byte a page instead (one fault each, still no zero page).
func prefault(b []byte) {
	if !pages.Populate(unsafe.Pointer(unsafe.SliceData(b)), uintptr(len(b))) {
		touchPages(b)
	}
}
