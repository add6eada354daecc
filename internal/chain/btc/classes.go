package btc

import "math/bits"

// classes keeps free slices by capacity class for reuse. Capacities are
// rounded up to a class's: exact up to 16, then eight steps per doubling
// (m·2^e, m in 9..16), so a slice holds at most an eighth more than asked
// for, and a free slice of the same class or one of the next few fits a
// request. Not safe for concurrent use: its owner locks.
type classes[T any] struct {
	free [nClasses][][]T
}

const (
	nClasses = 17 + 8*44 // capacities up to 2^48
	// classReach is how many classes above its own a request looks in
	// (the next ones hold up to about half again as much).
	classReach = 3
)

// maxFreePerClass bounds what a class keeps: more are dropped for the
// garbage collector (the free lists hold at most what was in flight at
// once, and that is bounded by the ingest pipeline anyway).
const maxFreePerClass = 4096

// sizeClass returns the class of a request for n > 0 elements and the
// class's capacity (≥ n).
func sizeClass(n int) (int, int) {
	if n <= 16 {
		return n, n
	}
	e := bits.Len(uint(n-1)) - 4 // 2^(e+3) ≤ n−1 < 2^(e+4)
	m := (n + 1<<e - 1) >> e     // 9..16
	return 17 + (e-1)*8 + (m - 9), m << e
}

// get returns a slice of length n, nil for n = 0, and whether it was
// reused (its content is then stale: the caller writes every element it
// reads).
func (c *classes[T]) get(n int) ([]T, bool) {
	if n <= 0 {
		return nil, false
	}
	k, capacity := sizeClass(n)
	if k >= nClasses {
		return make([]T, n), false
	}
	for j := k; j <= k+classReach && j < nClasses; j++ {
		if l := len(c.free[j]); l > 0 {
			s := c.free[j][l-1]
			c.free[j][l-1] = nil
			c.free[j] = c.free[j][:l-1]
			return s[:n], true
		}
	}
	a := make([]T, n, capacity)
	prefaultArray(a)
	return a, false
}

// put keeps s for reuse when its capacity is a class's.
func (c *classes[T]) put(s []T) {
	n := cap(s)
	if n == 0 {
		return
	}
	k, capacity := sizeClass(n)
	if capacity == n && k < nClasses && len(c.free[k]) < maxFreePerClass {
		c.free[k] = append(c.free[k], s[:0])
	}
}
