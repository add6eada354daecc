package pebblestore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"runtime"
	"testing"
)

// checkAddrCache compares the cache with the reference map: same size, every
// reference address found with its id, every probe absent from the
// reference absent from the cache.
func checkAddrCache(t *testing.T, c *addrCache, ref map[string]uint64, probes [][]byte) {
	t.Helper()
	if c.len() != len(ref) {
		t.Fatalf("cache holds %d addresses, want %d", c.len(), len(ref))
	}
	for a, want := range ref {
		if got, ok := c.get([]byte(a), addrHash([]byte(a))); !ok || got != want {
			t.Fatalf("get(%x) = %d, %v; want %d", a, got, ok, want)
		}
	}
	for _, a := range probes {
		want, wok := ref[string(a)]
		if got, ok := c.get(a, addrHash(a)); ok != wok || got != want {
			t.Fatalf("get(%x) = %d, %v; want %d, %v", a, got, ok, want, wok)
		}
	}
}

// sameHome returns n distinct addresses of length l whose addrHash puts
// them in the same slot of a table of the minimum size, slot home (found by
// search: the cache's hash is the real one).
func sameHome(l, n int, home uint64) [][]byte {
	var out [][]byte
	shift := uint(64 - log2(addrCacheMin))
	for i := uint64(0); len(out) < n; i++ {
		a := make([]byte, l)
		for j := 0; j < l && j < 8; j++ {
			a[j] = byte(i >> (8 * j))
		}
		if addrHash(a)>>shift == home {
			out = append(out, a)
		}
	}
	return out
}

// TestAddrCache: inline and arena addresses at the length boundary, runs of
// addresses sharing a home slot (found by search), a run wrapping the end of
// the table, removal from the middle of a run, overwrite, growth.
func TestAddrCache(t *testing.T) {
	last := uint64(addrCacheMin - 1)
	cases := []struct {
		name  string
		addrs [][]byte
	}{
		{"lengths 0 to 40", func() (out [][]byte) {
			for l := 0; l <= 40; l++ {
				out = append(out, bytes.Repeat([]byte{byte(l) | 0x80}, l))
			}
			return out
		}()},
		{"23 and 24 bytes that differ in the last byte", [][]byte{
			append(bytes.Repeat([]byte{1}, 22), 2), append(bytes.Repeat([]byte{1}, 22), 3),
			append(bytes.Repeat([]byte{1}, 23), 2), append(bytes.Repeat([]byte{1}, 23), 3),
		}},
		{"a prefix and its zero extension", [][]byte{{5}, {5, 0}, {5, 0, 0}, {}}},
		{"one home, short", sameHome(21, 12, 7)},
		{"one home, long", sameHome(33, 12, 7)},
		{"run wraps the table end", append(sameHome(21, 6, last), sameHome(21, 4, 0)...)},
		{"mixed run at the end", append(append(sameHome(33, 3, last), sameHome(20, 3, last)...), sameHome(21, 3, 0)...)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, ref := newAddrCache(0), map[string]uint64{}
			absent := [][]byte{{0xee}, bytes.Repeat([]byte{0xee}, 30)}
			for i, a := range tc.addrs {
				c.put(a, addrHash(a), uint64(i+1))
				ref[string(a)] = uint64(i + 1)
				checkAddrCache(t, c, ref, absent)
			}
			// Overwrite keeps one entry.
			c.put(tc.addrs[0], addrHash(tc.addrs[0]), 99)
			ref[string(tc.addrs[0])] = 99
			checkAddrCache(t, c, ref, absent)
			// Take out the newest ids, two at a time (the runs lose
			// members from their middles), then everything.
			for min := len(tc.addrs) - 1; min >= 1; min -= 2 {
				c.removeFrom(uint64(min))
				dropFrom(ref, uint64(min))
				checkAddrCache(t, c, ref, tc.addrs)
			}
			c.removeFrom(1)
			dropFrom(ref, 1)
			checkAddrCache(t, c, ref, tc.addrs)
			for i := range c.slots {
				if c.slots[i].id != 0 {
					t.Fatalf("slot %d still in use", i)
				}
			}
		})
	}
}

// TestAddrCacheLongHashCollision: two long addresses given the same 64-bit
// hash (crafted: no real pair is known) stay apart, settled by their bytes.
func TestAddrCacheLongHashCollision(t *testing.T) {
	a, b := bytes.Repeat([]byte{1}, 33), bytes.Repeat([]byte{2}, 33)
	c := newAddrCache(0)
	c.put(a, 42, 1)
	if _, ok := c.get(b, 42); ok {
		t.Fatal("a hash match alone found a different address")
	}
	c.put(b, 42, 2)
	if id, ok := c.get(a, 42); !ok || id != 1 {
		t.Fatalf("a: %d, %v", id, ok)
	}
	if id, ok := c.get(b, 42); !ok || id != 2 {
		t.Fatalf("b: %d, %v", id, ok)
	}
	if c.len() != 2 {
		t.Fatalf("len %d", c.len())
	}
}

