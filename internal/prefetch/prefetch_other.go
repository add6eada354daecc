//go:build !amd64

package prefetch

import "unsafe"

func indexed(base unsafe.Pointer, hs []uint64, s uint, mask uint64) {}

func line(p unsafe.Pointer) {}
