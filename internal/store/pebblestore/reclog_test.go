package pebblestore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// TestBlockLogRecRoundTrip: a block log record decodes to the block record
// it was encoded from, whichever of its hashes and counters it elides.
func TestBlockLogRecRoundTrip(t *testing.T) {
	h := func(b byte) [32]byte { return [32]byte{b, 0xaa, b} }
	base := blockRec{
		BlockInfo: store.BlockInfo{Height: 812345, Hash: h(1), PrevHash: h(2), Time: 1_700_000_000, NTx: 3},
		FirstTx:   1 << 33,
		Before:    meta{Mark: store.Mark{HasBlocks: true, Height: 812344, Hash: h(2), NextTx: 1 << 33, NextAddr: 1 << 30, NextAsset: 7, Blocks: 99, Txs: 1<<33 - 1, Transfers: 1 << 35}},
	}
	for _, tc := range []struct {
		name   string
		edit   func(b *blockRec)
		prev   *[32]byte
		r      uint64
		maxLen int // the record's size bound, to show what it elides
	}{
		{"linked, first of group", func(*blockRec) {}, nil, 99, 32 + 32 + 40},
		{"linked, parent elided", func(*blockRec) {}, &[32]byte{2, 0xaa, 2}, 99, 32 + 40},
		{"previous record another block", func(*blockRec) {}, &[32]byte{9}, 99, 32 + 32 + 40},
		{"tip before is not the parent", func(b *blockRec) { b.Before.Hash = h(5); b.Before.Height = 900000 }, nil, 99, 32 + 32 + 32 + 40},
		{"first block of a chain", func(b *blockRec) {
			b.Before = meta{Mark: store.Mark{NextTx: 1, NextAddr: 1, NextAsset: 1}}
			b.FirstTx = 1
		}, nil, 0, 32 + 32 + 32 + 40},
		{"counters that differ from the record number", func(b *blockRec) { b.Before.Blocks = 3; b.Before.Txs = 5 }, nil, 1000, 32 + 32 + 48},
		{"empty block, negative time", func(b *blockRec) { b.NTx = 0; b.Time = -5 }, nil, 99, 32 + 32 + 40},
	} {
		b := base
		tc.edit(&b)
		b.Before.NextTx = b.FirstTx
		v := appendBlockLogRec([]byte("prefix"), &b, tc.prev, tc.r)
		if !bytes.HasPrefix(v, []byte("prefix")) {
			t.Fatalf("%s: appended over the prefix", tc.name)
		}
		v = v[len("prefix"):]
		if len(v) > tc.maxLen {
			t.Errorf("%s: record of %d bytes, want at most %d", tc.name, len(v), tc.maxLen)
		}
		got, err := decodeBlockLogRec(v, tc.prev, tc.r)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !reflect.DeepEqual(*got, b) {
			t.Fatalf("%s: decoded\n%+v\nwant\n%+v", tc.name, *got, b)
		}
		hgt, hash, err := blockRecKey(v)
		if err != nil || hgt != b.Height || hash != b.Hash {
			t.Fatalf("%s: key %d %x %v", tc.name, hgt, hash[:4], err)
		}
		if tc.prev != nil && *tc.prev == b.PrevHash {
			if _, err := decodeBlockLogRec(v, nil, tc.r); !errors.Is(err, errCorrupt) {
				t.Fatalf("%s: an elided parent hash decoded without the previous record: %v", tc.name, err)
			}
		}
		for cut := 0; cut < len(v); cut++ {
			if _, err := decodeBlockLogRec(v[:cut], tc.prev, tc.r); err == nil {
				t.Fatalf("%s: %d of %d bytes decoded", tc.name, cut, len(v))
			}
		}
	}
}

