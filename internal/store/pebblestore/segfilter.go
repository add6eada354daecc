package pebblestore

// The chain-wide key filters: one blocked Bloom filter over the txid
// hashes and one over the address hashes of every closed segment and of
// the segment being closed (pending), so that a lookup of a key no closed
// segment holds (a new txid, a new address: most lookups of an ingest once
// the address cache is full) costs one cache line instead of a bitmap probe
// per segment. Bitcoin mainnet would fill a thousand segments or more:
// without it an ingest slowed down in proportion to the chain already
// stored.
//
// Why a blocked Bloom filter: it needs no stored data (it is built from the
// segments' hash sections the first time a lookup of a writing process
// needs it, kept in memory only), takes ≈ 1.5–2.3 bytes a key, only ever
// errs towards "maybe", so keys that leave (an undo) could even stay in it,
// and reads one 64-byte block a probe. An exact set of the 32-bit fingerprints would take 4+ bytes
// a key; a cuckoo or xor filter of the same error rate is smaller but
// harder to extend (xor: not at all) as segments close.
//
// The segments' hash sections keep only the top 32 bits of each 64-bit
// hash (their fingerprint), so the filter is keyed by those: a lookup of a
// new key whose fingerprint some stored key shares (≈ N/2³² of lookups
// with N keys stored) passes it and walks the segments as before; the
// segments' answers are the same either way, since they too match on the
// fingerprint only.
//
// Layout: blocks of 512 bits (8 words: one cache line, as Go allocates
// large slices page-aligned and small ones at multiples of their size
// class); a fingerprint picks its block by multiply-shift of the
// fingerprint itself (the top bits of a finalised hash: uniform) and sets
// filterK bits in it, 9 bits of a mix of the fingerprint each. Sized for filterBitsPerKey
// bits a key at capacity, built with half as much room again; past
// capacity the next lookup rebuilds it. False "maybe" rate (theory for
// 512-bit blocks, k = 7; TestKeyFilterFalseRate measures it): ≈ 0.4 % at
// capacity (12 bits a key), ≈ 0.05 % just after a build (18 bits a key).
//
// Like the rest of segState, the filters are built, extended, probed and
// dropped under s.mu only: Apply holds it throughout, and the readers that
// look keys up by hash (addrIDOf, txNumOf) take it for the lookup.

const (
	filterBitsPerKey = 12
	filterK          = 7 // 7 × 9 bits of the 64-bit mix
)

// filterMinKeys is a new filter's least capacity (a variable so that tests
// can make filters regrow).
var filterMinKeys = 1 << 12

// useSegFilter is false only in tests that compare against the plain walk
// of every segment.
var useSegFilter = true

// keyFilter is a blocked Bloom filter of 32-bit fingerprints.
type keyFilter struct {
	words    []uint64 // 8 a block
	nBlocks  uint64
	n        int // fingerprints added (with repeats)
	capacity int
}

// newKeyFilter returns an empty filter with room for capacity keys.
func newKeyFilter(capacity int) *keyFilter {
	capacity = max(capacity, filterMinKeys)
	nb := (capacity*filterBitsPerKey + 511) / 512
	f := &keyFilter{words: make([]uint64, 8*nb), nBlocks: uint64(nb), capacity: capacity}
	hugeArray(f.words)
	return f
}

// block returns fp's block and the mix its bit positions come from.
func (f *keyFilter) block(fp uint32) (*[8]uint64, uint64) {
	b := uint64(fp) * f.nBlocks >> 32
	m := uint64(fp) * 0x9e3779b97f4a7c15 // splitmix64's finaliser
	m ^= m >> 30
	m *= 0xbf58476d1ce4e5b9
	m ^= m >> 27
	m *= 0x94d049bb133111eb
	m ^= m >> 31
	return (*[8]uint64)(f.words[8*b:]), m
}

func (f *keyFilter) add(fp uint32) {
	blk, m := f.block(fp)
	for range filterK {
		p := m & 511
		blk[p>>6] |= 1 << (p & 63)
		m >>= 9
	}
	f.n++
}

// mayHave reports false when no fingerprint fp was added.
func (f *keyFilter) mayHave(fp uint32) bool {
	blk, m := f.block(fp)
	for range filterK {
		p := m & 511
		if blk[p>>6]&(1<<(p&63)) == 0 {
			return false
		}
		m >>= 9
	}
	return true
}

// line returns the first word of fp's block (prefetch reads it).
func (f *keyFilter) line(fp uint32) uint64 {
	return f.words[8*(uint64(fp)*f.nBlocks>>32)]
}

func (f *keyFilter) full() bool { return f.n > f.capacity }

// bytesPerKey is the filter's memory a fingerprint added.
func (f *keyFilter) bytesPerKey() float64 { return float64(8*len(f.words)) / float64(max(f.n, 1)) }

// filterStats counts the lookups that reached the filters, and those it
// let through to the segments (for tests and benchmarks).
type filterStats struct{ probes, maybes, builds int }

// filtering reports whether lookups go through the filter f (nil when not
// built yet).
func (g *segState) filtering(f *keyFilter) bool {
	return useSegFilter && (g.writing || f != nil)
}

// closedKeys is whether the chain has closed or pending segments, whose
// keys a filter covers.
func (g *segState) closedKeys() bool { return len(g.segs) > 0 || g.pending != nil }

// txFilter returns the txid filter, built (or rebuilt when too full) from
// the segments' txid sections and the pending segment's entries.
func (g *segState) txFilter() *keyFilter {
	return g.filter(&g.txF, func(s *segment) *hashSec { return &s.txh }, func(p *pendingSeg) []hashEnt { return p.txids })
}

// addrFilter is txFilter for the address sections.
func (g *segState) addrFilter() *keyFilter {
	return g.filter(&g.addrF, func(s *segment) *hashSec { return &s.addrh }, func(p *pendingSeg) []hashEnt { return p.addrs })
}

// filter returns *fp, built (or rebuilt when too full) from the segments'
// sections sec and the pending segment's entries ents.
func (g *segState) filter(fp **keyFilter, sec func(*segment) *hashSec, ents func(*pendingSeg) []hashEnt) *keyFilter {
	if *fp == nil || (*fp).full() {
		n := 0
		for _, s := range g.segs {
			n += sec(s).n
		}
		if g.pending != nil {
			n += len(ents(g.pending))
		}
		f := newKeyFilter(n + n/2)
		for _, s := range g.segs {
			sec(s).each(func(h uint32, _ uint64) { f.add(h) })
		}
		if g.pending != nil {
			for _, e := range ents(g.pending) {
				f.add(uint32(e.hash >> 32)) // the fingerprint: the top 32 bits, as in the sections
			}
		}
		*fp = f
		g.stats.builds++
	}
	return *fp
}

// filterPending adds the pending segment's keys to the filters that are
// built (startClose calls it; filters not built yet include them when
// they are), from its entries: their fingerprints (hash>>32) are those of
// its hash indexes, which a goroutine completes meanwhile.
func (g *segState) filterPending() {
	if g.txF != nil {
		for _, e := range g.pending.txids {
			g.txF.add(uint32(e.hash >> 32))
		}
	}
	if g.addrF != nil {
		for _, e := range g.pending.addrs {
			g.addrF.add(uint32(e.hash >> 32))
		}
	}
}

// dropFilters forgets the filters (an undo removed keys from the closed
// segments: the next lookup builds them again, without those keys).
func (g *segState) dropFilters() { g.txF, g.addrF = nil, nil }
