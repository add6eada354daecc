package pebblestore

// The tx log: a chain's transaction records, in tx-number order from tx 1,
// in one append-only file (seg/<chain>.txlog). Tx numbers are dense, so a
// record needs no key: each is a uvarint length and the record, in the
// compact form of logrec.go (layout 5; appendTx's form until layout 4).
// Until layout 4 these records were Pebble's `t` keyspace, and a quarter
// of an ingest's store CPU went to Pebble's memtable, WAL and flushes for
// keys that only ever arrive in order.
//
// Crash safety comes from ordering. An Apply writes its records at the
// log's committed end and syncs them, then commits its Pebble batch, whose
// chain meta records the new end (LogEnd): the meta is the commit point. On
// open the log is cut to the meta's end, so a torn or uncommitted tail
// vanishes; a log shorter than the meta says is damage and an error naming
// the file. Undo commits the meta with the end of the records it keeps,
// then truncates the file.
//
// A sparse index (the offset of every txIdxStride-th record) finds a
// record: at most txIdxStride−1 length prefixes are skipped, inside one
// read window. Each entry also holds the CRC-32C of the group of records
// before it, which every read of a complete group checks (the last, open
// group of fewer than txIdxStride records has none yet). The index is in
// memory; the part below the closed segments' end (segList.segEnd) is also
// in seg/<chain>.txidx (per entry: offset u64, CRC u32, big-endian),
// written and synced before the segment list that covers it is committed.
// The part past it is rebuilt by the replay that rebuilds the open segment
// on open, so the index file needs no syncing per Apply and, like the
// segments, a crash never leaves it ahead of what it can trust.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// txIdxStride: the index keeps the offset of txs 1, 1+stride, 1+2·stride…
// (12 bytes per 32 txs on disk, ≈ 0.4 B a tx).
const txIdxStride = 32

// Read sizes; variables so that tests can make records cross windows.
var (
	// txLogWindow is the read size of a point lookup: a group of typical
	// records fits, so a lookup is one pread.
	txLogWindow uint64 = 8 << 10
	// txScanWindow is the read size of a sequential scan.
	txScanWindow uint64 = 256 << 10
)

type txLog struct {
	path, idxPath string

	// mu guards the fields below against readers that do not hold the
	// store's mutex (TxByNum, Tx). Every change happens under the store's
	// mutex too, so a writer never races another writer.
	mu   sync.RWMutex
	f    *os.File // nil until the chain's first record is written
	end  uint64   // committed bytes (the meta's LogEnd)
	next uint64   // tx number after the last committed record (the meta's NextTx)
	// idx[k] is the offset of tx 1+k·txIdxStride, for every such tx below
	// next (during the replay on open, below the replayed part), and the
	// checksum of group k−1 (txs 1+(k−1)·txIdxStride to k·txIdxStride).
	idx     []idxEnt
	durable int // idx entries written and synced to the index file

	cache groupCache // complete groups, checked

	// buf: Apply's record buffer, reused (filled by the Apply's indexer
	// goroutine, handed back after the commit; all under the store's mutex,
	// which the Apply holds throughout).
	buf []byte
}

func txLogPath(root string, c model.Chain) string {
	return filepath.Join(segDir(root), c.String()+".txlog")
}

func txIdxPath(root string, c model.Chain) string {
	return filepath.Join(segDir(root), c.String()+".txidx")
}

// idxEnt is an index entry: where a group of txIdxStride records starts,
// and the CRC-32C of the group before it (0 for the first).
type idxEnt struct {
	off uint64
	crc uint32
}

const idxEntLen = 12

// idxLen is the number of index entries for txs [1, next).
func idxLen(next uint64) int {
	if next <= 1 {
		return 0
	}
	return int((next - 1 + txIdxStride - 1) / txIdxStride)
}

