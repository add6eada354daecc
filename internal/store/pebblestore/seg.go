package pebblestore

// Immutable segment files: the derived indexes of a range of transaction
// numbers [start, end) of one chain, written once when the in-memory open
// segment is closed and memory-mapped for reading. Everything in a segment
// is a pure function of the tx records in Pebble (and the block times), so a
// segment can always be rebuilt from them: that is what makes crash recovery
// and undo exact.
//
// File layout (all integers big-endian unless said varint):
//
//	"SPSEG005"
//	txids   (txidHash>>32, txnum−start) per tx, sorted, bit-packed in
//	          blocks of 64 with a sparse index (hashsec.go)   (txid lookup)
//	times   the block time of every txnum (first/last seen), either
//	          flat: (end−start) × u32 block time − baseTime, by txnum, or
//	          runs: per change of time, (txnum−start u32, time − baseTime u32),
//	                the first at txnum start; written when it is smaller
//	                (Bitcoin blocks hold many txs of one time: 4 bytes a
//	                tx become about 8 a block), so never 4·(end−start) long
//	groups  (SPSEG004: the column tables of the groups first, segcols.go)
//	        per address, ascending id, in compressed blocks of  (adjacency)
//	        blockStride gindex entries (segblock.go):
//	          uvarint id−prevID, uvarint byteLen, uvarint nEntries<<1|chained,
//	          (prevID of the first group of a run of groupStride: its gindex id,
//	          SPSEG005; 0 before)
//	          entries: uvarint txnum−prevTxnum, flags byte,
//	                   [uvarint asset] [uvarint nIn] [uvarint nOut] [amount in] [amount out]
//	                   (SPSEG004: no amount out where it is the group's
//	                   last nonzero amount in before the entry, flag bit 7;
//	                   SPSEG005: bits 6 and 7 both, the same and a sweep:
//	                   sweeps.go; an entry with nIn > 0 and no amount in
//	                   (flag bit 5 clear) leaves it to the tx record:
//	                   recordins.go, a zero amount in is written)
//	        (prevTxnum before the first entry: the segment's start, or,
//	        when chained (SPSEG003), the first txnum of the group before it
//	        in its run of groupStride whose address the segment created:
//	        ids are handed out in tx order, so those first txnums ascend)
//	gindex  every groupStride-th group: (id u32, offset u32), or (id u64,
//	        offset u64) where one does not fit 32 bits (the section's
//	        length tells which), offsets into the uncompressed groups
//	spent   (SPSEG004: the column tables of the spends first, segcols.go)
//	        (SPSEG005: without the spends a sweep implies, sweeps.go)
//	        runs of spentStride entries sorted by (prevTx, vout), in
//	        compressed blocks of blockStride sindex entries:
//	          uvarint prevTx−prevPrevTx, uvarint vout, uvarint spender−prevTx
//	sindex  per spent run: (prevTx u32, vout u32, offset u32), or (prevTx
//	        u64, vout u32, offset u64) likewise, offsets into the
//	        uncompressed spends
//	addrs   per address id created in the segment:            (address lookup)
//	          (addrHash>>32, id−addrStart), sorted, as txids
//	gblocks, sblocks  the block indexes of groups and spent (segblock.go)
//	footer  start, end, baseTime, nTx, nAddr, nAdj, nSpent, addrStart, addrEnd u64,
//	        offsets and lengths of the nine sections u64,
//	        crc32c of everything before the footer u32, "SPSEG005"
//	        (only format 5 is read: the formats before it belong to layouts
//	        a store of layout 11 refuses; SPSEG004, layouts 9–10, had no
//	        sweeps and a zero amount in unwritten; SPSEG003, layouts 7–8,
//	        amounts out always written and no column tables; SPSEG002,
//	        layouts 5–6, hash sections of uvarint pairs)

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/bits"
	"os"
	"slices"
	"sort"
	"syscall"

	"github.com/holiman/uint256"
)