// TestAddrCacheGrowth: 100,000 addresses of mixed lengths through several
// doublings from empty, and the same into a pre-sized cache, then the
// newest half removed as a failed Apply does.
func TestAddrCacheGrowth(t *testing.T) {
	for _, size := range []int{0, 100_000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			c, ref := newAddrCache(size), map[string]uint64{}
			var all [][]byte
			for i := 0; i < 100_000; i++ {
				a := fmt.Appendf(nil, "%0*d", 20+i%3*7, i) // 20, 27 and 34 bytes
				all = append(all, a)
				c.put(a, addrHash(a), uint64(i+1))
				ref[string(a)] = uint64(i + 1)
			}
			if size > 0 && len(c.slots) != 1<<log2(size*8/addrCacheLoad+1) {
				t.Fatalf("pre-sized cache grew to %d slots", len(c.slots))
			}
			checkAddrCache(t, c, ref, [][]byte{[]byte("x"), []byte("0")})
			arena := len(c.arena)
			c.removeFrom(uint64(len(all)/2 + 1))
			dropFrom(ref, uint64(len(all)/2+1))
			checkAddrCache(t, c, ref, all[len(all)/2:])
			if len(c.arena) >= arena {
				t.Fatalf("arena %d bytes after removing the newest long addresses (was %d)", len(c.arena), arena)
			}
		})
	}
}

// dropFrom deletes the ids from min on from a reference map, as
// addrCache.removeFrom does.
func dropFrom(ref map[string]uint64, min uint64) {
	for k, id := range ref {
		if id >= min {
			delete(ref, k)
		}
	}
}

// FuzzAddrCache drives the cache and a Go map with the same puts of
// addresses from a small family (lengths around the inline limit, a few
// contents) and removals of the newest ids, and compares them.
func FuzzAddrCache(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 0x80, 0x81, 4, 5})
	f.Add(bytes.Repeat([]byte{0x17, 0x18, 0x97, 0x21, 0x3f, 0xbf}, 200))
	f.Fuzz(func(t *testing.T, ops []byte) {
		c, ref := newAddrCache(0), map[string]uint64{}
		addr := func(b byte) []byte {
			l := []int{0, 1, 20, 21, 22, 23, 24, 32, 33, 40}[int(b&0x3f)%10]
			a := bytes.Repeat([]byte{b & 0x3f / 10}, l)
			return a
		}
		var probes [][]byte
		for i, b := range ops {
			a := addr(b)
			probes = append(probes, a)
			if b&0x80 != 0 {
				min := uint64(max(1, i+1-int(b&0x3f)))
				c.removeFrom(min)
				dropFrom(ref, min)
			} else {
				c.put(a, addrHash(a), uint64(i+1))
				ref[string(a)] = uint64(i + 1)
			}
			checkAddrCache(t, c, ref, probes[max(0, len(probes)-8):])
		}
	})
}

// mapAddrCache is the cache the open-addressing one replaced, kept for
// BenchmarkAddrCache.
type mapAddrCache struct {
	short map[[22]byte]uint64
	long  map[string]uint64
}

func (c *mapAddrCache) get(a []byte) (uint64, bool) {
	if k, ok := mapShortKey(a); ok {
		id, ok := c.short[k]
		return id, ok
	}
	id, ok := c.long[string(a)]
	return id, ok
}

func (c *mapAddrCache) put(a []byte, id uint64) {
	if k, ok := mapShortKey(a); ok {
		c.short[k] = id
		return
	}
	c.long[string(a)] = id
}

func mapShortKey(a []byte) (k [22]byte, ok bool) {
	if len(a) > 21 {
		return k, false
	}
	k[0] = byte(len(a))
	copy(k[1:], a)
	return k, true
}

