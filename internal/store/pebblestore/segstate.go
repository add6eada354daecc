package pebblestore

// The segment state of a chain: the closed segments (listed in Pebble under
// the segment-list key, memory-mapped), and the open segment in memory that
// covers the tx records from the end of the last closed segment to the
// chain's NextTx. Apply appends to the open segment as it encodes the tx
// records (a failed Apply truncates it again); when the open segment holds
// segMaxEntries adjacency entries, or the store is flushed or closed, it is
// written as a segment file (merged with a small last segment, so that
// each run of an incremental ingest does not leave a tiny file behind) and
// the list is committed. After a crash the open segment is rebuilt from the
// tx records (replay), so nothing derived is ever lost or counted twice.
// The tx log's sparse index follows the same rule (txlog.go): durable up to
// the closed segments' end, rebuilt past it.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"runtime/trace"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/cockroachdb/pebble/v2"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/pages"
	"github.com/spoor-dev/spoor/internal/store"
)

const tSegList = 'S' // S c → segment list (not part of Digest: it names files)

// segMaxEntries is the adjacency entries an open segment collects before it
// is written (about 48 bytes each in memory). A variable so that tests can
// force many segments.
var segMaxEntries = 1 << 21

type segRef struct {
	file, start, end, nAdj uint64
}

// segList is the persisted list of a chain's closed segments.
type segList struct {
	nextFile uint64
	segEnd   uint64 // txnum after the last closed segment (1 when none)
	addrEnd  uint64 // address id after those the closed segments created (1 when none)
	utxoFile uint64 // UTXO snapshot (UTXO chains; 0 when none)
	utxoAt   uint64 // the txnum the snapshot holds the set before (≤ segEnd; 1 when none)
	segs     []segRef
}

func encodeSegList(l *segList) []byte {
	b := []byte{1}
	b = putUvarint(b, l.nextFile)
	b = putUvarint(b, l.segEnd)
	b = putUvarint(b, l.addrEnd)
	b = putUvarint(b, l.utxoFile)
	b = putUvarint(b, l.utxoAt)
	b = putUvarint(b, uint64(len(l.segs)))
	for _, s := range l.segs {
		b = putUvarint(putUvarint(putUvarint(putUvarint(b, s.file), s.start), s.end), s.nAdj)
	}
	return b
}

func decodeSegList(v []byte) (*segList, error) {
	r := &reader{b: v}
	if r.byte1() != 1 {
		r.fail("segment list version")
	}
	l := &segList{nextFile: r.uvarint(), segEnd: r.uvarint(), addrEnd: r.uvarint(), utxoFile: r.uvarint(), utxoAt: r.uvarint()}
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail("segment count")
		return nil, r.err
	}
	for i := uint64(0); i < n; i++ {
		l.segs = append(l.segs, segRef{file: r.uvarint(), start: r.uvarint(), end: r.uvarint(), nAdj: r.uvarint()})
	}
	return l, r.err
}

// segState is a chain's segments.
type segState struct {
	list segList
	utxo bool       // the chain's is a UTXO chain (segData.utxo)
	segs []*segment // readers, parallel to list.segs
	open *segData
	// Hash indexes of the open segment's txids and address ids, built
	// lazily: an ingest that never looks a txid or address up (a Linked
	// chain with a complete address cache) never pays for them.
	openX hashIndex // txid hash → txnum (over open.txids)
	openA hashIndex // address hash → id (over open.addrs)
	// byAddr: address id → positions in open.adj, over open.adj[:adjDone]
	// (built by reads only).
	byAddr  map[uint64][]uint32
	adjDone int
	// pending: the segment being closed in the background, or nil (see
	// startClose).
	pending *pendingSeg
	// txF, addrF: the filters over the closed and pending segments' txid
	// and address hashes (segfilter.go), nil until a lookup needs them.
	txF, addrF *keyFilter
	// writing: an Apply ran on this state. Only then are the filters
	// built: a reader's lookup of a stored key would decode every section
	// twice (filter, then bitmaps) and a one-shot reader makes too few
	// lookups to earn the build back; readers use filters an Apply built.
	writing bool
	stats   filterStats
	// spareAdj: the adjacency array of the last segment closed, which the
	// next open segment takes instead of growing a new one (a segment's
	// array was ≈ 100 MB, 64 MB with 32-byte entries, and fresh memory is
	// paid page fault by page fault: on the 10⁷ chain the arrays were a
	// third of the ingest's faults). The spends, txids, times and new
	// addresses likewise (spareSpent …; the first three ≈ 34, 7 and 3 MB
	// a segment of the 10⁷ chain, grown by doubling).
	spareAdj   []adjEnt
	spareSpent []spentEnt
	spareTxids []hashEnt
	spareTimes []int64
	spareAddrs []hashEnt
	// closedCap: the capacities of those five arrays in the last segment
	// closed. A new open segment with no spare to take (the last
	// segment's close still holds its arrays) starts with arrays of those
	// sizes rather than doubling from nothing: doubled, each segment of
	// the 10⁷ chain grew ≈ 1.7 M entries (55 MB) of fresh adjacency array
	// before the spare came back, copies and page faults on the Apply's
	// path, and the array the spare replaced was garbage. Sized at once,
	// the two sets of arrays take turns and no segment after the second
	// allocates.
	closedCap [5]int
}

// openAdj returns the positions of address id's entries in the open
// segment, in append (txnum) order.
func (g *segState) openAdj(id uint64) []uint32 {
	d := g.open
	if g.byAddr == nil || g.adjDone > len(d.adj) {
		g.byAddr, g.adjDone = map[uint64][]uint32{}, 0
	}
	for i := g.adjDone; i < len(d.adj); i++ {
		a := d.entAddr(&d.adj[i])
		g.byAddr[a] = append(g.byAddr[a], uint32(i))
	}
	g.adjDone = len(d.adj)
	return g.byAddr[id]
}