const (
	segMagic     = "SPSEG005"
	groupStride  = 16
	spentStride  = 64
	segSections  = 9
	segHeadVals  = 9
	segFooterLen = segHeadVals*8 + 2*segSections*8 + 4 + 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// adjEnt is one address's share of one transaction in one asset: 32 bytes,
// with the address id and the txnum relative to the segment's bases in 32
// bits and the counts in 16 (48 bytes when every field was 64 or 32 bits
// wide: the open segment's array, ≈ 2 M entries, was the largest block of
// fresh memory an ingest faulted in, and the close sorts and streams it).
// An entry whose fields do not fit (an amount past 64 bits, a count of
// 65,535 or more, an id or txnum out of the 32-bit range) is wide: nIn is
// adjWide and in indexes d.wide, which holds it whole. Read entries through
// segData's entAddr, entTx and entry.
type adjEnt struct {
	in, out   uint64 // amounts; for a wide entry in is its index into d.wide
	addr      uint32 // address id − d.addrBase()
	txnum     uint32 // txnum − d.start
	asset     uint32
	nIn, nOut uint16
}

// adjWide marks a wide adjacency entry (in adjEnt.nIn).
const adjWide = 0xffff

// wideEnt is a wide adjacency entry, whole.
type wideEnt struct {
	addr uint64
	e    segEntry
}

// adjAddrSpan is how far below a segment's first new address id its
// entries' ids may reach and stay narrow (addrBase): 3·2³⁰, which leaves
// 2³⁰ ids of room above it for the addresses the segment creates. A chain
// of fewer ids (every one today) has base 0: every id is narrow.
const adjAddrSpan = 3 << 30

// addrBase is the id the narrow entries' address ids are relative to.
func (d *segData) addrBase() uint64 {
	if d.addrStart <= adjAddrSpan {
		return 0
	}
	return d.addrStart - adjAddrSpan
}

// entAddr is e's address id.
func (d *segData) entAddr(e *adjEnt) uint64 {
	if e.nIn == adjWide {
		return d.wide[e.in].addr
	}
	return d.addrBase() + uint64(e.addr)
}

// entTx is e's txnum.
func (d *segData) entTx(e *adjEnt) uint64 {
	if e.nIn == adjWide {
		return d.wide[e.in].e.txnum
	}
	return d.start + uint64(e.txnum)
}

// entry is e decoded: its txnum, asset, counts and amounts.
func (d *segData) entry(e *adjEnt) segEntry {
	if e.nIn == adjWide {
		return d.wide[e.in].e
	}
	x := segEntry{txnum: d.start + uint64(e.txnum), asset: e.asset, nIn: uint64(e.nIn), nOut: uint64(e.nOut)}
	x.in.SetUint64(e.in)
	x.out.SetUint64(e.out)
	return x
}

// addAdjU64 is addAdj for asset 0 and amounts of 64 bits.
func (d *segData) addAdjU64(addr, txnum, nIn, nOut, in, out uint64) {
	a, t := addr-d.addrBase(), txnum-d.start
	if a < 1<<32 && t < 1<<32 && nIn < adjWide && nOut <= 0xffff {
		k := len(d.adj) // extend, inlined; the fields written in place
		if k == cap(d.adj) || k&(populateEntries-1) == 0 {
			d.adj = extendSlow(d.adj)
		}
		d.adj = d.adj[:k+1]
		e := &d.adj[k]
		e.in, e.out, e.addr, e.txnum, e.asset, e.nIn, e.nOut = in, out, uint32(a), uint32(t), 0, uint16(nIn), uint16(nOut)
		return
	}
	d.addAdj(addr, txnum, 0, nIn, nOut, uint256.NewInt(in), uint256.NewInt(out))
}

// addAdj appends an adjacency entry: narrow where its fields fit, wide
// otherwise.
func (d *segData) addAdj(addr, txnum uint64, asset uint32, nIn, nOut uint64, in, out *uint256.Int) {
	a, t := addr-d.addrBase(), txnum-d.start // an id below the base or a txnum below start wraps: wide
	if a < 1<<32 && t < 1<<32 && nIn < adjWide && nOut <= 0xffff && in.IsUint64() && out.IsUint64() {
		d.adj = push(d.adj, adjEnt{in: in.Uint64(), out: out.Uint64(), addr: uint32(a), txnum: uint32(t), asset: asset, nIn: uint16(nIn), nOut: uint16(nOut)})
		return
	}
	d.wide = append(d.wide, wideEnt{addr: addr, e: segEntry{txnum: txnum, asset: asset, nIn: nIn, nOut: nOut, in: *in, out: *out}})
	d.adj = push(d.adj, adjEnt{in: uint64(len(d.wide) - 1), asset: asset, nIn: adjWide})
}

// hashEnt is a txid's or an address's 64-bit hash and its number (txnum or
// address id).
type hashEnt struct {
	hash uint64
	num  uint64
}

type spentEnt struct {
	prevTx uint64
	vout   uint32
	// addr is the spent output's address id − the segment's addrBase + 1
	// where the indexer knew it and it fits (else spentAddrNone, 0): what
	// pairs a spend with its spender's adjacency entry (sweeps.go). Not
	// stored: a segment's spends read back have none.
	addr    uint32
	spender uint64
}

// addrHash is the 64-bit key of an address's canonical bytes in the
// address index (a candidate, settled by the id → bytes record).
func addrHash(b []byte) uint64 {
	a, n := b, len(b)
	h := uint64(n) * 0x9e3779b97f4a7c15
	for len(b) >= 8 {
		h = bits.RotateLeft64(h^binary.LittleEndian.Uint64(b)*0xc2b2ae3d27d4eb4f, 31) * 0x165667b19e3779f9
		b = b[8:]
	}
	// The last 0–7 bytes as a zero-padded word. For an address of 8 bytes
	// or more it is read as the address's last 8 bytes, shifted: the same
	// word as the bytes copied into a zeroed array and read back, without
	// the stall of a wide read of narrower writes (BENCHMARKS.md, eighth
	// session).
	var w uint64
	if r := len(b); r > 0 && n >= 8 {
		w = binary.LittleEndian.Uint64(a[n-8:]) >> (8 * (8 - r))
	} else if r > 0 {
		var t [8]byte
		copy(t[:], b)
		w = binary.LittleEndian.Uint64(t[:])
	}
	h = bits.RotateLeft64(h^w*0xc2b2ae3d27d4eb4f, 31) * 0x165667b19e3779f9
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}

// txidHash is the 64-bit key of a txid in the txid indexes: a mix of all
// 32 bytes, so that ids with a common prefix (exports with structured ids,
// test data) spread as well as real hashes do. A match is only a candidate:
// the tx record settles it.
func txidHash(id *[32]byte) uint64 {
	h := binary.LittleEndian.Uint64(id[0:])*0x9e3779b97f4a7c15 ^
		bits.RotateLeft64(binary.LittleEndian.Uint64(id[8:]), 17)*0xc2b2ae3d27d4eb4f ^
		bits.RotateLeft64(binary.LittleEndian.Uint64(id[16:]), 31)*0x165667b19e3779f9 ^
		bits.RotateLeft64(binary.LittleEndian.Uint64(id[24:]), 47)*0xd6e8feb86659fd93
	h ^= h >> 30 // splitmix64's finaliser
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}

// segData is the content of a segment in memory: the open segment being
// filled by Apply, or a closed segment loaded back for a merge.
type segData struct {
	start, end uint64 // txnums covered: [start, end)
	// Address ids created by the covered txs: [addrStart, addrEnd), with
	// the hash of each one's bytes (the bytes → id index).
	addrStart, addrEnd uint64
	addrs              []hashEnt // (addrHash, id)
	txids              []hashEnt
	times              []int64 // by txnum − start
	adj                []adjEnt
	wide               []wideEnt // the wide adjacency entries (adjEnt)
	spent              []spentEnt
	// marks: per adjacency entry, while a segment is encoded or after it
	// was loaded, the spends paired with it and whether it sweeps
	// (sweeps.go); fresh: the first entry and spend of d.adj and d.spent
	// that are in tx order as the indexer appended them (0, or past what a
	// load read in address order), from which the spends are paired.
	marks                []uint8
	pairs                [][2]int32 // markSpends' (spend, entry) pairs, for liveSpends
	freshAdj, freshSpent int
	// utxo: the segment is a UTXO chain's, whose closed groups of few
	// entries leave their amounts in to the tx records (recordins.go).
	utxo bool
	// small: indexSmallUTXO's shares of one tx, scratch of the goroutine
	// that runs indexAdj (kept here rather than zeroed on its stack for
	// every tx: 640 bytes, a sixth of its samples).
	small [manyParts]part64
}

// truncate drops everything from txnum n and address id a on (entries are
// appended in txnum and id order).
func (d *segData) truncate(n, a uint64) {
	if a < d.addrEnd {
		a = max(a, d.addrStart)
		i := sort.Search(len(d.addrs), func(i int) bool { return d.addrs[i].num >= a })
		d.addrs = d.addrs[:i]
		d.addrEnd = a
	}
	if n >= d.end {
		return
	}
	if n < d.start {
		n = d.start
	}
	d.times = d.times[:n-d.start]
	d.end = n
	i := sort.Search(len(d.txids), func(i int) bool { return d.txids[i].num >= n })
	d.txids = d.txids[:i]
	i = sort.Search(len(d.adj), func(i int) bool { return d.entTx(&d.adj[i]) >= n })
	nw := len(d.wide)
	for j := i; j < len(d.adj); j++ {
		if e := &d.adj[j]; e.nIn == adjWide {
			nw = min(nw, int(e.in))
		}
	}
	d.adj, d.wide = d.adj[:i], d.wide[:nw]
	if len(d.marks) > i {
		d.marks = d.marks[:i]
	}
	i = sort.Search(len(d.spent), func(i int) bool { return d.spent[i].spender >= n })
	d.spent = d.spent[:i]
}

// encodeSeg writes d as a segment file image. It may sort d.spent and d.adj
// in place (where spentOrder and sortAdj cannot sort packed keys): d is the closing
// segment's, owned by the goroutine that writes it (startClose).
func encodeSeg(d *segData) ([]byte, error) { return encodeSegKeys(d, nil) }

// sortedKeys are a closing segment's txids and new addresses as sorted
// hash keys (hashKeys), sorted on another goroutine (the one that makes
// them searchable for the lookups during a background close, beginClose),
// ready once ready closes.
type sortedKeys struct {
	ready    chan struct{}
	tx, addr hashKeyIndex
}

// encodeSegKeys is encodeSeg with d's hash keys sorted already (ks, when
// not nil: its bases must be d's, d.start and d.addrStart), which it waits
// for after the sections that do not need them.
func encodeSegKeys(d *segData, ks *sortedKeys) ([]byte, error) {
	var base int64
	for i, t := range d.times {
		if i == 0 || t < base {
			base = t
		}
	}
	for _, t := range d.times {
		if uint64(t-base) > 0xffffffff {
			return nil, fmt.Errorf("pebblestore: segment %d-%d: block times span more than 2^32 seconds", d.start, d.end)
		}
	}
	// The adjacency (the largest part) is sorted and encoded on its own
	// goroutine while this one does the other sections.
	var groups, gindex, gblocks []byte
	var nAddr uint64
	done, swept := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		var parts []*colStreams
		groups, gindex, nAddr, parts = encodeGroupsCols(d)
		close(swept) // the sweeps are known: the spends can be encoded while the groups are packed
		groups, _, gblocks = packSectionCols(groups, blockCuts(gindex, 16), colGroups, parts)
	}()
	times := encodeTimes(d.times, base)
	var txs, addrs []byte
	if ks != nil {
		<-ks.ready
		if ks.tx.base != d.start || ks.addr.base != d.addrStart || len(ks.tx.keys) != len(d.txids) || len(ks.addr.keys) != len(d.addrs) {
			panic("pebblestore: encodeSegKeys: keys of another segment") // a bug, not bad input
		}
		txs, addrs = appendHashKeys(nil, ks.tx.keys), appendHashKeys(nil, ks.addr.keys)
	} else {
		txs, addrs = appendHashSection(nil, d.txids, d.start), appendHashSection(nil, d.addrs, d.addrStart)
	}
	// The spends once the groups are encoded: the sweeps found there imply
	// some.
	<-swept
	live := d.liveSpends()
	spent, sindex, scols := encodeSpentCols(live)
	spent, _, sblocks := packSectionCols(spent, blockCuts(sindex, 20), colSpent, []*colStreams{scols})
	<-done

	gindex, sindex = narrowIndex(gindex, 8, 0), narrowIndex(sindex, 12, 8)
	secs := [segSections][]byte{txs, times, groups, gindex, spent, sindex, addrs, gblocks, sblocks}
	n := len(segMagic) + segFooterLen
	for _, sec := range secs {
		n += len(sec)
	}
	out := make([]byte, 0, n)
	out = append(out, segMagic...)
	var offs [2 * segSections]uint64
	for i, sec := range secs {
		offs[2*i], offs[2*i+1] = uint64(len(out)), uint64(len(sec))
		out = append(out, sec...)
	}
	crc := crc32.Checksum(out, castagnoli)
	for _, v := range []uint64{d.start, d.end, uint64(base), uint64(len(d.txids)), nAddr, uint64(len(d.adj)), uint64(len(live)), d.addrStart, d.addrEnd} {
		out = binary.BigEndian.AppendUint64(out, v)
	}
	for _, v := range offs {
		out = binary.BigEndian.AppendUint64(out, v)
	}
	out = binary.BigEndian.AppendUint32(out, crc)
	return append(out, segMagic...), nil
}

