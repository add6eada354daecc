package pebblestore

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

func testOutpoint(i uint64) outpoint {
	var op outpoint
	binary.LittleEndian.PutUint64(op.id[:], i/3)
	op.id[31] = 0xaa
	op.vout = uint32(i % 3)
	return op
}

func testRec(i uint64) utxoRec {
	return utxoRec{TxNum: i + 1, Addr: i * 7, Value: i << 20, Script: byte(i % 9)}
}

// checkUTXO compares the set with the reference map: size, every record,
// each's enumeration, and absent probes.
func checkUTXO(t *testing.T, m *utxoSet, ref map[outpoint]utxoRec, absent []outpoint) {
	t.Helper()
	if m.len() != len(ref) {
		t.Fatalf("set holds %d outputs, want %d", m.len(), len(ref))
	}
	for op, want := range ref {
		if got, ok := m.get(op); !ok || got != want {
			t.Fatalf("get(%x:%d) = %+v, %v; want %+v", op.id[:4], op.vout, got, ok, want)
		}
	}
	n := 0
	m.each(func(op *outpoint, u *utxoRec) {
		if want, ok := ref[*op]; !ok || want != *u {
			t.Fatalf("each names %x:%d %+v; want %+v, %v", op.id[:4], op.vout, *u, want, ok)
		}
		n++
	})
	if n != len(ref) {
		t.Fatalf("each named %d outputs, want %d", n, len(ref))
	}
	for _, op := range absent {
		if _, in := ref[op]; in {
			continue
		}
		if u, ok := m.get(op); ok {
			t.Fatalf("get(%x:%d) = %+v for an absent output", op.id[:4], op.vout, u)
		}
	}
}

// utxoCollisions finds outpoints whose hashes share the top 32 bits (one
// index fingerprint: the entries must settle it) and outpoints that share a
// home slot of the smallest index, including its last slot (a run that
// wraps), by search over the real hash.
func utxoCollisions(t *testing.T) (sameFP, sameHome, wrap []outpoint) {
	t.Helper()
	seen := map[uint32]outpoint{}
	shift := uint(64 - log2(utxoIdxMin))
	for i := uint64(0); len(sameFP) < 8 || len(sameHome) < 8 || len(wrap) < 8; i++ {
		if i > 1<<22 {
			t.Fatal("no collisions found")
		}
		op := testOutpoint(i)
		h := utxoHash(&op)
		if o, ok := seen[uint32(h>>32)]; ok && len(sameFP) < 8 {
			sameFP = append(sameFP, o, op)
		}
		seen[uint32(h>>32)] = op
		switch h >> shift {
		case 5:
			sameHome = append(sameHome, op)
		case utxoIdxMin - 1, 0:
			wrap = append(wrap, op)
		}
	}
	return sameFP, sameHome, wrap
}

// TestUTXOSet: outpoints with the same fingerprint, the same home, a run
// wrapping the index end; add refusing a present output, take and set, the
// free list reusing entries.
func TestUTXOSet(t *testing.T) {
	sameFP, sameHome, wrap := utxoCollisions(t)
	for _, tc := range []struct {
		name string
		ops  []outpoint
	}{{"same fingerprint", sameFP}, {"same home", sameHome}, {"wrapping run", wrap}} {
		t.Run(tc.name, func(t *testing.T) {
			m, ref := newUTXOSet(), map[outpoint]utxoRec{}
			absent := []outpoint{testOutpoint(1 << 40)}
			for i, op := range tc.ops {
				ok, err := m.add(op, testRec(uint64(i)))
				if err != nil || !ok {
					t.Fatalf("add %d: %v, %v", i, ok, err)
				}
				ref[op] = testRec(uint64(i))
				if ok, _ := m.add(op, testRec(99)); ok {
					t.Fatalf("add %d again succeeded", i)
				}
				checkUTXO(t, m, ref, absent)
			}
			for i := 0; i < len(tc.ops); i += 2 {
				u, ok := m.take(tc.ops[i])
				if !ok || u != ref[tc.ops[i]] {
					t.Fatalf("take %d = %+v, %v", i, u, ok)
				}
				delete(ref, tc.ops[i])
				if _, ok := m.take(tc.ops[i]); ok {
					t.Fatalf("take %d twice succeeded", i)
				}
				checkUTXO(t, m, ref, tc.ops)
			}
			used := m.used
			for i := 0; i < len(tc.ops); i += 2 { // back, into the freed entries
				if err := m.set(tc.ops[i], testRec(uint64(100+i))); err != nil {
					t.Fatal(err)
				}
				ref[tc.ops[i]] = testRec(uint64(100 + i))
			}
			if err := m.set(tc.ops[1], testRec(7)); err != nil { // replace
				t.Fatal(err)
			}
			ref[tc.ops[1]] = testRec(7)
			checkUTXO(t, m, ref, absent)
			if m.used != used {
				t.Fatalf("%d entries handed out, %d before: the free list was not reused", m.used, used)
			}
		})
	}
}

