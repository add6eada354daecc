package pebblestore

// Record logs: a chain's address bytes by id (seg/<chain>.addr) and its
// block records in ingest order (seg/<chain>.blocks), each an append-only
// file of numbered records (record r is the r-th appended, from 0; address
// id = r+1), each framed (appendFrame) by its length, or, where its first
// byte implies it, by nothing. Until layout 5 these
// were Pebble's `i`, `b` and `o` tables: three streams of keys that only
// ever arrive in order, interleaved in one LSM, so that every memtable
// flush overlapped the one before and Pebble compacted what it had just
// written (a quarter of the CPU of a sparse Tron ingest).
//
// The commit protocol is the tx log's (txlog.go): an Apply appends its
// records to the log's pending buffer, writes them at the committed end and
// syncs them, and then commits the Pebble batch whose chain meta names the
// new end and record count: the meta is the commit point. On open the file
// is cut to that end, so a torn or uncommitted tail vanishes; a file
// shorter than the meta says is damage and an error naming it. Undo commits
// the meta with the kept end, then truncates.
//
// A sparse index (the offset of every recStride-th record and the CRC-32C
// of the group of records before it; for the block log also the lowest and
// highest height of that group) finds a record with one pread of its group,
// whose checksum is checked on every read; the last, open group is checked
// against a CRC kept in memory. The index lives in memory and in
// seg/<chain>.addridx or .blkidx (fixed-size big-endian entries); the file
// is written and synced by the Apply that has accumulated recIdxSyncEvery
// new entries, before the meta naming the count of durable entries
// commits. On open the durable entries are read and the rest of the index
// is rebuilt by scanning the records after them, which checks that they
// frame and that there are as many as the meta says.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// recStride: the index keeps the offset of records 0, stride, 2·stride…
const recStride = 32

// recIdxSyncEvery: an Apply writes and syncs the index file once this many
// entries are not yet durable (so an open scans at most about
// recIdxSyncEvery·recStride records to rebuild the rest). The default of
// Options.LogIndexEvery.
var recIdxSyncEvery = 1024 // a variable so that tests can sync often

// recEnt is an index entry: where group k starts, and for group k−1 its
// CRC-32C and (block log) its lowest and highest height. Entry 0 is zero.
type recEnt struct {
	off    uint64
	crc    uint32
	lo, hi uint64
}

// recLog is one append-only record log.
type recLog struct {
	name          string // "address log" or "block log", for errors
	path, idxPath string
	// heights: the records are blocks; entries carry their groups' heights
	// and the log answers lookups by height (byHeight).
	heights bool
	keyOf   func(rec []byte) (h uint64, hash [32]byte, err error)
	// syncEvery: see recIdxSyncEvery.
	syncEvery int

	// mu guards the fields below against readers that do not hold the
	// store's mutex. Every change happens under the store's mutex too.
	cache groupCache // complete groups, checked
	mu    sync.RWMutex
	f     *os.File // nil until the first record is written
	end   uint64   // committed bytes
	n     uint64   // committed records
	// idx[k] for every group k with k·recStride < n (16 bytes in memory
	// per 32 records; the heights of a block log's groups are in groups).
	idx     []idxEnt
	durable int // idx entries written and synced to the index file
	// The open (last) group: CRC-32C of its committed bytes, its heights.
	ocrc     uint32
	olo, ohi uint64
	// last: the last record's block hash (block log: a record elides its
	// parent hash when it is the previous record's in the same group).
	last [32]byte
	// groups: the complete groups' heights (block log).
	groups spanIndex

	// The running Apply's records, not yet written (the writer's alone,
	// under the store's mutex).
	pend     []byte
	pn       uint64
	pidx     []recEnt
	pcrc     uint32
	pcrcAt   int // pcrc covers the group's pending bytes before pend[pcrcAt:] (see crc)
	plo, phi uint64
	plast    [32]byte
	pdurable int // durable entries once the pending write is committed
}

