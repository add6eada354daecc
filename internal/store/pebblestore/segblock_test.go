package pebblestore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/spoor-dev/spoor/internal/cputime"
)

// blockWorld returns a section of four blocks that each codec wins once:
// random bytes (raw), a repeated pattern (zstd), bytes of a skewed
// alphabet in random order (huffman, one piece), and the same past
// huffPiece (huffman, several pieces); and the cuts between them.
func blockWorld() (sec []byte, cuts []uint64, codecs []byte) {
	rng := rand.New(rand.NewPCG(7, 7))
	add := func(b []byte, codec byte) {
		cuts = append(cuts, uint64(len(sec)))
		sec = append(sec, b...)
		codecs = append(codecs, codec)
	}
	rnd := make([]byte, 3000)
	for i := range rnd {
		rnd[i] = byte(rng.Uint32())
	}
	add(rnd, codecRaw)
	add(bytes.Repeat([]byte("spoor adjacency "), 200), codecZstd)
	skew := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.ExpFloat64() * 6) // mostly small values
		}
		return b
	}
	add(skew(5000), codecHuff)
	add(skew(huffPiece*2+77), codecHuff)
	return sec, cuts, codecs
}

// TestPackBlocks: each block is written with the codec that wins, reads
// back exactly, and a damaged block (any codec) is an error naming the
// file, the section and the block, never a panic.
func TestPackBlocks(t *testing.T) {
	sec, cuts, codecs := blockWorld()
	packed, bidx := packBlocks(sec, cuts)
	if len(packed) >= len(sec)*3/4 {
		t.Errorf("packed %d of %d bytes", len(packed), len(sec))
	}
	b := &blockSec{name: "groups", packed: packed, bidx: bidx}
	if err := b.check(func(k int) uint64 { return cuts[k] }, blockStride*len(cuts)); err != nil {
		t.Fatal(err)
	}
	end := func(k int) uint64 {
		if k+1 < len(cuts) {
			return cuts[k+1]
		}
		return uint64(len(sec))
	}
	for k := range cuts {
		off := binary.BigEndian.Uint64(bidx[8+8*k:])
		if packed[off] != codecs[k] {
			t.Errorf("block %d: codec %d, want %d", k, packed[off], codecs[k])
		}
		for pass := 0; pass < 2; pass++ { // decoded, then from the cache
			got, err := b.block("x.seg", k, cuts[k], end(k))
			if err != nil || !bytes.Equal(got, sec[cuts[k]:end(k)]) {
				t.Fatalf("block %d: %d bytes, %v", k, len(got), err)
			}
		}
	}
	// Damage: every byte of each block's first 40 flipped in turn, and
	// the block cut short (the CRC of a real file would catch these first:
	// here the decoders must).
	for k := range cuts {
		a := binary.BigEndian.Uint64(bidx[8+8*k:])
		z := uint64(len(packed))
		if k+1 < len(cuts) {
			z = binary.BigEndian.Uint64(bidx[8+8*(k+1):])
		}
		for i := a; i < min(z, a+40); i++ {
			bad := append([]byte(nil), packed...)
			bad[i] ^= 0x5a
			bs := &blockSec{name: "groups", packed: bad, bidx: bidx, raw: uint64(len(sec))}
			got, err := bs.block("x.seg", k, cuts[k], end(k))
			if err == nil && bytes.Equal(got, sec[cuts[k]:end(k)]) && codecs[k] != codecRaw {
				// A flip may hit a byte the decoder does not need.
				continue
			}
			if err != nil && (!errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), "x.seg") || !strings.Contains(err.Error(), "groups block") || !strings.Contains(err.Error(), "file offset")) {
				t.Fatalf("block %d byte %d flipped: err = %v", k, i-a, err)
			}
		}
		if codecs[k] == codecRaw {
			continue // raw bytes: only the file's checksum can tell
		}
		bad := append(append([]byte(nil), packed[:z-1]...), packed[z:]...)
		bs := &blockSec{name: "groups", packed: bad, bidx: bidx, raw: uint64(len(sec))}
		if _, err := bs.block("x.seg", k, cuts[k], end(k)); err == nil {
			t.Fatalf("block %d cut short by a byte: no error", k)
		}
	}
}

// FuzzSegBlock decodes arbitrary bytes as a packed block of each codec:
// an error or exactly the length asked for, never a panic.
func FuzzSegBlock(f *testing.F) {
	sec, cuts, _ := blockWorld()
	packed, bidx := packBlocks(sec, cuts)
	for k := range cuts {
		a := binary.BigEndian.Uint64(bidx[8+8*k:])
		z := uint64(len(packed))
		if k+1 < len(cuts) {
			z = binary.BigEndian.Uint64(bidx[8+8*(k+1):])
		}
		want := uint64(len(sec)) - cuts[k]
		if k+1 < len(cuts) {
			want = cuts[k+1] - cuts[k]
		}
		f.Add(packed[a:z], want)
	}
	f.Fuzz(func(t *testing.T, p []byte, want uint64) {
		if len(p) == 0 || want == 0 || want > 1<<20 {
			return
		}
		b := &blockSec{name: "spent", packed: p, bidx: binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, want), 0), raw: want}
		got, err := b.block("fuzz", 0, 0, want)
		if err == nil && uint64(len(got)) != want {
			t.Fatalf("decoded %d bytes, want %d", len(got), want)
		}
	})
}

// TestConcurrentSegmentReads: readers share the segments' decoded-block
// caches; four at once (run under -race in CI) answer every read as one
// alone does.
func TestConcurrentSegmentReads(t *testing.T) {
	defer func(old int) { segMaxEntries = old }(segMaxEntries)
	segMaxEntries = 7
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	goldenWorld(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := readsDigest(t, s)
	t.Run("readers", func(t *testing.T) {
		for i := 0; i < 4; i++ {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				if got := readsDigest(t, s); got != want {
					t.Errorf("reads digest %s, alone %s", got, want)
				}
			})
		}
	})
}

