package pebblestore

import (
	"math"

	"github.com/spoor-dev/spoor/internal/model"
)

// addrGens is a chain's bounded address-id cache, which keeps the addresses
// used most recently: two generations of addrCache, each of up to cap
// addresses. New addresses and addresses found in the segments go into the
// current generation; a hit in the old generation copies the address into
// the current one. When the current generation is full, the old one is
// dropped and the current one becomes old (the dropped table, emptied, is
// the new current one), so the cache holds the addresses used since the
// switch before last: between cap and 2·cap of them, in the memory one
// table of AddrCacheEntries addresses takes (genSize). Before (layout 7,
// to the sixth session) the cache kept the chain's first 2²¹ addresses for
// good, and every reuse of a later one was looked up in the segments.
//
// floor: the cache holds every address from id floor on, so a miss needs
// a lookup only among the ids below it (addrCandidates then skips the
// segments whose ids are all above it: the open one, most of the time,
// and the closing one); complete (floor 1: every
// address of the chain) means a miss is a new address, with no lookup. The
// addresses created since the current generation began (curStart on) are
// all in it, so a switch that drops an address raises floor to the
// curStart of the generation becoming old (or to the running Apply's first
// id, if lower: see spill). A load sets it to the first address loaded.
//
// The running Apply's new addresses (ids pin and up) must never be lost
// while it runs (lookupAddr skips them, and they may not be in the
// segments yet): a switch that would drop some of them (an Apply creating
// more than cap addresses) moves them to spill, which the commit empties
// (raising floor past them) and an abort empties with the other ids ≥ pin.
type addrGens struct {
	cur, old *addrCache
	spill    *addrCache
	slots    int // a full generation's table size
	cap      int // the addresses a generation holds
	pin      uint64
	floor    uint64
	curStart uint64 // the first id created since cur became current
	top      uint64 // the highest id put
	// Counters for tests and measurements: hits in each generation, the
	// switches, and the segment lookups of misses (found: an id).
	hitCur, hitOld, switches, lookups, found uint64
}

// newAddrGens returns an empty cache in the memory of n addresses
// (genSize), which vouches for no address (floor: none) until loaded says
// what it holds.
func newAddrGens(n int) *addrGens {
	slots, cap := genSize(n)
	return &addrGens{cur: newAddrCache(0), old: newAddrCache(0), spill: newAddrCache(0),
		slots: slots, cap: cap, pin: math.MaxUint64, floor: math.MaxUint64, curStart: math.MaxUint64}
}

// loaded says the current generation holds every address from id first
// to last (first > last: none, on an empty chain).
func (g *addrGens) loaded(first, last uint64) {
	g.floor, g.curStart, g.top = first, first, last
}

// complete: the cache holds every address of the chain.
func (g *addrGens) complete() bool { return g.floor <= 1 }

// genSize returns a generation's table size and the addresses it holds
// for a cache of n addresses: each generation takes half the slots that
// one table of n addresses would (so the two take that table's memory),
// and holds as many addresses as fit before the table would grow, its load
// limit (addrCacheLoad/8): 1,310,720 a generation for the default 2²¹, so
// between 1.3 M and 2.6 M addresses in all.
func genSize(n int) (slots, cap int) {
	slots = max(1, 1<<log2(n*8/addrCacheLoad+1)/2)
	return slots, max(1, slots*addrCacheLoad/8)
}

// get returns the id of address a (addrHash h), promoting a hit in the old
// generation into the current one.
func (g *addrGens) get(a []byte, h uint64) (uint64, bool) {
	if id, ok := g.cur.get(a, h); ok {
		g.hitCur++
		return id, true
	}
	if g.old.n > 0 {
		if id, ok := g.old.get(a, h); ok {
			g.hitOld++
			g.put(a, h, id)
			return id, true
		}
	}
	if g.spill.n > 0 {
		return g.spill.get(a, h)
	}
	return 0, false
}

