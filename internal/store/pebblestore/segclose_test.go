package pebblestore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// encodeSpentRef is encodeSpent as it was before spentOrder: a comparison
// sort of the entries, then the encoding. The reference the radix order
// must reproduce byte for byte.
func encodeSpentRef(spent []spentEnt) (out, sindex []byte) {
	spent = slices.Clone(spent)
	slices.SortFunc(spent, cmpSpent)
	var prev uint64
	for i, s := range spent {
		if i%spentStride == 0 {
			sindex = binary.BigEndian.AppendUint64(sindex, s.prevTx)
			sindex = binary.BigEndian.AppendUint32(sindex, s.vout)
			sindex = binary.BigEndian.AppendUint64(sindex, uint64(len(out)))
			prev = s.prevTx
		}
		out = putUvarint(out, s.prevTx-prev)
		out = putUvarint(out, uint64(s.vout))
		out = putUvarint(out, s.spender-s.prevTx)
		prev = s.prevTx
	}
	return out, sindex
}

// spendWorld returns n spends in spender order (as Apply appends them), each
// of a distinct output (prevTx, vout) of a tx up to back txs before its
// spender, with vouts below maxVout.
func spendWorld(rng *rand.Rand, n int, start, back uint64, maxVout uint32) []spentEnt {
	seen := make(map[spentEnt]bool, n)
	out := make([]spentEnt, 0, n)
	spender := start
	for len(out) < n {
		if rng.IntN(3) == 0 {
			spender++
		}
		p := spender - 1 - rng.Uint64N(min(back, spender-1))
		k := spentEnt{prevTx: p, vout: rng.Uint32N(maxVout)}
		if seen[k] {
			continue
		}
		seen[k] = true
		k.spender = spender
		out = append(out, k)
	}
	return out
}

// TestEncodeSpentOrder: the spent section and its index written through the
// radix order are byte for byte those of a comparison sort, for spends
// narrow and wide in prevTx and vout (keys that fit 64 bits and keys that
// do not, which take the comparison sort), few (under a radix sort's
// threshold) and many, and for a merged segment's spends (a sorted run
// followed by new ones in spender order); and they read back.
func TestEncodeSpentOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, tc := range []struct {
		name        string
		n           int
		start, back uint64
		maxVout     uint32
		radix       bool
	}{
		{"few", 100, 1000, 900, 3, false},
		{"typical", 50_000, 1_000_000, 900_000, 4, true},
		{"one vout", 20_000, 5_000, 4_000, 1, true},
		{"wide vouts", 20_000, 1 << 20, 1 << 16, 1 << 31, true},
		{"old outputs", 20_000, 1 << 40, 1 << 30, 1 << 12, true},
		{"too wide for a key", 20_000, 1 << 50, 1 << 49, 1 << 31, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spent := spendWorld(rng, tc.n, tc.start, tc.back, tc.maxVout)
			if tc.name == "typical" { // a merge: a closed segment's sorted spends, then new ones
				head := slices.Clone(spent[:tc.n/2])
				slices.SortFunc(head, cmpSpent)
				copy(spent, head)
			}
			wantOut, wantIdx := encodeSpentRef(spent)
			d := &segData{spent: slices.Clone(spent)}
			if order, _, _, _, _ := spentOrder(slices.Clone(spent)); (order != nil) != tc.radix {
				t.Fatalf("radix order used: %v, want %v", order != nil, tc.radix)
			}
			out, idx := encodeSpent(d)
			if !bytes.Equal(out, wantOut) || !bytes.Equal(idx, wantIdx) {
				t.Fatalf("spent section %d bytes, index %d; the comparison sort's: %d, %d (equal: %v, %v)", len(out), len(idx), len(wantOut), len(wantIdx), bytes.Equal(out, wantOut), bytes.Equal(idx, wantIdx))
			}
			// Whole files, read back.
			d = &segData{start: tc.start, end: tc.start + 1, times: []int64{0}, spent: slices.Clone(spent)}
			img, err := encodeSeg(d)
			if err != nil {
				t.Fatal(err)
			}
			seg, err := parseSegment(img, tc.name)
			if err != nil {
				t.Fatal(err)
			}
			var got []spentEnt
			if err := seg.eachSpent(func(e spentEnt) { got = append(got, e) }); err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(spent)
			slices.SortFunc(want, cmpSpent)
			if !slices.Equal(got, want) {
				t.Fatalf("%d spends read back, %d written, or in another order", len(got), len(want))
			}
			for _, s := range spent[:50] {
				sp, ok, err := seg.spentBy(s.prevTx, s.vout)
				if err != nil || !ok || sp != s.spender {
					t.Fatalf("spentBy(%d, %d) = %d, %v, %v; want %d", s.prevTx, s.vout, sp, ok, err, s.spender)
				}
			}
		})
	}
}