// TestUTXOSetGrowth: 200,000 outputs through index doublings and several
// pages, most then spent, the rest spent and re-added, as a chain does.
func TestUTXOSetGrowth(t *testing.T) {
	m, ref := newUTXOSet(), map[outpoint]utxoRec{}
	const n = 200_000
	for i := uint64(0); i < n; i++ {
		if ok, err := m.add(testOutpoint(i), testRec(i)); !ok || err != nil {
			t.Fatalf("add %d: %v %v", i, ok, err)
		}
		ref[testOutpoint(i)] = testRec(i)
	}
	checkUTXO(t, m, ref, []outpoint{testOutpoint(n)})
	for i := uint64(0); i < n; i++ {
		if i%5 != 0 {
			m.take(testOutpoint(i))
			delete(ref, testOutpoint(i))
		}
	}
	checkUTXO(t, m, ref, []outpoint{testOutpoint(1), testOutpoint(2)})
	for i := uint64(n); i < n+n/2; i++ {
		m.add(testOutpoint(i), testRec(i))
		ref[testOutpoint(i)] = testRec(i)
	}
	checkUTXO(t, m, ref, []outpoint{testOutpoint(1)})
	if m.used > n {
		t.Fatalf("%d entries for at most %d outputs at a time", m.used, n)
	}
}

// TestUTXOJournal: the changes made between begin and abort are undone
// exactly (an output added and spent in the same batch, one spent and
// created again, outputs spent from before), with no entry reused in
// between; those between begin and commit stay, and commit frees the
// spent entries for reuse.
func TestUTXOJournal(t *testing.T) {
	m, ref := newUTXOSet(), map[outpoint]utxoRec{}
	for i := uint64(0); i < 1000; i++ {
		m.add(testOutpoint(i), testRec(i))
		ref[testOutpoint(i)] = testRec(i)
	}
	batch := func() {
		for i := uint64(0); i < 1000; i += 3 {
			if _, ok := m.take(testOutpoint(i)); !ok {
				t.Fatalf("take %d", i)
			}
		}
		for i := uint64(1000); i < 1500; i++ {
			if ok, err := m.add(testOutpoint(i), testRec(i)); !ok || err != nil {
				t.Fatalf("add %d: %v %v", i, ok, err)
			}
		}
		for i := uint64(1000); i < 1500; i += 2 {
			m.take(testOutpoint(i))
		}
		m.add(testOutpoint(3), testRec(7)) // spent above, created again
	}
	used := m.used
	m.begin()
	batch()
	if len(m.free) != 0 {
		t.Fatalf("%d entries freed during the batch", len(m.free))
	}
	m.abort()
	checkUTXO(t, m, ref, []outpoint{testOutpoint(1000), testOutpoint(1001)})
	if m.used > used+501 {
		t.Fatalf("%d entries after an aborted batch of 501 adds (had %d)", m.used, used)
	}
	m.begin()
	batch()
	m.commit()
	for i := uint64(0); i < 1000; i += 3 {
		delete(ref, testOutpoint(i))
	}
	for i := uint64(1001); i < 1500; i += 2 {
		ref[testOutpoint(i)] = testRec(i)
	}
	ref[testOutpoint(3)] = testRec(7)
	checkUTXO(t, m, ref, []outpoint{testOutpoint(0), testOutpoint(1000)})
	used = m.used
	for i := uint64(2000); i < 2300; i++ {
		m.add(testOutpoint(i), testRec(i))
		ref[testOutpoint(i)] = testRec(i)
	}
	if m.used != used {
		t.Fatalf("300 adds after a commit that freed 584 entries took %d new ones", m.used-used)
	}
	checkUTXO(t, m, ref, nil)
}

