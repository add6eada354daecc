package pebblestore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// TestLogRecordFraming: a log record is the uvarint length of the compact
// record and the record, whatever the length's width (Apply writes a
// one-byte length and moves the record when it needs more), and it decodes
// back to the tx.
func TestLogRecordFraming(t *testing.T) {
	prefix := []byte("earlier records")
	widths := map[int]bool{}
	for n := 0; n <= 1100; n++ {
		rec := &txRec{ID: [32]byte{byte(n), byte(n >> 8)}, Height: uint64(n) << 30, Index: uint32(n), Inputs: []inRec{}, Transfers: []xferRec{}}
		rec.Outputs = []outRec{}
		for i := 0; i < n; i++ {
			// Ids that jump back and forth: wide differences.
			rec.Outputs = append(rec.Outputs, outRec{Addr: 1<<40 + uint64(i%2)<<50 + uint64(i), Value: 1<<62 + uint64(i), Script: byte(i % 8)})
		}
		tn := uint64(n) + 2 // not a group's first: the height is relative
		body := appendCompactTx(nil, rec, tn, groupRef{h: 7})
		want := binary.AppendUvarint(append([]byte(nil), prefix...), uint64(len(body)))
		want = append(want, body...)
		got := appendLogRec(append([]byte(nil), prefix...), rec, tn, groupRef{h: 7})
		if !bytes.Equal(got, want) {
			t.Fatalf("%d outputs (record of %d bytes): framing differs", n, len(body))
		}
		back, err := decodeLogRec(body, tn, groupRef{h: 7})
		if err != nil || !reflect.DeepEqual(back, rec) {
			t.Fatalf("%d outputs: decoded %+v, %v", n, back, err)
		}
		widths[len(want)-len(prefix)-len(body)] = true
	}
	if !widths[1] || !widths[2] || !widths[3] {
		t.Fatalf("length widths exercised: %v, want 1, 2 and 3 bytes", widths)
	}
}

// writeLog writes data as a tx log file and returns the log, claiming up to
// next−1 records in end = len(data) bytes.
func writeLog(t testing.TB, dir string, data []byte, next uint64) *txLog {
	t.Helper()
	p := filepath.Join(dir, "x.txlog")
	if err := os.WriteFile(p, data, 0o640); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &txLog{path: p, f: f, end: uint64(len(data)), next: next}
}

// FuzzTxLog feeds arbitrary bytes to the log reader as a log claiming more
// records than it has bytes: the sequential scan and the indexed point
// reads must agree record for record, a byte changed in a complete group
// must fail its checksum, and damage is an error, never a panic or a read
// past the log's end.
func FuzzTxLog(f *testing.F) {
	var b []byte
	var g groupRef
	for n := uint64(1); n <= 80; n++ { // a log of 80 records, some longer than 127 bytes
		// Positions derived (layout 8) but for every fifth; fees derived
		// where there are inputs.
		rec := &txRec{ID: [32]byte{byte(n)}, Height: n / 3, Fee: *uint256.NewInt(n * 1000), Index: uint32(n % 3), Derive: deriveFee}
		if n%5 != 0 {
			rec.Derive |= deriveIndex
		}
		for i := uint64(0); i < n%9; i++ {
			rec.Outputs = append(rec.Outputs, outRec{Addr: i, Value: 1 << 40, Script: 1})
			// Some inputs spend earlier txs (compact), some tx n itself
			// (written in the escape form).
			rec.Inputs = append(rec.Inputs, inRec{PrevTx: n - i%3, PrevIndex: uint32(i)})
		}
		if groupFirst(n) {
			g = refOf(rec)
		}
		b = appendLogRec(b, rec, n, g)
	}
	f.Add(b)
	f.Add(b[:len(b)-7])
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})
	f.Add([]byte{5, 1, 2})
	defer func(a, b uint64) { txLogWindow, txScanWindow = a, b }(txLogWindow, txScanWindow)
	txLogWindow, txScanWindow = 100, 37 // records cross windows
	f.Fuzz(func(t *testing.T, data []byte) {
		l := writeLog(t, t.TempDir(), data, uint64(len(data))+2) // more records than bytes
		var scanned []*txRec
		err := l.scan(1, l.next, func(n uint64, rec *txRec) error {
			scanned = append(scanned, rec)
			return nil
		})
		if err == nil {
			t.Fatal("a log scanned as more records than it has bytes")
		}
		if !errors.Is(err, errCorrupt) && !strings.Contains(err.Error(), l.path) {
			t.Fatalf("scan error does not say corrupt or name the log: %v", err)
		}
		l.next = uint64(len(scanned)) + 1 // what the scan found, as a meta would say
		if len(scanned) == 0 {
			return
		}
		if len(l.idx) != idxLen(l.next) {
			t.Fatalf("scan of %d records left %d index entries, want %d", len(scanned), len(l.idx), idxLen(l.next))
		}
		for n := uint64(1); n < l.next; n += 1 + n/7 {
			got, err := l.tx(n)
			if err != nil || !reflect.DeepEqual(got, scanned[n-1]) {
				t.Fatalf("tx %d: point read (%+v, %v) and scan (%+v) disagree", n, got, err, scanned[n-1])
			}
		}
		if len(l.idx) >= 2 { // a complete group: any changed byte in it fails its checksum
			a, b := l.idx[0].off, l.idx[1].off
			d := append([]byte(nil), data...)
			d[a+uint64(len(scanned))%(b-a)] ^= 0x20
			if err := os.WriteFile(l.path, d, 0o640); err != nil {
				t.Fatal(err)
			}
			// The group was read and checked above: it is served from the
			// cache of checked groups until it leaves it (or the store is
			// opened again).
			if got, err := l.tx(1); err != nil || !reflect.DeepEqual(got, scanned[0]) {
				t.Fatalf("tx 1 from the cache: %+v, %v", got, err)
			}
			l.cache.clear()
			if _, err := l.tx(1); !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), "checksum") {
				t.Fatalf("a changed byte in txs 1-%d: err = %v", txIdxStride, err)
			}
			if err := os.WriteFile(l.path, data, 0o640); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := l.tx(l.next); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("tx past the end: err = %v", err)
		}
		if off, err := l.offset(l.next); err != nil || off > l.end {
			t.Fatalf("offset of the end: %d, %v", off, err)
		}
	})
}