func (g *segState) resetOpen(start, addrStart uint64) {
	g.open = &segData{start: start, end: start, addrStart: addrStart, addrEnd: addrStart, utxo: g.utxo}
	g.openX = newHashIndex(start)
	g.openA = newHashIndex(addrStart)
	g.byAddr, g.adjDone = nil, 0
}

// addAddr records a new address id of the open segment.
func (g *segState) addAddr(h, id uint64) {
	d := g.open
	k := len(d.addrs)
	if k == cap(d.addrs) || k&(populateEntries-1) == 0 { // extend, inlined
		d.addrs = extendSlow(d.addrs)
	}
	d.addrs = d.addrs[:k+1]
	e := &d.addrs[k]
	e.hash, e.num = h, id
	g.open.addrEnd = id + 1
}

// truncateOpen drops the open segment's content from txnum n and address
// id a on.
func (g *segState) truncateOpen(n, a uint64) {
	d := g.open
	g.openX.dropFrom(d.txids, n)
	g.openA.dropFrom(d.addrs, a)
	d.truncate(n, a)
	g.byAddr, g.adjDone = nil, 0 // rebuilt by the next read
	g.openX.done = min(g.openX.done, len(d.txids))
	g.openA.done = min(g.openA.done, len(d.addrs))
}

// txCandidates returns the txnums whose txid may be id (same hash); the
// caller checks the tx record.
func (g *segState) txCandidates(id *[32]byte) []uint64 {
	return g.txHashCandidates(txidHash(id))
}

// txHashCandidates returns the txnums whose txid hash may be p.
func (g *segState) txHashCandidates(p uint64) []uint64 {
	var out []uint64
	if g.closedKeys() {
		g.stats.probes++
		if !g.filtering(g.txF) || g.txFilter().mayHave(uint32(p>>32)) {
			g.stats.maybes++
			out = g.closedTxCandidates(p, out)
		}
	}
	return g.openX.catchUp(g.open.txids).get(p, out)
}

// closedTxCandidates appends to out the txnums of the closed and pending
// segments whose txid hash matches p (in its top 32 bits).
func (g *segState) closedTxCandidates(p uint64, out []uint64) []uint64 {
	for _, s := range g.segs {
		out = append(out, s.txnums(p)...)
	}
	if g.pending != nil {
		<-g.pending.keys.ready
		out = g.pending.keys.tx.get(p, out)
	}
	return out
}

// addrCandidates returns the address ids whose bytes hash to h (addrHash);
// the caller checks the id's bytes. Ids from limit on are not wanted (the
// address cache holds them): the open segment is not probed when all of
// its ids are (nor, then, built its index), nor the closed ones when all
// of theirs are; some may still be returned.
func (g *segState) addrCandidates(h, limit uint64) []uint64 {
	var out []uint64
	if g.closedKeys() && (g.pending != nil || g.segs[0].addrStart < limit) {
		g.stats.probes++
		if !g.filtering(g.addrF) || g.addrFilter().mayHave(uint32(h>>32)) {
			g.stats.maybes++
			out = g.closedAddrCandidatesBelow(h, limit, out)
		}
	}
	if g.open.addrStart >= limit {
		return out
	}
	return g.openA.catchUp(g.open.addrs).get(h, out)
}

// closedAddrCandidates is closedTxCandidates for address hashes.
func (g *segState) closedAddrCandidates(h uint64, out []uint64) []uint64 {
	return g.closedAddrCandidatesBelow(h, math.MaxUint64, out)
}

// closedAddrCandidatesBelow is closedAddrCandidates without the segments
// whose ids are all limit or more: a lookup below the address cache's
// floor neither reads them nor waits for a closing segment's index (built
// on the close's goroutine) when the closing segment's ids are all above.
func (g *segState) closedAddrCandidatesBelow(h, limit uint64, out []uint64) []uint64 {
	for _, s := range g.segs {
		if s.addrStart >= limit {
			break // ids ascend with the segments
		}
		out = append(out, s.addrIDs(h)...)
	}
	// The closing segment's ids start at or after the last closed one's
	// (which it replaces when it merges the tail).
	from := uint64(1)
	if n := len(g.segs); n > 0 {
		from = g.segs[n-1].addrStart
	}
	if g.pending != nil && from < limit {
		<-g.pending.keys.ready
		out = g.pending.keys.addr.get(h, out)
	}
	return out
}

func segDir(root string) string { return filepath.Join(root, "seg") }

func segPath(root string, c model.Chain, file uint64) string {
	return filepath.Join(segDir(root), fmt.Sprintf("%s-%06d.seg", c, file))
}

func utxoPath(root string, c model.Chain, file uint64) string {
	return filepath.Join(segDir(root), fmt.Sprintf("%s-%06d.utxo", c, file))
}

// indexTx appends the derived index entries of tx record n (block time t)
// to d: its txid, its time, one adjacency entry per (address, asset) it
// touches, and the outputs its inputs spend. Apply and replay both call it,
// so a rebuilt segment equals the one Apply built.
func indexTx(d *segData, n uint64, rec *txRec, t int64, parts []part) []part {
	indexTxID(d, n, txidHash(&rec.ID))
	return indexAdj(d, n, rec, t, parts)
}

// indexTxID is indexTx's first half: the txid entry (h: its txidHash) and
// the segment's end. Apply does it as it resolves each tx (the duplicate
// check reads txids), and leaves the second half, indexAdj, to its
// indexing goroutine.
func indexTxID(d *segData, n, h uint64) {
	k := len(d.txids)
	if k == cap(d.txids) || k&(populateEntries-1) == 0 { // extend, inlined
		d.txids = extendSlow(d.txids)
	}
	d.txids = d.txids[:k+1]
	e := &d.txids[k]
	e.hash, e.num = h, n
	d.end = n + 1
}