// FuzzUTXOSet drives the set and a Go map with the same adds, takes and
// sets over a small family of outpoints (ids sharing all but a byte, so
// entries differ late) and compares them.
func FuzzUTXOSet(f *testing.F) {
	f.Add([]byte{0, 1, 2, 0x40, 0x41, 0x80, 0x81, 3})
	f.Add([]byte("\x00\x01\x02\x03\x04\x05\x06\x07\x47\x46\x45\x44\x83\x82\x00\x01"))
	f.Fuzz(func(t *testing.T, ops []byte) {
		m, ref := newUTXOSet(), map[outpoint]utxoRec{}
		var seen []outpoint
		for i, b := range ops {
			var op outpoint
			op.id[30] = b & 0x3f / 4
			op.vout = uint32(b & 3)
			seen = append(seen, op)
			switch b >> 6 {
			case 0, 1:
				_, had := ref[op]
				ok, err := m.add(op, testRec(uint64(i)))
				if err != nil || ok == had {
					t.Fatalf("add: %v, %v with the output present %v", ok, err, had)
				}
				if !had {
					ref[op] = testRec(uint64(i))
				}
			case 2:
				u, ok := m.take(op)
				want, had := ref[op]
				if ok != had || u != want {
					t.Fatalf("take = %+v, %v; want %+v, %v", u, ok, want, had)
				}
				delete(ref, op)
			case 3:
				m.set(op, testRec(uint64(i)))
				ref[op] = testRec(uint64(i))
			}
		}
		checkUTXO(t, m, ref, seen)
	})
}

// TestApplyDuplicateOutputAtomic: a batch that creates an output, spends
// another output of the same tx, and then creates an output already
// unspent (same txid and index) fails as a whole: the UTXO set (in the
// digest) and everything else are as before, and the right continuation
// still applies and equals a clean run.
func TestApplyDuplicateOutputAtomic(t *testing.T) {
	w := newUTXOWorld(5, 30)
	s := openTestStore(t)
	if err := s.Apply(model.BTC, store.Linked, w.blocks[:20]); err != nil {
		t.Fatal(err)
	}
	before := digest(t, s)
	bad := *w.blocks[25]
	x := model.Tx{ID: [32]byte{0xd0, 0x0d}, Coinbase: true, Index: uint32(len(bad.Txs)),
		Outputs: []model.Output{{Address: []byte{9, 9}, Value: 10}, {Index: 1, Address: []byte{9, 8}, Value: 20}}}
	y := model.Tx{ID: [32]byte{0xd0, 0x0e}, Index: x.Index + 1, Inputs: []model.Input{{PrevTxID: x.ID, PrevIndex: 1}},
		Outputs: []model.Output{{Address: []byte{9, 7}, Value: 15}}}
	z := model.Tx{ID: x.ID, Coinbase: true, Index: y.Index + 1, Outputs: []model.Output{{Address: []byte{9, 6}, Value: 1}}}
	bad.Txs = append(append([]model.Tx(nil), bad.Txs...), x, y, z)
	blocks := append(append([]*model.Block(nil), w.blocks[20:25]...), &bad)
	err := s.Apply(model.BTC, store.Linked, blocks)
	if !errors.Is(err, store.ErrChain) {
		t.Fatalf("an output created twice: err = %v, want ErrChain", err)
	}
	if got := digest(t, s); got != before {
		t.Fatal("a failed Apply changed the store")
	}
	if err := s.Apply(model.BTC, store.Linked, w.blocks[20:]); err != nil {
		t.Fatal(err)
	}
	clean := openTestStore(t)
	if err := clean.Apply(model.BTC, store.Linked, w.blocks); err != nil {
		t.Fatal(err)
	}
	if digest(t, s) != digest(t, clean) {
		t.Fatal("the store after a failed Apply and its continuation differs from a clean run")
	}
}

