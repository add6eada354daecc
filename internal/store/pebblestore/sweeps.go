package pebblestore

// Sweeps (segment format 5, layout 11): spends a segment does not store
// because its adjacency implies them.
//
// An address of a UTXO chain mostly spends what it received, whole and at
// once: on the synthetic chain 88 % of the spends are by a tx that spends
// every output the address was paid in the segment and had not spent yet.
// Such an adjacency entry is a sweep, and the spends it implies (of the
// segment's own outputs; an output of an earlier segment is always stored)
// are left out of the spent section: 1.12 of 26.0 bytes a transfer were
// spends. Most sweeps spend one output, so their amount out is the group's
// last amount in (efOutSame): flags efSweep, efOutSame with efOut set as
// well, a combination format 4 did not use, no byte. A sweep of several
// outputs (a consolidation) writes its amount out and sets the low bit of
// the entry's ext field (efExt: asset << 1 | sweep).
//
// Reading: output (T, vout) paying address A is spent by the tx the spent
// sections of the segments from T's on name (stored spends are searched
// first); if none does, by the first sweep of A's group in T's segment
// after T; if there is none, it is unspent. Why that holds: an output is
// only ever spent by a tx in which its address is on the spending side (an
// entry with nOut > 0, "out entry"); an output of the segment unspent
// before a sweep is spent by it, by definition; so the first sweep after T
// spends (T, vout) unless an out entry before it did, and that spend,
// being no sweep's, is stored.
//
// Writing: the close counts, for each out entry, the spends of its tx that
// spend the segment's outputs paying its address (pairSpends: the spends
// and the entries are both in tx order as the indexer appended them, and a
// spend carries its output's address, spentEnt.addr), and walks each
// address's entries in tx order with the number of its outputs still
// unspent (the entries' nIn added, the spends counted subtracted): an out
// entry whose count equals it, not zero, is a sweep. A count can only miss spends (an address too far
// below the segment's, a tx of too many entries, a segment appended to a
// loaded one), never add some, and a missed spend leaves the unspent
// number too high, so an entry the close takes for a sweep is one.
//
// A segment read back (load: a merge, the digest) keeps its entries' sweep
// flags (marks) but not the implied spends: a merge encodes the loaded
// sweeps as they were and finds new ones only among the entries appended
// after them, and the digest rebuilds the implied spends from the tx
// records (sweptSpends), so that it hashes every spend as before.

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/holiman/uint256"
)

const (
	// spentAddrNone: a spend whose output's address is not known or lies
	// outside the 32 bits above the segment's address base (spentEnt.addr
	// holds the id − addrBase + 1 otherwise).
	spentAddrNone = 0
	// marks: the spends paired with an entry (saturating: a count that
	// would pass markCount is dropped, which only misses spends), and
	// markSweep once the entry is a sweep.
	markCount = 0x7f
	markSweep = 0x80
	// pairScan: the most entries of one tx a spend's entry is searched
	// among (a payout to thousands is not scanned per input).
	pairScan = 64
)

// useSweeps is false only in tests that compare with segments that store
// every spend.
var useSweeps = true

// spendAddr is address id a as spentEnt.addr.
func (d *segData) spendAddr(a uint64) uint32 {
	r := a - d.addrBase()
	if a < d.addrBase() || r >= math.MaxUint32 {
		return spentAddrNone
	}
	return uint32(r + 1)
}