// indexAdj is indexTx's second half: the tx's time, adjacency entries and
// spent outputs. It touches no part of d that indexTxID or the address
// index write.
func indexAdj(d *segData, n uint64, rec *txRec, t int64, parts []part) []part {
	d.times = push(d.times, t)
	if len(rec.Transfers) == 0 && rec.FeePayer == 0 && indexUTXO(d, n, rec) {
		for i := range rec.Inputs {
			in := &rec.Inputs[i]
			k := len(d.spent)
			if k == cap(d.spent) || k&(populateEntries-1) == 0 { // extend, inlined
				d.spent = extendSlow(d.spent)
			}
			d.spent = d.spent[:k+1]
			e := &d.spent[k]
			e.prevTx, e.vout, e.addr, e.spender = in.PrevTx, in.PrevIndex, d.spendAddr(in.Addr), n
		}
		return parts
	}
	parts = parts[:0]
	// A tx of few inputs, outputs and transfers (most) finds an address's
	// part by a scan of the parts so far; a larger one (a coinbase or a
	// payout to thousands of addresses: a scan per part was quadratic)
	// appends a part for every share and adds up those of one address and
	// asset after sorting them (mergeParts).
	many := len(rec.Inputs)+len(rec.Outputs)+2*len(rec.Transfers) > manyParts
	get := func(addr uint64, asset uint32) *part {
		if !many {
			for i := range parts {
				if parts[i].addr == addr && parts[i].asset == asset {
					return &parts[i]
				}
			}
		}
		parts = append(parts, part{addr: addr, asset: asset})
		return &parts[len(parts)-1]
	}
	for _, in := range rec.Inputs {
		p := get(in.Addr, 0)
		p.out.AddUint64(&p.out, in.Value)
		p.nOut++
		d.spent = push(d.spent, spentEnt{prevTx: in.PrevTx, vout: in.PrevIndex, addr: d.spendAddr(in.Addr), spender: n})
	}
	for _, o := range rec.Outputs {
		p := get(o.Addr, 0)
		p.in.AddUint64(&p.in, o.Value)
		p.nIn++
	}
	for i := range rec.Transfers {
		x := &rec.Transfers[i]
		if x.From != 0 {
			p := get(x.From, x.Asset)
			p.out.Add(&p.out, &x.Value)
			p.nOut++
		}
		if x.To != 0 {
			p := get(x.To, x.Asset)
			p.in.Add(&p.in, &x.Value)
			p.nIn++
		}
	}
	if !rec.Fee.IsZero() && rec.FeePayer != 0 {
		p := get(rec.FeePayer, 0)
		p.out.Add(&p.out, &rec.Fee)
	}
	if len(parts) == 0 && rec.FeePayer != 0 {
		get(rec.FeePayer, 0) // a transaction that moved nothing still belongs to its sender
	}
	if many {
		parts = mergeParts(parts)
	} else { // at most manyParts+1: insertion sort by (address, asset)
		for i := 1; i < len(parts); i++ {
			for j := i; j > 0 && cmpPart(&parts[j], &parts[j-1]) < 0; j-- {
				parts[j], parts[j-1] = parts[j-1], parts[j]
			}
		}
	}
	for i := range parts {
		p := &parts[i]
		if p.addr == 0 {
			continue
		}
		d.addAdj(p.addr, n, p.asset, p.nIn, p.nOut, &p.in, &p.out)
	}
	return parts
}

// part64 is a share of a tx of inputs and outputs only (a UTXO chain's):
// amounts in 64 bits, 40 bytes where a part is 96.
type part64 struct {
	addr, in, out, nIn, nOut uint64
}

// indexUTXO is indexAdj's adjacency entries for a tx of inputs and outputs
// only (a UTXO chain's): indexSmallUTXO for up to manyParts of them,
// indexManyUTXO for more. Both sum in 64 bits and add nothing and return
// false when a sum passes 64 bits (the general path then sums in 256).
func indexUTXO(d *segData, n uint64, rec *txRec) bool {
	if len(rec.Inputs)+len(rec.Outputs) <= manyParts {
		return indexSmallUTXO(d, n, rec)
	}
	return indexManyUTXO(d, n, rec)
}

// utxoScratch: indexManyUTXO's buffers, pooled (a large tx is rare, and
// indexAdj's callers hold no room for them).
type utxoScratch struct {
	ps, out []part64
	keys    []uint64
}

var utxoScratchPool = sync.Pool{New: func() any { return new(utxoScratch) }}

// indexManyUTXO is indexSmallUTXO for a tx of more than manyParts inputs
// and outputs: a share per input and output, sorted as packed keys
// (address above position, as mergeParts does), those of one address
// added up. It returns false, adding nothing, when a sum passes 64 bits or
// the keys do not fit 64 bits.
func indexManyUTXO(d *segData, n uint64, rec *txRec) bool {
	sc := utxoScratchPool.Get().(*utxoScratch)
	defer utxoScratchPool.Put(sc)
	// The shares are written in place, field by field (an appended
	// part64 value was built on the stack and copied back with wider
	// loads than its stores: a failed store forward each).
	nIn, np := len(rec.Inputs), len(rec.Inputs)+len(rec.Outputs)
	ps := slices.Grow(sc.ps[:0], np)[:np]
	var maxAddr uint64
	for i := range rec.Inputs {
		in, p := &rec.Inputs[i], &ps[i]
		p.addr, p.in, p.out, p.nIn, p.nOut = in.Addr, 0, in.Value, 0, 1
		maxAddr = max(maxAddr, in.Addr)
	}
	for i := range rec.Outputs {
		o, p := &rec.Outputs[i], &ps[nIn+i]
		p.addr, p.in, p.out, p.nIn, p.nOut = o.Addr, o.Value, 0, 1, 0
		maxAddr = max(maxAddr, o.Addr)
	}
	sc.ps = ps
	idxBits := uint(bits.Len(uint(len(ps) - 1)))
	addrBits := uint(bits.Len64(maxAddr))
	if addrBits+idxBits > 64 {
		return false
	}
	keys := slices.Grow(sc.keys[:0], np)[:np]
	for i := range ps {
		keys[i] = ps[i].addr<<idxBits | uint64(i)
	}
	sc.keys = keys
	if len(keys) >= manyRadix {
		// The keys are in position order: a stable sort on the address
		// bits alone sorts them whole.
		radixSort(keys, idxBits, idxBits+addrBits)
	} else {
		slices.Sort(keys)
	}
	out := sc.out[:0]
	for _, k := range keys {
		p := &ps[k&(1<<idxBits-1)]
		if m := len(out); m > 0 && out[m-1].addr == p.addr {
			q := &out[m-1]
			var c1, c2 uint64
			q.in, c1 = bits.Add64(q.in, p.in, 0)
			q.out, c2 = bits.Add64(q.out, p.out, 0)
			if c1|c2 != 0 {
				return false
			}
			q.nIn += p.nIn
			q.nOut += p.nOut
			continue
		}
		out = append(out, *p)
	}
	sc.out = out
	for i := range out {
		if p := &out[i]; p.addr != 0 {
			d.addAdjU64(p.addr, n, p.nIn, p.nOut, p.in, p.out)
		}
	}
	return true
}