const recEntLen = 12 // offset u64, CRC u32; +16 for heights

func (l *recLog) entLen() int {
	if l.heights {
		return recEntLen + 16
	}
	return recEntLen
}

// recIdxLen is the number of index entries for n records.
func recIdxLen(n uint64) int { return int((n + recStride - 1) / recStride) }

func addrLogPaths(root string, c model.Chain) (string, string) {
	return filepath.Join(segDir(root), c.String()+".addr"), filepath.Join(segDir(root), c.String()+".addridx")
}

func blockLogPaths(root string, c model.Chain) (string, string) {
	return filepath.Join(segDir(root), c.String()+".blocks"), filepath.Join(segDir(root), c.String()+".blkidx")
}

// openAddrLog opens chain c's address log as committed by meta m.
func openAddrLog(root string, c model.Chain, m *meta) (*recLog, error) {
	p, ip := addrLogPaths(root, c)
	l := &recLog{name: "address log", path: p, idxPath: ip}
	return l, l.open(m.AddrEnd, m.NextAddr-1, m.AddrIdx)
}

// openBlockLog opens chain c's block log as committed by meta m.
func openBlockLog(root string, c model.Chain, m *meta) (*recLog, error) {
	p, ip := blockLogPaths(root, c)
	l := &recLog{name: "block log", path: p, idxPath: ip, heights: true, keyOf: blockRecKey}
	return l, l.open(m.BlockEnd, m.Blocks, m.BlockIdx)
}

