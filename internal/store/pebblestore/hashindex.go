package pebblestore

import (
	"sort"
	"unsafe"

	"github.com/spoor-dev/spoor/internal/pages"
)

// hashIndex maps 64-bit hashes (txidHash, addrHash: already well mixed) to
// numbers (txnums, address ids) at or above a base, keeping every number of
// a colliding hash. It is an open-addressing table with linear probing over
// one flat slice of 8-byte slots: the top 32 bits of the hash, then the
// number − base + 1 in the low 32 bits (0: an empty slot). A slot's home is
// the top bits of its hash, so the table regrows from the slots alone.
//
// Like the closed segments' hash sections, it compares the top 32 bits of
// a hash only: get may name a number whose hash differs in the low 32 bits.
// Every caller settles candidates against the record anyway, so such a
// false candidate costs one check, never a wrong answer; at the open
// segment's size (≤ a few million entries) it is about one lookup in 2¹¹.
//
// No presence bitmap in front (the maps it replaced had one): an ingest
// adds every txid and address it looks up, so the slot a missed lookup reads
// is read again by the add right after, and a bitmap read only adds a
// random access (BenchmarkHashIndex: slower with it).
//
// Numbers too far above the base for 32 bits (a segment never holds that
// many; its file format could not either) go to a Go map, so the index stays
// exact for any input.
type hashIndex struct {
	slotTable
	base uint64
	n    int // slots in use
	wide map[uint64][]uint64
	done int // entries of the source slice indexed
}

// slotTable is the open-addressing core of hashIndex and of the UTXO set's
// index: 8-byte slots holding a hash's top 32 bits (its fingerprint, whose
// top bits are the slot's home) above a nonzero 32-bit number, 0 for an
// empty slot; linear probing; backward-shift deletion.
type slotTable struct {
	slots []uint64
	shift uint // 64 − log2(len(slots))
}

// home is the first slot a fingerprint's run is searched from.
func (t *slotTable) home(fp uint64) uint64 { return fp >> (t.shift - 32) }

func (t *slotTable) mask() uint64 { return uint64(len(t.slots) - 1) }

// put stores slot value s in the first empty slot from its home.
func (t *slotTable) put(s uint64) {
	mask := t.mask()
	for i := t.home(s >> 32); ; i = (i + 1) & mask {
		if t.slots[i] == 0 {
			t.slots[i] = s
			return
		}
	}
}

// grow doubles the table (to at least min slots) and places every slot
// again: a slot's home is in the slot itself.
func (t *slotTable) grow(min int) {
	old := t.slots
	size := max(min, 2*len(old))
	t.slots = make([]uint64, size)
	hugeArray(t.slots)
	if size >= 1<<13 {
		// Fresh pages, about all of which the re-placing below and the
		// puts to come touch at random, each first by a read (a probe):
		// populated at once rather than mapped to the zero page by the
		// read and copied on the write, with a TLB flush of the other
		// core each (the UTXO set's growth on the resolve step, a
		// segment close's catchUp; BENCHMARKS.md, ninth session, helper
		// offpath).
		pages.Populate(unsafe.Pointer(unsafe.SliceData(t.slots)), uintptr(size)*8)
	}
	t.shift = uint(64 - log2(size))
	for _, s := range old {
		if s != 0 {
			t.put(s)
		}
	}
}

// clear empties slot i. Backward-shift deletion: later slots of the run
// move into the hole unless their home lies cyclically in (hole, slot],
// where they would become unreachable.
func (t *slotTable) clear(i uint64) {
	mask := t.mask()
	for j := i; ; {
		j = (j + 1) & mask
		s := t.slots[j]
		if s == 0 {
			break
		}
		k := t.home(s >> 32)
		if i <= j {
			if i < k && k <= j {
				continue
			}
		} else if i < k || k <= j {
			continue
		}
		t.slots[i] = s
		i = j
	}
	t.slots[i] = 0
}

const (
	hashIndexMin = 1 << 12 // slots of a new table
	// A table grows (doubles) past hashIndexLoad/8 full. Most lookups of an
	// ingest are misses (a new txid, a new address): at a load α, linear
	// probing reads ½(1 + 1/(1−α)²) slots for a miss, 2.5 at ½, 8.5 at ¾
	// (one 64-byte cache line holds eight slots). BenchmarkHashIndex: 5/8
	// was the fastest of ½, 5/8 and ¾ on mostly-miss lookups.
	hashIndexLoad = 5
)

func newHashIndex(base uint64) hashIndex { return hashIndex{base: base} }

// catchUp indexes the entries of src not indexed yet. The table is grown
// once to hold them all first: a segment's close indexes its txids and
// new addresses in one catchUp, and the table doubled from hashIndexMin
// to its final size before, touching about twice that in fresh pages
// and re-placing every slot at each doubling (on the 10⁷-transfer chain
// ≈ 24 k page faults, 9 % of them).
func (x *hashIndex) catchUp(src []hashEnt) *hashIndex {
	if n := x.n + len(src) - x.done; n*8 > len(x.slots)*hashIndexLoad {
		x.grow(max(hashIndexMin, 1<<log2(n*8/hashIndexLoad+1)))
	}
	for _, t := range src[x.done:] {
		x.add(t.hash, t.num)
	}
	x.done = len(src)
	return x
}

// dropFrom removes the indexed entries of src numbered n or more. src is in
// number order (the open segment appends), so they are a suffix of it.
func (x *hashIndex) dropFrom(src []hashEnt, n uint64) {
	ix := src[:min(x.done, len(src))]
	i := sort.Search(len(ix), func(i int) bool { return ix[i].num >= n })
	for _, t := range ix[i:] {
		x.remove(t.hash, t.num)
	}
}

func (x *hashIndex) add(h, num uint64) {
	off := num - x.base + 1
	if num < x.base || off >= 1<<32 {
		if x.wide == nil {
			x.wide = map[uint64][]uint64{}
		}
		x.wide[h] = append(x.wide[h], num)
		return
	}
	if (x.n+1)*8 > len(x.slots)*hashIndexLoad {
		x.grow(hashIndexMin)
	}
	x.put(h>>32<<32 | off)
	x.n++
}

func log2(n int) int {
	k := 0
	for 1<<k < n {
		k++
	}
	return k
}

// get appends to out the numbers whose hash may be h.
func (x *hashIndex) get(h uint64, out []uint64) []uint64 {
	if x.n > 0 {
		fp, mask := h>>32, uint64(len(x.slots)-1)
		for i := x.home(fp); ; i = (i + 1) & mask {
			s := x.slots[i]
			if s == 0 {
				break
			}
			if s>>32 == fp {
				out = append(out, x.base+s&0xffffffff-1)
			}
		}
	}
	if x.wide != nil {
		out = append(out, x.wide[h]...)
	}
	return out
}

// remove drops number num of hash h (one of them, if added twice).
func (x *hashIndex) remove(h, num uint64) {
	off := num - x.base + 1
	if num < x.base || off >= 1<<32 {
		m := x.wide[h]
		for i, v := range m {
			if v == num {
				m = append(m[:i], m[i+1:]...)
				break
			}
		}
		if len(m) == 0 {
			delete(x.wide, h)
		} else {
			x.wide[h] = m
		}
		return
	}
	if x.n == 0 {
		return
	}
	want, mask := h>>32<<32|off, uint64(len(x.slots)-1)
	i := x.home(h >> 32)
	for ; x.slots[i] != want; i = (i + 1) & mask {
		if x.slots[i] == 0 {
			return // not indexed
		}
	}
	x.n--
	x.clear(i)
}