// manyRadix: indexManyUTXO sorts the keys of a tx of this many inputs
// and outputs or more with radixSort (a few linear passes over the address
// bits), fewer with slices.Sort.
const manyRadix = 512

// indexSmallUTXO is indexAdj's adjacency entries for a tx of inputs and
// outputs only, at most manyParts of them (most Bitcoin txs), summed in 64
// bits on the stack: the same entries as the general path (TestIndexAdjMany),
// at less CPU. It adds nothing and returns false when a sum passes 64 bits
// (the general path then sums in 256).
func indexSmallUTXO(d *segData, n uint64, rec *txRec) bool {
	buf := &d.small
	np := 0
	get := func(addr uint64) *part64 {
		for i := range np {
			if buf[i].addr == addr {
				return &buf[i]
			}
		}
		p := &buf[np]
		p.addr, p.in, p.out, p.nIn, p.nOut = addr, 0, 0, 0, 0
		np++
		return p
	}
	for i := range rec.Inputs {
		in := &rec.Inputs[i]
		p := get(in.Addr)
		var c uint64
		if p.out, c = bits.Add64(p.out, in.Value, 0); c != 0 {
			return false
		}
		p.nOut++
	}
	for i := range rec.Outputs {
		o := &rec.Outputs[i]
		p := get(o.Addr)
		var c uint64
		if p.in, c = bits.Add64(p.in, o.Value, 0); c != 0 {
			return false
		}
		p.nIn++
	}
	// Insertion sort by address (the asset is 0; the addresses are
	// distinct) of the shares' positions, not of the 40-byte shares (each
	// swap's wide loads waited for the last one's stores).
	var ord [manyParts]uint8
	for i := range np {
		a := buf[i].addr
		j := i
		for ; j > 0 && a < buf[ord[j-1]].addr; j-- {
			ord[j] = ord[j-1]
		}
		ord[j] = uint8(i)
	}
	for _, k := range ord[:np] {
		if p := &buf[k]; p.addr != 0 {
			d.addAdjU64(p.addr, n, p.nIn, p.nOut, p.in, p.out)
		}
	}
	return true
}

// manyParts: a tx with more inputs, outputs and transfer ends than this
// collects its parts unmerged (indexAdj).
const manyParts = 16

// mergeParts sorts parts by (address, asset) and adds up those of one
// address and asset into one (sums and counts: the order of the additions
// does not matter). It sorts integer keys (address, asset and position
// packed in 64 bits, as sortAdj does) where they fit, not the 96-byte parts
// themselves, and merges them past the end of parts (whose capacity the
// indexer reuses tx after tx) before moving them to the front.
func mergeParts(parts []part) []part {
	n := len(parts)
	if n < 2 {
		return parts
	}
	var maxAddr uint64
	var maxAsset uint32
	for i := range parts {
		maxAddr, maxAsset = max(maxAddr, parts[i].addr), max(maxAsset, parts[i].asset)
	}
	assetBits, idxBits := uint(bits.Len32(maxAsset)), uint(bits.Len(uint(n-1)))
	var keys []uint64
	if uint(bits.Len64(maxAddr))+assetBits+idxBits <= 64 {
		keys = make([]uint64, n)
		hugeArray(keys)
		for i := range parts {
			keys[i] = (parts[i].addr<<assetBits|uint64(parts[i].asset))<<idxBits | uint64(i)
		}
		slices.Sort(keys)
	} else {
		slices.SortFunc(parts, func(a, b part) int { return cmpPart(&a, &b) })
	}
	for i := 0; i < n; i++ {
		p := parts[i]
		if keys != nil {
			p = parts[keys[i]&(1<<idxBits-1)]
		}
		if m := len(parts); m > n && parts[m-1].addr == p.addr && parts[m-1].asset == p.asset {
			q := &parts[m-1]
			q.in.Add(&q.in, &p.in)
			q.out.Add(&q.out, &p.out)
			q.nIn += p.nIn
			q.nOut += p.nOut
			continue
		}
		parts = append(parts, p)
	}
	w := copy(parts, parts[n:])
	return parts[:w]
}

// push appends v to s, doubling the capacity when full: the open segment's
// slices reach millions of entries, and append's 1.25x growth at that size
// copied them about five times over (a third of an ETL import's indexing).
func push[T any](s []T, v T) []T {
	if len(s) == cap(s) {
		s = grow(s, max(len(s), 1024))
	}
	return append(s, v)
}

// The hot appends (the adjacency entries, spent outputs, txids and new
// addresses of the open segment) do not go through push: they write the
// new entry's fields in place, after
//
//	k := len(s)
//	if k == cap(s) || k&(populateEntries-1) == 0 {
//		s = extendSlow(s)
//	}
//	s = s[:k+1]
//
// (written out: as a generic function it is too costly for the inliner).
// push's value, built field by field in a stack slot by narrower stores
// and then copied 16 bytes at a time, made the copy's loads wait for the
// stores to reach the cache (a failed store forward: two thirds of
// addAdjU64's samples). The new entry's content is undefined (stale in a
// reused array): every field is written.