// BenchmarkUTXOSet: a chain's life in the set, the way Apply drives it:
// 2²¹ outputs held, then per op one output spent (take; a Go map: lookup
// and delete) and one created (add; a Go map: lookup and assign), against
// the Go map it replaced. B/output is the heap the set holds at 2²¹ (the
// index at its smallest and fullest loads lies in between powers of two, so
// 1.5 × 2²¹ is measured too).
func BenchmarkUTXOSet(b *testing.B) {
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	for _, n := range []int{1 << 21, 3 << 20} {
		b.Run(fmt.Sprintf("table-%d", n), func(b *testing.B) {
			h0 := heap()
			m := newUTXOSet()
			for i := 0; i < n; i++ {
				m.add(testOutpoint(uint64(i)), testRec(uint64(i)))
			}
			bytes := float64(heap()-h0) / float64(n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, ok := m.take(testOutpoint(uint64(i))); !ok {
					b.Fatal("missing")
				}
				if ok, _ := m.add(testOutpoint(uint64(n+i)), testRec(uint64(i))); !ok {
					b.Fatal("present")
				}
			}
			b.ReportMetric(bytes, "B/output")
			runtime.KeepAlive(m)
		})
		b.Run(fmt.Sprintf("go-map-%d", n), func(b *testing.B) {
			h0 := heap()
			m := map[outpoint]utxoRec{}
			for i := 0; i < n; i++ {
				m[testOutpoint(uint64(i))] = testRec(uint64(i))
			}
			bytes := float64(heap()-h0) / float64(n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				op := testOutpoint(uint64(i))
				if _, ok := m[op]; !ok {
					b.Fatal("missing")
				}
				delete(m, op)
				op = testOutpoint(uint64(n + i))
				if _, ok := m[op]; ok {
					b.Fatal("present")
				}
				m[op] = testRec(uint64(i))
			}
			b.ReportMetric(bytes, "B/output")
			runtime.KeepAlive(m)
		})
	}
}

// FuzzUTXOSnapshot feeds damaged UTXO snapshots (checksum recomputed) to
// the decoder: an error or outputs, never a panic; an
// intact snapshot round-trips, and every output a damaged one yields is in
// order and before the tx it is as of.
func FuzzUTXOSnapshot(f *testing.F) {
	var keys []utxoKey
	for i := 0; i < 40; i++ {
		keys = append(keys, utxoKey{uint64(1 + i*i%17), uint32(i * 5 % 7)})
	}
	keys = append(keys, utxoKey{30, 1 << 20}, utxoKey{31, 3}, utxoKey{31, 4})
	slices.SortFunc(keys, func(a, b utxoKey) int { return cmp.Or(cmp.Compare(a.tx, b.tx), cmp.Compare(a.vout, b.vout)) })
	keys = slices.Compact(keys)
	shuffled := slices.Clone(keys)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	img, err := encodeUTXOSnapshot(shuffled, 40)
	if err != nil {
		f.Fatal(err)
	}
	if got := snapshotKeys(f, img); !slices.Equal(got, keys) {
		f.Fatalf("round trip: %v, want %v", got, keys)
	}
	f.Add(img)
	f.Add(img[:len(img)-3])
	f.Fuzz(func(t *testing.T, img []byte) {
		if n := len(img) - len(utxoMagic) - 4; n >= len(utxoMagic) {
			binary.BigEndian.PutUint32(img[n:], crc32.Checksum(img[:n], castagnoli))
		}
		sr, err := openUTXOSnapshot(img, "fuzz")
		if err != nil {
			return
		}
		var prev utxoKey
		for i := 0; ; i++ {
			k, ok, err := sr.next()
			if err != nil || !ok {
				return
			}
			if k.tx == 0 || k.tx >= sr.at || i > 0 && (k.tx < prev.tx || k.tx == prev.tx && k.vout <= prev.vout) {
				t.Fatalf("output %d: %+v after %+v, as of %d", i, k, prev, sr.at)
			}
			prev = k
		}
	})
}