// TestTxLogDamage: bytes past the committed end (an Apply whose meta never
// committed) are cut at open and change nothing; a log shorter than the
// meta says, a missing log, a damaged record and a damaged index are
// errors naming the file, for reads and writes alike, never a panic.
func TestTxLogDamage(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	goldenWorld(t, s)
	want, wantReads := digest(t, s), readsDigest(t, s)
	mark, err := s.Mark(model.BTC)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	logp, idxp := txLogPath(dir, model.BTC), txIdxPath(dir, model.BTC)
	intact, err := os.ReadFile(logp)
	if err != nil {
		t.Fatal(err)
	}
	intactIdx, err := os.ReadFile(idxp)
	if err != nil {
		t.Fatal(err)
	}
	if len(intactIdx) != idxEntLen*idxLen(mark.NextTx) || idxLen(mark.NextTx) < 3 {
		t.Fatalf("index file of %d bytes", len(intactIdx))
	}
	restore := func() {
		t.Helper()
		if err := os.WriteFile(logp, intact, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(idxp, intactIdx, 0o640); err != nil {
			t.Fatal(err)
		}
	}

	// put writes a damaged (or restored) file; reopen opens the store
	// again, closed when the subtest ends.
	put := func(t *testing.T, path string, data []byte) {
		t.Helper()
		if err := os.WriteFile(path, data, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	reopen := func(t *testing.T) *Store {
		t.Helper()
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}

	t.Run("tail past the end", func(t *testing.T) {
		t.Cleanup(restore) // after the store is closed (cleanups run last first)
		torn := append(append([]byte(nil), intact...), bytes.Repeat([]byte{0xff}, 3000)...)
		put(t, logp, torn)
		s := reopen(t)
		if got := digest(t, s); got != want {
			t.Fatal("a tail past the committed end changed the store")
		}
		if got := readsDigest(t, s); got != wantReads {
			t.Fatal("a tail past the committed end changed the reads")
		}
		if fi, err := os.Stat(logp); err != nil || fi.Size() != int64(len(intact)) {
			t.Fatalf("log not cut to its committed end: %v, %v", fi.Size(), err)
		}
	})

	bad := func(t *testing.T, file, what string) {
		t.Helper()
		s := reopen(t)
		_, err := s.TxByNum(model.BTC, 1)
		if err == nil {
			_, err = s.Digest() // reads every record
		}
		if !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), file) {
			t.Fatalf("%s: err = %v, want a corruption error naming %s", what, err, file)
		}
		w := newUTXOWorld(7, 151)
		if err := s.Apply(model.BTC, store.Linked, w.blocks[150:]); err == nil {
			t.Fatalf("%s: an Apply succeeded", what)
		}
	}
	t.Run("log shorter than the meta", func(t *testing.T) {
		t.Cleanup(restore) // after the store is closed (cleanups run last first)
		put(t, logp, intact[:len(intact)-5])
		bad(t, logp, "short log")
	})
	t.Run("log missing", func(t *testing.T) {
		t.Cleanup(restore) // after the store is closed (cleanups run last first)
		if err := os.Remove(logp); err != nil {
			t.Fatal(err)
		}
		bad(t, logp, "missing log")
	})
	t.Run("record length damaged", func(t *testing.T) {
		t.Cleanup(restore) // after the store is closed (cleanups run last first)
		d := append([]byte(nil), intact...)
		copy(d, []byte{0xff, 0xff, 0xff, 0x7f}) // the first record's length: past the end
		put(t, logp, d)
		s := reopen(t)
		if _, err := s.TxByNum(model.BTC, 1); !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), logp) {
			t.Fatalf("err = %v, want a corruption error naming the log", err)
		}
	})
	t.Run("record damaged", func(t *testing.T) {
		t.Cleanup(restore) // after the store is closed (cleanups run last first)
		d := append([]byte(nil), intact...)
		d[40] ^= 0x01 // in tx 1's txid: it still decodes, as another txid
		put(t, logp, d)
		s := reopen(t)
		for _, n := range []uint64{1, 2, txIdxStride} {
			if _, err := s.TxByNum(model.BTC, n); !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), logp) || !strings.Contains(err.Error(), "checksum") {
				t.Fatalf("tx %d: err = %v, want a checksum error naming the log", n, err)
			}
		}
		if _, err := s.txByNum(model.BTC, txIdxStride+1); err != nil { // its record (its view reads the txs it spends)
			t.Fatalf("tx %d, in an intact group: %v", txIdxStride+1, err)
		}
		// A batch read that reaches the damaged group fails the same way.
		err := s.TxsByNum(model.BTC, []uint64{txIdxStride + 1, 2}, func(int, *store.TxView) error { return nil })
		if !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), "checksum") {
			t.Fatalf("batch read: err = %v, want a checksum error", err)
		}
		if _, err := s.Digest(); !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), "checksum") {
			t.Fatalf("digest: err = %v, want a checksum error", err)
		}
	})
	t.Run("index shorter than the segments", func(t *testing.T) {
		t.Cleanup(restore) // after the store is closed (cleanups run last first)
		put(t, idxp, intactIdx[:len(intactIdx)-idxEntLen])
		bad(t, idxp, "short index")
	})
	t.Run("index out of order", func(t *testing.T) {
		t.Cleanup(restore) // after the store is closed (cleanups run last first)
		d := append([]byte(nil), intactIdx...)
		copy(d[2*idxEntLen:], d[idxEntLen:2*idxEntLen]) // entry 2 = entry 1
		put(t, idxp, d)
		bad(t, idxp, "index out of order")
	})
	t.Run("intact again", func(t *testing.T) {
		s := reopen(t)
		if digest(t, s) != want {
			t.Fatal("restored store differs")
		}
	})
}

