// Package prefetch asks the CPU to bring lines of memory into its caches
// ahead of use, without waiting for them.
//
// The store's resolve step reads a handful of random slots and entries of
// tables far larger than the caches for every transaction. Reading them
// ahead in a loop of plain loads (which the compiler must keep: their sum
// goes somewhere) brings them in, many at once, but each load that misses
// holds its place in the CPU's reorder buffer until its line arrives, so
// the loop stalls once the buffer is full of waiting loads, and nothing
// after it runs meanwhile. A prefetch instruction retires at once: the
// loop ends after issuing its requests, and the work after it overlaps
// with the lines' arrival. Go has no prefetch intrinsic for user code, so
// on amd64 these are a few lines of assembly (PREFETCHT0); elsewhere they
// do nothing (spoor is measured on amd64 only).
package prefetch

import "unsafe"

// Indexed asks for the line holding element h>>shift of the table at base
// whose elements are 1<<log2Size bytes, for each h of hs: the slot of each
// hash in an open-addressed table of 2^(64−shift) slots. base may be nil
// (nothing is asked for). A prefetch never faults, but the caller keeps
// h>>shift within the table so that the lines asked for are the table's.
func Indexed(base unsafe.Pointer, hs []uint64, shift, log2Size uint) {
	if base == nil || len(hs) == 0 || shift < log2Size || shift >= 64 {
		return
	}
	// (h>>shift)<<log2Size, in one shift and a mask.
	indexed(base, hs, shift-log2Size, ^uint64(0)<<log2Size)
}

// Line asks for the line holding p.
func Line(p unsafe.Pointer) {
	if p != nil {
		line(p)
	}
}
