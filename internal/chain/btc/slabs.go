package btc

import "unsafe"

// slabs lends the arrays of decoded blocks as ranges of shared slabs, so
// that the memory a Recycler holds follows the blocks in flight rather
// than the mix of their sizes. With one array per block in size classes
// (classes.go), a free array fits only a block of about its size: blocks
// of a chain vary from a few hundred to thousands of transactions, and the
// free lists of the 10⁶-transfer chain came to hold about twice what was
// ever in flight (65 MB of arrays for ≈ 30 MB of blocks lent at once).
//
// A block takes its exact count from the current slab of each type (fill
// writes it contiguously, as it would a fresh array); when the count does
// not fit in the current slab's remainder, a free slab (or a new one)
// becomes current, the remainder left unused until the old slab's blocks
// are all returned. A slab counts the blocks holding a range of it and is
// free once the count falls to zero: blocks come back about in the order
// they were lent, so slabs empty in turn. A count larger than half a slab
// gets an array of its own, recycled by size class as before.
type slabs[T any] struct {
	cur  *slab[T]
	free []*slab[T]
	big  classes[T]
	made int // slabs made (tests)
}

// slab is one shared array: buf[:used] was lent since it was last empty,
// buf[:hw] at some time (in check mode that memory is poisoned unless
// lent), refs ranges of it are lent now.
type slab[T any] struct {
	buf      []T
	used, hw int
	refs     int
}

// slabBytes is the size of one slab: several typical blocks (a block's
// Txs are 176 B a transaction, its Inputs 80 B an input), few enough that
// a small ingest does not hold much. Check mode, for tests, uses
// checkSlabBytes: slabs then empty and are lent (and checked) again early.
var (
	slabBytes      = 2 << 20
	checkSlabBytes = 64 << 10
)

// slabLen is how many T a slab of size bytes holds.
func slabLen[T any](size int) int {
	var v T
	return size / max(1, int(unsafe.Sizeof(v)))
}

// take lends n elements (nil for 0), from slabs of l, and the slab they are in (nil: an
// array of their own). reused reports memory lent before: its stale
// content is the caller's to overwrite; in check mode it is passed to
// check first, which must find it poisoned (*err is set otherwise).
func (p *slabs[T]) take(n, l int, check func([]T) error, err *error) (a []T, s *slab[T], reused bool) {
	if n <= 0 {
		return nil, nil, false
	}
	if n > l/2 {
		a, reused = p.big.get(n)
		if reused && check != nil && *err == nil {
			*err = check(a[:cap(a)])
		}
		return a, nil, reused
	}
	s = p.cur
	if s == nil || s.used+n > len(s.buf) {
		// (A current slab with nothing lent has used = 0: give reset it.)
		switch {
		case len(p.free) > 0:
			k := len(p.free) - 1
			s = p.free[k]
			p.free[k] = nil
			p.free = p.free[:k]
		default:
			s = &slab[T]{buf: make([]T, l)}
			prefaultArray(s.buf)
			p.made++
		}
		p.cur = s
	}
	a = s.buf[s.used : s.used+n : s.used+n]
	if s.used < s.hw {
		reused = true
		if check != nil && *err == nil {
			*err = check(s.buf[s.used:min(s.used+n, s.hw)])
		}
	}
	s.used += n
	s.hw = max(s.hw, s.used)
	s.refs++
	return a, s, reused
}

// give takes back a range take lent from s (or the array of its own, s
// nil). In check mode (check not nil) a slab that no block holds any more
// must be poisoned wherever it was lent: a write to a returned block is
// found when the last block of its slab comes back.
func (p *slabs[T]) give(a []T, s *slab[T], check func([]T) error) error {
	if s == nil {
		p.big.put(a)
		return nil
	}
	if s.refs--; s.refs > 0 {
		return nil
	}
	s.used = 0
	if s != p.cur {
		p.free = append(p.free, s)
	}
	if check != nil {
		return check(s.buf[:s.hw])
	}
	return nil
}

// touchPages writes a zero byte in every page of b, which is zero already
// (fresh memory): each page's first touch is a write.
func touchPages(b []byte) {
	for i := 0; i < len(b); i += pageSize {
		b[i] = 0
	}
}

// prefaultArray prefaults a fresh array of T (see prefault): its bytes,
// viewed as bytes. The array is zero and nothing else holds it yet, so
// writing zero bytes over its pointer words changes nothing the garbage
// collector could see.
func prefaultArray[T any](a []T) {
	var v T
	if n := uintptr(cap(a)) * unsafe.Sizeof(v); n >= 4*pageSize {
		prefault(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(a[:cap(a)]))), n))
	}
}