// narrowIndex rewrites a sparse index of entries (key u64, [u32 at 8 when
// mid is 8], offset u64), w bytes wide without the offset, as entries of
// u32 fields, when every key and offset fits 32 bits: 16 or 20 bytes an
// entry become 8 or 12 (0.2 B a transfer of the gindex on the synthetic
// chain). Otherwise it returns idx as it is.
func narrowIndex(idx []byte, w, mid int) []byte {
	wide := w + 8
	for i := 0; i+wide <= len(idx); i += wide {
		if binary.BigEndian.Uint64(idx[i:]) >= 1<<32 || binary.BigEndian.Uint64(idx[i+w:]) >= 1<<32 {
			return idx
		}
	}
	out := make([]byte, 0, len(idx)/wide*(w/2+4))
	for i := 0; i+wide <= len(idx); i += wide {
		out = binary.BigEndian.AppendUint32(out, uint32(binary.BigEndian.Uint64(idx[i:])))
		if mid > 0 {
			out = append(out, idx[i+mid:i+mid+4]...)
		}
		out = binary.BigEndian.AppendUint32(out, uint32(binary.BigEndian.Uint64(idx[i+w:])))
	}
	return out
}

// blockCuts returns the offsets (the last 8 bytes of each entry of width w)
// of every blockStride-th entry of a sparse index: where packBlocks cuts.
func blockCuts(idx []byte, w int) []uint64 {
	var cuts []uint64
	for i := 0; i < len(idx)/w; i += blockStride {
		cuts = append(cuts, binary.BigEndian.Uint64(idx[w*i+w-8:]))
	}
	return cuts
}

// encodeTimes writes the times section: runs when they are smaller than
// the flat form, which is what a reader tells them apart by.
func encodeTimes(times []int64, base int64) []byte {
	runs := 0
	for i, t := range times {
		if i == 0 || t != times[i-1] {
			runs++
		}
	}
	if 8*runs < 4*len(times) {
		out := make([]byte, 0, 8*runs)
		for i, t := range times {
			if i == 0 || t != times[i-1] {
				out = binary.BigEndian.AppendUint32(out, uint32(i))
				out = binary.BigEndian.AppendUint32(out, uint32(t-base))
			}
		}
		return out
	}
	out := make([]byte, 0, 4*len(times))
	for _, t := range times {
		out = binary.BigEndian.AppendUint32(out, uint32(t-base))
	}
	return out
}

// encodeGroups sorts and encodes the adjacency: the groups section, its
// sparse index (offsets relative to the section) and the address count.
func encodeGroups(d *segData) (out, gindex []byte, nAddr uint64) {
	out, gindex, nAddr, _ = encodeGroupsCols(d)
	return out, gindex, nAddr
}

// encodeGroupsCols is encodeGroups that also returns the section's blocks
// split into the column codec's streams (written as the bytes are: no
// parse of them again), in one or two parts of consecutive blocks.
func encodeGroupsCols(d *segData) (out, gindex []byte, nAddr uint64, parts []*colStreams) {
	d.markSpends() // in tx order, before the sort
	order := sortAdj(d)
	n := len(d.adj)
	addrAt := func(i int) uint64 {
		if order == nil {
			return d.entAddr(&d.adj[i])
		}
		return order[i] >> adjKeyBits
	}
	// A large segment is encoded in two ranges of addresses on two
	// goroutines, cut where a group starts a block (every
	// groupStride·blockStride-th address, an index point): there the
	// encoding restarts from nothing anyway (absolute id, a new index entry),
	// so the two outputs joined are byte for byte what one pass writes, and
	// each range's streams are whole blocks.
	cut, cutAddrs := n, uint64(0)
	if n >= groupsSplitMin {
		cut = -1
		var k uint64 // distinct addresses before position i
		for i := 0; i < n; i++ {
			if i > 0 && addrAt(i) == addrAt(i-1) {
				continue
			}
			if i >= n/2 && k%(groupStride*blockStride) == 0 {
				cut, cutAddrs = i, k
				break
			}
			k++
		}
		if cut < 0 {
			cut = n
		}
	}
	var out2, gindex2 []byte
	var nAddr2 uint64
	cs1, cs2 := new(colStreams), new(colStreams)
	done := make(chan struct{})
	if cut < n {
		go func() {
			defer close(done)
			out2, gindex2, nAddr2 = encodeGroupRange(d, order, cut, n, make([]byte, 0, 8*(n-cut)), cs2)
		}()
	} else {
		close(done)
	}
	out, gindex, nAddr = encodeGroupRange(d, order, 0, cut, make([]byte, 0, 8*n), cs1)
	<-done
	parts = []*colStreams{cs1}
	if cut < n {
		parts = append(parts, cs2)
	}
	if cut < n {
		if nAddr != cutAddrs {
			panic("pebblestore: encodeGroups: the ranges disagree on the address count") // a bug, not bad input
		}
		for k := 0; k+16 <= len(gindex2); k += 16 {
			off := binary.BigEndian.Uint64(gindex2[k+8:])
			binary.BigEndian.PutUint64(gindex2[k+8:], off+uint64(len(out)))
		}
		out = append(out, out2...)
		gindex = append(gindex, gindex2...)
		nAddr += nAddr2
	}
	return out, gindex, nAddr, parts
}

const (
	// groupsSplitMin is the fewest adjacency entries encodeGroups splits
	// into two ranges.
	groupsSplitMin = 1 << 16
	// adjKeyBits: sortAdj's keys hold a position into d.adj in their low
	// adjKeyBits bits, the address id above.
	adjKeyBits = 24
)

// encodeGroupRange encodes the groups of the address-ordered entries at
// positions [lo, hi) (of order's keys, or of d.adj when order is nil) onto
// out, with their index entries (offsets into out); lo starts a group at
// an index point.
func encodeGroupRange(d *segData, order []uint64, lo, hi int, out []byte, cs *colStreams) (_, gindex []byte, nAddr uint64) {
	// The entries in address order are read from d.adj at random: gathered
	// a window at a time in a loop of independent reads (many misses in
	// flight, as in prefetch.go), not one by one as the encoding reaches
	// them (that waited out a miss per entry: ≈ half of a segment close).
	const window = 256
	var win [window]adjEnt
	w0 := -window // the first position win holds
	at := func(i int) *adjEnt {
		if order == nil {
			return &d.adj[i]
		}
		if i < w0 || i-w0 >= window {
			w0 = i
			for k, o := range order[i:min(i+window, hi)] {
				win[k] = d.adj[o&(1<<adjKeyBits-1)]
			}
		}
		return &win[i-w0]
	}
	addrAt := func(i int) uint64 {
		if order == nil {
			return d.entAddr(&d.adj[i])
		}
		return order[i] >> adjKeyBits
	}
	posAt := func(i int) int {
		if order == nil {
			return i
		}
		return int(order[i] & (1<<adjKeyBits - 1))
	}
	var prevID uint64
	// newFirst: the first txnum of the run's last group whose address the
	// segment created (hasNew), which a later such group's first entry is
	// a difference from (chained) where it is not before it.
	var newFirst uint64
	var hasNew bool
	var ebuf []byte
	var st groupCols
	st.load(&cs.st)
	for i := lo; i < hi; {
		addr := addrAt(i)
		j := i
		for j < hi && addrAt(j) == addr {
			j++
		}
		if nAddr%groupStride == 0 {
			hasNew = false // a group at an index point is absolute
		}
		ebuf = ebuf[:0]
		prevTx, chained := d.start, uint64(0)
		first := d.entTx(at(i))
		if addr >= d.addrStart && hasNew && first >= newFirst {
			prevTx, chained = newFirst, 1
		}
		if addr >= d.addrStart {
			newFirst, hasNew = first, true
		}
		if nAddr%(groupStride*blockStride) == 0 && nAddr > 0 {
			st.store(&cs.st)
			cs.endBlock(i-lo, hi-i)
			st.load(&cs.st)
		}
		var lastIn uint256.Int
		var sw sweeper
		derive := d.utxo && useDerive && j-i <= deriveMax
		for k := i; k < j; k++ {
			e := at(k)
			o := posAt(k)
			if e.nIn == adjWide {
				w := &d.wide[e.in].e
				sweep := w.nOut > 0 && sw.out(d.marks[o])
				sw.unspent += w.nIn
				if sweep {
					d.marks[o] |= markSweep
				}
				st.store(&cs.st)
				ebuf = appendWideEntryCols(ebuf, &cs.st, d, e, prevTx, &lastIn, sweep)
				st.load(&cs.st)
				prevTx = d.entTx(e)
				continue
			}
			// appendSegEntry, and the fields into their streams.
			f := narrowFlags(e, &lastIn, derive)
			ext := extOf(e.asset, false)
			if e.nOut > 0 && sw.out(d.marks[o]) {
				d.marks[o] |= markSweep
				if f&efOutSame != 0 {
					f |= efSweep // the common sweep: no byte
				} else {
					f, ext = f|efExt, ext|1
				}
			}
			sw.unspent += uint64(e.nIn)
			dt := d.start + uint64(e.txnum) - prevTx
			ebuf = putUvarint(ebuf, dt)
			st.tx, st.txMore = putUvarintCols(st.tx, st.txMore, dt)
			ebuf = append(ebuf, f)
			st.flags = append(st.flags, f)
			if rareFields(f) > 0 {
				r0 := len(ebuf)
				ebuf = appendRare(ebuf, e, f, ext)
				st.rare = append(st.rare, ebuf[r0:]...)
			}
			if f&efIn != 0 {
				ebuf = putAmountU64(ebuf, e.in)
				st.amtLen, st.amtLead, st.amtMore = putAmountCols(st.amtLen, st.amtLead, st.amtMore, e.in)
			}
			if outWritten(f) {
				ebuf = putAmountU64(ebuf, e.out)
				st.amtLen, st.amtLead, st.amtMore = putAmountCols(st.amtLen, st.amtLead, st.amtMore, e.out)
			}
			prevTx = d.start + uint64(e.txnum)
		}
		if nAddr%groupStride == 0 {
			gindex = binary.BigEndian.AppendUint64(gindex, addr)
			gindex = binary.BigEndian.AppendUint64(gindex, uint64(len(out)))
			prevID = addr // a group at an index point: its id is the index's (SPSEG005; it was written whole)
		}
		var nb [binary.MaxVarintLen64]byte
		cnt := binary.PutUvarint(nb[:], uint64(j-i)<<1|chained)
		h0 := len(out)
		out = putUvarint(out, addr-prevID)
		st.id = append(st.id, out[h0:]...)
		h0 = len(out)
		out = putUvarint(out, uint64(cnt+len(ebuf)))
		st.ln = append(st.ln, out[h0:]...)
		st.cnt = append(st.cnt, nb[:cnt]...)
		out = append(append(out, nb[:cnt]...), ebuf...)
		prevID = addr
		nAddr++
		i = j
	}
	st.store(&cs.st)
	if nAddr > 0 {
		cs.endBlock(hi-lo, 0)
	}
	return out, gindex, nAddr
}