// TestSegmentFilesReencode: segment files written by an earlier build (the
// glob in SPOOR_SEGFILES, e.g. the segments of `spoor ingest btc` over the
// synthetic chains written by the code before a change of the close), loaded
// and encoded again, are byte for byte the files. It is how a change of the
// segment close is checked to keep the format on real data; without the
// variable it skips.
func TestSegmentFilesReencode(t *testing.T) {
	files, ds := loadSegFiles(t)
	for i, f := range files {
		d := ds[i]
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeSeg(d)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			i := 0
			for i < min(len(got), len(want)) && got[i] == want[i] {
				i++
			}
			t.Fatalf("%s: encoded again, %d bytes against %d, first difference at byte %d", f, len(got), len(want), i)
		}
		t.Logf("%s: %d bytes, %d adjacency entries, %d spends: identical", f, len(want), len(d.adj), len(d.spent))
	}
}

// loadSegFiles loads the segments named by the glob in SPOOR_SEGFILES
// (written by an earlier build, e.g. `spoor ingest btc` over a synthetic
// chain), their entries back in append order as a close gets them; it
// skips without the variable.
func loadSegFiles(tb testing.TB) (files []string, ds []*segData) {
	tb.Helper()
	glob := os.Getenv("SPOOR_SEGFILES")
	if glob == "" {
		tb.Skip("set SPOOR_SEGFILES to a glob of segment files written by an earlier build")
	}
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		tb.Fatalf("SPOOR_SEGFILES=%q: no files (%v)", glob, err)
	}
	for _, f := range files {
		seg, err := openSegment(f)
		if err != nil {
			tb.Fatal(err)
		}
		d, err := seg.load(nil)
		if err != nil {
			tb.Fatal(err)
		}
		appendOrder(d)
		ds = append(ds, d)
	}
	return files, ds
}