// FuzzBlockLogRec: any bytes either fail to decode or decode to a block
// record that encodes and decodes to itself; never a panic.
func FuzzBlockLogRec(f *testing.F) {
	b := &blockRec{BlockInfo: store.BlockInfo{Height: 5, Hash: [32]byte{1}, PrevHash: [32]byte{2}, Time: 9, NTx: 1}, FirstTx: 7,
		Before: meta{Mark: store.Mark{HasBlocks: true, Height: 4, Hash: [32]byte{2}, NextTx: 7, NextAddr: 3, NextAsset: 1, Blocks: 4, Txs: 6, Transfers: 11}}}
	f.Add(appendBlockLogRec(nil, b, nil, 4), false)
	f.Add(appendBlockLogRec(nil, b, &b.PrevHash, 4), true)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, false)
	f.Fuzz(func(t *testing.T, v []byte, withPrev bool) {
		var prev *[32]byte
		if withPrev {
			prev = &[32]byte{2}
		}
		got, err := decodeBlockLogRec(v, prev, 4)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("error %v is not a corruption error", err)
			}
			return
		}
		again, err := decodeBlockLogRec(appendBlockLogRec(nil, got, prev, 4), prev, 4)
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("re-encoded record decodes to %+v, %v; want %+v", again, err, got)
		}
	})
}

// frameRecs frames records as a record log holds them.
func frameRecs(recs [][]byte) []byte {
	var b []byte
	for _, r := range recs {
		b = appendFrame(b, r)
	}
	return b
}

// parseFrames splits framed records as the frame's description says, by a
// plain loop of its own: the records and where each starts, or ok false.
func parseFrames(data []byte) (recs [][]byte, starts []int, ok bool) {
	for p := 0; p < len(data); {
		starts = append(starts, p)
		if b := data[p]; b < frameImplied {
			n := int(impliedLen[b])
			if n == 0 || n > len(data)-p {
				return nil, nil, false
			}
			recs, p = append(recs, data[p:p+n]), p+n
			continue
		}
		v, k := binary.Uvarint(data[p:])
		if k <= 0 || v-frameImplied > uint64(len(data)-p-k) {
			return nil, nil, false
		}
		n := int(v - frameImplied)
		recs, p = append(recs, data[p+k:p+k+n]), p+k+n
	}
	return recs, starts, true
}

// TestRecordFrames: a record is framed without its length exactly where its
// first byte implies it (Bitcoin addresses of the known kinds), with it
// otherwise (other lengths, other first bytes: account-chain addresses,
// block records, the empty record), and every framing parses back.
func TestRecordFrames(t *testing.T) {
	p2pkh := append([]byte{byte(model.ScriptP2PKH)}, bytes.Repeat([]byte{0xab}, 20)...)
	p2tr := append([]byte{byte(model.ScriptP2TR)}, bytes.Repeat([]byte{0x01}, 32)...)
	eth := append([]byte{0x03}, bytes.Repeat([]byte{0x11}, 19)...) // 20 bytes starting like a kind
	tron := append([]byte{0x41}, bytes.Repeat([]byte{0x22}, 20)...)
	long := bytes.Repeat([]byte{0x05}, 200)
	for _, c := range []struct {
		name string
		rec  []byte
		over int // frame bytes
	}{{"P2PKH", p2pkh, 0}, {"P2TR", p2tr, 0}, {"20 bytes from 0x03", eth, 1}, {"Tron", tron, 1},
		{"P2PKH kind, 22 bytes", append(slices.Clone(p2pkh), 0), 1}, {"200 bytes", long, 2}, {"empty", nil, 1}} {
		b := appendFrame([]byte{9}, c.rec)
		if len(b)-1 != len(c.rec)+c.over {
			t.Errorf("%s: %d bytes framed, want %d + %d", c.name, len(b)-1, len(c.rec), c.over)
		}
		recs, _, ok := parseFrames(b[1:])
		if !ok || len(recs) != 1 || !bytes.Equal(recs[0], c.rec) {
			t.Errorf("%s: parsed back %q, %v", c.name, recs, ok)
		}
		l := &recLog{name: "address log", path: "x.addr"}
		rec, next, err := l.frame(b, 1, 0)
		if err != nil || !bytes.Equal(rec, c.rec) || next != uint64(len(b)) {
			t.Errorf("%s: frame %q, next %d, %v", c.name, rec, next, err)
		}
		if len(b) > 2 {
			if _, _, err := l.frame(b[:len(b)-1], 1, 0); err == nil {
				t.Errorf("%s: a record cut by a byte framed", c.name)
			}
		}
	}
}