// groupCols holds the streams of the groups in locals while the encoder
// appends to them (through the array, every append loaded and stored its
// slice again).
type groupCols struct {
	id, ln, cnt, tx, txMore, flags, rare, amtLen, amtLead, amtMore []byte
}

func (g *groupCols) load(st *[colMaxStreams][]byte) {
	g.id, g.ln, g.cnt, g.tx, g.txMore, g.flags, g.rare, g.amtLen, g.amtLead, g.amtMore = st[gsID], st[gsLen], st[gsCount], st[gsTx], st[gsTxMore], st[gsFlags], st[gsRare], st[gsAmtLen], st[gsAmtLead], st[gsAmtMore]
}

func (g *groupCols) store(st *[colMaxStreams][]byte) {
	st[gsID], st[gsLen], st[gsCount], st[gsTx], st[gsTxMore], st[gsFlags], st[gsRare], st[gsAmtLen], st[gsAmtLead], st[gsAmtMore] = g.id, g.ln, g.cnt, g.tx, g.txMore, g.flags, g.rare, g.amtLen, g.amtLead, g.amtMore
}

// encodeSpent sorts and encodes the spends: the spent section and its
// sparse index (offsets relative to the section).
func encodeSpent(d *segData) (out, sindex []byte) {
	out, sindex, _ = encodeSpentCols(d.spent)
	return out, sindex
}

// encodeSpentCols encodes spends sp (encodeSpent, which it may sort in
// place) and also returns the section's blocks split into the column
// codec's streams, written as the bytes are.
func encodeSpentCols(sp []spentEnt) (out, sindex []byte, cs *colStreams) {
	cs = new(colStreams)
	st := &cs.st
	order, voutBits, spBits, base, spBase := spentOrder(sp)
	out = make([]byte, 0, 5*len(sp))
	// Every field comes from the keys: the entries are not read again.
	spMask, voutMask := uint64(1)<<spBits-1, uint64(1)<<voutBits-1
	var prev uint64
	for i := range sp {
		var s spentEnt
		if order == nil {
			s = sp[i]
		} else {
			k := order[i] >> spBits
			s = spentEnt{prevTx: base + k>>voutBits, vout: uint32(k & voutMask), spender: spBase + order[i]&spMask}
		}
		if i%(spentStride*blockStride) == 0 && i > 0 {
			cs.endBlock(i, len(sp)-i)
		}
		if i%spentStride == 0 {
			sindex = binary.BigEndian.AppendUint64(sindex, s.prevTx)
			sindex = binary.BigEndian.AppendUint32(sindex, s.vout)
			sindex = binary.BigEndian.AppendUint64(sindex, uint64(len(out)))
			prev = s.prevTx
		}
		out = putUvarint(out, s.prevTx-prev)
		st[ssPrev], st[ssPrevMore] = putUvarintCols(st[ssPrev], st[ssPrevMore], s.prevTx-prev)
		at := len(out)
		out = putUvarint(out, uint64(s.vout))
		st[ssVout] = append(st[ssVout], out[at:]...)
		out = putUvarint(out, s.spender-s.prevTx)
		st[ssSpender], st[ssSpenderMore] = putUvarintCols(st[ssSpender], st[ssSpenderMore], s.spender-s.prevTx)
		prev = s.prevTx
	}
	if len(sp) > 0 {
		cs.endBlock(len(sp), 0)
	}
	return out, sindex, cs
}

// spentOrder orders spends sp by (prevTx, vout). Where prevTx − base, vout
// and spender − spBase fit in 64 bits together it returns that order as
// keys ((prevTx−base)<<voutBits | vout, above spBits bits of spender −
// spBase), radix-sorted on the prevTx and vout bits (a few linear passes:
// the spends arrive in spender order, prevTx order is scattered, and a
// comparison sort of the entries was most of a segment close's CPU);
// otherwise it sorts sp in place and returns nil. A segment spends an
// output at most once, so the two orders are the same. (Until the tenth
// session the low bits held a position into d.spent, whose spender the
// encoder then read at random: a cache miss a spend.)
func spentOrder(sp []spentEnt) (order []uint64, voutBits, spBits uint, base, spBase uint64) {
	n := len(sp)
	if n == 0 {
		return nil, 0, 0, 0, 0
	}
	lo, hi, maxVout := sp[0].prevTx, sp[0].prevTx, uint32(0)
	spLo, spHi := sp[0].spender, sp[0].spender
	for i := range sp {
		s := &sp[i]
		lo, hi, maxVout = min(lo, s.prevTx), max(hi, s.prevTx), max(maxVout, s.vout)
		spLo, spHi = min(spLo, s.spender), max(spHi, s.spender)
	}
	voutBits, spBits = uint(bits.Len32(maxVout)), uint(bits.Len64(spHi-spLo))
	keyBits := spBits + voutBits + uint(bits.Len64(hi-lo))
	if n < 256 || keyBits > 64 {
		slices.SortFunc(sp, cmpSpent)
		return nil, 0, 0, 0, 0
	}
	order = make([]uint64, n)
	hugeArray(order)
	for i := range sp {
		s := &sp[i]
		order[i] = ((s.prevTx-lo)<<voutBits|uint64(s.vout))<<spBits | (s.spender - spLo)
	}
	radixSort(order, spBits, keyBits)
	return order, voutBits, spBits, lo, spLo
}

// cmpSpent orders spends by the output they spend.
func cmpSpent(a, b spentEnt) int {
	if c := cmp.Compare(a.prevTx, b.prevTx); c != 0 {
		return c
	}
	return cmp.Compare(a.vout, b.vout)
}

// sortAdj orders d.adj by address, keeping the append order (txnum, then
// asset) within an address, and returns the order as sorted keys, each an
// address id above a position into d.adj (adjKeyBits), which it leaves as
// it is (so an open segment whose write fails needs no re-sort, and no
// sorted copy is held). Where ids and positions fit in 40 and 24 bits it
// sorts those integer keys, about 4x faster than comparing entries;
// otherwise it sorts d.adj in place and returns nil.
func sortAdj(d *segData) []uint64 {
	const idxBits = adjKeyBits
	n := len(d.adj)
	base := d.addrBase()
	if n >= 1<<idxBits {
		d.sortAdjInPlace()
		return nil
	}
	// The keys and the largest id in one pass over the entries (the keys
	// are dropped when an id does not fit).
	keys := make([]uint64, n)
	hugeArray(keys)
	maxAddr := uint64(0)
	if len(d.wide) == 0 {
		var m uint32
		for i := range d.adj {
			a := d.adj[i].addr
			m = max(m, a)
			keys[i] = (base+uint64(a))<<idxBits | uint64(i)
		}
		maxAddr = base + uint64(m)
	} else {
		for i := range d.adj {
			a := d.entAddr(&d.adj[i])
			maxAddr = max(maxAddr, a)
			keys[i] = a<<idxBits | uint64(i)
		}
	}
	if maxAddr >= 1<<(64-idxBits) {
		d.sortAdjInPlace()
		return nil
	}
	// The keys are in position order: a stable sort on the address bits
	// alone leaves positions in order within an address.
	radixSort(keys, idxBits, idxBits+uint(bits.Len64(maxAddr)))
	return keys
}

