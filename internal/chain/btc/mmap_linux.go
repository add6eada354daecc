package btc

import (
	"os"
	"syscall"
)

// mapAdvice is the madvise hint for a mapped blk file (see BENCHMARKS.md,
// sixth session, for the measurement that chose it).
var mapAdvice = syscall.MADV_SEQUENTIAL

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
	if mapAdvice >= 0 {
		syscall.Madvise(b, mapAdvice) // a hint: its failure changes nothing
	}
	return b, nil
}

func unmapFile(b []byte) error { return syscall.Munmap(b) }
