package btc

import "math/bits"

// classes keeps free slices by capacity class for reuse: class k holds
// slices of capacity 2^k (get allocates only those), so any slice of the
// class fits a request of up to 2^k elements. Not safe for concurrent use:
// its owner locks.
type classes[T any] struct {
	free [48][][]T
}

// maxFreePerClass bounds what a class keeps: more are dropped for the
// garbage collector (the free lists hold at most what was in flight at
// once, and that is bounded by the ingest pipeline anyway).
const maxFreePerClass = 4096

// class is the class of a request for n > 0 elements: ⌈log2 n⌉.
func class(n int) int { return bits.Len(uint(n - 1)) }

// get returns a slice of length n, nil for n = 0, and whether it was
// reused (its content is then stale: the caller writes every element it
// reads).
func (c *classes[T]) get(n int) ([]T, bool) {
	if n <= 0 {
		return nil, false
	}
	k := class(n)
	if k >= len(c.free) {
		return make([]T, n), false
	}
	if l := len(c.free[k]); l > 0 {
		s := c.free[k][l-1]
		c.free[k][l-1] = nil
		c.free[k] = c.free[k][:l-1]
		return s[:n], true
	}
	return make([]T, n, 1<<k), false
}

// put keeps s for reuse when its capacity is a class's.
func (c *classes[T]) put(s []T) {
	n := cap(s)
	if n == 0 || n&(n-1) != 0 {
		return
	}
	k := bits.Len(uint(n)) - 1
	if k < len(c.free) && len(c.free[k]) < maxFreePerClass {
		c.free[k] = append(c.free[k], s[:0])
	}
}