// extendSlow is the appends' rare part, out of line: growth, and every
// populateEntries entries the population of the next populateEntries
// (populateAhead).
//
//go:noinline
func extendSlow[T any](s []T) []T {
	if len(s) == cap(s) {
		s = grow(s, max(len(s), 1024))
	}
	if len(s)&(populateEntries-1) == 0 {
		populateAhead(s)
	}
	return s
}

// populateEntries: the hot appends populate an array's pages this many
// entries at a time (128–256 KiB of the open segment's arrays of 16–32
// bytes).
const populateEntries = 8192

// populateAhead has the kernel make present, in one call, the pages of
// the populateEntries entries after the next populateEntries of s's
// capacity (from the start when s is empty); extendSlow calls it every
// populateEntries entries. The open segment's arrays are fresh memory
// (Reserve makes them without clearing, grow doubles them), and their
// pages were faulted in one by one as entries filled them: a trap and a
// fault per 4 KiB, 160 of the indexer's 509 samples of a 10⁶-chain
// ingest (perf; the adjacency entries most, then the spent outputs), and
// a few on the resolve step's txids and new addresses. Populated ahead, a page
// costs about 1.1 µs of kernel time instead of 1.6 (a fresh mapping,
// touched against MADV_POPULATE_WRITE; BENCHMARKS.md, ninth session,
// helper offpath); pages already present (a spare array) cost a walk of
// the page table.
func populateAhead[T any](s []T) {
	sz := unsafe.Sizeof(*new(T))
	from, to := len(s)+populateEntries, min(len(s)+2*populateEntries, cap(s))
	if len(s) == 0 {
		from = 0
	}
	if from >= to {
		return
	}
	pages.Populate(unsafe.Pointer(unsafe.SliceData(s[from:to])), uintptr(to-from)*sz)
}

// grow is slices.Grow(s, k) without its clearing of the new room: a new
// array comes from make, which the runtime takes from fresh, already zero
// pages when the heap grows, so that the pages are first touched as
// entries fill them (by the goroutine appending) rather than all at once
// by the caller: for the open segment's 48-byte adjacency entries that
// was ≈ 60 MB cleared, page fault by page fault, in the middle of an
// Apply.
func grow[T any](s []T, k int) []T {
	if cap(s)-len(s) >= k {
		return s
	}
	t := make([]T, len(s), len(s)+k)
	hugeArray(t[:cap(t)])
	copy(t, s)
	return t
}

// hugeArray asks for transparent huge pages under a fresh array of at
// least hugeMin bytes (pages.Huge), before its pages are touched. The
// store's large arrays are read at random (the UTXO set and its index,
// the address cache, the adjacency entries in address order at a close):
// with 4 KiB pages nearly every such read also missed the TLB, and a miss
// in this virtual machine walks the guest's and the host's tables. With
// huge pages (the kernel's "always" against Debian's "madvise"), the
// 10⁷-chain ingest took ≈ 7 % less CPU (BENCHMARKS.md, twelfth session).
func hugeArray[T any](s []T) {
	if n := uintptr(cap(s)) * unsafe.Sizeof(*new(T)); n >= hugeMin {
		pages.Huge(unsafe.Pointer(unsafe.SliceData(s[:cap(s)])), n)
	}
}

// hugeMin: smaller arrays keep 4 KiB pages (a huge page is only used
// where a whole aligned 2 MiB lies inside the array).
const hugeMin = 2 * pages.HugeSize

// reserveAdj makes room in the open segment's adjacency entries for an
// Apply that adds at most need, where the segment is closed once it holds
// limit entries after an Apply. Doubling up to the final size allocates
// about twice that size over the segment's life (and doubles once more
// when the last Apply crosses limit), so once the segment is a quarter of
// the way there, the room for the largest segment such Applies can make
// (limit − 1 + need, need at least adjSlack) is allocated at once, and an
// Apply that fills the segment gets just its room.
//
// segState.reserveAdj is segData.reserveAdj for the open segment, which
// first moves into the arrays of the last segment closed when those are
// the bigger ones (by then the open segment holds the few Applies since
// that close), or starts at their sizes (closedCap).
func (g *segState) reserveAdj(need, limit int) {
	d := g.open
	k := &g.closedCap
	d.adj, g.spareAdj = takeSpare(d.adj, g.spareAdj, k[0])
	d.spent, g.spareSpent = takeSpare(d.spent, g.spareSpent, k[1])
	d.txids, g.spareTxids = takeSpare(d.txids, g.spareTxids, k[2])
	d.times, g.spareTimes = takeSpare(d.times, g.spareTimes, k[3])
	d.addrs, g.spareAddrs = takeSpare(d.addrs, g.spareAddrs, k[4])
	d.reserveAdj(need, limit)
}

// takeSpare returns the array the open segment goes on with, and the spare
// left: cur moved into spare when spare is the larger array; else, for a
// segment that has no array yet, a new one of size entries (the last
// closed segment's size, 0 for none yet), the spare kept for the next
// segment; else cur, the spare kept.
func takeSpare[T any](cur, spare []T, size int) ([]T, []T) {
	switch {
	case cap(spare) > cap(cur):
		return append(spare[:0], cur...), nil
	case cap(cur) == 0 && size > 0:
		return grow(cur, size), spare
	}
	return cur, spare
}

// adjSlack is the room an open segment's adjacency array keeps past the
// segment's limit for the Apply that crosses it: an Apply of 20,000 txs
// adds ≈ 100–150 k entries, and one that found no room copied the whole
// array (2²¹ entries, 64 MB) into a fresh one, on the Apply's path.
func adjSlack(limit int) int { return limit / 8 }

func (d *segData) reserveAdj(need, limit int) {
	n := len(d.adj)
	if cap(d.adj)-n >= need {
		return
	}
	c := max(2*cap(d.adj), 1024, n+need)
	switch {
	case n+need >= limit: // the segment is closed after this Apply
		c = n + need
	case n+need >= limit/4:
		c = limit - 1 + max(need, adjSlack(limit))
	}
	d.adj = grow(d.adj, c-n)
}

