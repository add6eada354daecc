package pebblestore

import (
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
)

// refHashIndex is the reference the open-addressing hashIndex is checked
// against: every (hash, number) pair added and not removed, in a Go map.
type refHashIndex map[uint64][]uint64

func (r refHashIndex) add(h, n uint64) { r[h] = append(r[h], n) }

func (r refHashIndex) remove(h, n uint64) {
	m := r[h]
	if i := slices.Index(m, n); i >= 0 {
		r[h] = slices.Delete(m, i, i+1)
	}
	if len(r[h]) == 0 {
		delete(r, h)
	}
}

// want is what hashIndex.get(h) must name: every number of every hash that
// agrees with h in its top 32 bits (exact for hashes indexed wide), sorted.
func (r refHashIndex) want(x *hashIndex, h uint64) []uint64 {
	var out []uint64
	for k, ns := range r {
		for _, n := range ns {
			off := n - x.base + 1
			wide := n < x.base || off >= 1<<32
			if k == h || !wide && k>>32 == h>>32 {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return out
}

func checkHashIndex(t *testing.T, x *hashIndex, r refHashIndex, probes []uint64) {
	t.Helper()
	n := 0
	for _, ns := range r {
		for _, v := range ns {
			if off := v - x.base + 1; v >= x.base && off < 1<<32 {
				n++
			}
		}
	}
	if x.n != n {
		t.Fatalf("index holds %d slots, want %d", x.n, n)
	}
	probes = slices.Clone(probes)
	for h := range r {
		probes = append(probes, h)
	}
	if len(probes) > 300 { // every hash is slow at thousands: a sample
		probes = probes[:300]
	}
	for _, h := range probes {
		got := x.get(h, nil)
		slices.Sort(got)
		if want := r.want(x, h); !slices.Equal(got, want) {
			t.Fatalf("get(%#x) = %v, want %v", h, got, want)
		}
	}
}

// TestHashIndex: crafted hashes force what random ones rarely do: equal top
// 32 bits (same slot, and a false candidate the caller must settle), runs
// that wrap around the end of the table, removal from the middle of a run,
// growth, numbers too far from the base for 32 bits.
func TestHashIndex(t *testing.T) {
	const top = 0xffffffff_00000000 // home: the last slot
	type op struct {
		del  bool
		h, n uint64
	}
	add := func(h, n uint64) op { return op{h: h, n: n} }
	del := func(h, n uint64) op { return op{del: true, h: h, n: n} }
	cases := []struct {
		name   string
		base   uint64
		ops    []op
		probes []uint64
	}{
		{name: "empty", base: 1, probes: []uint64{0, 1, top}},
		{name: "one", base: 1, ops: []op{add(42<<32, 7)}, probes: []uint64{42 << 32, 43 << 32, 42<<32 | 1}},
		{name: "same hash twice", base: 1, ops: []op{add(5<<40, 1), add(5<<40, 2)}},
		{name: "same top bits: false candidate", base: 10, ops: []op{add(9<<32|1, 10), add(9<<32|2, 11)}, probes: []uint64{9<<32 | 3}},
		{name: "remove one of a shared hash", base: 1, ops: []op{add(3<<44, 1), add(3<<44, 2), add(3<<44, 3), del(3<<44, 2)}},
		{name: "remove absent", base: 1, ops: []op{add(3<<44, 1), del(3<<44, 9), del(4<<44, 1)}},
		{name: "run wraps the table end", base: 1, ops: []op{add(top, 1), add(top|1, 2), add(top-1<<32, 3), add(top, 4), add(0, 5)}, probes: []uint64{0, 1 << 32}},
		{name: "remove at the wrap", base: 1, ops: []op{add(top, 1), add(top, 2), add(0, 3), add(0, 4), del(top, 1), del(0, 3)}, probes: []uint64{0}},
		{name: "remove the run's head", base: 1, ops: []op{add(7<<52, 1), add(7<<52+1<<32, 2), add(7<<52, 3), add(7<<52+2<<32, 4), del(7<<52, 1)}},
		{name: "remove keeps a later home", base: 1, ops: []op{add(7<<52, 1), add(7<<52, 2), add(7<<52+1<<52, 3), add(7<<52+2<<52, 4), del(7<<52, 2)}},
		{name: "number below the base", base: 100, ops: []op{add(1, 99), add(1, 100), del(1, 99)}},
		{name: "number past 32 bits", base: 1, ops: []op{add(1<<33, 1<<32), add(1<<33, 1<<40), add(1<<33, 5), del(1<<33, 1<<32)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x, r := newHashIndex(c.base), refHashIndex{}
			for _, o := range c.ops {
				if o.del {
					x.remove(o.h, o.n)
					r.remove(o.h, o.n)
				} else {
					x.add(o.h, o.n)
					r.add(o.h, o.n)
				}
				checkHashIndex(t, &x, r, c.probes)
			}
		})
	}
}

// TestHashIndexGrowth: thousands of entries in a few homes (long runs across
// several doublings), then removal of every other one, then of the rest.
func TestHashIndexGrowth(t *testing.T) {
	x, r := newHashIndex(1), refHashIndex{}
	var hs []uint64
	for i := uint64(0); i < 20000; i++ {
		h := (i%7)<<61 | (i%5)<<32 | i // 7 homes at every size, 35 top-32 values
		x.add(h, i+1)
		r.add(h, i+1)
		hs = append(hs, h)
	}
	if len(x.slots) < 20000*8/hashIndexLoad {
		t.Fatalf("%d slots for 20,000 entries", len(x.slots))
	}
	checkHashIndex(t, &x, r, nil)
	for i, h := range hs {
		if !slices.Contains(x.get(h, nil), uint64(i)+1) {
			t.Fatalf("entry %d (hash %#x) lost", i, h)
		}
	}
	for i := 0; i < len(hs); i += 2 {
		x.remove(hs[i], uint64(i)+1)
		r.remove(hs[i], uint64(i)+1)
	}
	checkHashIndex(t, &x, r, hs[:10])
	for i := 1; i < len(hs); i += 2 {
		if !slices.Contains(x.get(hs[i], nil), uint64(i)+1) {
			t.Fatalf("entry %d (hash %#x) lost by the removals", i, hs[i])
		}
		x.remove(hs[i], uint64(i)+1)
		r.remove(hs[i], uint64(i)+1)
	}
	checkHashIndex(t, &x, r, hs[:10])
	for i, s := range x.slots {
		if s != 0 {
			t.Fatalf("slot %d still holds %#x", i, s)
		}
	}
}

// TestHashIndexDropFrom: catchUp indexes a source slice, dropFrom removes
// its suffix from a number on, as a failed Apply or an undo does.
func TestHashIndexDropFrom(t *testing.T) {
	var src []hashEnt
	for n := uint64(50); n < 3050; n++ {
		src = append(src, hashEnt{hash: txidHash(&[32]byte{byte(n), byte(n >> 8)}) &^ (n % 3 << 40), num: n})
	}
	for _, from := range []uint64{0, 50, 51, 1000, 3049, 3050, 9999} {
		t.Run(fmt.Sprint(from), func(t *testing.T) {
			x, r := newHashIndex(50), refHashIndex{}
			x.catchUp(src[:2000])
			x.catchUp(src) // the rest
			x.dropFrom(src, from)
			for _, e := range src {
				if e.num < from {
					r.add(e.hash, e.num)
				}
			}
			checkHashIndex(t, &x, r, []uint64{src[0].hash, src[len(src)-1].hash})
		})
	}
}

// FuzzHashIndex drives the index and the reference map with the same random
// adds and removes over a few crafted hash families (equal top bits, equal
// homes, wrap-around) and compares every lookup.
func FuzzHashIndex(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte("\x01\xff\x02\xfe\x03\xfd\x81\x82\x83\x84\x85"))
	f.Add(slices.Repeat([]byte{7, 0x87, 17, 0x91}, 300))
	f.Fuzz(func(t *testing.T, ops []byte) {
		x, r := newHashIndex(1), refHashIndex{}
		hashOf := func(b byte) uint64 {
			k := uint64(b & 0x3f)
			switch k % 4 {
			case 0:
				return k << 58 // distinct homes
			case 1:
				return 0xffffffff_00000000 | k // wraps, same top bits
			case 2:
				return 5<<32 | k // one top-32 value
			default:
				return binary.LittleEndian.Uint64([]byte{byte(k), 1, 2, 3, 4, 5, 6, 7}) * 0x9e3779b97f4a7c15
			}
		}
		var added []hashEnt
		next := uint64(1)
		for i, b := range ops {
			if b&0x80 != 0 && len(added) > 0 {
				e := added[int(b&0x7f)%len(added)]
				x.remove(e.hash, e.num)
				r.remove(e.hash, e.num)
			} else {
				h := hashOf(b)
				x.add(h, next)
				r.add(h, next)
				added = append(added, hashEnt{h, next})
				next++
			}
			if i%16 == 15 || i == len(ops)-1 {
				checkHashIndex(t, &x, r, []uint64{hashOf(byte(i)), 0})
			}
		}
	})
}

// mapHashIndex is the index the open-addressing one replaced (two Go maps
// and a presence bitmap), kept for BenchmarkHashIndex.
type mapHashIndex struct {
	one   map[uint64]uint64
	multi map[uint64][]uint64
	bits  []uint64
}

func (x *mapHashIndex) add(h, n uint64) {
	if x.bits == nil {
		x.bits = make([]uint64, 1<<24/64)
	}
	x.bits[h>>40/64] |= 1 << (h >> 40 % 64)
	if _, ok := x.one[h]; ok {
		x.multi[h] = append(x.multi[h], n)
		return
	}
	x.one[h] = n
}

func (x *mapHashIndex) get(h uint64, out []uint64) []uint64 {
	if x.bits == nil || x.bits[h>>40/64]&(1<<(h>>40%64)) == 0 {
		return out
	}
	if n, ok := x.one[h]; ok {
		out = append(out, n)
		out = append(out, x.multi[h]...)
	}
	return out
}

// BenchmarkHashIndex: what an Unordered ingest does per transaction, a
// lookup of a new txid (a miss) and then its add, into an open segment's
// worth of entries (2²¹), against the two Go maps it replaced. ns/op is
// per (lookup, add) pair.
func BenchmarkHashIndex(b *testing.B) {
	const n = 1 << 21
	hs := make([]uint64, n)
	for i := range hs {
		var id [32]byte
		binary.LittleEndian.PutUint64(id[:], uint64(i))
		hs[i] = txidHash(&id)
	}
	b.Run("open-addressing", func(b *testing.B) {
		var x hashIndex
		falses := 0
		for i := 0; i < b.N; i++ {
			if i%n == 0 {
				x = newHashIndex(uint64(i + 1))
			}
			h := hs[i%n]
			falses += len(x.get(h, nil)) // top 32 bits alike: ≈ entries/2³² per lookup
			x.add(h, uint64(i+1))
		}
		b.ReportMetric(float64(falses)/float64(b.N), "false-candidates/op")
	})
	b.Run("go-maps", func(b *testing.B) {
		var x *mapHashIndex
		for i := 0; i < b.N; i++ {
			if i%n == 0 {
				x = &mapHashIndex{one: map[uint64]uint64{}, multi: map[uint64][]uint64{}}
			}
			h := hs[i%n]
			if len(x.get(h, nil)) != 0 {
				b.Fatal("false hit")
			}
			x.add(h, uint64(i+1))
		}
	})
}

// catchUp sizes the table once for everything it indexes: the smallest
// power of two under the load limit, no doubling from hashIndexMin (the
// previous table of a catchUp that grows is its only garbage); later
// catchUps of a few entries grow it as add does; every entry is found.
func TestHashIndexCatchUpSizesOnce(t *testing.T) {
	var src []hashEnt
	for i := uint64(0); i < 100_000; i++ {
		src = append(src, hashEnt{hash: i * 0x9e3779b97f4a7c15, num: 7 + i})
	}
	x := newHashIndex(7)
	x.catchUp(src[:10]) // a lookup early in the segment
	small := len(x.slots)
	x.catchUp(src) // the close
	want := 1 << log2(100_000*8/hashIndexLoad+1)
	if small != hashIndexMin || len(x.slots) != want {
		t.Fatalf("%d then %d slots, want %d then %d", small, len(x.slots), hashIndexMin, want)
	}
	for _, e := range src {
		if !slices.Contains(x.get(e.hash, nil), e.num) {
			t.Fatalf("entry %d lost", e.num)
		}
	}
	if n := testing.AllocsPerRun(2, func() { y := newHashIndex(7); y.catchUp(src) }); n != 1 {
		t.Fatalf("a catchUp of 100,000 entries into an empty index allocated %v tables, want 1", n)
	}
	more := append(src, hashEnt{hash: 1, num: 7 + 100_000})
	x.catchUp(more)
	if x.n != len(more) || !slices.Contains(x.get(1, nil), uint64(7+100_000)) {
		t.Fatalf("%d entries after one more catchUp, want %d", x.n, len(more))
	}
}