// TestSegmentBlockDamage: a segment whose compressed adjacency block is
// damaged (checksum recomputed, so that it opens) answers the lookups in
// that block with an error naming the file and the block's offset, the
// other blocks as before, and never panics.
func TestSegmentBlockDamage(t *testing.T) {
	d := &segData{start: 1, end: 2001, addrStart: 1, addrEnd: 1}
	for n := uint64(1); n < 2001; n++ {
		d.times = append(d.times, 1600000000)
		d.txids = append(d.txids, hashEnt{hash: n << 40, num: n})
		d.add(tEnt{addr: 1 + n%600, txnum: n, in: 5000, nIn: 1})
	}
	img, err := encodeSeg(d)
	if err != nil {
		t.Fatal(err)
	}
	seg, err := parseSegment(img, "x.seg")
	if err != nil {
		t.Fatal(err)
	}
	if seg.groups.blocks() < 2 || seg.groups.packed[0] == codecRaw {
		t.Fatalf("%d blocks, the first of codec %d: want compressed blocks", seg.groups.blocks(), seg.groups.packed[0])
	}
	bad := append([]byte(nil), img...)
	at := seg.groups.at + 5 // inside block 0's payload
	bad[at] ^= 0xff
	bad[at+1] ^= 0x3c
	body := len(bad) - segFooterLen
	binary.BigEndian.PutUint32(bad[body+(segHeadVals+2*segSections)*8:], crc32.Checksum(bad[:body], castagnoli))
	dseg, err := parseSegment(bad, "x.seg")
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, _, err = dseg.group(2) // in block 0
	if !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), "x.seg") || !strings.Contains(err.Error(), fmt.Sprintf("file offset %d", seg.groups.at)) {
		t.Fatalf("damaged block: err = %v", err)
	}
	if _, err := dseg.load(nil); err == nil {
		t.Fatal("load of a segment with a damaged block: no error")
	}
	last := uint64(600) // in the last block: intact
	n, _, _, ok, err := dseg.group(last)
	wn, _, _, wok, _ := seg.group(last)
	if err != nil || ok != wok || n != wn || !ok {
		t.Fatalf("intact block: %d entries, %v, %v; want %d", n, ok, err, wn)
	}
}

// BenchmarkSegmentGroup looks up the adjacency of random addresses in a
// segment of 2²⁰ entries with random amounts (Huffman blocks, as on the
// simulated world) and with the same blocks stored raw: the cost of a
// block decode per lookup (the one-block cache rarely hits for random
// ids; lookups of nearby ids hit it).
func BenchmarkSegmentGroup(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	d := &segData{start: 1, end: 1 + 1<<18, addrStart: 1, addrEnd: 1}
	for n := d.start; n < d.end; n++ {
		d.times = append(d.times, 1600000000+int64(n/20))
		d.txids = append(d.txids, hashEnt{hash: rng.Uint64(), num: n})
		for k := 0; k < 4; k++ {
			d.add(tEnt{addr: 1 + rng.Uint64N(1<<18), txnum: n, in: rng.Uint64N(1 << 34), nIn: 1})
		}
	}
	img, err := encodeSeg(d)
	if err != nil {
		b.Fatal(err)
	}
	seg, err := parseSegment(img, "bench.seg")
	if err != nil {
		b.Fatal(err)
	}
	// The same segment with every block raw.
	raw, err := parseSegment(img, "bench.seg")
	if err != nil {
		b.Fatal(err)
	}
	var rawSec []byte
	var cuts []uint64
	ng := len(seg.gindex) / seg.gw
	for i := 0; i < ng; i += blockStride {
		data, _, err := seg.blockOf(&seg.groups, seg.gindexOff, ng, i)
		if err != nil {
			b.Fatal(err)
		}
		cuts = append(cuts, uint64(len(rawSec)))
		rawSec = append(rawSec, data...)
	}
	var bidx []byte
	bidx = binary.BigEndian.AppendUint64(bidx, uint64(len(rawSec)))
	var packed []byte
	for k, c := range cuts {
		bidx = binary.BigEndian.AppendUint64(bidx, uint64(len(packed)))
		end := uint64(len(rawSec))
		if k+1 < len(cuts) {
			end = cuts[k+1]
		}
		packed = append(append(packed, codecRaw), rawSec[c:end]...)
	}
	raw.groups = blockSec{name: "groups", packed: packed, bidx: bidx, raw: uint64(len(rawSec))}
	codecs := map[byte]int{}
	for k := 0; k < seg.groups.blocks(); k++ {
		codecs[seg.groups.packed[binary.BigEndian.Uint64(seg.groups.bidx[8+8*k:])]]++
	}
	b.Logf("groups: %d bytes packed, %d raw (%.2f), %d blocks by codec %v", len(seg.groups.packed), len(rawSec), float64(len(seg.groups.packed))/float64(len(rawSec)), seg.groups.blocks(), codecs)
	for _, c := range []struct {
		name string
		s    *segment
	}{{"packed", seg}, {"raw", raw}} {
		b.Run(c.name, func(b *testing.B) {
			ids := rand.New(rand.NewPCG(5, 5))
			found := 0
			cpu0 := cputime.Process()
			defer func() { b.ReportMetric(float64((cputime.Process()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op") }()
			for i := 0; i < b.N; i++ {
				_, _, _, ok, err := c.s.group(1 + ids.Uint64N(1<<18))
				if err != nil {
					b.Fatal(err)
				}
				if ok {
					found++
				}
			}
			if found == 0 {
				b.Fatal("no address found")
			}
		})
	}
}