// put sets the id of address a (addrHash h) in the current generation,
// switching generations first when it is full.
func (g *addrGens) put(a []byte, h, id uint64) {
	if g.cur.n >= g.cap {
		g.rotate()
	}
	g.cur.put(a, h, id)
	g.top = max(g.top, id)
}

// rotate drops the old generation (keeping the running Apply's addresses in
// spill) and makes the current one old.
func (g *addrGens) rotate() {
	d := g.old
	if d.n > 0 {
		kept := 0
		if d.top >= g.pin {
			var buf [addrInline]byte
			for i := range d.slots {
				s := &d.slots[i]
				if s.id >= g.pin {
					g.spill.put(d.slotBytes(s, buf[:0]), d.slotHash(s), s.id)
					kept++
				}
			}
		}
		if kept < d.n {
			// What is left: the running Apply's ids (in cur, old or spill)
			// and all from curStart on (in the generation becoming old).
			g.floor = max(g.floor, min(g.pin, g.curStart))
		}
		d.empty()
	}
	g.old, g.cur = g.cur, d
	if n := len(g.old.slots); len(d.slots) < n {
		// The first switch: the table grows to the full one's size once,
		// written through, rather than doubling from nothing again.
		d.resizeKeep(n, nil, true)
	}
	g.curStart = g.top + 1
	g.switches++
}

// begin starts an Apply whose new addresses get ids from pin on.
func (g *addrGens) begin(pin uint64) { g.pin = pin }

// commit ends the Apply: the addresses it kept in spill are committed now,
// and found by lookups; the cache no longer holds them.
func (g *addrGens) commit() {
	if g.spill.n > 0 {
		// Every id past spill's is in cur or old (spill has all the
		// running Apply's ids a switch dropped).
		g.floor = max(g.floor, g.spill.top+1)
		g.spill.empty()
	}
	g.pin = math.MaxUint64
}

// abort ends a failed Apply, which allocated the ids from pin on: they are
// taken out of both generations (an address the Apply only promoted keeps
// its committed id and stays).
func (g *addrGens) abort() {
	g.cur.removeFrom(g.pin)
	g.old.removeFrom(g.pin)
	g.spill.empty()
	// The ids from pin on are allocated again, into cur.
	g.top, g.curStart = min(g.top, g.pin-1), min(g.curStart, g.pin)
	g.pin = math.MaxUint64
}

// reserve makes room in the current generation for n more addresses (up to
// a generation) before it grows. The new table's pages are made present at
// once (populate): a fresh array's pages are untouched, and a page of a hash
// table is first read (a probe, which maps the kernel's zero page) and then
// written (a second fault, a copy); writing the table through with zeros
// did the same at a fault a page, ≈ 4 % more of a 10⁶ ingest's CPU.
func (g *addrGens) reserve(n int) {
	n = min(g.cap, g.cur.n+n)
	size := min(1<<log2(n*8/addrCacheLoad+1), g.slots)
	if size = max(addrCacheMin, size); size > len(g.cur.slots) {
		g.cur.resizeKeep(size, nil, true)
	}
}

// AddrCacheStats counts the address cache's work for one chain since the
// store loaded it (or an undo dropped it): hits in its current and old
// generation, generation switches, misses looked up in the segments and the
// address log, and those lookups that found an id (the others were new
// addresses). Benchmarks and tests read it.
type AddrCacheStats struct {
	HitCur, HitOld, Switches, Lookups, Found uint64
	// Floor: the cache holds every address from this id on (1: complete).
	Floor uint64
}

// AddrCacheStats returns chain c's address cache counters.
func (s *Store) AddrCacheStats(c model.Chain) AddrCacheStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.chains[c]
	if st == nil {
		return AddrCacheStats{}
	}
	g := st.addrs
	return AddrCacheStats{HitCur: g.hitCur, HitOld: g.hitOld, Switches: g.switches, Lookups: g.lookups, Found: g.found, Floor: g.floor}
}