// snapshotKeys reads every output of a snapshot in the new form.
func snapshotKeys(tb testing.TB, img []byte) []utxoKey {
	tb.Helper()
	sr, err := openUTXOSnapshot(img, "test")
	if err != nil {
		tb.Fatalf("open snapshot: %v", err)
	}
	var out []utxoKey
	for {
		k, ok, err := sr.next()
		if err != nil {
			tb.Fatal(err)
		}
		if !ok {
			return out
		}
		out = append(out, k)
	}
}

// utxoMap returns chain BTC's UTXO set as a map, loading it if needed.
func utxoMap(t *testing.T, s *Store) map[outpoint]utxoRec {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.state(model.BTC)
	if err == nil {
		err = s.ensureUTXO(model.BTC, st)
	}
	if err != nil {
		t.Fatal(err)
	}
	m := map[outpoint]utxoRec{}
	st.utxo.each(func(op *outpoint, u *utxoRec) { m[*op] = *u })
	return m
}

// utxoLoadErr reopens the store in dir and returns the error of loading
// its UTXO set.
func utxoLoadErr(t *testing.T, dir string) error {
	t.Helper()
	s, err := OpenWith(dir, Options{SegmentEntries: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.state(model.BTC)
	if err != nil {
		t.Fatal(err)
	}
	return s.ensureUTXO(model.BTC, st)
}

// TestUTXOSnapshotReload: a store reopened after segment closes wrote UTXO
// snapshots loads exactly the set it held (every outpoint and record) from
// the snapshot, which keeps outputs by tx number alone, and the tx log. A
// snapshot in layout 6's form (whole outputs, "SPUTXO01") loads the same
// set, and the next snapshot is in the new form; the store then equals one
// that applied the chain at once. A snapshot naming an output its tx does
// not have, or holding the set as of another tx than the segment list
// says, is an error naming the file.
func TestUTXOSnapshotReload(t *testing.T) {
	w := newUTXOWorld(12, 300)
	dir := t.TempDir()
	open := func() *Store {
		s, err := OpenWith(dir, Options{SegmentEntries: 64})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	for i := 0; i < 150; i += 10 {
		if err := s.Apply(model.BTC, store.Linked, w.blocks[i:i+10]); err != nil {
			t.Fatal(err)
		}
	}
	want := utxoMap(t, s)
	wantDigest := digest(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open()
	s.mu.Lock()
	st, err := s.state(model.BTC)
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	list := st.seg.list
	if list.utxoFile == 0 || list.utxoAt < 100 {
		t.Fatalf("no snapshot of a set of %d outputs after 150 blocks (list %+v)", len(want), list)
	}
	path := utxoPath(dir, model.BTC, list.utxoFile)
	img, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(img, []byte(utxoMagic)) {
		t.Fatalf("snapshot %s starts %q", path, img[:8])
	}
	if got := utxoMap(t, s); !maps.Equal(got, want) {
		t.Fatalf("reloaded set: %d outputs, want %d (or records differ)", len(got), len(want))
	}
	if got := digest(t, s); got != wantDigest {
		t.Fatal("reopened store's digest differs")
	}
	// The set as of the snapshot, whole.
	asOf, err := loadUTXOSnapshot(img, path, list.utxoAt, st.log)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Corrupt snapshots: an output its tx does not have; another "as of".
	keys := utxoSnapshotKeys(asOf, nil)
	sortUTXOKeys(keys)
	last := &keys[len(keys)-1]
	last.vout += 100
	bad, err := encodeUTXOSnapshot(slices.Clone(keys), list.utxoAt)
	if err != nil {
		t.Fatal(err)
	}
	last.vout -= 100
	badAt, err := encodeUTXOSnapshot(slices.Clone(keys), list.utxoAt+1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, want string
		img        []byte
	}{{"output past the tx's outputs", "names output", bad}, {"as of another tx", "as of tx", badAt}} {
		if err := os.WriteFile(path, c.img, 0o644); err != nil {
			t.Fatal(err)
		}
		err := utxoLoadErr(t, dir)
		if !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: load error %v, want a corruption naming %s and saying %q", c.name, err, path, c.want)
		}
	}

	// The intact snapshot back: the store goes on from it.
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	s = open()
	defer func() { s.Close() }()
	if got := utxoMap(t, s); !maps.Equal(got, want) {
		t.Fatalf("set reloaded from the restored snapshot: %d outputs, want %d (or records differ)", len(got), len(want))
	}
	if err := s.Apply(model.BTC, store.Linked, w.blocks[150:]); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	st, err = s.state(model.BTC)
	if err == nil {
		list = st.seg.list
	}
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	img, err = os.ReadFile(utxoPath(dir, model.BTC, list.utxoFile))
	if err != nil || !bytes.HasPrefix(img, []byte(utxoMagic)) {
		t.Fatalf("the last snapshot: %q…, %v", img[:min(8, len(img))], err)
	}
	whole := openTestStore(t)
	if err := whole.Apply(model.BTC, store.Linked, w.blocks); err != nil {
		t.Fatal(err)
	}
	if digest(t, s) != digest(t, whole) {
		t.Fatal("a store reopened from snapshots and continued differs from one applied at once")
	}
}

// TestUTXOSnapshotBytes pins the snapshot's form with bytes derived by hand
// from its description (utxo.go): outputs sorted by tx number and index,
// the tx number as a difference and the index as a gap within a tx.
func TestUTXOSnapshotBytes(t *testing.T) {
	keys := []utxoKey{{300, 0}, {1, 5}, {3, 2}, {1, 0}, {1, 1}}
	img, err := encodeUTXOSnapshot(keys, 301)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("SPUTXO02")
	body = append(body, 0xad, 0x02) // as of tx 301
	body = append(body, 5)          // outputs
	body = append(body,
		0x04,       // tx 1 (d 1), output 0
		0x00,       // tx 1 (d 0), output 1 (gap 0)
		0x03, 0x00, // tx 1, output 5 (gap 3: 3, then 3 − 3)
		0x0a,       // tx 3 (d 2), output 2
		0xa4, 0x09, // tx 300 (d 297), output 0: 297<<2 = 1188
	)
	want := binary.BigEndian.AppendUint32(body, crc32.Checksum(body, castagnoli))
	want = append(want, "SPUTXO02"...)
	if !bytes.Equal(img, want) {
		t.Fatalf("snapshot\n% x\nwant\n% x", img, want)
	}
	if got := snapshotKeys(t, img); !slices.Equal(got, []utxoKey{{1, 0}, {1, 1}, {1, 5}, {3, 2}, {300, 0}}) {
		t.Fatalf("read back %v", got)
	}
	for _, k := range []utxoKey{{0, 1}, {301, 0}} {
		if _, err := encodeUTXOSnapshot([]utxoKey{{1, 0}, k}, 301); err == nil {
			t.Errorf("output %+v encoded in a snapshot as of tx 301", k)
		}
	}
	if _, err := encodeUTXOSnapshot([]utxoKey{{2, 1}, {2, 1}}, 301); err == nil {
		t.Error("an output twice encoded")
	}
	// Wide keys take the comparison sort and read back the same.
	wide := []utxoKey{{1 << 41, 7}, {5, 1 << 30}, {5, 2}}
	img, err = encodeUTXOSnapshot(wide, 1<<42)
	if err != nil {
		t.Fatal(err)
	}
	if got := snapshotKeys(t, img); !slices.Equal(got, []utxoKey{{5, 2}, {5, 1 << 30}, {1 << 41, 7}}) {
		t.Fatalf("wide keys read back %v", got)
	}
}
