//go:build !linux

package btc

import "os"

// mapFile does not map on this system: blk files are read with pread.
func mapFile(f *os.File, size int64) ([]byte, error) { return nil, nil }

func unmapFile(b []byte) error { return nil }

const (
	populateAhead = 0
	dropBehind    = 0
)

func release(b []byte) {}

func populate(b []byte) {}

// prefault writes a byte a page of fresh memory b (see mmap_linux.go).
func prefault(b []byte) { touchPages(b) }
