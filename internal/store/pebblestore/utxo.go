package pebblestore

// The UTXO set of a UTXO chain lives in memory while the store writes (its
// memory is the set, not the chain), persisted as a snapshot file at a
// segment close once the txs since the last snapshot outnumber the set: the
// set as of the list's utxoAt. Loading it reads the snapshot and replays
// the tx log's records after utxoAt, so a crash loses nothing and the snapshot is
// never ahead of the committed chain.

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/bits"
	"os"
	"slices"

	"github.com/spoor-dev/spoor/internal/model"
)

type outpoint struct {
	id   [32]byte
	vout uint32
}

// utxoSet maps an unspent output to its record: an open-addressing index of
// 8-byte slots (the top 32 bits of the outpoint's hash, then the entry's
// number + 1; 0: an empty slot; linear probing, backward-shift removal)
// over 64-byte entries (the outpoint whole, its record) in fixed pages,
// reused through a free list. An input's spend (take) and an output's
// insert (add) are one probe each, where a Go map needed a lookup and then
// a delete or an assignment. Memory per unspent output is the 64-byte entry
// and 1⅓ to 2⅔ index slots (10.7 to 21.3 bytes) against the Go map's 73
// bytes per slot at a load of 7/16 to 7/8 (83 to 167 bytes). BenchmarkUTXOSet
// at 2²¹ and 3·2²⁰ outputs: 80 and 75 B per output against 160 and 107, and
// a spend plus a create about 3× faster. Pages mean no entry is ever copied
// on growth, so the set never needs twice its size while growing.
type utxoSet struct {
	slotTable     // the index: fingerprint and entry number + 1
	n         int // unspent outputs
	pages     [][]utxoEnt
	used      uint32   // entries handed out (free ones included)
	free      []uint32 // entry numbers to reuse
	sink      uint64   // what the snapshot load's batched slot reads summed (kept so they stay)
	// journal, while an Apply runs (begin … commit or abort), lists the
	// entries it added (journalAdd set) and took, in order: 8 bytes a
	// change, where the outpoint and record (80 bytes) were copied before.
	// A taken entry is left intact and off the free list until commit, so
	// abort puts it back as it was.
	journal    []uint64
	journaling bool
}

const journalAdd = 1 << 32

// utxoEnt is an outpoint and its record in 64 bytes (outpoint and utxoRec
// as they are would take 72 with their padding).
type utxoEnt struct {
	id                 [32]byte
	txNum, addr, value uint64
	vout               uint32
	script             byte
	live               bool // false: on the free list (for each)
}

func (x *utxoEnt) rec() utxoRec {
	return utxoRec{TxNum: x.txNum, Addr: x.addr, Value: x.value, Script: x.script}
}

func (x *utxoEnt) setRec(u *utxoRec) {
	x.txNum, x.addr, x.value, x.script = u.TxNum, u.Addr, u.Value, u.Script
}

const (
	utxoPageBits = 14 // 16,384 entries (1 MiB) per page
	utxoIdxMin   = 1 << 10
	// The index doubles past utxoIdxLoad/8 full: every output added is a
	// probe that ends at an empty slot, read ½(1 + 1/(1−α)²) slots at a load
	// α: 8.5 at ¾, 2.5 at ½ (eight slots per cache line).
	utxoIdxLoad = 6
)

var errUTXOFull = errors.New("pebblestore: more than 2³²−2 unspent outputs in memory")

func newUTXOSet() *utxoSet { return &utxoSet{} }

// utxoHash mixes an outpoint into 64 bits (txids of real chains are
// uniform, but synthetic and test txids need not be).
func utxoHash(op *outpoint) uint64 { return utxoHashOf(txidHash(&op.id), op.vout) }

// utxoHashOf is utxoHash of the outpoint (a txid whose txidHash is th,
// vout).
func utxoHashOf(th uint64, vout uint32) uint64 {
	h := th ^ (uint64(vout)+1)*0x9e3779b97f4a7c15
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>32
}

func (m *utxoSet) len() int {
	if m == nil {
		return 0
	}
	return m.n
}

func (m *utxoSet) ent(e uint32) *utxoEnt {
	return &m.pages[e>>utxoPageBits][e&(1<<utxoPageBits-1)]
}

// find returns the index slot of op (hash h), or the empty slot ending its
// run, with found false.
func (m *utxoSet) find(op *outpoint, h uint64) (i uint64, found bool) {
	fp, mask := h>>32, m.mask()
	for i = m.home(fp); ; i = (i + 1) & mask {
		s := m.slots[i]
		if s == 0 {
			return i, false
		}
		if s>>32 == fp {
			if x := m.ent(uint32(s) - 1); x.id == op.id && x.vout == op.vout {
				return i, true
			}
		}
	}
}

