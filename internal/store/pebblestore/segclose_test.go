package pebblestore

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
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
			if order, _, _, _ := spentOrder(&segData{spent: slices.Clone(spent)}); (order != nil) != tc.radix {
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
	glob := os.Getenv("SPOOR_SEGFILES")
	if glob == "" {
		t.Skip("set SPOOR_SEGFILES to a glob of segment files written by an earlier build")
	}
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		t.Fatalf("SPOOR_SEGFILES=%q: no files (%v)", glob, err)
	}
	for _, f := range files {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		seg, err := parseSegment(want, f)
		if err != nil {
			t.Fatal(err)
		}
		d, err := seg.load()
		if err != nil {
			t.Fatal(err)
		}
		appendOrder(d)
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