// openRawLog writes data as an address log file claiming n records and
// opens it (no durable index entries: the open scans every record).
func openRawLog(t testing.TB, dir string, data []byte, n uint64) (*recLog, error) {
	t.Helper()
	p := dir + "/x.addr"
	if err := os.WriteFile(p, data, 0o640); err != nil {
		t.Fatal(err)
	}
	l := &recLog{name: "address log", path: p, idxPath: dir + "/x.addridx"}
	err := l.open(uint64(len(data)), n, 0)
	if err == nil {
		t.Cleanup(func() { l.close() })
	}
	return l, err
}

// FuzzRecLog feeds arbitrary bytes to a record log's open, which frames
// every record: a log claiming more records than it frames is an error
// naming the file; one claiming what it frames reads back, by point read
// and by scan, exactly the records a plain parse finds, and a byte changed
// in any group fails that group's checksum.
func FuzzRecLog(f *testing.F) {
	var recs [][]byte
	for i := 0; i < 75; i++ {
		recs = append(recs, bytes.Repeat([]byte{byte(i)}, i*3%140))
	}
	f.Add(frameRecs(recs))
	f.Add(frameRecs(recs)[:200])
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})
	f.Add([]byte{5, 1, 2})
	f.Add([]byte{0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		want, _, _ := parseFrames(data)
		if _, err := openRawLog(t, t.TempDir(), data, uint64(len(want))+1); err == nil && len(data) > 0 {
			t.Fatal("a log opened claiming more records than it frames")
		} else if err != nil && !strings.Contains(err.Error(), "x.addr") {
			t.Fatalf("open error does not name the log: %v", err)
		}
		if len(want) == 0 {
			return
		}
		l, err := openRawLog(t, t.TempDir(), data, uint64(len(want)))
		if err != nil {
			t.Fatalf("a log of %d framed records: %v", len(want), err)
		}
		if len(l.idx) != recIdxLen(l.n) {
			t.Fatalf("%d records, %d index entries", l.n, len(l.idx))
		}
		for r := range want {
			got, err := l.get(uint64(r), nil)
			if err != nil || !bytes.Equal(got, want[r]) {
				t.Fatalf("record %d: %q, %v; want %q", r, got, err, want[r])
			}
		}
		// A batch read of every third record, each asked twice, and the last.
		var rs []uint64
		for r := 0; r < len(want); r += 3 {
			rs = append(rs, uint64(r), uint64(r))
		}
		rs = append(rs, uint64(len(want)-1))
		got := 0
		if err := l.getMany(rs, func(r uint64, rec []byte) {
			if r != rs[got] || !bytes.Equal(rec, want[r]) {
				t.Fatalf("getMany: call %d: record %d = %q, want record %d %q", got, r, rec, rs[got], want[rs[got]])
			}
			got++
		}); err != nil || got != len(rs) {
			t.Fatalf("getMany: %d of %d records, %v", got, len(rs), err)
		}
		if err := l.getMany([]uint64{uint64(len(want))}, func(uint64, []byte) {}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("getMany past the end: %v", err)
		}
		i := 0
		if err := l.scan(uint64(len(want)/3), uint64(len(want)), func(r uint64, rec []byte) error {
			if r != uint64(len(want)/3+i) || !bytes.Equal(rec, want[r]) {
				t.Fatalf("scan: record %d = %q", r, rec)
			}
			i++
			return nil
		}); err != nil || i != len(want)-len(want)/3 {
			t.Fatalf("scan: %d records, %v", i, err)
		}
		if _, err := l.get(uint64(len(want)), nil); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("record past the end: %v", err)
		}
		// Change a byte of the last group (checked against the CRC kept in
		// memory) and of the first (checked against the index).
		for _, r := range []uint64{0, uint64(len(want) - 1)} {
			k := r / recStride
			a := l.idx[k].off
			d := append([]byte(nil), data...)
			d[a] ^= 0x40
			if err := os.WriteFile(l.path, d, 0o640); err != nil {
				t.Fatal(err)
			}
			l.cache.clear() // checked groups are served from memory until they leave the cache
			if _, err := l.get(r, nil); !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), "checksum") || !strings.Contains(err.Error(), l.path) {
				t.Fatalf("a changed byte in record %d's group: %v", r, err)
			}
			if err := l.getMany([]uint64{r}, func(uint64, []byte) {}); !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), "checksum") {
				t.Fatalf("getMany, a changed byte in record %d's group: %v", r, err)
			}
		}
	})
}