// get returns the record of op.
func (m *utxoSet) get(op outpoint) (utxoRec, bool) {
	if m == nil || m.n == 0 {
		return utxoRec{}, false
	}
	i, ok := m.find(&op, utxoHash(&op))
	if !ok {
		return utxoRec{}, false
	}
	return m.ent(uint32(m.slots[i]) - 1).rec(), true
}

// add inserts op, unless it is there already (ok false).
func (m *utxoSet) add(op outpoint, u utxoRec) (ok bool, err error) {
	return m.addHash(op, utxoHash(&op), u)
}

// addHash is add of op whose utxoHash is h.
func (m *utxoSet) addHash(op outpoint, h uint64, u utxoRec) (ok bool, err error) {
	if (m.n+1)*8 > len(m.slots)*utxoIdxLoad {
		m.grow(utxoIdxMin)
	}
	i, found := m.find(&op, h)
	if found {
		return false, nil
	}
	var e uint32
	if k := len(m.free); k > 0 {
		e, m.free = m.free[k-1], m.free[:k-1]
	} else {
		if m.used == 1<<32-2 {
			return false, errUTXOFull
		}
		e = m.used
		m.used++
		if int(e>>utxoPageBits) == len(m.pages) {
			m.addPages()
		}
	}
	x := m.ent(e)
	x.id, x.vout, x.live = op.id, op.vout, true
	x.setRec(&u)
	m.slots[i] = h>>32<<32 | uint64(e+1)
	m.n++
	if m.journaling {
		m.journal = append(m.journal, journalAdd|uint64(e))
	}
	return true, nil
}

// addPages adds as many pages as the set has, at least one and at most
// utxoChunkPages, in one array: an array of pages can be backed by huge
// pages (hugeArray), a single 1 MiB page cannot.
func (m *utxoSet) addPages() {
	n := min(max(len(m.pages), 1), utxoChunkPages)
	chunk := make([]utxoEnt, n<<utxoPageBits)
	hugeArray(chunk)
	for i := range n {
		m.pages = append(m.pages, chunk[i<<utxoPageBits:(i+1)<<utxoPageBits:(i+1)<<utxoPageBits])
	}
}

// utxoChunkPages bounds the pages addPages adds at once (32 MiB).
const utxoChunkPages = 32

// set inserts op or replaces its record.
func (m *utxoSet) set(op outpoint, u utxoRec) error {
	if m.n > 0 {
		if i, ok := m.find(&op, utxoHash(&op)); ok {
			m.ent(uint32(m.slots[i]) - 1).setRec(&u)
			return nil
		}
	}
	_, err := m.add(op, u)
	return err
}

// take removes op and returns its record.
func (m *utxoSet) take(op outpoint) (utxoRec, bool) {
	if m == nil || m.n == 0 {
		return utxoRec{}, false
	}
	return m.takeHash(op, utxoHash(&op))
}

// takeHash is take of op whose utxoHash is h.
func (m *utxoSet) takeHash(op outpoint, h uint64) (utxoRec, bool) {
	if m == nil || m.n == 0 {
		return utxoRec{}, false
	}
	i, ok := m.find(&op, h)
	if !ok {
		return utxoRec{}, false
	}
	e := uint32(m.slots[i]) - 1
	x := m.ent(e)
	u := x.rec()
	x.live = false
	if m.journaling {
		m.journal = append(m.journal, uint64(e))
	} else {
		m.free = append(m.free, e)
	}
	m.n--
	m.clear(i)
	return u, true
}

// del removes op if it is there.
func (m *utxoSet) del(op outpoint) { m.take(op) }

// each calls fn for every unspent output, in no particular order.
func (m *utxoSet) each(fn func(op *outpoint, u *utxoRec)) {
	if m == nil {
		return
	}
	for e := uint32(0); e < m.used; e++ {
		if x := m.ent(e); x.live {
			op, u := outpoint{x.id, x.vout}, x.rec()
			fn(&op, &u)
		}
	}
}