// open opens the file, cuts it to end, reads the durable index entries and
// rebuilds the rest by scanning the records after them.
func (l *recLog) open(end, n uint64, durable int) error {
	l.end, l.n = end, n
	l.olo, l.ohi = math.MaxUint64, 0
	if (n == 0) != (end == 0) || durable > recIdxLen(n) {
		return fmt.Errorf("%w: %s %s: the meta claims %d records in %d bytes with %d durable index entries", errCorrupt, l.name, l.path, n, end, durable)
	}
	f, err := os.OpenFile(l.path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		if end == 0 {
			return nil // created by the first Apply
		}
		return fmt.Errorf("%w: %s %s is missing; the chain holds %d bytes of it", errCorrupt, l.name, l.path, end)
	}
	if err != nil {
		return fmt.Errorf("pebblestore: open %s: %w", l.name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("pebblestore: %s %s: %w", l.name, l.path, err)
	}
	switch size := uint64(fi.Size()); {
	case size < end:
		f.Close()
		return fmt.Errorf("%w: %s %s holds %d bytes, the chain committed %d (the file was truncated or replaced)", errCorrupt, l.name, l.path, size, end)
	case size > end:
		// An Apply that wrote its records but never committed them.
		if err := f.Truncate(int64(end)); err != nil {
			f.Close()
			return fmt.Errorf("pebblestore: cut %s %s to its committed end: %w", l.name, l.path, err)
		}
	}
	l.f = f
	if err := l.loadIdx(durable); err != nil {
		f.Close()
		l.f = nil
		return err
	}
	return nil
}

// loadIdx reads the durable index entries and scans the records from the
// last of them to the end, adding the entries after it.
func (l *recLog) loadIdx(durable int) error {
	el := l.entLen()
	l.idx, l.durable, l.groups = nil, 0, spanIndex{}
	if durable > 0 {
		data, err := os.ReadFile(l.idxPath)
		if err != nil {
			return fmt.Errorf("%w: %s index: %w", errCorrupt, l.name, err)
		}
		if len(data) < el*durable {
			return fmt.Errorf("%w: %s index %s holds %d entries, the chain committed %d", errCorrupt, l.name, l.idxPath, len(data)/el, durable)
		}
		l.idx = make([]idxEnt, durable, durable+durable/8+16)
		for k := range l.idx {
			e := data[el*k:]
			x := recEnt{off: binary.BigEndian.Uint64(e), crc: binary.BigEndian.Uint32(e[8:])}
			if l.heights {
				x.lo, x.hi = binary.BigEndian.Uint64(e[12:]), binary.BigEndian.Uint64(e[20:])
			}
			if k == 0 && x != (recEnt{}) || k > 0 && (x.off <= l.idx[k-1].off || x.lo > x.hi) || x.off >= l.end {
				return fmt.Errorf("%w: %s index %s: entry %d (offset %d) is out of order or past the end %d", errCorrupt, l.name, l.idxPath, k, x.off, l.end)
			}
			l.idx[k] = idxEnt{off: x.off, crc: x.crc}
			if l.heights && k > 0 {
				l.groups.byK = append(l.groups.byK, [2]uint64{x.lo, x.hi})
			}
		}
		l.durable = durable
	}
	// Scan the last durable group and everything after it (at most about
	// recIdxSyncEvery groups: read at once).
	var r, off uint64
	if durable > 0 {
		r, off = uint64(durable-1)*recStride, l.idx[durable-1].off
	}
	start := r
	tail := make([]byte, l.end-off)
	if _, err := l.f.ReadAt(tail, int64(off)); err != nil {
		return fmt.Errorf("pebblestore: read %s %s at %d: %w", l.name, l.path, off, err)
	}
	var crc uint32
	lo, hi := uint64(math.MaxUint64), uint64(0)
	for p := uint64(0); p < uint64(len(tail)); r++ {
		rec, next, err := l.frame(tail, p, off)
		if err != nil {
			return fmt.Errorf("%w (record %d)", err, r)
		}
		if r%recStride == 0 && r != start {
			l.idx = append(l.idx, idxEnt{off: off + p, crc: crc})
			if l.heights {
				l.groups.byK = append(l.groups.byK, [2]uint64{lo, hi})
			}
			crc, lo, hi = 0, math.MaxUint64, 0
		} else if r == 0 {
			l.idx = append(l.idx, idxEnt{})
		}
		crc = crc32.Update(crc, castagnoli, tail[p:next])
		if l.heights {
			h, hash, err := l.keyOf(rec)
			if err != nil {
				return fmt.Errorf("%s %s record %d (offset %d): %w", l.name, l.path, r, off+p, err)
			}
			lo, hi, l.last = min(lo, h), max(hi, h), hash
		}
		p = next
	}
	if r != l.n {
		return fmt.Errorf("%w: %s %s holds %d records, the chain committed %d", errCorrupt, l.name, l.path, r, l.n)
	}
	l.ocrc, l.olo, l.ohi = crc, lo, hi
	if l.heights {
		l.groups.truncate(max(len(l.idx)-1, 0))
	}
	return nil
}

func (l *recLog) close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// begin starts an Apply's pending records.
func (l *recLog) begin() {
	l.pend, l.pn, l.pidx = l.pend[:0], 0, l.pidx[:0]
	l.pcrc, l.plo, l.phi, l.plast = l.ocrc, l.olo, l.ohi, l.last
	l.pcrcAt = 0
	l.pdurable = l.durable
}

// crc is the CRC-32C of the pending last group's records: it is brought
// up to date here, over all the records added since, not record by
// record (a call per 20-byte address record cost more than its bytes).
func (l *recLog) crc() uint32 {
	l.pcrc = crc32.Update(l.pcrc, castagnoli, l.pend[l.pcrcAt:])
	l.pcrcAt = len(l.pend)
	return l.pcrc
}

// prevInGroup is the hash of the pending last block when the next record
// is not the first of its group (block log), else nil.
func (l *recLog) prevInGroup() *[32]byte {
	if r := l.n + l.pn; r%recStride == 0 {
		return nil
	}
	return &l.plast
}

// add appends a record (of height h and hash, for the block log) to the
// pending ones.
func (l *recLog) add(rec []byte, h uint64, hash *[32]byte) {
	r := l.n + l.pn
	if r%recStride == 0 {
		e := recEnt{off: l.end + uint64(len(l.pend))}
		if r > 0 {
			e.crc = l.crc()
			if l.heights {
				e.lo, e.hi = l.plo, l.phi
			}
		}
		l.pidx = append(l.pidx, e)
		l.pcrc, l.pcrcAt, l.plo, l.phi = 0, len(l.pend), math.MaxUint64, 0
	}
	l.pend = appendFrame(l.pend, rec)
	l.plo, l.phi = min(l.plo, h), max(l.phi, h)
	if hash != nil {
		l.plast = *hash
	}
	l.pn++
}

// pending is the end and record count once the pending records commit.
func (l *recLog) pending() (end, n uint64) { return l.end + uint64(len(l.pend)), l.n + l.pn }

// write writes the pending records at the committed end and, when sync is
// set, syncs them (a pipelined Apply leaves that to its commit job),
// and the index file when enough entries are not yet durable; the end
// moves only with commit, after the meta that names it is committed.
func (l *recLog) write(sync bool) error {
	if l.pn == 0 {
		return nil
	}
	if l.f == nil {
		f, err := createSynced(l.path)
		if err != nil {
			return fmt.Errorf("pebblestore: create %s: %w", l.name, err)
		}
		l.mu.Lock()
		l.f = f
		l.mu.Unlock()
	}
	if _, err := l.f.WriteAt(l.pend, int64(l.end)); err != nil {
		return fmt.Errorf("pebblestore: write %s %s: %w", l.name, l.path, err)
	}
	if sync {
		if err := l.syncData(); err != nil {
			return err
		}
	}
	if len(l.idx)+len(l.pidx)-l.durable >= max(l.syncEvery, 1) {
		return l.syncIdx()
	}
	return nil
}

// syncData makes what write wrote durable (a pipelined Apply's commit job
// calls it; write does when asked to sync).
func (l *recLog) syncData() error {
	if err := datasync(l.f); err != nil {
		return fmt.Errorf("pebblestore: sync %s %s: %w", l.name, l.path, err)
	}
	return nil
}

// createSynced creates path (and its directory) and syncs the directory.
func createSynced(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// syncIdx writes every index entry, committed and pending, past the
// durable ones to the index file and syncs it; pdurable names them for the
// meta.
func (l *recLog) syncIdx() error {
	el := l.entLen()
	all := len(l.idx) + len(l.pidx)
	from := l.durable
	b := make([]byte, 0, el*(all-from))
	for k := from; k < all; k++ {
		e := l.entry(k)
		b = binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(b, e.off), e.crc)
		if l.heights {
			b = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(b, e.lo), e.hi)
		}
	}
	_, statErr := os.Stat(l.idxPath)
	f, err := os.OpenFile(l.idxPath, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("pebblestore: %s index: %w", l.name, err)
	}
	_, err = f.WriteAt(b, int64(el*from))
	if err == nil {
		err = f.Truncate(int64(el * all))
	}
	if err == nil {
		err = datasync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && statErr != nil {
		err = syncDir(filepath.Dir(l.idxPath))
	}
	if err != nil {
		return fmt.Errorf("pebblestore: write %s index %s: %w", l.name, l.idxPath, err)
	}
	l.pdurable = all
	return nil
}

// entry is index entry k, committed or pending. The writer's alone.
func (l *recLog) entry(k int) recEnt {
	if k >= len(l.idx) {
		return l.pidx[k-len(l.idx)]
	}
	e := recEnt{off: l.idx[k].off, crc: l.idx[k].crc}
	if l.heights && k > 0 {
		e.lo, e.hi = l.groups.byK[k-1][0], l.groups.byK[k-1][1]
	}
	return e
}

// commit makes the pending records part of the log, after the meta naming
// them is committed.
func (l *recLog) commit() {
	if l.pn == 0 {
		return
	}
	l.mu.Lock()
	l.end += uint64(len(l.pend))
	l.n += l.pn
	for _, e := range l.pidx {
		if l.heights && len(l.idx) > 0 {
			// The group before e is complete.
			l.groups.add(e.lo, e.hi)
		}
		l.idx = append(l.idx, idxEnt{off: e.off, crc: e.crc})
	}
	l.ocrc, l.olo, l.ohi, l.last = l.crc(), l.plo, l.phi, l.plast
	l.durable = l.pdurable
	l.mu.Unlock()
	l.pend, l.pn, l.pidx = l.pend[:0], 0, l.pidx[:0]
	if cap(l.pend) > 16<<20 {
		l.pend = nil
	}
}

// offset returns the offset of record r (r ≤ n; the end for n).
func (l *recLog) offset(r uint64) (uint64, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if r > l.n {
		return 0, fmt.Errorf("pebblestore: %s %s: record %d is past the end (%d)", l.name, l.path, r, l.n)
	}
	if r == l.n {
		return l.end, nil
	}
	g, err := l.group(r/recStride, nil)
	if err != nil {
		return 0, err
	}
	base := l.idx[r/recStride].off
	off := uint64(0)
	for i := uint64(0); i < r%recStride; i++ {
		_, next, err := l.frame(g, off, base)
		if err != nil {
			return 0, err
		}
		off = next
	}
	return base + off, nil
}

// truncate drops the records from r on (at offset off), after an undo
// committed the meta that ends the log there. The file is cut too; should
// that fail, the bytes past the end are overwritten by the next Apply or
// cut at the next open, and never read.
func (l *recLog) truncate(r, off uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r >= l.n {
		return nil
	}
	l.cache.clear()
	l.end, l.n = off, r
	l.idx = l.idx[:recIdxLen(r)]
	l.durable = min(l.durable, len(l.idx))
	l.ocrc, l.olo, l.ohi = 0, math.MaxUint64, 0
	if l.heights {
		l.groups.truncate(max(len(l.idx)-1, 0))
	}
	if l.f != nil {
		l.f.Truncate(int64(off))
	}
	if k := len(l.idx) - 1; k >= 0 {
		// The open group's CRC, heights and last hash, from its kept
		// records (read unchecked: the entry that held its CRC is gone).
		a := l.idx[k].off
		g := make([]byte, off-a)
		if _, err := l.f.ReadAt(g, int64(a)); err != nil {
			return fmt.Errorf("pebblestore: read %s %s at %d: %w", l.name, l.path, a, err)
		}
		l.ocrc = crc32.Checksum(g, castagnoli)
		for p := uint64(0); p < uint64(len(g)); {
			rec, next, err := l.frame(g, p, a)
			if err != nil {
				return err
			}
			if l.heights {
				h, hash, err := l.keyOf(rec)
				if err != nil {
					return err
				}
				l.olo, l.ohi, l.last = min(l.olo, h), max(l.ohi, h), hash
			}
			p = next
		}
	}
	return nil
}

// group reads group k's bytes and checks them against their checksum.
// Callers hold l.mu.
func (l *recLog) group(k uint64, buf []byte) ([]byte, error) {
	if k >= uint64(len(l.idx)) {
		return nil, fmt.Errorf("pebblestore: %s %s: no group %d", l.name, l.path, k)
	}
	a, b, want := l.idx[k].off, l.end, l.ocrc
	if k+1 < uint64(len(l.idx)) {
		b, want = l.idx[k+1].off, l.idx[k+1].crc
	}
	if b <= a || b > l.end {
		return nil, fmt.Errorf("%w: %s %s: index entry %d past the end", errCorrupt, l.name, l.path, k+1)
	}
	complete := k+1 < uint64(len(l.idx))
	if complete {
		if g, ok := l.cache.get(k, buf[:0]); ok {
			return g, nil
		}
	}
	if uint64(cap(buf)) < b-a {
		buf = make([]byte, b-a)
	}
	buf = buf[:b-a]
	if _, err := l.f.ReadAt(buf, int64(a)); err != nil {
		return nil, fmt.Errorf("pebblestore: read %s %s at %d: %w", l.name, l.path, a, err)
	}
	if crc32.Checksum(buf, castagnoli) != want {
		last := min((k+1)*recStride, l.n) - 1
		return nil, fmt.Errorf("%w: %s %s: records %d-%d (bytes %d-%d) fail their checksum", errCorrupt, l.name, l.path, k*recStride, last, a, b)
	}
	if complete {
		l.cache.put(k, buf)
	}
	return buf, nil
}

// A record is framed (layout 7) by uvarint(length + frameImplied), or,
// when its first byte b is below frameImplied and impliedLen[b] is its
// length, by nothing: a Bitcoin address's kind byte says how long it is
// (21 bytes for P2PKH, P2SH and P2WPKH, 33 for P2WSH, P2TR and script
// hashes), which saves the length byte of 22 an address. Any record
// frames either way (the implied form only where it holds exactly), so
// the frame needs no knowledge of the chain.
const frameImplied = 16

var impliedLen = [frameImplied]byte{
	model.ScriptP2PKH: 21, model.ScriptP2SH: 21, model.ScriptP2WPKH: 21,
	model.ScriptP2WSH: 33, model.ScriptP2TR: 33, model.ScriptNonStandard: 33,
}

// appendFrame appends rec, framed, to b.
func appendFrame(b, rec []byte) []byte {
	if len(rec) > 0 && rec[0] < frameImplied && int(impliedLen[rec[0]]) == len(rec) {
		return append(b, rec...)
	}
	return append(binary.AppendUvarint(b, uint64(len(rec))+frameImplied), rec...)
}

// frame returns the record at offset p of group bytes g (whose file offset
// is base) and the offset after it.
func (l *recLog) frame(g []byte, p, base uint64) (rec []byte, next uint64, err error) {
	if p < uint64(len(g)) && g[p] < frameImplied {
		if n := uint64(impliedLen[g[p]]); n > 0 && n <= uint64(len(g))-p {
			return g[p : p+n], p + n, nil
		}
	} else if v, k := binary.Uvarint(g[p:]); k > 0 && v-frameImplied <= uint64(len(g))-p-uint64(k) {
		// (v ≥ frameImplied: a first byte of at least frameImplied)
		v -= frameImplied
		return g[p+uint64(k) : p+uint64(k)+v], p + uint64(k) + v, nil
	}
	return nil, 0, fmt.Errorf("%w: %s %s: bad record length at offset %d", errCorrupt, l.name, l.path, base+p)
}

// groupBufs holds read buffers for groups (a buffer on the stack would
// escape to the heap through ReadAt).
var groupBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// get appends record r to dst.
func (l *recLog) get(r uint64, dst []byte) ([]byte, error) {
	if err := l.getMany([]uint64{r}, func(_ uint64, rec []byte) { dst = append(dst, rec...) }); err != nil {
		return nil, err
	}
	return dst, nil
}

// getMany calls fn with each record of rs (ascending, repeats allowed; rec
// valid during the call), reading and checking each group it needs once.
func (l *recLog) getMany(rs []uint64, fn func(r uint64, rec []byte)) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	bp := groupBufs.Get().(*[]byte)
	defer groupBufs.Put(bp)
	for i := 0; i < len(rs); {
		k := rs[i] / recStride
		if rs[i] >= l.n {
			return fmt.Errorf("%s record %d: %w", l.name, rs[i], store.ErrNotFound)
		}
		g, err := l.group(k, (*bp)[:0])
		if err != nil {
			return err
		}
		if cap(g) <= 1<<16 {
			*bp = g[:0]
		}
		base := l.idx[k].off
		p, at := uint64(0), k*recStride
		var rec []byte
		for ; i < len(rs) && rs[i]/recStride == k; i++ {
			for at <= rs[i] {
				if rec, p, err = l.frame(g, p, base); err != nil {
					return err
				}
				at++
			}
			fn(rs[i], rec)
		}
	}
	return nil
}