// openTxLog opens the chain's log and cuts it to the end the meta m
// committed.
func openTxLog(root string, c model.Chain, m *meta) (*txLog, error) {
	l := &txLog{path: txLogPath(root, c), idxPath: txIdxPath(root, c), end: m.LogEnd, next: m.NextTx}
	if (m.NextTx <= 1) != (m.LogEnd == 0) {
		return nil, fmt.Errorf("%w: chain %s meta: %d txs but a tx log of %d bytes", errCorrupt, c, m.NextTx-1, m.LogEnd)
	}
	f, err := os.OpenFile(l.path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		if m.LogEnd == 0 {
			return l, nil // created by the first Apply
		}
		return nil, fmt.Errorf("%w: tx log %s is missing; chain %s holds %d bytes of tx records", errCorrupt, l.path, c, m.LogEnd)
	}
	if err != nil {
		return nil, fmt.Errorf("pebblestore: open tx log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("pebblestore: tx log %s: %w", l.path, err)
	}
	switch size := uint64(fi.Size()); {
	case size < m.LogEnd:
		f.Close()
		return nil, fmt.Errorf("%w: tx log %s holds %d bytes, chain %s committed %d (the file was truncated or replaced)", errCorrupt, l.path, size, c, m.LogEnd)
	case size > m.LogEnd:
		// An Apply that wrote its records but never committed them.
		if err := f.Truncate(int64(m.LogEnd)); err != nil {
			f.Close()
			return nil, fmt.Errorf("pebblestore: cut tx log %s to its committed end: %w", l.path, err)
		}
	}
	l.f = f
	return l, nil
}

func (l *txLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// loadIdx reads the index entries the closed segments (ending at tx segEnd)
// cover from the index file; replay adds the rest.
func (l *txLog) loadIdx(segEnd uint64) error {
	n := idxLen(segEnd)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idx, l.durable = l.idx[:0], 0
	if n == 0 {
		return nil
	}
	data, err := os.ReadFile(l.idxPath)
	if err != nil {
		return fmt.Errorf("%w: tx index: %w", errCorrupt, err)
	}
	if len(data) < idxEntLen*n {
		return fmt.Errorf("%w: tx index %s holds %d entries, the closed segments need %d", errCorrupt, l.idxPath, len(data)/idxEntLen, n)
	}
	idx := make([]idxEnt, n, n+n/8+16)
	for k := range idx {
		e := data[idxEntLen*k:]
		idx[k] = idxEnt{off: binary.BigEndian.Uint64(e), crc: binary.BigEndian.Uint32(e[8:])}
		if k == 0 && idx[k] != (idxEnt{}) || k > 0 && idx[k].off <= idx[k-1].off || idx[k].off >= l.end {
			return fmt.Errorf("%w: tx index %s: entry %d (offset %d) is out of order or past the log's end %d", errCorrupt, l.idxPath, k, idx[k].off, l.end)
		}
	}
	l.idx, l.durable = idx, n
	return nil
}

// syncIdx makes the first n index entries durable in the index file.
// Called before a segment list covering txs [1, next) with idxLen(next) = n
// is committed.
func (l *txLog) syncIdx(n int) error {
	l.mu.RLock()
	if n > len(l.idx) {
		l.mu.RUnlock()
		return fmt.Errorf("pebblestore: tx index: %d entries wanted, %d known", n, len(l.idx))
	}
	from := min(l.durable, n)
	b := make([]byte, 0, idxEntLen*(n-from))
	for _, e := range l.idx[from:n] {
		b = binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(b, e.off), e.crc)
	}
	l.mu.RUnlock()
	_, statErr := os.Stat(l.idxPath)
	f, err := os.OpenFile(l.idxPath, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("pebblestore: tx index: %w", err)
	}
	_, err = f.WriteAt(b, int64(idxEntLen*from))
	if err == nil {
		err = f.Truncate(int64(idxEntLen * n))
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && statErr != nil {
		err = syncDir(filepath.Dir(l.idxPath))
	}
	if err != nil {
		return fmt.Errorf("pebblestore: write tx index %s: %w", l.idxPath, err)
	}
	l.mu.Lock()
	l.durable = n
	l.mu.Unlock()
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// write writes records b at the committed end and, when sync is set,
// syncs them (a pipelined Apply leaves that to its commit job: syncData);
// the end moves only with commit, after the meta that names it is
// committed.
func (l *txLog) write(b []byte, sync bool) error {
	if len(b) == 0 {
		return nil
	}
	if l.f == nil {
		if err := os.MkdirAll(filepath.Dir(l.path), 0o750); err != nil {
			return fmt.Errorf("pebblestore: create tx log: %w", err)
		}
		f, err := os.OpenFile(l.path, os.O_RDWR|os.O_CREATE, 0o640)
		if err != nil {
			return fmt.Errorf("pebblestore: create tx log: %w", err)
		}
		if err := syncDir(filepath.Dir(l.path)); err != nil {
			f.Close()
			return fmt.Errorf("pebblestore: create tx log %s: %w", l.path, err)
		}
		l.mu.Lock()
		l.f = f
		l.mu.Unlock()
	}
	if _, err := l.f.WriteAt(b, int64(l.end)); err != nil {
		return fmt.Errorf("pebblestore: write tx log %s: %w", l.path, err)
	}
	if !sync {
		return nil
	}
	return l.syncData()
}

// syncData makes what write wrote durable.
func (l *txLog) syncData() error {
	if err := datasync(l.f); err != nil {
		return fmt.Errorf("pebblestore: sync tx log %s: %w", l.path, err)
	}
	return nil
}

// groupCRC returns the CRC-32C of the log bytes [from, to), where the bytes
// from base on are buf (an Apply's records, not yet committed) and those
// before base are read from the file.
func (l *txLog) groupCRC(from, to, base uint64, buf []byte) (uint32, error) {
	var crc uint32
	if from < base {
		l.mu.RLock()
		b, err := (&logWin{l: l}).bytes(from, base-from)
		if err == nil {
			crc = crc32.Update(crc, castagnoli, b)
		}
		l.mu.RUnlock()
		if err != nil {
			return 0, err
		}
		from = base
	}
	return crc32.Update(crc, castagnoli, buf[from-base:to-base]), nil
}

// lastIdx is the last index entry (ok false when none).
func (l *txLog) lastIdx() (e idxEnt, ok bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if len(l.idx) == 0 {
		return e, false
	}
	return l.idx[len(l.idx)-1], true
}

// commit moves the committed end after the meta naming it is committed:
// the log now holds txs [1, next) in end bytes, and idx gets the entries
// of the new txs 1+k·txIdxStride.
func (l *txLog) commit(end, next uint64, idx []idxEnt) {
	l.mu.Lock()
	l.end, l.next = end, next
	l.idx = append(l.idx, idx...)
	l.mu.Unlock()
}

// truncate drops the records from tx n (at offset off) on, after an undo
// committed the meta that ends the log there. The file is cut too; should
// that fail, the bytes past the end are overwritten by the next Apply or
// cut at the next open, and never read.
func (l *txLog) truncate(n, off uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cache.clear()
	l.end, l.next = off, n
	l.idx = l.idx[:min(len(l.idx), idxLen(n))]
	l.durable = min(l.durable, len(l.idx))
	if l.f != nil {
		l.f.Truncate(int64(off))
	}
}

// logWin reads a log through a window of its bytes.
type logWin struct {
	l    *txLog
	size uint64 // read size
	buf  []byte
	base uint64 // file offset of buf[0]
}

// bytes returns the log's bytes [off, off+n) (off+n ≤ l.end), reading a
// window from off when they are not in the buffer. Callers hold l.mu.
func (w *logWin) bytes(off, n uint64) ([]byte, error) {
	if off >= w.base && off+n <= w.base+uint64(len(w.buf)) {
		return w.buf[off-w.base : off-w.base+n], nil
	}
	size := min(max(n, w.size), w.l.end-off)
	if uint64(cap(w.buf)) < size {
		w.buf = make([]byte, size)
	}
	w.buf = w.buf[:size]
	if _, err := w.l.f.ReadAt(w.buf, int64(off)); err != nil {
		w.buf = w.buf[:0]
		return nil, fmt.Errorf("pebblestore: read tx log %s at %d: %w", w.l.path, off, err)
	}
	w.base = off
	return w.buf[:n], nil
}

// record returns the record at offset off and the offset after it. The
// record is valid until the next read. Callers hold l.mu.
func (w *logWin) record(off uint64) (rec []byte, next uint64, err error) {
	raw, k, next, err := w.rawRecord(off)
	if err != nil {
		return nil, 0, err
	}
	return raw[k:], next, nil
}

// rawRecord is record with its length prefix: the log's bytes [off, next),
// the record from raw[k].
func (w *logWin) rawRecord(off uint64) (raw []byte, k int, next uint64, err error) {
	end := w.l.end
	if off >= end {
		return nil, 0, 0, fmt.Errorf("%w: tx log %s: record at %d, past the committed end %d", errCorrupt, w.l.path, off, end)
	}
	h, err := w.bytes(off, min(binary.MaxVarintLen64, end-off))
	if err != nil {
		return nil, 0, 0, err
	}
	v, k := binary.Uvarint(h)
	if k <= 0 || v > end-off-uint64(k) {
		return nil, 0, 0, fmt.Errorf("%w: tx log %s: bad record length at offset %d", errCorrupt, w.l.path, off)
	}
	// One read of length and record, so that both are in one slice.
	raw, err = w.bytes(off, uint64(k)+v)
	if err != nil {
		return nil, 0, 0, err
	}
	return raw, k, off + uint64(k) + v, nil
}

// seek returns the offset of tx n's record (n ≤ next; the end for next)
// and the reference of n's group (its first record's height and address
// base), which the compact records of the group are relative to
// (logrec.go). Callers hold l.mu.
func (l *txLog) seek(w *logWin, n uint64) (off uint64, g groupRef, err error) {
	if n == l.next {
		return l.end, g, nil
	}
	var t uint64 = 1
	if len(l.idx) > 0 {
		k := min((n-1)/txIdxStride, uint64(len(l.idx)-1))
		t, off = 1+k*txIdxStride, l.idx[k].off
	}
	for ; t < n; t++ {
		var rec []byte
		if rec, off, err = w.record(off); err != nil {
			return 0, g, err
		}
		if groupFirst(t) {
			if g, err = l.firstRef(rec, t); err != nil {
				return 0, g, err
			}
		}
	}
	if groupFirst(n) {
		return off, groupRef{}, nil
	}
	return off, g, nil
}

// firstRef is the reference of the group whose first record (tx t) is rec.
func (l *txLog) firstRef(rec []byte, t uint64) (groupRef, error) {
	g, ok := firstRef(rec)
	if !ok {
		return g, fmt.Errorf("%w: tx log %s: tx %d: bad height or address base", errCorrupt, l.path, t)
	}
	return g, nil
}

// groupRef returns the reference of tx n's group, for an Apply that starts
// inside the group (n < next: the first record is committed).
func (l *txLog) groupRef(n uint64) (groupRef, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	k := (n - 1) / txIdxStride
	if k >= uint64(len(l.idx)) {
		return groupRef{}, fmt.Errorf("pebblestore: tx log %s: no index entry for tx %d", l.path, 1+k*txIdxStride)
	}
	rec, _, err := (&logWin{l: l, size: 64}).record(l.idx[k].off)
	if err != nil {
		return groupRef{}, err
	}
	return l.firstRef(rec, 1+k*txIdxStride)
}

// offset returns the offset of tx n's record, the end for n = next.
func (l *txLog) offset(n uint64) (uint64, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if n == 0 || n > l.next {
		return 0, fmt.Errorf("pebblestore: tx log %s: tx %d is past the end (%d)", l.path, n, l.next)
	}
	off, _, err := l.seek(&logWin{l: l, size: txLogWindow}, n)
	return off, err
}

// tx returns tx n's record, decoded.
func (l *txLog) tx(n uint64) (*txRec, error) {
	recs, err := l.txs([]uint64{n})
	if err != nil {
		return nil, err
	}
	return recs[0], nil
}

// txs returns the records of txs nums (ascending, repeats allowed), decoded:
// each complete group is read and checked once however many of its txs are
// asked for, and a walk through a group goes on from the last tx taken.
func (l *txLog) txs(nums []uint64) ([]*txRec, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]*txRec, len(nums))
	c := l.cursor(txLogWindow, true)
	for j, n := range nums {
		if j > 0 && n == nums[j-1] {
			out[j] = out[j-1]
			continue
		}
		v, g, err := c.rec(n)
		if err != nil {
			return nil, err
		}
		if out[j], err = decodeLogRec(v, n, g); err != nil {
			return nil, fmt.Errorf("tx log %s tx %d: %w", l.path, n, err)
		}
	}
	return out, nil
}

// recCursor reads the log's records at ascending tx numbers: each complete
// group it enters is checked against its checksum once (through the cache
// of checked groups, or, for a pass over many groups that would only churn
// the cache, read and checked in place), and a walk through a group goes on
// from the last record taken.
type recCursor struct {
	l      *txLog
	w      logWin
	cached bool
	group  uint64 // the group walked; t and off: the next record in it
	t, off uint64
	g      groupRef // the group's reference (its first record's)
}

// cursor returns a cursor reading windows of size bytes; cached: complete
// groups go through the group cache.
func (l *txLog) cursor(size uint64, cached bool) *recCursor {
	return &recCursor{l: l, w: logWin{l: l, size: size}, cached: cached, group: ^uint64(0)}
}

// rec returns tx n's compact record (valid until the next call) and the
// reference of its group, which decodeLogRec takes. n must not be below
// the previous call's. Callers hold l.mu (read).
func (c *recCursor) rec(n uint64) (rec []byte, g groupRef, err error) {
	l := c.l
	if n == 0 || n >= l.next {
		return nil, g, fmt.Errorf("tx number %d: %w", n, store.ErrNotFound)
	}
	k := (n - 1) / txIdxStride
	if k != c.group || n < c.t {
		if k+1 < uint64(len(l.idx)) {
			if c.cached {
				err = l.checkedGroup(&c.w, k)
			} else {
				err = l.checkGroup(&c.w, k)
			}
			if err != nil {
				return nil, g, err
			}
		}
		if c.off, c.g, err = l.seek(&c.w, n); err != nil {
			return nil, g, err
		}
		c.group, c.t = k, n
	}
	for ; c.t < n; c.t++ { // within the group, past its first record
		if _, c.off, err = c.w.record(c.off); err != nil {
			return nil, g, err
		}
	}
	rec, c.off, err = c.w.record(c.off)
	if err != nil {
		return nil, g, err
	}
	c.t = n + 1
	if groupFirst(n) {
		if c.g, err = l.firstRef(rec, n); err != nil {
			return nil, g, err
		}
	}
	return rec, c.g, nil
}

// checkGroup reads complete group k into w's window and checks it against
// its checksum, bypassing the cache. Callers hold l.mu.
func (l *txLog) checkGroup(w *logWin, k uint64) error {
	a, b := l.idx[k].off, l.idx[k+1].off
	if b > l.end || b <= a {
		return fmt.Errorf("%w: tx log %s: index entry %d past the end", errCorrupt, l.path, k+1)
	}
	g, err := w.bytes(a, b-a)
	if err != nil {
		return err
	}
	if crc32.Checksum(g, castagnoli) != l.idx[k+1].crc {
		return l.groupErr(k, a, b)
	}
	return nil
}

// checkedGroup puts complete group k into w's window, checked against its
// checksum, or from the cache of checked groups. Callers hold l.mu.
func (l *txLog) checkedGroup(w *logWin, k uint64) error {
	a, b := l.idx[k].off, l.idx[k+1].off
	if b > l.end || b <= a {
		return fmt.Errorf("%w: tx log %s: index entry %d past the end", errCorrupt, l.path, k+1)
	}
	if g, ok := l.cache.get(k, w.buf[:0]); ok {
		w.buf, w.base = g, a
		return nil
	}
	g, err := w.bytes(a, b-a)
	if err != nil {
		return err
	}
	if crc32.Checksum(g, castagnoli) != l.idx[k+1].crc {
		return l.groupErr(k, a, b)
	}
	l.cache.put(k, g)
	return nil
}

func (l *txLog) groupErr(k, a, b uint64) error {
	return fmt.Errorf("%w: tx log %s: txs %d-%d (bytes %d-%d) fail their checksum", errCorrupt, l.path, 1+k*txIdxStride, (k+1)*txIdxStride, a, b)
}

// scan calls fn with txs [from, to) in order, decoded,
// checks every complete group it passes against its checksum, and adds the
// index entries the index lacks (the replay on open). Callers hold the
// store's mutex, so nothing changes the log meanwhile; l.mu is taken per
// record against lock-free readers.
func (l *txLog) scan(from, to uint64, fn func(n uint64, rec *txRec) error) error {
	if from >= to {
		return nil
	}
	w := &logWin{l: l, size: txScanWindow}
	l.mu.RLock()
	if from == 0 || to > l.next {
		l.mu.RUnlock()
		return fmt.Errorf("%w: tx log %s: txs %d-%d wanted, it holds 1-%d", errCorrupt, l.path, from, to-1, l.next-1)
	}
	off, g, err := l.seek(w, from)
	// crc: the checksum of the current group's bytes before off. A scan
	// that starts inside a group, or at one whose entry it is to add (the
	// replay on open), reads the group's start (the one before) first.
	var crc uint32
	k, at := (from-1)/txIdxStride, (from-1)%txIdxStride == 0
	if at && k == uint64(len(l.idx)) && k > 0 {
		k--
	}
	if err == nil && (!at || k < (from-1)/txIdxStride) {
		if k >= uint64(len(l.idx)) {
			err = fmt.Errorf("pebblestore: tx log %s: no index entry for tx %d", l.path, 1+k*txIdxStride)
		} else {
			var g []byte
			if g, err = w.bytes(l.idx[k].off, off-l.idx[k].off); err == nil {
				crc = crc32.Checksum(g, castagnoli)
			}
		}
	}
	l.mu.RUnlock()
	if err != nil {
		return err
	}
	for n := from; n < to; n++ {
		// The record first: an index entry is added only for a record
		// that reads. raw stays valid: the boundary step reads nothing.
		l.mu.RLock()
		raw, hl, next, err := w.rawRecord(off)
		l.mu.RUnlock()
		if err != nil {
			return err
		}
		if (n-1)%txIdxStride == 0 {
			k := (n - 1) / txIdxStride
			e := idxEnt{off: off, crc: crc}
			l.mu.Lock()
			switch {
			case k == uint64(len(l.idx)):
				l.idx = append(l.idx, e)
			case n == from && k > 0:
				// The scan starts at a group: the one before it is not
				// checked here.
			case k == 0 && l.idx[0] != e:
				err = fmt.Errorf("%w: tx log %s: the index does not start at tx 1", errCorrupt, l.path)
			case l.idx[k] != e:
				err = l.groupErr(k-1, l.idx[k-1].off, off)
			}
			l.mu.Unlock()
			if err != nil {
				return err
			}
			crc = 0
		}
		crc = crc32.Update(crc, castagnoli, raw)
		if groupFirst(n) {
			if g, err = l.firstRef(raw[hl:], n); err != nil {
				return err
			}
		}
		rec, err := decodeLogRec(raw[hl:], n, g)
		if err != nil {
			return fmt.Errorf("tx log %s tx %d: %w", l.path, n, err)
		}
		if err := fn(n, rec); err != nil {
			return err
		}
		off = next
	}
	return nil
}

// logOf returns chain c's tx log, loading the chain's state when needed.
// It does not need the store's mutex once the chain is loaded (callers
// holding the mutex always have it loaded).
func (s *Store) logOf(c model.Chain) (*txLog, error) {
	if l := s.logs[c].Load(); l != nil {
		return l, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.state(c)
	if err != nil {
		return nil, err
	}
	return st.log, nil
}