// BenchmarkAddrCache: a full cache (2²¹ Tron-style 21-byte addresses, as
// the ETL import's), looked up in a random order, 80 % hits and 20 % new
// addresses (a miss, then the Apply's put), against the Go maps it replaced.
// The open-addressing lookup includes addrHash, which addrID needs anyway
// for a new address. B/addr is the heap the full cache holds.
func BenchmarkAddrCache(b *testing.B) {
	const n = 1 << 21
	addr := func(i uint64) []byte {
		a := make([]byte, 21)
		a[0] = 0x41
		for j := 0; j < 8; j++ {
			a[20-j] = byte((i + 0x1000000) >> (8 * j))
		}
		return a
	}
	addrs := make([][]byte, n+n/4)
	for i := range addrs {
		addrs[i] = addr(uint64(i))
	}
	order := make([]int, 1<<20)
	rng := uint64(0x9e3779b97f4a7c15)
	for i := range order {
		rng ^= rng >> 12
		rng ^= rng << 25
		rng ^= rng >> 27
		order[i] = int(rng * 2685821657736338717 % uint64(len(addrs)))
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	b.Run("open-addressing", func(b *testing.B) {
		h0 := heap()
		c := newAddrCache(0)
		for i, a := range addrs[:n] {
			c.put(a, addrHash(a), uint64(i+1))
		}
		bytes := float64(heap()-h0) / n
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			a := addrs[order[i%len(order)]]
			h := addrHash(a)
			if _, ok := c.get(a, h); !ok {
				c.put(a, h, uint64(n+i+1))
			}
		}
		b.ReportMetric(bytes, "B/addr")
		runtime.KeepAlive(c)
	})
	b.Run("go-maps", func(b *testing.B) {
		h0 := heap()
		c := &mapAddrCache{short: map[[22]byte]uint64{}, long: map[string]uint64{}}
		for i, a := range addrs[:n] {
			c.put(a, uint64(i+1))
		}
		bytes := float64(heap()-h0) / n
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			a := addrs[order[i%len(order)]]
			if _, ok := c.get(a); !ok {
				c.put(a, uint64(n+i+1))
			}
		}
		b.ReportMetric(bytes, "B/addr")
		runtime.KeepAlive(c)
	})
}

// TestAddrCacheEmpty: an emptied cache keeps its table, finds none of its
// old addresses, and takes new ones (short and long) as a fresh one does.
func TestAddrCacheEmpty(t *testing.T) {
	c := newAddrCache(0)
	var old [][]byte
	for i := 0; i < 5000; i++ {
		a := fmt.Appendf(nil, "%0*d", 20+i%2*14, i)
		old = append(old, a)
		c.put(a, addrHash(a), uint64(i+1))
	}
	slots := len(c.slots)
	c.empty()
	if c.len() != 0 || len(c.slots) != slots || len(c.arena) != 0 {
		t.Fatalf("emptied: %d addresses, %d slots (had %d), %d arena bytes", c.len(), len(c.slots), slots, len(c.arena))
	}
	ref := map[string]uint64{}
	for i := 0; i < 300; i++ {
		a := fmt.Appendf(nil, "new%0*d", 20+i%2*14, i)
		c.put(a, addrHash(a), uint64(i+1))
		ref[string(a)] = uint64(i + 1)
	}
	checkAddrCache(t, c, ref, old)
}

// TestAddrCacheReserve: reserving room in a cache that holds addresses (a
// resumed ingest's) keeps every one of them, and makes room for the rest
// without growing again.
func TestAddrCacheReserve(t *testing.T) {
	g, ref := newAddrGens(1<<18), map[string]uint64{}
	if g.cap < 50_000 {
		t.Fatalf("a generation of %d addresses: the test needs 50,000", g.cap)
	}
	for i := 0; i < 3000; i++ {
		a := fmt.Appendf(nil, "%0*d", 20+i%2*14, i)
		g.put(a, addrHash(a), uint64(i+1))
		ref[string(a)] = uint64(i + 1)
	}
	g.reserve(47_000)
	slots := len(g.cur.slots)
	checkAddrCache(t, g.cur, ref, [][]byte{[]byte("absent")})
	for i := 3000; i < 50_000; i++ {
		a := fmt.Appendf(nil, "%0*d", 20+i%2*14, i)
		g.put(a, addrHash(a), uint64(i+1))
		ref[string(a)] = uint64(i + 1)
	}
	if len(g.cur.slots) != slots || g.switches != 0 {
		t.Fatalf("grew from %d to %d slots (%d generation switches) within the reservation", slots, len(g.cur.slots), g.switches)
	}
	checkAddrCache(t, g.cur, ref, nil)
}

// addrKeyBytes is addrKey's short form as the slot layout defines it: the
// length, then the bytes, zero padded, read as three little-endian words.
func addrKeyBytes(a []byte) [3]uint64 {
	var b [24]byte
	b[0] = byte(len(a))
	copy(b[1:], a)
	return [3]uint64{binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:]), binary.LittleEndian.Uint64(b[16:])}
}

// TestAddrKeyWords checks addrKey's word reads against the byte layout for
// every short length, with bytes that differ everywhere (a wrong shift or
// offset moves or drops one), and slotBytes' way back.
func TestAddrKeyWords(t *testing.T) {
	c := &addrCache{}
	for n := 0; n <= addrInline; n++ {
		for seed := range 4 {
			a := make([]byte, n)
			for i := range a {
				a[i] = byte(0x11*i + 0x5b*seed + 1)
			}
			k, long := addrKey(a, addrHash(a))
			if long || k != addrKeyBytes(a) {
				t.Fatalf("addrKey(%x) = %x, %v; want %x, false", a, k, long, addrKeyBytes(a))
			}
			if got := c.slotBytes(&addrSlot{k: k, id: 1}, nil); !bytes.Equal(got, a) {
				t.Fatalf("slotBytes of addrKey(%x) = %x", a, got)
			}
		}
	}
}