func cmpPart(a, b *part) int {
	if c := cmp.Compare(a.addr, b.addr); c != 0 {
		return c
	}
	return cmp.Compare(a.asset, b.asset)
}

// loadSegs reads the chain's segment list, maps its segments, removes
// files no list names (left by a crash between writing a file and
// committing the list) and rebuilds the open segment from the tx records
// past the last segment. Callers hold s.mu.
func (s *Store) loadSegs(c model.Chain, st *chainState) error {
	g := &segState{list: segList{nextFile: 1, segEnd: 1, addrEnd: 1, utxoAt: 1}, utxo: c.IsUTXO()}
	v, err := s.get(key(tSegList, byte(c), 0))
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return err
	default:
		l, err := decodeSegList(v)
		if err != nil {
			return fmt.Errorf("chain %s segment list: %w", c, err)
		}
		g.list = *l
	}
	if st.meta.NextTx < g.list.segEnd || st.meta.NextAddr < g.list.addrEnd {
		return fmt.Errorf("%w: chain %s segments reach tx %d and address %d, the chain only %d and %d", errCorrupt, c, g.list.segEnd, g.list.addrEnd, st.meta.NextTx, st.meta.NextAddr)
	}
	for _, r := range g.list.segs {
		seg, err := openSegment(segPath(s.dir, c, r.file))
		if err != nil {
			g.closeAll()
			return err
		}
		if seg.start != r.start || seg.end != r.end {
			g.closeAll()
			return fmt.Errorf("%w: segment %s covers %d-%d, the list says %d-%d", errCorrupt, seg.path, seg.start, seg.end, r.start, r.end)
		}
		g.segs = append(g.segs, seg)
	}
	s.removeOrphans(c, &g.list)
	g.resetOpen(g.list.segEnd, g.list.addrEnd)
	st.seg = g
	if err := st.log.loadIdx(g.list.segEnd); err != nil {
		g.closeAll()
		st.seg = nil
		return err
	}
	if err := s.replay(c, g.open, g.list.segEnd, st.meta.NextTx, st.meta.NextAddr); err != nil {
		g.closeAll()
		st.seg = nil
		return err
	}
	return nil
}

func (g *segState) closeAll() {
	for _, s := range g.segs {
		s.close()
	}
	g.segs = nil
}

// removeOrphans deletes the chain's segment and snapshot files that the
// list does not name.
func (s *Store) removeOrphans(c model.Chain, l *segList) {
	keep := map[string]bool{}
	for _, r := range l.segs {
		keep[filepath.Base(segPath(s.dir, c, r.file))] = true
	}
	if l.utxoFile != 0 {
		keep[filepath.Base(utxoPath(s.dir, c, l.utxoFile))] = true
	}
	ents, _ := os.ReadDir(segDir(s.dir))
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, c.String()+"-") || keep[name] {
			continue
		}
		if strings.HasSuffix(name, ".seg") || strings.HasSuffix(name, ".utxo") || strings.HasSuffix(name, ".tmp") {
			os.Remove(filepath.Join(segDir(s.dir), name))
		}
	}
}

// replay indexes tx records [from, to) and the addresses from d.addrEnd to
// addrTo into d.
func (s *Store) replay(c model.Chain, d *segData, from, to, addrTo uint64) error {
	al, bl := s.addrLogs[c].Load(), s.blockLogs[c].Load()
	if al == nil || bl == nil {
		return fmt.Errorf("pebblestore: chain %s: address or block log not open", c)
	}
	var err error
	if addrTo > d.addrEnd {
		err = al.scan(d.addrEnd-1, addrTo-1, func(r uint64, v []byte) error {
			d.addrs = push(d.addrs, hashEnt{hash: addrHash(v), num: r + 1})
			d.addrEnd = r + 2
			return nil
		})
	}
	if err == nil && d.addrEnd != addrTo {
		err = fmt.Errorf("%w: chain %s address records end at %d, the chain at %d", errCorrupt, c, d.addrEnd, addrTo)
	}
	if err != nil {
		return err
	}
	times := map[uint64]int64{}
	recs := map[uint64]*txRec{}
	var parts []part
	l := s.logs[c].Load()
	if l == nil {
		return fmt.Errorf("pebblestore: chain %s: tx log not open", c)
	}
	err = l.scan(from, to, func(n uint64, rec *txRec) error {
		if n != d.end {
			return fmt.Errorf("%w: chain %s tx %d missing (found %d)", errCorrupt, c, d.end, n)
		}
		t, err := blockTime(bl, rec.Height, times)
		if err != nil {
			return err
		}
		if err := s.resolveInputs(c, rec, recs); err != nil {
			return fmt.Errorf("chain %s tx %d: %w", c, n, err)
		}
		cacheRec(recs, n, rec) // recent outputs are spent soonest
		parts = indexTx(d, n, rec, t, parts)
		return nil
	})
	if err == nil && d.end != to {
		err = fmt.Errorf("%w: chain %s tx records end at %d, the chain at %d", errCorrupt, c, d.end, to)
	}
	return err
}

// blockTime returns the time of the block at height h, caching in times
// the times of every block of the block log's group that holds it (blocks
// are mostly stored in height order, so the next txs' blocks are there).
func blockTime(bl *recLog, h uint64, times map[uint64]int64) (int64, error) {
	if t, ok := times[h]; ok {
		return t, nil
	}
	if len(times) > 1<<16 {
		clear(times)
	}
	rec, err := bl.blockAt(h, func(b *blockRec) { times[b.Height] = b.Time })
	if err != nil {
		return 0, fmt.Errorf("%s: %w", bl.path, err)
	}
	return rec.Time, nil
}

// writeFile writes data to path durably (temporary file, sync, rename,
// sync of the directory).
func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

// closeOpen writes the open segment as a segment file (merged into the last
// segment when both fit in segMaxEntries), writes the UTXO snapshot of a
// UTXO chain, and commits the new list, waiting for all of it. Callers hold
// s.mu.
func (s *Store) closeOpen(c model.Chain, st *chainState) error {
	if err := s.settle(c, st); err != nil {
		return err
	}
	s.beginClose(c, st, true)
	return s.settle(c, st)
}

