package pebblestore

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestEncodeGroupsGather: a segment's adjacency groups, written through the
// gathering windows of encodeGroups, read back exactly as they went in:
// groups shorter than a window, longer than several (a hub), and groups
// that straddle window boundaries.
func TestEncodeGroupsGather(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	const start, txs = 1000, 3000
	d := &segData{start: start, end: start + txs, addrStart: 1, addrEnd: 400}
	for n := uint64(start); n < start+txs; n++ {
		d.times = append(d.times, 1_600_000_000+int64(n/10))
		d.txids = append(d.txids, hashEnt{hash: rng.Uint64(), num: n})
		parts := 1 + rng.IntN(3)
		for k := 0; k < parts; k++ {
			addr := uint64(1 + rng.IntN(399)) // small groups
			switch {
			case k == 0 && n%2 == 0:
				addr = 7 // a hub of 1,500 entries: several windows
			case k == 0 && n%5 == 0:
				addr = 300 // 600: about two windows and a half
			}
			e := tEnt{addr: addr, txnum: n, in: rng.Uint64N(1 << 40), nIn: 1}
			if rng.IntN(3) == 0 {
				e.out, e.nOut, e.in, e.nIn = rng.Uint64N(1<<50), 2, 0, 0
			}
			d.add(e)
		}
	}
	for a := uint64(1); a < 400; a++ {
		d.addrs = append(d.addrs, hashEnt{hash: rng.Uint64(), num: a})
	}
	img, err := encodeSeg(d)
	if err != nil {
		t.Fatal(err)
	}
	seg, err := parseSegment(img, "gather")
	if err != nil {
		t.Fatal(err)
	}
	got, err := seg.load(nil)
	if err != nil {
		t.Fatal(err)
	}
	// Read back in address order, each address's entries in the order
	// they were appended (txnum order).
	want := d.ents()
	slices.SortStableFunc(want, func(a, b tEnt) int { return int(a.addr) - int(b.addr) })
	gotAdj := got.ents()
	slices.SortStableFunc(gotAdj, func(a, b tEnt) int { return int(a.addr) - int(b.addr) })
	if len(gotAdj) != len(want) {
		t.Fatalf("%d entries read back, %d written", len(gotAdj), len(want))
	}
	hub := 0
	for i := range want {
		if gotAdj[i] != want[i] {
			t.Fatalf("entry %d: read %+v, wrote %+v", i, gotAdj[i], want[i])
		}
		if want[i].addr == 7 {
			hub++
		}
	}
	if hub < 1000 {
		t.Fatalf("the hub has only %d entries: the test no longer crosses windows", hub)
	}
}