// FuzzAddrKey checks addrKey against the byte layout on any bytes.
func FuzzAddrKey(f *testing.F) {
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 16))
	f.Add(bytes.Repeat([]byte{0xa5}, 20))
	f.Add(bytes.Repeat([]byte{1}, 23))
	f.Add(bytes.Repeat([]byte{2}, 24))
	f.Fuzz(func(t *testing.T, a []byte) {
		k, long := addrKey(a, 7)
		if len(a) > addrInline {
			if !long || k != [3]uint64{addrLong | uint64(len(a))<<8, 7, 0} {
				t.Fatalf("addrKey(%x) = %x, %v", a, k, long)
			}
			return
		}
		if long || k != addrKeyBytes(a) {
			t.Fatalf("addrKey(%x) = %x, %v; want %x", a, k, long, addrKeyBytes(a))
		}
	})
}

// BenchmarkAddrCacheHot: lookups of Bitcoin-sized addresses (20 to 23
// bytes) in a cache small enough to stay in the CPU's first cache level,
// so that what is measured is the key's computation and passing, not the
// memory latency BenchmarkAddrCache measures.
func BenchmarkAddrCacheHot(b *testing.B) {
	addrs := make([][]byte, 64)
	hs := make([]uint64, len(addrs))
	c := newAddrCache(len(addrs))
	for i := range addrs {
		addrs[i] = make([]byte, 20+i%4)
		for j := range addrs[i] {
			addrs[i][j] = byte(i*31 + j)
		}
		hs[i] = addrHash(addrs[i])
		c.put(addrs[i], hs[i], uint64(i+1))
	}
	var sum uint64
	for i := 0; i < b.N; i++ {
		k := i & (len(addrs) - 1)
		id, _ := c.get(addrs[k], hs[k])
		sum += id
	}
	runtime.KeepAlive(sum)
}

// addrHashBytes is addrHash as first written: the last 0-7 bytes copied
// into a zeroed word. Segments on disk hold its values, so addrHash must
// equal it on every input.
func addrHashBytes(b []byte) uint64 {
	h := uint64(len(b)) * 0x9e3779b97f4a7c15
	for len(b) >= 8 {
		h = bits.RotateLeft64(h^binary.LittleEndian.Uint64(b)*0xc2b2ae3d27d4eb4f, 31) * 0x165667b19e3779f9
		b = b[8:]
	}
	var t [8]byte
	copy(t[:], b)
	h = bits.RotateLeft64(h^binary.LittleEndian.Uint64(t[:])*0xc2b2ae3d27d4eb4f, 31) * 0x165667b19e3779f9
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}

// TestAddrHashTail checks addrHash against its first form for every
// length up to 40 (every tail length, with and without whole words
// before it), on bytes that differ everywhere. The golden store digest
// (golden_test.go) pins the values themselves.
func TestAddrHashTail(t *testing.T) {
	for n := 0; n <= 40; n++ {
		for seed := range 3 {
			a := make([]byte, n)
			for i := range a {
				a[i] = byte(0x3d*i + 0x71*seed + 1)
			}
			if got, want := addrHash(a), addrHashBytes(a); got != want {
				t.Fatalf("addrHash(%x) = %#x, want %#x", a, got, want)
			}
		}
	}
}

// FuzzAddrHash checks addrHash against its first form on any bytes.
func FuzzAddrHash(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3})
	f.Add(bytes.Repeat([]byte{0xee}, 20))
	f.Add(bytes.Repeat([]byte{0x5a}, 33))
	f.Fuzz(func(t *testing.T, a []byte) {
		if got, want := addrHash(a), addrHashBytes(a); got != want {
			t.Fatalf("addrHash(%x) = %#x, want %#x", a, got, want)
		}
	})
}

// BenchmarkAddrHash: addrHash of Bitcoin-sized addresses (20 to 23 bytes)
// in cache, against its first form (the tail copied into a zeroed word).
func BenchmarkAddrHash(b *testing.B) {
	addrs := make([][]byte, 64)
	for i := range addrs {
		addrs[i] = make([]byte, 20+i%4)
		for j := range addrs[i] {
			addrs[i][j] = byte(i*31 + j)
		}
	}
	for _, f := range []struct {
		name string
		hash func([]byte) uint64
	}{{"words", addrHash}, {"copied-tail", addrHashBytes}} {
		b.Run(f.name, func(b *testing.B) {
			var sum uint64
			for i := 0; i < b.N; i++ {
				sum += f.hash(addrs[i&(len(addrs)-1)])
			}
			runtime.KeepAlive(sum)
		})
	}
}