// pendingSeg is a segment being closed in the background: a goroutine sorts
// and encodes the former open segment and writes its file while Apply goes
// on with a new open segment; settle then maps the file and commits the
// list. Until then the segment's txids and addresses are found through its
// hash indexes (the duplicate check and address lookups of the Applies that
// go on); every reader of the segments settles first (Store.state; the
// meta-only Mark, Network and Stats need not wait), so no read sees
// the store without the segment's entries.
type pendingSeg struct {
	// keys: its txids and addresses as sorted hash keys, which its lookups
	// search, read-only once keys.ready closes: a goroutine sorts them
	// (Apply would wait 20–100 ms a close), so a lookup that reaches them
	// waits for ready; the hash sections are written from them. (Until the
	// tenth session a goroutine completed the open segment's hash indexes
	// instead, as much CPU again as the sort.) The filters take the keys
	// from txids and addrs, the entries, at once.
	keys         sortedKeys
	txids, addrs []hashEnt
	l            segList // the list to commit once the file is written
	ref          segRef
	replace      bool       // the file replaces the last listed segment (merged)
	oldUTXO      uint64     // the snapshot file the list no longer names, to remove
	seg          *segment   // the written file, mapped and checked by the goroutine
	adj          []adjEnt   // the segment's adjacency array, free once written
	spent        []spentEnt // its spends and times, likewise
	times        []int64
	idxSynced    bool // the goroutine made the tx log's index durable (waited)
	done         chan struct{}
	err          error // set by the goroutine before done closes
}

// startClose hands the open segment to a goroutine that writes it, and
// starts a new open segment. The keys of the UTXO snapshot, which must be
// the set as of the segment's end, are collected here (the snapshot is
// encoded and written on the close's goroutines). Callers hold s.mu, with
// no close pending.
func (s *Store) startClose(c model.Chain, st *chainState) { s.beginClose(c, st, false) }

// beginClose is startClose; waited says the caller settles the close at
// once, still holding s.mu (closeOpen: a flush, the store's Close). Then
// no Apply or lookup runs while the close is pending, so the pending
// segment's hash keys are not sorted ahead for lookups (the encoding sorts
// them for its sections; the built filters take the fingerprints from the
// entries), and the tx log's index is made
// durable on the close's goroutines beside the segment's encoding.
func (s *Store) beginClose(c model.Chain, st *chainState, waited bool) {
	g := st.seg
	d := g.open
	if d.end == d.start {
		return
	}
	p := &pendingSeg{l: g.list, done: make(chan struct{}), keys: sortedKeys{ready: make(chan struct{})}, txids: d.txids, addrs: d.addrs}
	l := &p.l
	l.segs = append([]segRef(nil), g.list.segs...)
	var tail *segment
	ref := segRef{start: d.start, end: d.end, nAdj: uint64(len(d.adj))}
	if n := len(l.segs); n > 0 && l.segs[n-1].nAdj+uint64(len(d.adj)) <= uint64(s.segMax) && l.segs[n-1].end == d.start && g.segs[n-1].addrEnd == d.addrStart {
		tail, p.replace = g.segs[n-1], true
		ref.start, ref.nAdj = l.segs[n-1].start, l.segs[n-1].nAdj+uint64(len(d.adj))
	}
	ref.file = l.nextFile
	l.nextFile++
	p.oldUTXO = l.utxoFile
	// A new UTXO snapshot once the txs since the last one outnumber the
	// unspent outputs: rewriting the set costs at most about one entry per
	// tx ingested, and loading it replays at most that many tx records. A
	// process that never loaded the set (a reader closing a segment rebuilt
	// after a crash) leaves that to the next writer.
	var snap []utxoKey
	if c.IsUTXO() && st.utxo != nil && d.end-l.utxoAt >= uint64(st.utxo.len()) {
		l.utxoFile, l.utxoAt = l.nextFile, d.end
		l.nextFile++
		snap = utxoSnapshotKeys(st.utxo, nil)
	}
	utxoAt := l.utxoAt
	if p.replace {
		l.segs[len(l.segs)-1] = ref
	} else {
		l.segs = append(l.segs, ref)
	}
	l.segEnd, l.addrEnd = d.end, d.addrEnd
	p.ref = ref
	p.adj, p.spent, p.times = d.adj, d.spent, d.times
	// The keys of a merged file are sorted by its encoding (the tail's
	// and this segment's together); a close settled at once sorts them
	// there too (nothing looks up before settle).
	var ks *sortedKeys
	if waited {
		close(p.keys.ready)
	} else {
		if tail == nil {
			ks = &p.keys
		}
		go func() {
			defer close(p.keys.ready)
			p.keys.tx = hashKeyIndex{keys: hashKeys(d.txids, d.start), base: d.start}
			p.keys.addr = hashKeyIndex{keys: hashKeys(d.addrs, d.addrStart), base: d.addrStart}
		}()
	}
	g.pending = p
	g.filterPending()
	g.closedCap = [5]int{cap(d.adj), cap(d.spent), cap(d.txids), cap(d.times), cap(d.addrs)}
	g.resetOpen(d.end, d.addrEnd)
	segFile, utxoFile, segEnd := segPath(s.dir, c, ref.file), utxoPath(s.dir, c, l.utxoFile), l.segEnd
	go func() {
		defer close(p.done)
		defer func() { <-p.keys.ready }() // settled once sorted too
		// The UTXO snapshot is encoded, written and synced on its own
		// goroutine while the segment is encoded (it used to be written
		// first: its write and sync waited ahead of the encoding, on the
		// last close's path).
		var snapErr error
		snapDone := make(chan struct{})
		if snap != nil {
			go func() {
				defer close(snapDone)
				img, err := encodeUTXOSnapshot(snap, utxoAt)
				if err == nil {
					err = writeFile(utxoFile, img)
				}
				if err != nil {
					snapErr = fmt.Errorf("pebblestore: write UTXO snapshot: %w", err)
				}
			}()
		} else {
			close(snapDone)
		}
		// A waited close also makes the tx log's index entries durable here
		// (settle would, after the segment is written; nothing else uses
		// the log until it returns), beside the encoding.
		var idxErr error
		idxDone := make(chan struct{})
		if waited {
			go func() {
				defer close(idxDone)
				idxErr = st.log.syncIdx(idxLen(segEnd))
			}()
		} else {
			close(idxDone)
		}
		// Written, checked, and mapped here, not by settle on Apply's path.
		p.seg, p.err = writeSeg(d, tail, st.log, segFile, ks)
		<-snapDone
		<-idxDone
		if p.err == nil {
			p.err = snapErr
		}
		if p.err == nil {
			p.err = idxErr
		}
		p.idxSynced = waited && idxErr == nil
	}()
}