// A snapshot file holds the set as of the segment list's utxoAt by
// outpoint alone, keyed by tx number: the tx log holds every tx's txid and
// outputs, so loading reads the records of the txs with unspent outputs in
// tx-number order (one sequential pass, each group checked) and takes the
// txid and the output's address, value and script from there.
//
//	"SPUTXO02"
//	uvarint  at         the tx number the set is as of (the list's utxoAt)
//	uvarint  count      outputs
//	count ×  uvarint(d<<2 | min(v, 3)) [uvarint(v − 3) when v ≥ 3], in
//	         (tx number, index) order: d the tx number minus the previous
//	         output's (0 before the first), v the output index, or, when d
//	         is 0, the index minus the previous index minus 1
//	u32      CRC-32C of the bytes before it, big-endian
//	"SPUTXO02"
//
// About 1.1 bytes an output, where layout 6's snapshot ("SPUTXO01") took
// 44: the txid, the index and the record whole.
const (
	utxoMagic   = "SPUTXO02"
	utxoMagicV1 = "SPUTXO01" // layout 6's snapshot; Digest hashes each output in its form
)

// utxoKey is an unspent output by tx number and output index.
type utxoKey struct {
	tx   uint64
	vout uint32
}

// utxoSnapshotKeys collects the set, with overlay applied (a nil overlay
// value deletes the output), as the keys of a snapshot, unsorted (cheap
// enough to take while the store waits; encodeUTXOSnapshot sorts them).
func utxoSnapshotKeys(m *utxoSet, overlay map[outpoint]*utxoRec) []utxoKey {
	keys := make([]utxoKey, 0, m.len()+len(overlay))
	m.each(func(op *outpoint, u *utxoRec) {
		if _, ok := overlay[*op]; !ok {
			keys = append(keys, utxoKey{u.TxNum, op.vout})
		}
	})
	for op, u := range overlay {
		if u != nil {
			keys = append(keys, utxoKey{u.TxNum, op.vout})
		}
	}
	return keys
}

// sortUTXOKeys sorts keys by tx number and index: a radix sort of packed
// keys where tx numbers fit 40 bits and indexes 24 (always, in practice),
// else a comparison sort.
func sortUTXOKeys(keys []utxoKey) {
	fit := true
	for _, k := range keys {
		if k.tx >= 1<<40 || k.vout >= 1<<24 {
			fit = false
			break
		}
	}
	if !fit {
		slices.SortFunc(keys, func(a, b utxoKey) int {
			if c := cmp.Compare(a.tx, b.tx); c != 0 {
				return c
			}
			return cmp.Compare(a.vout, b.vout)
		})
		return
	}
	packed := make([]uint64, len(keys))
	maxTx := uint64(0)
	for i, k := range keys {
		packed[i] = k.tx<<24 | uint64(k.vout)
		maxTx = max(maxTx, k.tx)
	}
	radixSort(packed, 0, 24+uint(bits.Len64(maxTx)))
	for i, p := range packed {
		keys[i] = utxoKey{p >> 24, uint32(p & (1<<24 - 1))}
	}
}

// encodeUTXOSnapshot sorts keys (outputs of txs before at) and writes them
// as a snapshot as of tx number at.
func encodeUTXOSnapshot(keys []utxoKey, at uint64) ([]byte, error) {
	sortUTXOKeys(keys)
	b := make([]byte, 0, 32+len(keys)*5/4)
	b = append(b, utxoMagic...)
	b = putUvarint(b, at)
	b = putUvarint(b, uint64(len(keys)))
	var prev utxoKey
	for i, k := range keys {
		if k.tx == 0 || k.tx >= at || k.tx >= 1<<62 || i > 0 && k == prev {
			return nil, fmt.Errorf("pebblestore: UTXO snapshot as of tx %d: output %d of tx %d cannot be in it", at, k.vout, k.tx)
		}
		d, v := k.tx-prev.tx, uint64(k.vout)
		if d == 0 {
			v -= uint64(prev.vout) + 1
		}
		b = putUvarint(b, d<<2|min(v, 3))
		if v >= 3 {
			b = putUvarint(b, v-3)
		}
		prev = k
	}
	return sealUTXOSnapshot(b, utxoMagic), nil
}

// appendUTXOEnt appends one output as layout 6's snapshot held it (Digest
// hashes the set in this form).
func appendUTXOEnt(b []byte, op *outpoint, u *utxoRec) []byte {
	b = append(b, op.id[:]...)
	b = putUvarint(b, uint64(op.vout))
	b = putUvarint(b, u.TxNum)
	b = putUvarint(b, u.Addr)
	b = putUvarint(b, u.Value)
	return append(b, u.Script)
}

// sealUTXOSnapshot ends a snapshot begun with magic: checksum, magic.
func sealUTXOSnapshot(b []byte, magic string) []byte {
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	return append(b, magic...)
}

// utxoSnapReader reads the outputs of a snapshot in order.
type utxoSnapReader struct {
	r     reader
	path  string
	at    uint64 // the tx number the set is as of
	left  uint64 // outputs not yet read
	prev  utxoKey
	first bool
}