// TestSpanIndex: the groups holding a height are found however the blocks
// were stored: in order, in reverse, shuffled, overlapping.
func TestSpanIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, order := range []string{"ascending", "descending", "shuffled", "runs"} {
		heights := make([]uint64, 2000)
		for i := range heights {
			heights[i] = uint64(i)*3 + 100
		}
		switch order {
		case "descending":
			for i, j := 0, len(heights)-1; i < j; i, j = i+1, j-1 {
				heights[i], heights[j] = heights[j], heights[i]
			}
		case "shuffled":
			rng.Shuffle(len(heights), func(i, j int) { heights[i], heights[j] = heights[j], heights[i] })
		case "runs": // partitions of a parallel export, interleaved
			var a, b []uint64
			for i, h := range heights {
				if i%2 == 0 {
					a = append(a, h)
				} else {
					b = append(b, h)
				}
			}
			heights = append(a, b...)
		}
		var x spanIndex
		where := map[uint64]uint64{}
		for k := 0; k*recStride < len(heights); k++ {
			g := heights[k*recStride : min((k+1)*recStride, len(heights))]
			lo, hi := g[0], g[0]
			for _, h := range g {
				lo, hi = min(lo, h), max(hi, h)
				where[h] = uint64(k)
			}
			x.add(lo, hi)
		}
		for h := uint64(90); h < 100+3*2000+10; h++ {
			var got []uint64
			x.stab(h, func(k uint64) bool { got = append(got, k); return true })
			k, stored := where[h]
			found := false
			for _, g := range got {
				found = found || g == k
			}
			if stored && !found {
				t.Fatalf("%s: height %d is in group %d, lookup names %v", order, h, k, got)
			}
			if order == "ascending" && len(got) > 1 {
				t.Fatalf("%s: height %d names %d groups", order, h, len(got))
			}
		}
	}
}

// TestBlocksByHeight stores an account chain's blocks in shuffled order in
// several Applies (so groups span overlapping heights) and reads every
// height back, open and reopened, and absent heights as not found.
func TestBlocksByHeight(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	var blocks []*model.Block
	for h := uint64(1); h <= 700; h++ {
		tx := model.Tx{ID: [32]byte{byte(h), byte(h >> 8), 3}, FeePayer: append([]byte{0x41, byte(h)}, make([]byte, 19)...)}
		tx.Transfers = []model.Transfer{{From: tx.FeePayer, To: append([]byte{0x41, 1}, make([]byte, 19)...), Value: *uint256.NewInt(h)}}
		b := accountBlock(h*2, tx)
		b.Hash = [32]byte{byte(h), byte(h >> 8), 0xbb}
		b.Time = int64(h) * 3
		blocks = append(blocks, b)
	}
	rand.New(rand.NewPCG(5, 6)).Shuffle(len(blocks), func(i, j int) { blocks[i], blocks[j] = blocks[j], blocks[i] })
	for i := 0; i < len(blocks); i += 45 {
		if err := s.Apply(model.Tron, store.Unordered, blocks[i:min(i+45, len(blocks))]); err != nil {
			t.Fatal(err)
		}
	}
	check := func(s *Store) {
		t.Helper()
		for h := uint64(1); h <= 1401; h++ {
			b, err := s.Block(model.Tron, h)
			if h%2 == 1 {
				if !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("height %d (not stored): %v", h, err)
				}
				continue
			}
			if err != nil || b.Hash != [32]byte{byte(h / 2), byte(h / 2 >> 8), 0xbb} || b.Time != int64(h/2)*3 || b.NTx != 1 {
				t.Fatalf("height %d: %+v, %v", h, b, err)
			}
		}
	}
	check(s)
	// An Apply of a stored block with another hash is refused.
	clash := accountBlock(blocks[3].Height, model.Tx{ID: [32]byte{9, 9, 9}})
	if err := s.Apply(model.Tron, store.Unordered, []*model.Block{clash}); !errors.Is(err, store.ErrChain) {
		t.Fatalf("a second block at height %d: %v", clash.Height, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	check(s)
}

// TestUndoEmptyBlocks: blocks without transactions after a mark are undone
// too (in layout 4 their order keys, keyed by first tx, overwrote each
// other, and an undo left all but the last in place).
func TestUndoEmptyBlocks(t *testing.T) {
	s := openTestStore(t)
	w := newUTXOWorld(9, 12)
	if err := s.Apply(model.BTC, store.Linked, w.blocks[:8]); err != nil {
		t.Fatal(err)
	}
	mark, err := s.Mark(model.BTC)
	if err != nil {
		t.Fatal(err)
	}
	want := digest(t, s)
	prev := w.blocks[7]
	var empty []*model.Block
	for h, top := prev.Height+1, prev.Height+5; h < top; h++ {
		b := &model.Block{Chain: model.BTC, Height: h, Hash: [32]byte{byte(h), 0xee}, PrevHash: prev.Hash, Time: prev.Time + 600}
		empty = append(empty, b)
		prev = b
	}
	if err := s.Apply(model.BTC, store.Linked, empty); err != nil {
		t.Fatal(err)
	}
	if err := s.Undo(model.BTC, mark); err != nil {
		t.Fatal(err)
	}
	if got := digest(t, s); got != want {
		t.Fatal("undo of empty blocks is not exact")
	}
	for _, b := range empty {
		if _, err := s.Block(model.BTC, b.Height); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("block %d after the undo: %v", b.Height, err)
		}
	}
	if err := s.Apply(model.BTC, store.Linked, w.blocks[8:]); err != nil {
		t.Fatal(err)
	}
}