// scan calls fn with records [from, to) in order (rec valid during the
// call), checking every group it reads against its checksum. Callers hold
// the store's mutex, so that the log does not change meanwhile.
func (l *recLog) scan(from, to uint64, fn func(r uint64, rec []byte) error) error {
	var buf []byte
	for k := from / recStride; k*recStride < to; k++ {
		l.mu.RLock()
		if to > l.n {
			l.mu.RUnlock()
			return fmt.Errorf("%w: %s %s: records %d-%d wanted, it holds %d", errCorrupt, l.name, l.path, from, to-1, l.n)
		}
		g, err := l.group(k, buf)
		base := l.idx[k].off
		l.mu.RUnlock()
		if err != nil {
			return err
		}
		buf = g
		p := uint64(0)
		for r := k * recStride; r < to && r < (k+1)*recStride; r++ {
			rec, next, err := l.frame(g, p, base)
			if err != nil {
				return err
			}
			if r >= from {
				if err := fn(r, rec); err != nil {
					return err
				}
			}
			p = next
		}
	}
	return nil
}

// groupsOf calls fn with the number of every group that may hold a record
// of height h (block log), the open group first. Callers hold l.mu.
func (l *recLog) groupsOf(h uint64, fn func(k uint64) bool) {
	if len(l.idx) > 0 && l.olo <= h && h <= l.ohi {
		if !fn(uint64(len(l.idx) - 1)) {
			return
		}
	}
	l.groups.stab(h, fn)
}

