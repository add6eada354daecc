package prefetch

import "unsafe"

// indexed prefetches base + (h>>s)&mask for each h of hs (prefetch_amd64.s).
//
//go:noescape
func indexed(base unsafe.Pointer, hs []uint64, s uint, mask uint64)

// line prefetches the line holding p (prefetch_amd64.s).
//
//go:noescape
func line(p unsafe.Pointer)