// TestRecLogDamage: bytes past the committed ends of the address and block
// logs (an Apply whose meta never committed) are cut at open and change
// nothing; a log shorter than the meta says, a missing log, a damaged
// record and a damaged index are errors naming the file, never a panic.
func TestRecLogDamage(t *testing.T) {
	defer func(old int) { recIdxSyncEvery = old }(recIdxSyncEvery)
	recIdxSyncEvery = 2 // durable index entries in the files
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	goldenWorld(t, s)
	want, wantReads := digest(t, s), readsDigest(t, s)
	m := s.chains[model.Tron].meta
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if m.AddrIdx == 0 || m.BlockIdx < 3 {
		t.Fatalf("durable index entries: %d address, %d block", m.AddrIdx, m.BlockIdx)
	}
	ap, aip := addrLogPaths(dir, model.Tron)
	bp, bip := blockLogPaths(dir, model.Tron)
	files := map[string][]byte{}
	for _, p := range []string{ap, aip, bp, bip} {
		if files[p], err = os.ReadFile(p); err != nil {
			t.Fatal(err)
		}
	}
	restore := func() {
		for p, d := range files {
			if err := os.WriteFile(p, d, 0o640); err != nil {
				t.Fatal(err)
			}
		}
	}
	put := func(t *testing.T, path string, data []byte) {
		t.Helper()
		if err := os.WriteFile(path, data, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	reopen := func(t *testing.T) (*Store, error) {
		t.Helper()
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		_, err = s.Stats()
		return s, err
	}
	// reads: an address's bytes, a block, the whole store.
	reads := func(s *Store) error {
		if _, err := s.TxByNum(model.Tron, 100); err != nil {
			return err
		}
		if _, err := s.Block(model.Tron, 150); err != nil {
			return err
		}
		_, err := s.Digest()
		return err
	}
	for _, p := range []string{ap, bp} {
		t.Run("tail past the end of "+p, func(t *testing.T) {
			t.Cleanup(restore)
			put(t, p, append(append([]byte(nil), files[p]...), bytes.Repeat([]byte{0x7f}, 500)...))
			s, err := reopen(t)
			if err != nil {
				t.Fatal(err)
			}
			if digest(t, s) != want || readsDigest(t, s) != wantReads {
				t.Fatal("a tail past the committed end changed the store")
			}
			if fi, err := os.Stat(p); err != nil || fi.Size() != int64(len(files[p])) {
				t.Fatalf("log not cut to its committed end: %v", err)
			}
		})
	}
	bad := func(t *testing.T, file, what string) {
		t.Helper()
		s, err := reopen(t)
		if err == nil {
			err = reads(s)
		}
		if !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), file) {
			t.Fatalf("%s: err = %v, want a corruption error naming %s", what, err, file)
		}
	}
	for _, p := range []string{ap, bp} {
		t.Run("shorter than the meta: "+p, func(t *testing.T) {
			t.Cleanup(restore)
			put(t, p, files[p][:len(files[p])-3])
			bad(t, p, "short log")
		})
		t.Run("missing: "+p, func(t *testing.T) {
			t.Cleanup(restore)
			os.Remove(p)
			bad(t, p, "missing log")
		})
		t.Run("record damaged: "+p, func(t *testing.T) {
			t.Cleanup(restore)
			d := append([]byte(nil), files[p]...)
			d[5] ^= 0x01 // in the first record's bytes: still frames
			put(t, p, d)
			s, err := reopen(t)
			if err != nil {
				t.Fatal(err)
			}
			if err := reads(s); !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "checksum") {
				t.Fatalf("err = %v, want a checksum error naming %s", err, p)
			}
		})
		t.Run("record length damaged near the end: "+p, func(t *testing.T) {
			t.Cleanup(restore)
			d := append([]byte(nil), files[p]...)
			// The tail after the durable index is framed again at open:
			// the last record's length, past the end.
			_, starts, ok := parseFrames(d)
			if !ok {
				t.Fatalf("%s does not frame", p)
			}
			d[starts[len(starts)-1]] = 0x7f // 111 bytes, past the end
			put(t, p, d)
			s, err := reopen(t)
			if err == nil {
				err = reads(s)
			}
			if !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), p) {
				t.Fatalf("err = %v, want a corruption error naming %s", err, p)
			}
		})
	}
	for _, p := range []string{aip, bip} {
		t.Run("index shorter than the meta: "+p, func(t *testing.T) {
			t.Cleanup(restore)
			put(t, p, files[p][:len(files[p])-13])
			bad(t, p, "short index")
		})
		t.Run("index out of order: "+p, func(t *testing.T) {
			t.Cleanup(restore)
			d := append([]byte(nil), files[p]...)
			el := len(files[p]) / map[string]int{aip: m.AddrIdx, bip: m.BlockIdx}[p]
			copy(d[el:2*el], d[:el]) // entry 1 = entry 0
			put(t, p, d)
			bad(t, p, "index out of order")
		})
	}
	t.Run("index entries past the durable ones", func(t *testing.T) {
		t.Cleanup(restore)
		// An index write whose meta never committed: ignored.
		put(t, bip, append(append([]byte(nil), files[bip]...), bytes.Repeat([]byte{0xee}, 3*28)...))
		s, err := reopen(t)
		if err != nil {
			t.Fatal(err)
		}
		if digest(t, s) != want || readsDigest(t, s) != wantReads {
			t.Fatal("index bytes past the durable entries changed the store")
		}
	})
	t.Run("intact again", func(t *testing.T) {
		s, err := reopen(t)
		if err != nil {
			t.Fatal(err)
		}
		if digest(t, s) != want {
			t.Fatal("restored store differs")
		}
	})
}