// pairSpends calls fn(i, o) for each spend d.spent[i] of an output of the
// segment (prevTx ≥ d.start) with the position o in d.adj of its
// spender's entry for the output's address, for the spends and entries
// from d.freshSpent and d.freshAdj on, which the indexer appended in tx
// order (checked as it goes: it stops where that does not hold).
func (d *segData) pairSpends(fn func(i, o int)) {
	o, q := d.freshAdj, d.freshAdj // the entries of the current spender: [o, q)
	var cur uint64                 // the current spender (0: none yet)
	var byAddr map[uint64]int      // for a spender of more than pairScan entries, not in address order
	sorted := false                // the spender has more than pairScan entries, in address order
	for i := d.freshSpent; i < len(d.spent); i++ {
		sp := &d.spent[i]
		if sp.spender != cur {
			if sp.spender < cur {
				return
			}
			cur = sp.spender
			for o = q; o < len(d.adj) && d.entTx(&d.adj[o]) < cur; o++ {
				if o > q && d.entTx(&d.adj[o]) < d.entTx(&d.adj[o-1]) {
					return
				}
			}
			for q = o; q < len(d.adj) && d.entTx(&d.adj[q]) == cur; q++ {
			}
			sorted = q-o > pairScan
			for k := o + 1; sorted && k < q; k++ { // a large tx's entries are in address order (indexManyUTXO)
				sorted = d.entAddr(&d.adj[k-1]) < d.entAddr(&d.adj[k])
			}
			if q-o > pairScan && !sorted {
				if byAddr == nil {
					byAddr = map[uint64]int{}
				}
				clear(byAddr)
				for k := o; k < q; k++ {
					if e := &d.adj[k]; e.asset == 0 {
						byAddr[d.entAddr(e)] = k
					}
				}
			}
		}
		if sp.prevTx < d.start || sp.addr == spentAddrNone {
			continue
		}
		a := d.addrBase() + uint64(sp.addr) - 1
		if sorted {
			k := o + sort.Search(q-o, func(j int) bool { return d.entAddr(&d.adj[o+j]) >= a })
			if k < q && d.entAddr(&d.adj[k]) == a && d.adj[k].asset == 0 {
				fn(i, k)
			}
			continue
		}
		if q-o > pairScan {
			if k, ok := byAddr[a]; ok {
				fn(i, k)
			}
			continue
		}
		for k := o; k < q; k++ {
			if e := &d.adj[k]; e.asset == 0 && d.entAddr(e) == a {
				fn(i, k)
				break
			}
		}
	}
}

// markSpends sizes d.marks to d.adj and counts each entry's paired spends
// in it (the loaded marks, before d.freshAdj, are kept).
func (d *segData) markSpends() {
	n := len(d.adj)
	if cap(d.marks) < n {
		m := make([]uint8, n)
		copy(m, d.marks)
		d.marks = m
	}
	d.marks = d.marks[:n]
	clear(d.marks[min(d.freshAdj, n):])
	d.pairs = d.pairs[:0]
	if !useSweeps || len(d.spent) >= math.MaxInt32 || n >= math.MaxInt32 {
		return
	}
	if k := len(d.spent) - min(d.freshSpent, len(d.spent)); cap(d.pairs) < k {
		d.pairs = make([][2]int32, 0, k) // at most a pair a spend
	}
	d.pairSpends(func(i, o int) {
		d.pairs = append(d.pairs, [2]int32{int32(i), int32(o)})
		if d.marks[o]&markCount < markCount { // saturated: it misses spends, which only loses sweeps
			d.marks[o]++
		}
	})
}

// liveSpends is d.spent without the spends a sweep implies (a new slice
// where there are some), after the groups were encoded (encodeGroupRange
// sets markSweep).
func (d *segData) liveSpends() []spentEnt {
	if len(d.marks) != len(d.adj) {
		return d.spent
	}
	omit := make([]int, 0, len(d.pairs))
	for _, p := range d.pairs { // markSpends' pairs, in spend order
		if d.marks[p[1]]&markSweep != 0 {
			omit = append(omit, int(p[0]))
		}
	}
	if len(omit) == 0 {
		return d.spent
	}
	live := make([]spentEnt, 0, len(d.spent)-len(omit))
	at := 0
	for _, i := range omit {
		live = append(live, d.spent[at:i]...)
		at = i + 1
	}
	return append(live, d.spent[at:]...)
}