// sortAdjInPlace sorts d.adj by cmpAdj, and d.marks with it.
func (d *segData) sortAdjInPlace() {
	if d.marks == nil {
		slices.SortFunc(d.adj, func(a, b adjEnt) int { return d.cmpAdj(&a, &b) })
		return
	}
	idx := make([]int, len(d.adj))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return d.cmpAdj(&d.adj[a], &d.adj[b]) })
	adj, marks := make([]adjEnt, len(idx)), make([]uint8, len(idx))
	for k, i := range idx {
		adj[k], marks[k] = d.adj[i], d.marks[i]
	}
	copy(d.adj, adj)
	copy(d.marks, marks)
}

// cmpAdj orders adjacency entries by address, then txnum, then asset.
func (d *segData) cmpAdj(a, b *adjEnt) int {
	if c := cmp.Compare(d.entAddr(a), d.entAddr(b)); c != 0 {
		return c
	}
	if c := cmp.Compare(d.entTx(a), d.entTx(b)); c != 0 {
		return c
	}
	return cmp.Compare(a.asset, b.asset)
}

// radixSort sorts keys by their bits [lo, hi), stably (keys equal in those
// bits keep their order), a byte per pass: a few linear passes instead of
// a comparison sort's n log n.
func radixSort(keys []uint64, lo, hi uint) {
	if len(keys) < 256 {
		slices.SortStableFunc(keys, func(a, b uint64) int {
			return cmp.Compare(a>>lo&(1<<(hi-lo)-1), b>>lo&(1<<(hi-lo)-1))
		})
		return
	}
	// Digits of at most 11 bits, as even as the width allows: 17 bits
	// (a segment's address ids) take two passes of 9 bits, not 8 + 8 + 1;
	// 32 (hash sections) three of 11, 11 and 10, not four of 8.
	if hi <= lo {
		return
	}
	passes := (hi - lo + 10) / 11
	width := (hi - lo + passes - 1) / passes
	tmp := make([]uint64, len(keys))
	hugeArray(tmp)
	src, dst := keys, tmp
	var count [1<<11 + 1]int
	for shift := lo; shift < hi; shift += width {
		w := min(width, hi-shift)
		mask := uint64(1)<<w - 1
		c := count[:1<<w+1]
		clear(c)
		for _, k := range src {
			c[(k>>shift)&mask+1]++
		}
		for i := 1; i < len(c); i++ {
			c[i] += c[i-1]
		}
		for _, k := range src {
			b := (k >> shift) & mask
			dst[c[b]] = k
			c[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
}

// Entry flags.
const (
	efInMask   = 3 // nIn 0..2, 3: uvarint follows
	efOutShift = 2 // nOut likewise in bits 2-3
	// efExt: a uvarint follows the flags (a rare field): in a file (SPSEG005)
	// the entry's asset << 1 | whether it is a sweep whose amount out is
	// written (sweeps.go; the common sweep is efSweep, below); the asset
	// alone in the digest's form and before format 5.
	efExt = 1 << 4
	efIn  = 1 << 5
	efOut = 1 << 6
	// efOutSame (SPSEG004): the amount out is the group's last nonzero
	// amount in before this entry, and is not written (efOut is clear). An
	// address of a UTXO chain mostly spends what it received, whole: on the
	// synthetic chain 99 % of the amounts out are the last amount in.
	efOutSame = 1 << 7
	// efOutSame|efOut (SPSEG005): the amount out is the last amount in, as
	// for efOutSame alone, and the entry is a sweep (sweeps.go): its tx
	// spends every output the segment paid the address before it that no
	// earlier tx spent; the spends it implies are not in the spent section.
	efSweep = efOutSame | efOut
)

// outWritten tells whether an entry of flags f writes its amount out.
func outWritten(f byte) bool { return f&efSweep == efOut }

// entryAmounts is the number of amounts an entry of flags f writes.
func entryAmounts(f byte) int {
	n := int(f >> 5 & 1) // efIn
	if outWritten(f) {
		n++
	}
	return n
}

// appendSegEntry appends entry e, whose txnum is a difference from prevTx.
// lastIn is the group's last nonzero amount in so far (zero before the
// first), which an amount out equal to it refers to (efOutSame); it is
// updated with e's. A nil lastIn writes every amount (the digest's form).
func appendSegEntry(b []byte, d *segData, e *adjEnt, prevTx uint64, lastIn *uint256.Int) []byte {
	if e.nIn == adjWide {
		return appendWideEntry(b, &d.wide[e.in].e, prevTx, lastIn, false)
	}
	f := narrowFlags(e, lastIn, false)
	b = putUvarint(b, d.start+uint64(e.txnum)-prevTx)
	b = append(b, f)
	b = appendRare(b, e, f, extOf(e.asset, lastIn == nil))
	if f&efIn != 0 {
		b = putAmountU64(b, e.in)
	}
	if outWritten(f) {
		b = putAmountU64(b, e.out)
	}
	return b
}

// extOf is an entry's ext field (efExt) for asset, before its sweep bit:
// asset << 1 in a file, the asset alone in the digest's form (as layout 10
// wrote it).
func extOf(asset uint32, digestForm bool) uint64 {
	if digestForm {
		return uint64(asset)
	}
	return uint64(asset) << 1
}

// appendRare appends narrow entry e's rare fields: ext where flags f have
// efExt (its asset, and in a file whether it sweeps: extOf), and its counts
// of 3 or more.
func appendRare(b []byte, e *adjEnt, f byte, ext uint64) []byte {
	if f&efExt != 0 {
		b = putUvarint(b, ext)
	}
	if e.nIn >= 3 {
		b = putUvarint(b, uint64(e.nIn))
	}
	if e.nOut >= 3 {
		b = putUvarint(b, uint64(e.nOut))
	}
	return b
}

// inWritten tells whether an entry writes its amount in (efIn): a nonzero
// one always; in a file (not the digest's form, which writes what layout 10
// wrote) a zero one of an entry with outputs too, as an entry with outputs
// and no amount in leaves it to the tx record (recordins.go), which derive
// asks for.
func inWritten(nonzero, hasIn, digestForm, derive bool) bool {
	switch {
	case digestForm:
		return nonzero
	case derive && hasIn:
		return false
	}
	return nonzero || hasIn
}

// narrowFlags returns the flag byte of narrow entry e (appendSegEntry) and
// updates lastIn with e's amount in; derive leaves the amount in to the tx
// record.
func narrowFlags(e *adjEnt, lastIn *uint256.Int, derive bool) byte {
	f := byte(min(e.nIn, 3)) | byte(min(e.nOut, 3))<<efOutShift
	if e.asset != 0 {
		f |= efExt
	}
	if inWritten(e.in != 0, e.nIn > 0, lastIn == nil, derive) {
		f |= efIn
	}
	if e.out != 0 {
		f |= efOut
		if lastIn != nil && lastIn[0] == e.out && lastIn[1]|lastIn[2]|lastIn[3] == 0 {
			f ^= efOut | efOutSame
		}
	}
	if lastIn != nil && e.in != 0 {
		lastIn.SetUint64(e.in)
	}
	return f
}

// appendWideEntryCols appends wide entry e (appendSegEntry) and its
// fields to the streams of the column codec, split from its bytes as
// splitGroups would (encodeGroupRange writes the narrow ones' fields
// directly).
func appendWideEntryCols(b []byte, st *[colMaxStreams][]byte, d *segData, e *adjEnt, prevTx uint64, lastIn *uint256.Int, sweep bool) []byte {
	at := len(b)
	b = appendWideEntry(b, &d.wide[e.in].e, prevTx, lastIn, sweep)
	if !splitEntry(b[at:], st) {
		panic("pebblestore: a wide entry the encoder wrote does not split") // a bug, not bad input
	}
	return b
}

// appendWideEntry is appendSegEntry for a wide entry.
func appendWideEntry(b []byte, e *segEntry, prevTx uint64, lastIn *uint256.Int, sweep bool) []byte {
	inNZ, outNZ := !e.in.IsZero(), !e.out.IsZero()
	f := byte(min(e.nIn, 3)) | byte(min(e.nOut, 3))<<efOutShift
	ext := extOf(e.asset, lastIn == nil)
	if e.asset != 0 {
		f |= efExt
	}
	inW := inWritten(inNZ, e.nIn > 0, lastIn == nil, false) // a wide entry writes its amount in
	if inW {
		f |= efIn
	}
	if outNZ {
		f |= efOut
		if lastIn != nil && e.out == *lastIn {
			f ^= efOut | efOutSame
			outNZ = false
			if sweep {
				f |= efSweep
				sweep = false
			}
		}
	}
	if lastIn != nil && inNZ {
		*lastIn = e.in
	}
	if sweep { // not the common one (the amount out is written): in ext
		f, ext = f|efExt, ext|1
	}
	b = putUvarint(b, e.txnum-prevTx)
	b = append(b, f)
	if f&efExt != 0 {
		b = putUvarint(b, ext)
	}
	if e.nIn >= 3 {
		b = putUvarint(b, e.nIn)
	}
	if e.nOut >= 3 {
		b = putUvarint(b, e.nOut)
	}
	if inW {
		b = putAmount(b, &e.in)
	}
	if outNZ {
		b = putAmount(b, &e.out)
	}
	return b
}

// putAmountU64 writes v as putAmount does (length byte, minimal big-endian
// bytes).
func putAmountU64(b []byte, v uint64) []byte {
	n := (bits.Len64(v) + 7) / 8
	b = append(b, byte(n))
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// segEntry is a decoded adjacency entry.
type segEntry struct {
	txnum     uint64
	asset     uint32
	nIn, nOut uint64
	in, out   uint256.Int
	sweep     bool // the entry sweeps (efSweep): its tx spends the address's unspent outputs of the segment
	// inDerived: the amount in is the tx record's (recordins.go), in is zero
	// until resolveGroup sets it; outSame: the amount out is the group's
	// last nonzero amount in before the entry (efOutSame), which out holds
	// only once the group is resolved where it has derived amounts in.
	inDerived, outSame bool
}

// segEntry decodes an entry whose txnum is a difference from prevTx;
// lastIn is the group's last nonzero amount in so far (zero before its
// first entry), which it updates.
func (r *reader) segEntry(prevTx uint64, lastIn *uint256.Int) (e segEntry) {
	e.txnum = prevTx + r.uvarint()
	f := r.byte1()
	if f&efExt != 0 {
		x := r.uvarint()
		e.asset, e.sweep = uint32(x>>1), x&1 != 0
	}
	e.nIn = uint64(f & efInMask)
	if e.nIn == 3 {
		e.nIn = r.uvarint()
	}
	e.nOut = uint64(f >> efOutShift & efInMask)
	if e.nOut == 3 {
		e.nOut = r.uvarint()
	}
	if f&efIn != 0 {
		e.in = r.amount()
	} else if e.nIn > 0 {
		e.inDerived = true // resolveGroup fills it in
	}
	if outWritten(f) {
		e.out = r.amount()
	}
	if f&efOutSame != 0 {
		if lastIn.IsZero() {
			r.fail("an amount out the same as no amount in")
		}
		e.out, e.outSame = *lastIn, true
		e.sweep = e.sweep || f&efOut != 0
	}
	if e.sweep && e.nOut == 0 {
		r.fail("a sweep that spends nothing")
	}
	switch {
	case e.inDerived:
		lastIn.SetAllOne() // not known here: resolveGroup follows the references again
	case !e.in.IsZero():
		*lastIn = e.in
	}
	return e
}

// segment is an open, memory-mapped segment file.
type segment struct {
	path                     string
	data                     []byte
	start, end               uint64
	base                     int64
	nTx, nAddr, nAdj, nSpent uint64
	addrStart, addrEnd       uint64
	txids, times             []byte
	timeRuns                 bool // times holds runs, not a time per tx
	gindex, sindex           []byte
	gw, sw                   int      // their entries' widths: 8 or 16, 12 or 20
	groups, spent            blockSec // compressed blocks (segblock.go)
	txh, addrh               hashSec  // the txids and addrs sections, parsed
	addrs                    []byte
	// In-memory presence bitmaps over the hash sections (built on first
	// use): a lookup of a txid or address the segment does not hold, the
	// common case for new ones, costs one memory read instead of a binary
	// search over the mapped file.
	txBits, addrBits hashBits
}

// hashBits is a bitmap of the top bits of 32-bit hashes, about 16 bits per
// entry (a false "maybe" about 1 time in 16, which the binary search then
// settles).
type hashBits struct {
	built bool
	shift uint
	bits  []uint64
}

func (b *hashBits) build(sec *hashSec) {
	n := sec.n
	lg := uint(6)
	for lg < 30 && 1<<lg < 16*n {
		lg++
	}
	b.shift = 32 - lg
	b.bits = make([]uint64, (1<<lg)/64)
	sec.each(func(h uint32, _ uint64) {
		k := h >> b.shift
		b.bits[k/64] |= 1 << (k % 64)
	})
	b.built = true
}

func (b *hashBits) mayHave(sec *hashSec, h uint64) bool {
	if !b.built {
		b.build(sec)
	}
	k := uint32(h>>32) >> b.shift
	return b.bits[k/64]&(1<<(k%64)) != 0
}

// openSegment maps and checks a segment file.
func openSegment(path string) (*segment, error) { return openSegmentAs(path, false) }

// openSegmentAs is openSegment; trusted: see parseSegmentAs.
func openSegmentAs(path string, trusted bool) (*segment, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pebblestore: segment: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("pebblestore: segment: %w", err)
	}
	size := fi.Size()
	if size < int64(len(segMagic)+segFooterLen) {
		return nil, fmt.Errorf("%w: segment %s is %d bytes, too short", errCorrupt, path, size)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("pebblestore: map segment %s: %w", path, err)
	}
	s, err := parseSegmentAs(data, path, trusted)
	if err != nil {
		syscall.Munmap(data)
		return nil, err
	}
	return s, nil
}

func parseSegment(data []byte, path string) (*segment, error) {
	return parseSegmentAs(data, path, false)
}

// parseSegmentAs is parseSegment; trusted skips the checks that read every
// byte (the CRC, the hash sections' blocks) for bytes already checked: the
// file a close wrote from an image parseSegment checked while it was
// written (writeSeg). The structure is still checked, from the footer and
// the indexes.
func parseSegmentAs(data []byte, path string, trusted bool) (*segment, error) {
	bad := func(what string) error { return fmt.Errorf("%w: segment %s: %s", errCorrupt, path, what) }
	if len(data) < len(segMagic)+segFooterLen {
		return nil, bad(fmt.Sprintf("%d bytes, too short", len(data)))
	}
	if !bytes.HasPrefix(data, []byte(segMagic)) || !bytes.HasSuffix(data, []byte(segMagic)) {
		return nil, bad("bad magic")
	}
	body := len(data) - segFooterLen
	ft := data[body:]
	u := func(i int) uint64 { return binary.BigEndian.Uint64(ft[8*i:]) }
	s := &segment{path: path, data: data, start: u(0), end: u(1), base: int64(u(2)), nTx: u(3), nAddr: u(4), nAdj: u(5), nSpent: u(6), addrStart: u(7), addrEnd: u(8)}
	if crc := binary.BigEndian.Uint32(ft[(segHeadVals+2*segSections)*8:]); !trusted && crc != crc32.Checksum(data[:body], castagnoli) {
		return nil, bad("checksum mismatch")
	}
	sec := make([][]byte, segSections)
	for i := range sec {
		off, n := u(segHeadVals+2*i), u(segHeadVals+1+2*i)
		if off > uint64(body) || n > uint64(body)-off {
			return nil, bad(fmt.Sprintf("section %d out of bounds", i))
		}
		sec[i] = data[off : off+n : off+n]
	}
	s.txids, s.times, s.gindex, s.sindex, s.addrs = sec[0], sec[1], sec[3], sec[5], sec[6]
	s.groups = blockSec{name: "groups", at: u(segHeadVals + 2*2), packed: sec[2], bidx: sec[7]}
	s.spent = blockSec{name: "spent", at: u(segHeadVals + 2*4), packed: sec[4], bidx: sec[8]}
	// Each packed section starts with its column tables (since format 4).
	for _, b := range []struct {
		sec  *blockSec
		kind colKind
	}{{&s.groups, colGroups}, {&s.spent, colSpent}} {
		t, n, err := parseColTables(b.kind, b.sec.packed, false)
		if err != nil {
			return nil, bad(fmt.Sprintf("%s: %v", b.sec.name, err))
		}
		b.sec.cols, b.sec.at, b.sec.packed = t, b.sec.at+uint64(n), b.sec.packed[n:]
	}
	ng, ns := (s.nAddr+groupStride-1)/groupStride, (s.nSpent+spentStride-1)/spentStride
	s.gw, s.sw = 8, 12
	if ng > 0 && uint64(len(s.gindex)) == 16*ng {
		s.gw = 16
	}
	if ns > 0 && uint64(len(s.sindex)) == 20*ns {
		s.sw = 20
	}
	switch {
	case s.end < s.start || s.addrEnd < s.addrStart:
		return nil, bad("end before start")
	case s.nTx != 0 && s.nTx != s.end-s.start:
		// Tx numbers are dense and every tx has its txid entry; a range
		// that claims more (a damaged footer) would size the times of a
		// load from it. (Tests build segments without txids: load bounds
		// those.)
		return nil, bad(fmt.Sprintf("%d txids for txs %d–%d", s.nTx, s.start, s.end))
	case ng > uint64(len(s.gindex)) || uint64(len(s.gindex)) != uint64(s.gw)*ng:
		return nil, bad("group index size")
	case ns > uint64(len(s.sindex)) || uint64(len(s.sindex)) != uint64(s.sw)*ns:
		return nil, bad("spent index size")
	}
	if err := s.checkTimes(); err != nil {
		return nil, bad(err.Error())
	}
	var err error
	if s.txh, err = parseHashSecAs(s.txids, s.nTx, s.end-s.start, "txid", trusted); err != nil {
		return nil, bad(err.Error())
	}
	if s.addrh, err = parseHashSecAs(s.addrs, s.addrEnd-s.addrStart, s.addrEnd-s.addrStart, "address", trusted); err != nil {
		return nil, bad(err.Error())
	}
	if err := s.groups.check(func(k int) uint64 { return s.gindexOff(blockStride * k) }, len(s.gindex)/s.gw); err != nil {
		return nil, bad(err.Error())
	}
	if err := s.spent.check(func(k int) uint64 { return s.sindexOff(blockStride * k) }, len(s.sindex)/s.sw); err != nil {
		return nil, bad(err.Error())
	}
	return s, nil
}

// checkTimes checks the times section's form: a time per tx, or runs that
// start at the segment's first tx and ascend within it.
func (s *segment) checkTimes() error {
	nTx := s.end - s.start
	if uint64(len(s.times)) == 4*nTx {
		return nil
	}
	s.timeRuns = true
	n := uint64(len(s.times) / 8)
	if uint64(len(s.times))%8 != 0 || n == 0 || 8*n >= 4*nTx {
		return fmt.Errorf("times section of %d bytes for %d txs", len(s.times), nTx)
	}
	prev := uint64(0)
	for i := uint64(0); i < n; i++ {
		off := uint64(binary.BigEndian.Uint32(s.times[8*i:]))
		if i == 0 && off != 0 || i > 0 && off <= prev || off >= nTx {
			return fmt.Errorf("time run %d starts at tx offset %d", i, off)
		}
		prev = off
	}
	return nil
}

func (s *segment) close() error {
	if s.data == nil {
		return nil
	}
	err := syscall.Munmap(s.data)
	s.data = nil
	return err
}

// txnums returns the txnums whose txid hash has the same top 32 bits as h.
func (s *segment) txnums(h uint64) []uint64 {
	if !s.txBits.mayHave(&s.txh, h) {
		return nil
	}
	return s.txh.find(h, s.start)
}

// addrIDs returns the address ids created in this segment whose bytes hash
// to h.
func (s *segment) addrIDs(h uint64) []uint64 {
	if !s.addrBits.mayHave(&s.addrh, h) {
		return nil
	}
	return s.addrh.find(h, s.addrStart)
}

// txTime is the block time of txnum (which the segment covers).
func (s *segment) txTime(txnum uint64) int64 {
	off := txnum - s.start
	if !s.timeRuns {
		return s.base + int64(binary.BigEndian.Uint32(s.times[4*off:]))
	}
	// The last run starting at or before off (parseSegment checked that
	// the first starts at 0 and that they ascend).
	n := len(s.times) / 8
	i := sort.Search(n, func(i int) bool { return uint64(binary.BigEndian.Uint32(s.times[8*i:])) > off }) - 1
	return s.base + int64(binary.BigEndian.Uint32(s.times[8*i+4:]))
}

// be reads a big-endian u32 or u64 (n bytes) at b[i:].
func be(b []byte, i, n int) uint64 {
	if n == 4 {
		return uint64(binary.BigEndian.Uint32(b[i:]))
	}
	return binary.BigEndian.Uint64(b[i:])
}

func (s *segment) gindexID(i int) uint64  { return be(s.gindex, s.gw*i, s.gw/2) }
func (s *segment) gindexOff(i int) uint64 { return be(s.gindex, s.gw*i+s.gw/2, s.gw/2) }

// The spent index's fields: (prevTx, vout, offset) at 0, 8, 12 of 20 bytes
// or at 0, 4, 8 of 12.
func (s *segment) sindexTx(i int) uint64 {
	if s.sw == 20 {
		return binary.BigEndian.Uint64(s.sindex[20*i:])
	}
	return uint64(binary.BigEndian.Uint32(s.sindex[12*i:]))
}

func (s *segment) sindexVout(i int) uint32 {
	if s.sw == 20 {
		return binary.BigEndian.Uint32(s.sindex[20*i+8:])
	}
	return binary.BigEndian.Uint32(s.sindex[12*i+4:])
}

func (s *segment) sindexOff(i int) uint64 {
	if s.sw == 20 {
		return binary.BigEndian.Uint64(s.sindex[20*i+12:])
	}
	return uint64(binary.BigEndian.Uint32(s.sindex[12*i+8:]))
}

// blockOf returns the uncompressed bytes of the block holding index entry
// i of sec (whose entry offsets off gives, n entries) and entry i's offset
// in them.
func (s *segment) blockOf(sec *blockSec, off func(int) uint64, n, i int) ([]byte, uint64, error) {
	k := i / blockStride
	start, end := off(blockStride*k), sec.raw
	if blockStride*(k+1) < n {
		end = off(blockStride * (k + 1))
	}
	data, err := sec.block(s.path, k, start, end)
	if err != nil {
		return nil, 0, err
	}
	at := off(i)
	if at < start || at > end {
		return nil, 0, fmt.Errorf("%w: segment %s: %s offset %d outside its block", errCorrupt, s.path, sec.name, at)
	}
	return data, at - start, nil
}

// group returns the encoded entries of address id (count, bytes) and the
// txnum its first entry is a difference from, or ok false.
func (s *segment) group(id uint64) (n, prevTx uint64, entries []byte, ok bool, err error) {
	return s.groupVia(id, nil)
}

// runCache keeps the last run of groups or spends a lookup joined
// (groupVia, spentVia): lookups in ascending order read each run once.
type runCache struct {
	seg *segment
	i   int
	run []byte
}

// groupVia is group, through rc's run when it is the one id's lookup
// needs (rc may be nil).
func (s *segment) groupVia(id uint64, rc *runCache) (n, prevTx uint64, entries []byte, ok bool, err error) {
	ng := len(s.gindex) / s.gw
	i := sort.Search(ng, func(i int) bool { return s.gindexID(i) > id }) - 1
	if i < 0 {
		return 0, 0, nil, false, nil
	}
	var run []byte
	if rc != nil && rc.seg == s && rc.i == i {
		run = rc.run
	} else if run, err = s.groupRun(i, ng); err != nil {
		return 0, 0, nil, false, err
	} else if rc != nil {
		*rc = runCache{seg: s, i: i, run: run}
	}
	r := &reader{b: run}
	prev := s.gindexID(i) // the run's first group's id, which it writes as 0 from it
	var ch groupChain
	for k := 0; k < groupStride && len(r.b) > 0; k++ {
		gid := prev + r.uvarint()
		body := r.lenBytes()
		if r.err != nil {
			return 0, 0, nil, false, fmt.Errorf("segment %s: %w", s.path, r.err)
		}
		if gid > id {
			break
		}
		n, p, entries, err := ch.next(s, gid, body)
		if err != nil {
			return 0, 0, nil, false, err
		}
		if gid == id {
			return n, p, entries, true, nil
		}
		prev = gid
	}
	return 0, 0, nil, false, nil
}

// groupRun returns the bytes of the groups from index point i on (of ng;
// a lookup reads at most groupStride of them): see sectionRun.
func (s *segment) groupRun(i, ng int) ([]byte, error) {
	return s.sectionRun(&s.groups, s.gindexOff, ng, i, groupStride)
}

// sectionRun returns the bytes of a section's records from index point i
// on (of n; a lookup reads at most stride of them): the decoded block's
// bytes from i's offset, or, for a block of the column codec, the run of
// i's records joined from the block's streams (decoded once and cached),
// the records before it in the block skipped by counting (skipGroups,
// skipSpent): a lookup does not join the whole block.
func (s *segment) sectionRun(sec *blockSec, off func(int) uint64, n, i, stride int) ([]byte, error) {
	k := i / blockStride
	start, end := off(blockStride*k), sec.raw
	if blockStride*(k+1) < n {
		end = off(blockStride * (k + 1))
	}
	at := off(i)
	if at < start || at > end {
		return nil, fmt.Errorf("%w: segment %s: %s offset %d outside its block", errCorrupt, s.path, sec.name, at)
	}
	d := sec.last.Load()
	if d == nil || d.k != k {
		if a := binary.BigEndian.Uint64(sec.bidx[8+8*k:]); sec.cols == nil || a >= uint64(len(sec.packed)) || sec.packed[a] != codecCols {
			data, err := sec.block(s.path, k, start, end) // not in the column codec (or out of bounds: block says so)
			if err != nil {
				return nil, err
			}
			return data[at-start:], nil
		}
		p, want, bad, err := sec.packedBlock(s.path, k, start, end)
		if err != nil {
			return nil, err
		}
		st, _, err := colStreamsOf(sec.cols, p[1:], want, nil)
		if err != nil {
			return nil, bad(err.Error())
		}
		d = &decodedBlock{k: k, st: &st}
		sec.last.Store(d)
	}
	if d.data != nil {
		return d.data[at-start:], nil
	}
	g := i % blockStride * stride
	var rest [colMaxStreams][]byte
	var skipped uint64
	var ok bool
	if sec.cols.kind == colGroups {
		rest, skipped, ok = skipGroups(d.st, g)
	} else {
		rest, skipped, ok = skipSpent(d.st, g)
	}
	if !ok || skipped != at-start {
		return nil, fmt.Errorf("%w: segment %s: %s block %d: the streams of its first %d records do not come to %d bytes", errCorrupt, s.path, sec.name, k, g, at-start)
	}
	run := make([]byte, 0, min(end-at, 1<<16))
	if sec.cols.kind == colGroups {
		run, _, ok = joinGroups(run, &rest, stride)
	} else {
		run, _, ok = joinSpent(run, &rest, stride)
	}
	if !ok {
		return nil, fmt.Errorf("%w: segment %s: %s block %d: the streams of records %d–%d do not join", errCorrupt, s.path, sec.name, k, g, g+stride-1)
	}
	return run, nil
}

// groupChain follows the first txnums of a run's groups of addresses the
// segment created (the chained groups' bases).
type groupChain struct {
	newFirst uint64
	hasNew   bool
}

// next decodes the head of group id's body (count, chained flag), returning
// its count, the txnum its first entry is a difference from, and its
// entries, and notes its first txnum when the segment created the address.
func (ch *groupChain) next(s *segment, id uint64, body []byte) (n, prevTx uint64, entries []byte, err error) {
	br := &reader{b: body}
	c := br.uvarint()
	n, prevTx = c>>1, s.start
	if br.err == nil && n > uint64(len(br.b)) { // an entry takes at least 2 bytes
		br.fail("entry count")
	}
	if c&1 != 0 {
		if !ch.hasNew || id < s.addrStart {
			br.fail("a chained group with nothing to chain to")
		}
		prevTx = ch.newFirst
	}
	if br.err != nil {
		return 0, 0, nil, fmt.Errorf("segment %s: %w", s.path, br.err)
	}
	if id >= s.addrStart && n > 0 {
		first, k := binary.Uvarint(br.b)
		if k <= 0 {
			return 0, 0, nil, fmt.Errorf("%w: segment %s: group %d's first entry", errCorrupt, s.path, id)
		}
		ch.newFirst, ch.hasNew = prevTx+first, true
	}
	return n, prevTx, br.b, nil
}

// eachGroup calls fn for every address group of the segment in id order,
// with the txnum its first entry is a difference from.
func (s *segment) eachGroup(fn func(id, n, prevTx uint64, entries []byte) error) error {
	ng := len(s.gindex) / s.gw
	var k uint64
	for i := 0; i < ng; i += blockStride {
		data, _, err := s.blockOf(&s.groups, s.gindexOff, ng, i)
		if err != nil {
			return err
		}
		r := &reader{b: data}
		var prev uint64
		var ch groupChain
		for ; len(r.b) > 0; k++ {
			if k%groupStride == 0 {
				if k/groupStride >= uint64(ng) {
					return fmt.Errorf("%w: segment %s: more groups than its index holds", errCorrupt, s.path)
				}
				prev, ch = s.gindexID(int(k/groupStride)), groupChain{}
			}
			id := prev + r.uvarint()
			body := r.lenBytes()
			if r.err != nil {
				return fmt.Errorf("%w: segment %s: groups", errCorrupt, s.path)
			}
			n, p, entries, err := ch.next(s, id, body)
			if err != nil {
				return err
			}
			if err := fn(id, n, p, entries); err != nil {
				return err
			}
			prev = id
		}
	}
	return nil
}

// spentBy returns the txnum that spent output (prevTx, vout), if this
// segment holds that spend.
func (s *segment) spentBy(prevTx uint64, vout uint32) (uint64, bool, error) {
	return s.spentVia(prevTx, vout, nil)
}

// spentVia is spentBy through rc's run of spends when it is the one the
// lookup needs (rc may be nil; see groupVia).
func (s *segment) spentVia(prevTx uint64, vout uint32, rc *runCache) (uint64, bool, error) {
	nb := len(s.sindex) / s.sw
	less := func(i int) bool { // index point i is after (prevTx, vout)
		p, v := s.sindexTx(i), s.sindexVout(i)
		return p > prevTx || p == prevTx && v > vout
	}
	i := sort.Search(nb, less) - 1
	if i < 0 {
		return 0, false, nil
	}
	p := s.sindexTx(i)
	var run []byte
	var err error
	if rc != nil && rc.seg == s && rc.i == i {
		run = rc.run
	} else if run, err = s.sectionRun(&s.spent, s.sindexOff, nb, i, spentStride); err != nil {
		return 0, false, err
	} else if rc != nil {
		*rc = runCache{seg: s, i: i, run: run}
	}
	r := &reader{b: run}
	for k := 0; k < spentStride && len(r.b) > 0; k++ {
		p += r.uvarint()
		v := uint32(r.uvarint())
		sp := p + r.uvarint()
		if r.err != nil {
			return 0, false, fmt.Errorf("segment %s: %w", s.path, r.err)
		}
		if p == prevTx && v == vout {
			return sp, true, nil
		}
		if p > prevTx || p == prevTx && v > vout {
			break
		}
	}
	return 0, false, nil
}

// eachSpent calls fn for every spend the segment records.
func (s *segment) eachSpent(fn func(spentEnt)) error {
	nb := len(s.sindex) / s.sw
	var r *reader
	var p uint64
	for k := uint64(0); k < s.nSpent; k++ {
		if k%spentStride == 0 {
			i := int(k / spentStride)
			if i >= nb {
				return fmt.Errorf("%w: segment %s: %d spends, %d index entries", errCorrupt, s.path, s.nSpent, nb)
			}
			if i%blockStride == 0 {
				data, _, err := s.blockOf(&s.spent, s.sindexOff, nb, i)
				if err != nil {
					return err
				}
				r = &reader{b: data}
			}
			p = s.sindexTx(i)
		}
		p += r.uvarint()
		v := uint32(r.uvarint())
		sp := p + r.uvarint()
		if r.err != nil {
			return fmt.Errorf("segment %s: %w", s.path, r.err)
		}
		fn(spentEnt{prevTx: p, vout: v, spender: sp})
	}
	return nil
}

// load decodes the whole segment back into memory (for a merge or a
// digest), in the segment's order: by address, not by txnum, so truncate
// does not apply to the result. The amounts in left to the tx records are
// read from l (recordins.go).
func (s *segment) load(l *txLog) (*segData, error) {
	d := &segData{start: s.start, end: s.end, addrStart: s.addrStart, addrEnd: s.addrEnd}
	s.addrh.each(func(h uint32, num uint64) {
		d.addrs = append(d.addrs, hashEnt{hash: uint64(h) << 32, num: s.addrStart + num})
	})
	s.txh.each(func(h uint32, num uint64) {
		d.txids = append(d.txids, hashEnt{hash: uint64(h) << 32, num: s.start + num})
	})
	if s.nTx == 0 && s.end-s.start > 1<<20 {
		return nil, fmt.Errorf("%w: segment %s: txs %d–%d and no txids", errCorrupt, s.path, s.start, s.end)
	}
	d.times = make([]int64, s.end-s.start)
	for n := s.start; n < s.end; n++ {
		d.times[n-s.start] = s.txTime(n)
	}
	ins, err := s.derivedIns(l)
	if err != nil {
		return nil, err
	}
	var ents []segEntry
	err = s.eachGroup(func(id, n, prev uint64, entries []byte) error {
		var derived bool
		var err error
		ents, derived, err = decodeGroup(ents[:0], n, prev, s.end, entries)
		if err == nil && derived {
			d.utxo = true
			err = resolveGroup(ents, func(e *segEntry) (uint256.Int, error) { return ins[[2]uint64{e.txnum, id}], nil })
		}
		if err != nil {
			return fmt.Errorf("segment %s: %w", s.path, err)
		}
		for i := range ents {
			d.addEnt(id, &ents[i])
			if ents[i].sweep {
				d.marks = append(d.marks, make([]uint8, len(d.adj)-len(d.marks))...)
				d.marks[len(d.adj)-1] = markSweep
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.eachSpent(func(e spentEnt) { d.spent = append(d.spent, e) }); err != nil {
		return nil, err
	}
	if d.marks != nil {
		d.marks = append(d.marks, make([]uint8, len(d.adj)-len(d.marks))...)
	}
	// What was read is in address order: only spends and entries appended
	// later are paired (sweeps.go).
	d.freshAdj, d.freshSpent = len(d.adj), len(d.spent)
	return d, nil
}

// addEnt appends an adjacency entry.
func (d *segData) addEnt(addr uint64, e *segEntry) {
	d.addAdj(addr, e.txnum, e.asset, e.nIn, e.nOut, &e.in, &e.out)
}