// spanIndex holds the heights of a block log's complete groups and finds
// the groups whose height range holds a height: the groups ordered by
// lowest height, with the running maximum of their highest heights, so that
// a lookup is a binary search and a walk back over the groups that may
// overlap (one, when blocks were stored in height order).
type spanIndex struct {
	byK   [][2]uint64 // group k's lowest and highest height
	order []uint32    // group numbers by lowest height
	maxHi []uint64    // running maximum of the highest heights along order
}

// truncate keeps groups [0, n) and orders them again.
func (x *spanIndex) truncate(n int) {
	x.byK = x.byK[:n]
	x.order = x.order[:0]
	for k := range x.byK {
		x.order = append(x.order, uint32(k))
	}
	sort.SliceStable(x.order, func(i, j int) bool { return x.byK[x.order[i]][0] < x.byK[x.order[j]][0] })
	x.fix(0)
}

// add adds the next group (number len(byK)).
func (x *spanIndex) add(lo, hi uint64) {
	k := len(x.byK)
	x.byK = append(x.byK, [2]uint64{lo, hi})
	i := sort.Search(len(x.order), func(i int) bool { return x.byK[x.order[i]][0] > lo })
	x.order = append(x.order, 0)
	copy(x.order[i+1:], x.order[i:])
	x.order[i] = uint32(k)
	x.fix(i)
}

// fix recomputes the running maximum from position i.
func (x *spanIndex) fix(i int) {
	x.maxHi = x.maxHi[:min(i, len(x.maxHi))]
	for j := i; j < len(x.order); j++ {
		m := x.byK[x.order[j]][1]
		if j > 0 {
			m = max(m, x.maxHi[j-1])
		}
		x.maxHi = append(x.maxHi, m)
	}
}

func (x *spanIndex) stab(h uint64, fn func(k uint64) bool) {
	i := sort.Search(len(x.order), func(i int) bool { return x.byK[x.order[i]][0] > h }) - 1
	for ; i >= 0 && x.maxHi[i] >= h; i-- {
		if k := x.order[i]; x.byK[k][1] >= h && !fn(uint64(k)) {
			return
		}
	}
}