// openUTXOSnapshot checks a snapshot's magic and checksum and returns a
// reader of its outputs.
func openUTXOSnapshot(data []byte, path string) (*utxoSnapReader, error) {
	bad := func(what string) error { return fmt.Errorf("%w: UTXO snapshot %s: %s", errCorrupt, path, what) }
	if len(data) < 2*len(utxoMagic)+4 || !bytes.HasPrefix(data, []byte(utxoMagic)) || !bytes.HasSuffix(data, []byte(utxoMagic)) {
		return nil, bad("bad magic")
	}
	body := data[:len(data)-len(utxoMagic)-4]
	if binary.BigEndian.Uint32(data[len(body):]) != crc32.Checksum(body, castagnoli) {
		return nil, bad("checksum mismatch")
	}
	sr := &utxoSnapReader{r: reader{b: body[len(utxoMagic):]}, path: path, first: true}
	sr.at = sr.r.uvarint()
	sr.left = sr.r.uvarint()
	if sr.r.err == nil && sr.left > uint64(len(sr.r.b)) {
		sr.r.fail("output count past the file's end")
	}
	if sr.r.err != nil {
		return nil, bad(sr.r.err.Error())
	}
	return sr, nil
}

// next returns the next output, ok false after the last (an error if bytes
// are left over).
func (sr *utxoSnapReader) next() (k utxoKey, ok bool, err error) {
	if sr.left == 0 {
		if len(sr.r.b) > 0 {
			return k, false, fmt.Errorf("%w: UTXO snapshot %s: %d bytes after the last output", errCorrupt, sr.path, len(sr.r.b))
		}
		return k, false, nil
	}
	x := sr.r.uvarint()
	v := x & 3
	if v == 3 {
		if v += sr.r.uvarint(); v > 0xffffffff {
			sr.r.fail("output index past 32 bits")
		}
	}
	d := x >> 2
	if d == 0 && !sr.first {
		v += uint64(sr.prev.vout) + 1
	}
	k = utxoKey{sr.prev.tx + d, uint32(v)}
	switch {
	case sr.r.err != nil:
		return k, false, fmt.Errorf("UTXO snapshot %s: %w", sr.path, sr.r.err)
	case k.tx == 0 || k.tx >= sr.at || k.tx < sr.prev.tx || v > 0xffffffff:
		return k, false, fmt.Errorf("%w: UTXO snapshot %s: output %d of tx %d out of order or range (as of tx %d)", errCorrupt, sr.path, v, k.tx, sr.at)
	}
	sr.prev, sr.first = k, false
	sr.left--
	return k, true, nil
}

