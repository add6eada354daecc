package pebblestore

import (
	"encoding/binary"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// segImages returns the segment files a small world writes (tiny segments),
// as fuzz seeds.
func segImages(t testing.TB) [][]byte {
	defer func(old int) { segMaxEntries = old }(segMaxEntries)
	segMaxEntries = 40
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := newUTXOWorld(11, 30)
	for _, b := range w.blocks {
		if err := s.Apply(model.BTC, store.Linked, []*model.Block{b}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	st := s.chains[model.BTC]
	for _, seg := range st.seg.segs {
		out = append(out, append([]byte(nil), seg.data...))
	}
	if len(out) < 3 {
		t.Fatalf("only %d segments", len(out))
	}
	// The world's blocks hold several txs of one time, so its segments
	// keep times as runs; one more seed has a time per tx (the flat form).
	d, err := st.seg.segs[0].load(st.log)
	if err != nil {
		t.Fatal(err)
	}
	for i := range d.times {
		d.times[i] = 1600000000 + int64(i)
	}
	img, err := encodeSeg(d)
	if err != nil {
		t.Fatal(err)
	}
	return append(out, img)
}

// FuzzSegment feeds damaged segment files to the reader: with the checksum
// recomputed, so that the damage reaches the structure checks and the
// lookups. Nothing may panic or loop; a damaged file is an error.
//
// Run it with a bounded minimization:
//
//	go test ./internal/store/pebblestore -run '^$' -fuzz FuzzSegment -fuzzminimizetime 20x
//
// The seeds are whole segment files (kilobytes) and the fuzzing build
// instruments Pebble and zstd too, so the engine's default minimization of
// each new input (up to 60 s, a coverage snapshot per attempt) took the
// whole run: 0 execs/s. With 20 attempts it runs at ≈ 8,700 execs/s here
// (2 minutes, 1.06 M execs, nothing found, eighth session).
func FuzzSegment(f *testing.F) {
	for _, img := range segImages(f) {
		f.Add(img)
	}
	f.Fuzz(func(t *testing.T, img []byte) {
		if len(img) > len(segMagic)+segFooterLen {
			body := len(img) - segFooterLen
			binary.BigEndian.PutUint32(img[body+(segHeadVals+2*segSections)*8:], crc32.Checksum(img[:body], castagnoli))
		}
		seg, err := parseSegment(img, "fuzz")
		if err != nil {
			return
		}
		for id := uint64(0); id < 50; id++ {
			n, prev, entries, ok, err := seg.group(id)
			if err != nil || !ok {
				continue
			}
			r := &reader{b: entries}
			var lastIn uint256.Int
			for k := uint64(0); k < n && r.err == nil; k++ {
				e := r.segEntry(prev, &lastIn)
				if e.txnum >= seg.start && e.txnum < seg.end {
					seg.txTime(e.txnum)
				}
				prev = e.txnum
			}
		}
		for tx := seg.start; tx < seg.end && tx < seg.start+50; tx++ {
			seg.spentBy(tx, 0)
			if n, prev, entries, ok, _ := seg.group(seg.addrStart + tx - seg.start); ok { // a sweep's spend
				sweepAfter(seg.path, n, prev, entries, tx)
			}
			seg.txTime(tx)
		}
		seg.txnums(0)
		seg.addrIDs(1 << 40)
		seg.load(nil)
	})
}

// TestSegmentDamage: a flipped byte anywhere in a segment file fails its
// checksum, and a truncated file fails at open, naming the file.
func TestSegmentDamage(t *testing.T) {
	img := segImages(t)[0]
	for _, off := range []int{0, 9, len(img) / 2, len(img) - 13, len(img) - 1} {
		bad := append([]byte(nil), img...)
		bad[off] ^= 0x40
		if _, err := parseSegment(bad, "x.seg"); err == nil {
			t.Fatalf("byte %d flipped: no error", off)
		}
	}
	if _, err := parseSegment(img[:len(img)-3], "x.seg"); err == nil {
		t.Fatal("truncated: no error")
	}
	if _, err := parseSegment(img, "x.seg"); err != nil {
		t.Fatalf("intact: %v", err)
	}
}

// TestSegmentTimes: the times section is written as runs exactly when they
// are smaller than a time per tx, and every tx reads back its time either
// way; runs that do not start at the first tx or do not ascend are
// errors naming the file.
func TestSegmentTimes(t *testing.T) {
	for _, c := range []struct {
		name  string
		times []int64
		runs  bool
	}{
		{"one block", []int64{50, 50, 50, 50, 50}, true},
		{"blocks of three", []int64{7, 7, 7, 9, 9, 9, 4, 4, 4}, true},
		{"a tx a block", []int64{1, 2, 3, 4}, false},
		{"half as many runs as txs", []int64{1, 1, 2, 2}, false},
		{"one tx", []int64{1 << 33}, false},
		{"none", nil, false},
	} {
		d := &segData{start: 100, end: 100 + uint64(len(c.times)), times: c.times}
		for i := range c.times {
			d.txids = append(d.txids, hashEnt{hash: uint64(i) << 40, num: d.start + uint64(i)})
		}
		img, err := encodeSeg(d)
		if err != nil {
			t.Fatal(err)
		}
		seg, err := parseSegment(img, "x.seg")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if seg.timeRuns != c.runs {
			t.Errorf("%s: runs = %v, want %v (%d bytes)", c.name, seg.timeRuns, c.runs, len(seg.times))
		}
		for i, want := range c.times {
			if got := seg.txTime(d.start + uint64(i)); got != want {
				t.Fatalf("%s: tx %d time %d, want %d", c.name, i, got, want)
			}
		}
		if !seg.timeRuns {
			continue
		}
		// Damage the runs (checksum recomputed): a first run past tx 0,
		// then two runs out of order.
		for _, at := range []int{0, 8} {
			if at+8 > len(seg.times) {
				continue
			}
			bad := append([]byte(nil), img...)
			off := len(segMagic) + len(seg.txids)
			binary.BigEndian.PutUint32(bad[off+at:], 7)
			body := len(bad) - segFooterLen
			binary.BigEndian.PutUint32(bad[body+(segHeadVals+2*segSections)*8:], crc32.Checksum(bad[:body], castagnoli))
			if _, err := parseSegment(bad, "x.seg"); err == nil || !strings.Contains(err.Error(), "x.seg") || !strings.Contains(err.Error(), "time run") {
				t.Errorf("%s: run %d damaged: err = %v", c.name, at/8, err)
			}
		}
	}
}

// TestSegmentSeedsBothTimeForms: the fuzz seeds hold segments of both forms.
func TestSegmentSeedsBothTimeForms(t *testing.T) {
	forms := map[bool]bool{}
	for _, img := range segImages(t) {
		seg, err := parseSegment(img, "seed")
		if err != nil {
			t.Fatal(err)
		}
		forms[seg.timeRuns] = true
	}
	if !forms[true] || !forms[false] {
		t.Fatalf("seed segments' time forms: %v", forms)
	}
}