// indexAdjRef is indexAdj as it was before mergeParts: every share found by
// a scan of the parts so far, then sorted. The reference indexAdj must
// reproduce exactly.
func indexAdjRef(d *segData, n uint64, rec *txRec, t int64, parts []part) []part {
	d.times = push(d.times, t)
	parts = parts[:0]
	get := func(addr uint64, asset uint32) *part {
		for i := range parts {
			if parts[i].addr == addr && parts[i].asset == asset {
				return &parts[i]
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
	if len(parts) <= 16 { // most txs: insertion sort by (address, asset)
		for i := 1; i < len(parts); i++ {
			for j := i; j > 0 && cmpPart(&parts[j], &parts[j-1]) < 0; j-- {
				parts[j], parts[j-1] = parts[j-1], parts[j]
			}
		}
	} else {
		slices.SortFunc(parts, func(a, b part) int { return cmpPart(&a, &b) })
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

// TestIndexAdjMany: txs of few and of many inputs, outputs and transfers
// (thousands, an address paid many times over, several assets, amounts past
// 64 bits, address ids too wide for mergeParts' packed keys) give the
// adjacency entries, big amounts and spends the scan-per-share indexing
// gave, in the same order.
func TestIndexAdjMany(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	got, want := &segData{}, &segData{}
	var parts []part
	n := uint64(1000)
	for _, tc := range []struct {
		size   int
		addrs  uint64 // ids drawn from [1, addrs], or from near 2^61
		assets uint32
		wide   bool
		utxo   bool // inputs and outputs only, no fee payer: indexUTXO's txs
	}{
		{3, 5, 1, false, false}, {17, 4, 1, false, false}, {40, 1000, 1, false, false}, {2500, 1 << 30, 1, false, false},
		{3000, 50, 1, false, false}, {600, 20, 3, false, false}, {400, 1 << 20, 1 << 12, false, false}, {300, 30, 4, true, false}, {16, 3, 2, false, false},
		{3, 5, 1, false, true}, {16, 4, 1, false, true}, {12, 1 << 20, 1, false, true}, {8, 3, 1, true, true}, {17, 6, 1, false, true},
		{40, 30, 1, false, true}, {2500, 1 << 30, 1, false, true}, {300, 20, 1, true, true}, {100, 2, 1, false, true}, {700, 40, 1, false, true},
	} {
		reps := 3
		switch {
		case tc.utxo && tc.size <= 40:
			reps = 300
		case tc.utxo:
			reps = 20
		}
		for rep := 0; rep < reps; rep++ {
			addr := func() uint64 {
				a := 1 + rng.Uint64N(tc.addrs)
				if tc.wide {
					a += 1 << 61
				}
				if rng.IntN(50) == 0 {
					return 0 // an unresolved address: no entry
				}
				return a
			}
			rec := &txRec{FeePayer: addr()}
			if rng.IntN(2) == 0 {
				rec.Fee.SetUint64(rng.Uint64N(1 << 20))
			}
			kinds := 3
			value := rng.Uint64
			if tc.utxo {
				rec.FeePayer, kinds = 0, 2
				if rng.IntN(4) != 0 { // most without a sum past 64 bits
					value = func() uint64 { return rng.Uint64N(1 << 50) }
				}
			}
			for i := 0; i < tc.size; i++ {
				switch rng.IntN(kinds) {
				case 0:
					rec.Inputs = append(rec.Inputs, inRec{PrevTx: rng.Uint64N(n), PrevIndex: uint32(i), Addr: addr(), Value: value()})
				case 1:
					rec.Outputs = append(rec.Outputs, outRec{Addr: addr(), Value: value()})
				default:
					x := xferRec{From: addr(), To: addr(), Asset: rng.Uint32N(tc.assets)}
					x.Value.SetUint64(rng.Uint64())
					if rng.IntN(4) == 0 {
						x.Value.Lsh(&x.Value, 100) // past 64 bits
					}
					rec.Transfers = append(rec.Transfers, x)
				}
			}
			parts = indexAdj(got, n, rec, int64(n), parts)
			indexAdjRef(want, n, rec, int64(n), nil)
			n++
		}
	}
	if len(got.adj) < 10_000 || len(got.wide) == 0 {
		t.Fatalf("%d entries, %d big amounts: the test no longer exercises large txs", len(got.adj), len(got.wide))
	}
	if !slices.Equal(got.adj, want.adj) || !slices.Equal(got.wide, want.wide) || !slices.Equal(got.spent, want.spent) || !slices.Equal(got.times, want.times) {
		for i := range min(len(got.adj), len(want.adj)) {
			if got.adj[i] != want.adj[i] {
				t.Fatalf("entry %d: %+v, want %+v", i, got.adj[i], want.adj[i])
			}
		}
		t.Fatalf("%d entries, %d bigs, %d spends; want %d, %d, %d", len(got.adj), len(got.wide), len(got.spent), len(want.adj), len(want.wide), len(want.spent))
	}
}

// TestBackgroundCloseSnapshotFailure: a close whose UTXO snapshot cannot be
// written (now written beside the segment's encoding, not before it) fails
// as a whole, like one whose segment cannot be written: the error reaches
// the next use, and the store reloaded from disk is a clean one's.
func TestBackgroundCloseSnapshotFailure(t *testing.T) {
	defer func(old int) { segMaxEntries = old }(segMaxEntries)
	segMaxEntries = 40
	w := newUTXOWorld(7, 60)
	// Which snapshot file the second Apply's closes write: found by a run
	// of the same Applies into another store.
	snapshots := func(dir string) (n []uint64) {
		for f := uint64(1); f < 1000; f++ {
			if _, err := os.Stat(utxoPath(dir, model.BTC, f)); err == nil {
				n = append(n, f)
			}
		}
		return n
	}
	var k, snap int
	for k = 1; k < 40 && snap == 0; k++ {
		dry, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if err := dry.Apply(model.BTC, store.Linked, w.blocks[:k]); err != nil {
			t.Fatal(err)
		}
		if _, err := dry.Digest(); err != nil { // settles the closes
			t.Fatal(err)
		}
		before := snapshots(dry.dir)
		if err := dry.Apply(model.BTC, store.Linked, w.blocks[k:40]); err != nil {
			t.Fatal(err)
		}
		if _, err := dry.Digest(); err != nil {
			t.Fatal(err)
		}
		if after := snapshots(dry.dir); len(after) > 0 && !slices.Equal(before, after) {
			snap = int(after[len(after)-1])
		}
		dry.Close()
	}
	if snap == 0 {
		t.Fatal("no split of the world's blocks has the second Apply write a snapshot: the test needs another world")
	}
	k--

	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Apply(model.BTC, store.Linked, w.blocks[:k]); err != nil {
		t.Fatal(err)
	}
	block := utxoPath(dir, model.BTC, uint64(snap))
	if err := os.MkdirAll(block, 0o750); err != nil {
		t.Fatal(err)
	}
	err = s.Apply(model.BTC, store.Linked, w.blocks[k:40])
	if err == nil {
		_, err = s.Digest()
	}
	if err == nil || !strings.Contains(err.Error(), "UTXO snapshot") {
		t.Fatalf("a snapshot that cannot be written: err = %v, want the close's error", err)
	}
	if err := os.Remove(block); err != nil {
		t.Fatal(err)
	}
	checkAsClean(t, s, w, 40, "a failed snapshot")
}

// TestFlushFilters: a close that is settled at once (Flush, Close) sorts
// no hash keys of the pending segment ahead for lookups and adds its keys to the built
// filters from its entries. With flushes between applies (the filters built
// by the applies' lookups, then extended by each flush), every filtered
// lookup is still what the walk of every segment gives, and the store
// equals one built without filters or flushes.
func TestFlushFilters(t *testing.T) {
	defer func(s, a, m int) { segMaxEntries, addrCacheMax, filterMinKeys = s, a, m }(segMaxEntries, addrCacheMax, filterMinKeys)
	// Segments closed only by the flushes, and filters large enough not to
	// be rebuilt (which would take the keys from the sections and hide a
	// key a flush failed to add).
	segMaxEntries, addrCacheMax, filterMinKeys = 400, 4, 1<<16
	w := newFilterWorld(60)
	rng := rand.New(rand.NewPCG(5, 6))
	run := func(filters, flush bool) *Store {
		useSegFilter = filters
		defer func() { useSegFilter = true }()
		s := openTestStore(t)
		for i := 0; i < len(w.blocks); i += 4 {
			if err := s.Apply(model.Tron, store.Unordered, w.blocks[i:min(i+4, len(w.blocks))]); err != nil {
				t.Fatal(err)
			}
			if flush && i%8 == 4 {
				if err := s.Flush(); err != nil {
					t.Fatal(err)
				}
				s.mu.Lock()
				st := s.chains[model.Tron]
				built := st != nil && st.seg.txF != nil && st.seg.addrF != nil
				s.mu.Unlock()
				if i > 20 && !built {
					t.Fatalf("after block %d: the filters are not built: the test no longer extends them at a flush", i)
				}
				t.Run(fmt.Sprintf("flush after %d", i), func(t *testing.T) { checkFilterAgainstWalk(t, s, w, rng) })
			}
		}
		return s
	}
	plain := run(false, false)
	flushed := run(true, true)
	if digest(t, flushed) != digest(t, plain) {
		t.Fatal("the store built with flushes and filters differs from the one built without")
	}
	for _, a := range w.addrs {
		got, err1 := flushed.addrIDOf(model.Tron, a)
		want, err2 := plain.addrIDOf(model.Tron, a)
		if got != want || err1 != nil || err2 != nil {
			t.Fatalf("address %x: id %d (%v) with flushes and filters, %d (%v) without", a, got, err1, want, err2)
		}
	}
}