// sweeper decides the sweeps of one address's entries, walked in tx order
// (encodeGroupRange).
type sweeper struct {
	unspent uint64 // the address's outputs of the segment not known spent (never fewer than there are)
}

// out takes an out entry (nOut > 0) with its marks and tells whether it
// is a sweep.
func (w *sweeper) out(mark uint8) bool {
	m := uint64(mark & markCount)
	if mark&markSweep != 0 || m > 0 && m == w.unspent { // a loaded sweep, or a new one
		w.unspent = 0
		return true
	}
	w.unspent -= min(m, w.unspent)
	return false
}

// sweepAfter returns the txnum of the first sweep after txnum t among a
// group's n entries.
func sweepAfter(path string, n, prev uint64, entries []byte, t uint64) (uint64, bool, error) {
	r := &reader{b: entries}
	var lastIn uint256.Int
	for k := uint64(0); k < n; k++ {
		e := r.segEntry(prev, &lastIn)
		if r.err != nil {
			return 0, false, fmt.Errorf("segment %s: %w", path, r.err)
		}
		prev = e.txnum
		if e.sweep && e.txnum > t {
			return e.txnum, true, nil
		}
	}
	return 0, false, nil
}

// sweptSpends returns the spends the sweeps of loaded segment d imply (its
// marks), rebuilt from the tx records: per address, the outputs its
// entries were paid, less those the stored spends of d name, until a
// sweep spends the rest. The digest hashes them with the stored ones.
func sweptSpends(l *txLog, d *segData) ([]spentEnt, error) {
	if len(d.marks) != len(d.adj) {
		return nil, nil
	}
	// The groups with a sweep, and the txs whose outputs they need.
	var need []uint64
	hasSweep := map[uint64]bool{}
	for i := range d.adj {
		if d.marks[i]&markSweep != 0 {
			hasSweep[d.entAddr(&d.adj[i])] = true
		}
	}
	if len(hasSweep) == 0 {
		return nil, nil
	}
	for i := range d.adj {
		e := &d.adj[i]
		if hasSweep[d.entAddr(e)] && d.entry(e).nIn > 0 {
			need = append(need, d.entTx(e))
		}
	}
	slices.Sort(need)
	need = slices.Compact(need)
	got, err := l.txs(need)
	if err != nil {
		return nil, err
	}
	recs := make(map[uint64]*txRec, len(need))
	for i, t := range got {
		recs[need[i]] = t
	}
	stored := make(map[[2]uint64]uint64, len(d.spent))
	for _, sp := range d.spent {
		stored[[2]uint64{sp.prevTx, uint64(sp.vout)}] = sp.spender
	}
	// d.adj holds each address's entries together, in tx order (load).
	var out []spentEnt
	var unspent [][2]uint64
	for i := range d.adj {
		e := &d.adj[i]
		a := d.entAddr(e)
		if i == 0 || a != d.entAddr(&d.adj[i-1]) {
			unspent = unspent[:0]
		}
		if !hasSweep[a] {
			continue
		}
		x := d.entry(e)
		if x.nOut > 0 {
			if d.marks[i]&markSweep != 0 {
				for _, o := range unspent {
					out = append(out, spentEnt{prevTx: o[0], vout: uint32(o[1]), addr: spentAddrNone, spender: x.txnum})
				}
				unspent = unspent[:0]
			} else {
				unspent = slices.DeleteFunc(unspent, func(o [2]uint64) bool { return stored[o] == x.txnum })
			}
		}
		if x.nIn > 0 {
			r := recs[x.txnum]
			if r == nil {
				return nil, fmt.Errorf("%w: segment %d–%d: no record of tx %d", errCorrupt, d.start, d.end, x.txnum)
			}
			for v, o := range r.Outputs {
				if o.Addr == a {
					unspent = append(unspent, [2]uint64{x.txnum, uint64(v)})
				}
			}
		}
	}
	return out, nil
}