// BenchmarkEncodeSeg encodes a full segment (2²¹ adjacency entries, two a
// tx over 100,000 addresses, like the 1 M-row ETL export's) as a segment
// close does: the adjacency groups alone, and the whole file.
func BenchmarkEncodeSeg(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 5))
	const txs = 1 << 20
	d := &segData{start: 1, end: 1 + txs, addrStart: 1, addrEnd: 100_001}
	for n := d.start; n < d.end; n++ {
		d.times = append(d.times, 1_600_000_000+int64(n/100))
		d.txids = append(d.txids, hashEnt{hash: rng.Uint64(), num: n})
		for k := 0; k < 2; k++ {
			d.add(tEnt{addr: 1 + rng.Uint64N(100_000), txnum: n, in: rng.Uint64N(1 << 34), nIn: 1})
		}
	}
	for a := uint64(1); a <= 100_000; a++ {
		d.addrs = append(d.addrs, hashEnt{hash: rng.Uint64(), num: a})
	}
	b.Run("groups", func(b *testing.B) {
		for b.Loop() {
			encodeGroups(d)
		}
	})
	b.Run("segment", func(b *testing.B) {
		for b.Loop() {
			if _, err := encodeSeg(d); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestPackBlocksHalves: a section of many blocks, packed in two halves on
// two goroutines, reads back block by block exactly, with every codec, and
// packs the same way each time.
func TestPackBlocksHalves(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var sec []byte
	var cuts []uint64
	for k := 0; k < 5*packSplitMin+3; k++ {
		cuts = append(cuts, uint64(len(sec)))
		switch k % 3 {
		case 0: // repeats: zstd
			for i := 0; i < 2000; i++ {
				sec = append(sec, byte(i%7))
			}
		case 1: // skewed bytes: huffman
			for i := 0; i < 2000; i++ {
				sec = append(sec, byte(rng.ExpFloat64()*4))
			}
		default: // random: raw
			for i := 0; i < 2000; i++ {
				sec = append(sec, byte(rng.Uint32()))
			}
		}
	}
	packed, bidx := packBlocks(sec, cuts)
	again, bidx2 := packBlocks(sec, cuts)
	if !slices.Equal(packed, again) || !slices.Equal(bidx, bidx2) {
		t.Fatal("two packings of one section differ")
	}
	b := &blockSec{name: "groups", packed: packed, bidx: bidx, raw: uint64(len(sec))}
	if err := b.check(func(k int) uint64 { return cuts[k] }, blockStride*len(cuts)); err != nil {
		t.Fatal(err)
	}
	seen := map[byte]bool{}
	for k := range cuts {
		end := uint64(len(sec))
		if k+1 < len(cuts) {
			end = cuts[k+1]
		}
		seen[packed[binary.BigEndian.Uint64(bidx[8+8*k:])]] = true
		got, err := b.block("x.seg", k, cuts[k], end)
		if err != nil || !slices.Equal(got, sec[cuts[k]:end]) {
			t.Fatalf("block %d: %d bytes, %v", k, len(got), err)
		}
	}
	if len(seen) != 3 {
		t.Fatalf("codecs used: %v, want all three", seen)
	}
}

// TestEncodeGroupsSplit: a segment large enough to be encoded in two
// address ranges on two goroutines gives byte for byte the groups and the
// index that one pass over all its entries gives.
func TestEncodeGroupsSplit(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		name  string
		addrs uint64
	}{{"many addresses", 20_000}, {"few addresses", 40}, {"one address", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			d := &segData{start: 10, end: 10 + groupsSplitMin}
			for n := d.start; n < d.end; n++ {
				for k := 0; k < 2; k++ {
					d.add(tEnt{addr: 1 + rng.Uint64N(tc.addrs), txnum: n, in: rng.Uint64N(1 << 30), nIn: 1})
				}
			}
			out, gindex, nAddr := encodeGroups(d)
			keys := sortAdj(d)
			one, oneIdx, oneN := encodeGroupRange(d, keys, 0, len(d.adj), nil, new(colStreams))
			if !slices.Equal(out, one) || !slices.Equal(gindex, oneIdx) || nAddr != oneN {
				t.Fatalf("split: %d bytes, %d index bytes, %d addresses; one pass: %d, %d, %d", len(out), len(gindex), nAddr, len(one), len(oneIdx), oneN)
			}
		})
	}
}

// TestZstdSmallBlocks: zstd frames of inputs under 256 bytes carry no
// content size. New files never zstd-pack such a block; a file written
// before that rule (a frame without its size) still reads back, which it
// did not: a store of a few small blocks failed on reopen with "zstd frame
// header".
func TestZstdSmallBlocks(t *testing.T) {
	small := []byte("spoor adjacency spoor adjacency spoor adjacency spoor adjacency spoor adjacency spoor adjacency spoor adjacency spoor adjacency spoor adjacency")
	if len(small) >= zstdMinBlock {
		t.Fatal("test block too large")
	}
	packed, bidx := packBlocks(small, []uint64{0})
	if packed[0] == codecZstd {
		t.Fatalf("a %d-byte block was zstd-packed", len(small))
	}
	// An old file's block: the frame EncodeAll writes for it.
	frame := zstdEnc().EncodeAll(small, nil)
	var h zstd.Header
	if err := h.Decode(frame); err != nil || h.HasFCS {
		t.Fatalf("the encoder now writes the size (%v, %v): this test no longer covers old files", h.HasFCS, err)
	}
	old := append([]byte{codecZstd}, frame...)
	for _, c := range []struct {
		name   string
		packed []byte
		bidx   []byte
	}{{"new", packed, bidx}, {"old", old, bidx}} {
		b := &blockSec{name: "groups", packed: c.packed, bidx: c.bidx, raw: uint64(len(small))}
		got, err := b.block("x.seg", 0, 0, uint64(len(small)))
		if err != nil || string(got) != string(small) {
			t.Fatalf("%s: %q, %v", c.name, got, err)
		}
	}
	// Without its size, a frame must still decode to the length the index
	// implies.
	b := &blockSec{name: "groups", packed: old, bidx: bidx, raw: uint64(len(small)) + 1}
	if _, err := b.block("x.seg", 0, 0, uint64(len(small))+1); err == nil {
		t.Fatal("a frame one byte short of the index read without error")
	}
}