// TestRecLogIndexSyncs applies the golden world with the logs' index files
// synced at every Apply, at some, and never, reopening after every Apply
// and undoing into the middle: the store and its reads are the same.
func TestRecLogIndexSyncs(t *testing.T) {
	defer func(old int) { recIdxSyncEvery = old }(recIdxSyncEvery)
	var digests []string
	for _, every := range []int{1, 3, 1 << 30} {
		recIdxSyncEvery = every
		dir := t.TempDir()
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		goldenWorld(t, s)
		d, r := digest(t, s), readsDigest(t, s)
		if d != layoutGolden {
			t.Fatalf("sync every %d: digest %s, want the golden %s", every, d, layoutGolden)
		}
		mark, _ := s.Mark(model.Tron)
		tail := tronBatch(301, 420, 2)
		for i := 0; i < len(tail); i += 7 {
			if err := s.Apply(model.Tron, store.Unordered, tail[i:min(i+7, len(tail))]); err != nil {
				t.Fatal(err)
			}
			s.Close()
			if s, err = Open(dir); err != nil {
				t.Fatal(err)
			}
		}
		digests = append(digests, digest(t, s))
		if err := s.Undo(model.Tron, mark); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if s, err = Open(dir); err != nil {
			t.Fatal(err)
		}
		if digest(t, s) != d || readsDigest(t, s) != r {
			t.Fatalf("sync every %d: undone and reopened store differs", every)
		}
		s.Close()
	}
	if digests[0] != digests[1] || digests[1] != digests[2] {
		t.Fatal("the index syncs changed the store")
	}
}