// writeSeg encodes d (appended to the closed segment tail, when it
// replaces it), writes it to path and maps it. The image is checked as a
// file is at open (parseSegment) on a goroutine while it is written and
// synced, and the file, the same bytes, is then mapped without the checks
// that read it whole (openSegmentAs trusted): they were 15–22 ms of the
// last close of the 10⁶-transfer chain, serial after the write, and faulted
// in every page of the mapping. ks, when not nil, are d's hash keys sorted
// on another goroutine (encodeSegKeys).
func writeSeg(d *segData, tail *segment, l *txLog, path string, ks *sortedKeys) (*segment, error) {
	if tail != nil {
		t, err := tail.load(l) // the tx log's records of the tail are durable: read beside the Applies (txLog.mu)
		if err != nil {
			return nil, err
		}
		t.utxo = d.utxo
		t.appendData(d)
		d = t
	}
	r := trace.StartRegion(context.Background(), "segment: encode")
	img, err := encodeSegKeys(d, ks)
	r.End()
	if err != nil {
		return nil, err
	}
	defer trace.StartRegion(context.Background(), "segment: write").End()
	checked := make(chan error, 1)
	go func() {
		_, err := parseSegment(img, path)
		checked <- err
	}()
	err = writeFile(path, img)
	if cerr := <-checked; cerr != nil {
		return nil, fmt.Errorf("pebblestore: the segment written does not read back: %w", cerr) // a bug of the encoder
	}
	if err != nil {
		return nil, fmt.Errorf("pebblestore: write segment: %w", err)
	}
	return openSegmentAs(path, true)
}

// settle waits for the chain's pending segment close, maps the new file and
// commits the list. After a close that failed, the chain's in-memory state
// is dropped: the next use loads it again from what is on disk (the records,
// untouched, and the last committed list), exactly as after a crash.
// Callers hold s.mu; after an error they must not use st again.
func (s *Store) settle(c model.Chain, st *chainState) error {
	g := st.seg
	p := g.pending
	if p == nil {
		return nil
	}
	<-p.done
	err, seg := p.err, p.seg
	if err == nil && !p.idxSynced {
		// The tx log's index entries the list now covers are made durable
		// first (on open, entries past the list's end are rebuilt by replay).
		err = st.log.syncIdx(idxLen(p.l.segEnd))
	}
	if err == nil {
		if err = s.db.Set(key(tSegList, byte(c), 0), encodeSegList(&p.l), pebble.Sync); err != nil {
			err = fmt.Errorf("pebblestore: commit segment list: %w", err)
		}
	}
	g.pending = nil
	if err != nil && seg != nil {
		seg.close()
	}
	if err != nil {
		s.forget(c, st)
		return fmt.Errorf("chain %s: closing a segment: %w", c, err)
	}
	if p.replace {
		old := g.segs[len(g.segs)-1]
		g.segs[len(g.segs)-1] = seg
		old.close()
		os.Remove(old.path)
	} else {
		g.segs = append(g.segs, seg)
	}
	g.list = p.l
	g.spareAdj, g.spareSpent, g.spareTxids, g.spareTimes, g.spareAddrs = p.adj[:0], p.spent[:0], p.txids[:0], p.times[:0], p.addrs[:0]
	if p.oldUTXO != 0 && p.oldUTXO != p.l.utxoFile {
		os.Remove(utxoPath(s.dir, c, p.oldUTXO))
	}
	return nil
}

// settled reports whether the chain has no segment close pending, or one
// that has finished (so settle would not wait).
func (g *segState) settled() bool {
	if g.pending == nil {
		return true
	}
	select {
	case <-g.pending.done:
		return true
	default:
		return false
	}
}

// appendData appends o (which starts where d ends) to d.
func (d *segData) appendData(o *segData) {
	d.addrs = append(d.addrs, o.addrs...)
	d.addrEnd = max(d.addrEnd, o.addrEnd)
	d.txids = append(d.txids, o.txids...)
	d.times = append(d.times, o.times...)
	// o's narrow entries are relative to o's bases: moved to d's by a
	// shift of their txnums where the address bases agree, else whole.
	shift := o.start - d.start
	fast := o.start >= d.start && o.addrBase() == d.addrBase()
	d.adj = grow(d.adj, len(o.adj))
	for i := range o.adj {
		e := o.adj[i]
		if fast && e.nIn != adjWide && uint64(e.txnum)+shift < 1<<32 {
			e.txnum += uint32(shift)
			d.adj = append(d.adj, e)
			continue
		}
		x := o.entry(&e)
		d.addEnt(o.entAddr(&e), &x)
	}
	at := len(d.spent)
	d.spent = append(d.spent, o.spent...)
	if o.addrBase() != d.addrBase() {
		for i := at; i < len(d.spent); i++ { // each spend's address relative to d's base
			if sp := &d.spent[i]; sp.addr != spentAddrNone {
				sp.addr = d.spendAddr(o.addrBase() + uint64(sp.addr) - 1)
			}
		}
	}
	if d.marks != nil { // o's entries start unmarked
		d.marks = append(d.marks, make([]uint8, len(d.adj)-len(d.marks))...)
	}
	d.end = o.end
}