// tronBatch is blocks [from, to) of an account chain; variant changes the
// txids and the number of transfers per tx (so the records' sizes, and
// with them every log offset after the first changed tx).
func tronBatch(from, to uint64, variant byte) []*model.Block {
	var out []*model.Block
	for h := from; h < to; h++ {
		var txs []model.Tx
		for j := uint64(0); j < 3; j++ {
			n := h*3 + j
			from := append([]byte{0x41, byte(n % 17)}, make([]byte, 19)...)
			tx := model.Tx{ID: [32]byte{byte(n), byte(n >> 8), variant, 9}, FeePayer: from}
			for k := uint64(0); k <= (n+uint64(variant))%4; k++ {
				to := append([]byte{0x41, byte((n+k)*7%251 + 1)}, make([]byte, 19)...)
				tx.Transfers = append(tx.Transfers, model.Transfer{From: from, To: to, Value: *uint256.NewInt(n*999 + k), LogIndex: int32(k)})
			}
			txs = append(txs, tx)
		}
		out = append(out, accountBlock(h, txs...))
	}
	return out
}

// TestUndoAcrossLog undoes into closed segments of a reopened store, then
// applies a different continuation (records of other sizes, so every log
// offset and index entry past the mark changes), across closes and opens:
// the store must equal, in contents and in every read, a fresh store given
// the same blocks. Stale log bytes or index entries from before the undo
// would show here.
func TestUndoAcrossLog(t *testing.T) {
	defer func(old int) { segMaxEntries = old }(segMaxEntries)
	segMaxEntries = 11
	dir := t.TempDir()
	reopen := func(s *Store) *Store {
		t.Helper()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	apply := func(s *Store, blocks []*model.Block) {
		t.Helper()
		for i := 0; i < len(blocks); i += 9 {
			if err := s.Apply(model.Tron, store.Unordered, blocks[i:min(i+9, len(blocks))]); err != nil {
				t.Fatal(err)
			}
		}
	}
	apply(s, tronBatch(1, 30, 0))
	mark, err := s.Mark(model.Tron)
	if err != nil {
		t.Fatal(err)
	}
	atMark := digest(t, s)
	apply(s, tronBatch(30, 200, 0))
	s = reopen(s) // every segment closed, the index durable to the end
	if err := s.Undo(model.Tron, mark); err != nil {
		t.Fatal(err)
	}
	if digest(t, s) != atMark {
		t.Fatal("undo into closed segments is not exact")
	}
	m := s.chains[model.Tron].meta
	if fi, err := os.Stat(txLogPath(dir, model.Tron)); err != nil || uint64(fi.Size()) != m.LogEnd {
		t.Fatalf("log of %d bytes after the undo, its meta says %d (%v)", fi.Size(), m.LogEnd, err)
	}
	s = reopen(s)
	if digest(t, s) != atMark {
		t.Fatal("undone store changed across close and open")
	}
	apply(s, tronBatch(30, 120, 1))
	s = reopen(s)
	apply(s, tronBatch(120, 200, 1))
	got, gotReads := digest(t, s), readsDigest(t, s)
	s = reopen(s)
	if digest(t, s) != got || readsDigest(t, s) != gotReads {
		t.Fatal("store changed across close and open")
	}

	fresh := openTestStore(t)
	apply(fresh, tronBatch(1, 30, 0))
	apply(fresh, tronBatch(30, 200, 1))
	if digest(t, fresh) != got {
		t.Fatal("undone and re-applied store differs from a fresh one with the same blocks")
	}
	if readsDigest(t, fresh) != gotReads {
		t.Fatal("undone and re-applied store reads differently from a fresh one")
	}
}

// TestTxLogConcurrentReads reads committed txs by number while Applies
// append to the log and close segments (run it with -race): a reader sees
// every committed record, whole.
func TestTxLogConcurrentReads(t *testing.T) {
	defer func(old int) { segMaxEntries = old }(segMaxEntries)
	segMaxEntries = 50
	s := openTestStore(t)
	w := newUTXOWorld(4, 200)
	done := make(chan error, 1)
	go func() {
		for i := 0; i < len(w.blocks); i += 5 {
			if err := s.Apply(model.BTC, store.Linked, w.blocks[i:i+5]); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	reads, during := 0, 0
	for finished := false; !finished; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			finished = true
		default:
		}
		m, err := s.Mark(model.BTC)
		if err != nil {
			t.Fatal(err)
		}
		for n := m.NextTx - 1; n > 0 && n+40 > m.NextTx; n-- {
			tv, err := s.TxByNum(model.BTC, n)
			if err != nil {
				t.Fatalf("tx %d of %d committed: %v", n, m.NextTx-1, err)
			}
			if tv.TxNum != n || len(tv.Outputs) == 0 {
				t.Fatalf("tx %d read as %+v", n, tv)
			}
			reads++
			if !finished {
				during++
			}
		}
	}
	if reads == 0 {
		t.Fatal("nothing read")
	}
	t.Logf("%d reads, %d of them while Applies ran", reads, during)
}

// TestTxLogSmallWindows answers every read and hashes the store as the
// golden tests want with read windows smaller than a record, so that every
// record and group crosses a window (open, reopened, tiny segments).
func TestTxLogSmallWindows(t *testing.T) {
	defer func(a, b uint64) { txLogWindow, txScanWindow = a, b }(txLogWindow, txScanWindow)
	defer func(old int) { segMaxEntries = old }(segMaxEntries)
	for _, w := range []struct{ point, scan uint64 }{{1, 1}, {50, 13}, {300, 700}} {
		txLogWindow, txScanWindow = w.point, w.scan
		segMaxEntries = 23
		dir := t.TempDir()
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		goldenWorld(t, s)
		if got := digest(t, s); got != layoutGolden {
			t.Fatalf("windows %v: store digest %s, want %s", w, got, layoutGolden)
		}
		reads := readsDigest(t, s)
		s.Close()
		if s, err = Open(dir); err != nil {
			t.Fatal(err)
		}
		if got := digest(t, s); got != layoutGolden || readsDigest(t, s) != reads {
			t.Fatalf("windows %v: reopened store differs", w)
		}
		s.Close()
	}
}