// loadUTXOSnapshot builds the set a snapshot holds, as of tx number at (the
// list's utxoAt), taking each output's txid and record from the tx log.
func loadUTXOSnapshot(data []byte, path string, at uint64, log *txLog) (*utxoSet, error) {
	sr, err := openUTXOSnapshot(data, path)
	if err != nil {
		return nil, err
	}
	if sr.at != at {
		return nil, fmt.Errorf("%w: UTXO snapshot %s holds the set as of tx %d, the segment list names it as of tx %d", errCorrupt, path, sr.at, at)
	}
	m := newUTXOSet()
	if sr.left > 0 {
		m.grow(1 << bits.Len64(min(sr.left, 1<<32)*8/utxoIdxLoad))
	}
	log.mu.RLock()
	defer log.mu.RUnlock()
	if at > log.next {
		return nil, fmt.Errorf("%w: UTXO snapshot %s as of tx %d, past the tx log's end (%d)", errCorrupt, path, at, log.next)
	}
	// Two goroutines, as the loading process has nothing else to do: this
	// one reads the snapshot and the log records it names and hands the
	// outputs over in batches; the other inserts them, a batch at a time:
	// their index slots are read first, in a loop of independent reads
	// (many cache misses in flight, as in prefetch.go), then inserted
	// (each insert had waited out its own miss: the table is sized for the
	// whole set at once).
	type pend struct {
		op outpoint
		u  utxoRec
		h  uint64
	}
	const batchLen = 256
	full, free := make(chan []pend, 4), make(chan []pend, 6)
	for range cap(free) {
		free <- make([]pend, 0, batchLen)
	}
	var insErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		var sink uint64
		for batch := range full {
			if insErr == nil {
				for i := range batch {
					sink += m.slots[m.home(batch[i].h>>32)]
				}
				for i := range batch {
					x := &batch[i]
					added, err := m.addHash(x.op, x.h, x.u)
					if err != nil {
						insErr = fmt.Errorf("UTXO snapshot %s: %w", path, err)
						break
					}
					if !added {
						insErr = fmt.Errorf("%w: UTXO snapshot %s: output %d of tx %d is there twice (txid %x)", errCorrupt, path, x.op.vout, x.u.TxNum, x.op.id)
						break
					}
				}
			}
			free <- batch[:0]
		}
		m.sink = sink
	}()
	err = func() error {
		defer close(full)
		c := log.cursor(txScanWindow, false)
		var id [32]byte
		var th uint64 // txidHash(&id)
		var outs []outRec
		cur := uint64(0)
		batch := <-free
		for {
			k, ok, err := sr.next()
			if err != nil {
				return err
			}
			if !ok {
				full <- batch
				return nil
			}
			if k.tx != cur {
				v, g, err := c.rec(k.tx)
				if err == nil {
					id, outs, err = logRecOutputs(v, k.tx, g, outs)
				}
				if err != nil {
					return fmt.Errorf("UTXO snapshot %s: tx %d: %w", path, k.tx, err)
				}
				cur, th = k.tx, txidHash(&id)
			}
			if int64(k.vout) >= int64(len(outs)) {
				return fmt.Errorf("%w: UTXO snapshot %s names output %d of tx %d, which has %d", errCorrupt, path, k.vout, k.tx, len(outs))
			}
			o := &outs[k.vout]
			batch = append(batch, pend{outpoint{id, k.vout}, utxoRec{TxNum: k.tx, Addr: o.Addr, Value: o.Value, Script: o.Script}, utxoHashOf(th, k.vout)})
			if len(batch) == batchLen {
				full <- batch
				batch = <-free
			}
		}
	}()
	<-done
	if err == nil {
		err = insErr
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// ensureUTXO loads the chain's UTXO set into memory. Callers hold s.mu.
func (s *Store) ensureUTXO(c model.Chain, st *chainState) error {
	if st.utxo != nil {
		return nil
	}
	m := newUTXOSet()
	if f := st.seg.list.utxoFile; f != 0 {
		p := utxoPath(s.dir, c, f)
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("pebblestore: %w", err)
		}
		if m, err = loadUTXOSnapshot(data, p, st.seg.list.utxoAt, st.log); err != nil {
			return err
		}
	}
	recs := map[uint64]*txRec{}
	err := st.log.scan(st.seg.list.utxoAt, st.meta.NextTx, func(n uint64, rec *txRec) error {
		if err := s.resolveInputs(c, rec, recs); err != nil {
			return fmt.Errorf("chain %s tx %d: %w", c, n, err)
		}
		cacheRec(recs, n, rec) // recent outputs are spent soonest
		for _, in := range rec.Inputs {
			m.del(outpoint{in.PrevID, in.PrevIndex})
		}
		for i, o := range rec.Outputs {
			if err := m.set(outpoint{rec.ID, uint32(i)}, utxoRec{TxNum: n, Addr: o.Addr, Value: o.Value, Script: o.Script}); err != nil {
				return fmt.Errorf("chain %s tx %d: %w", c, n, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	st.utxo = m
	return nil
}

// begin starts journaling the set's changes (an Apply's), which commit
// keeps and abort undoes.
func (m *utxoSet) begin() {
	m.journal = m.journal[:0]
	m.journaling = true
}

// commit keeps the journaled changes: the entries taken become free.
func (m *utxoSet) commit() {
	for _, j := range m.journal {
		if j&journalAdd == 0 {
			m.free = append(m.free, uint32(j))
		}
	}
	m.journal = m.journal[:0]
	m.journaling = false
}

// abort undoes the journaled changes, newest first: an added entry is
// taken out and freed, a taken one (intact, since it was not reused) goes
// back in.
func (m *utxoSet) abort() {
	m.journaling = false
	for k := len(m.journal) - 1; k >= 0; k-- {
		j := m.journal[k]
		e := uint32(j)
		x := m.ent(e)
		op := outpoint{x.id, x.vout}
		h := utxoHash(&op)
		if j&journalAdd != 0 {
			i, ok := m.find(&op, h)
			if !ok || uint32(m.slots[i])-1 != e {
				panic("pebblestore: UTXO journal names an entry the set does not hold")
			}
			x.live = false
			m.free = append(m.free, e)
			m.n--
			m.clear(i)
			continue
		}
		i, found := m.find(&op, h)
		if found {
			panic("pebblestore: UTXO journal puts back an output the set holds")
		}
		x.live = true
		m.slots[i] = h>>32<<32 | uint64(e+1)
		m.n++
	}
	m.journal = m.journal[:0]
}
