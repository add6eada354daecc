package pebblestore

import (
	"encoding/binary"
	"hash/crc32"
	"testing"

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
	return out
}

// FuzzSegment feeds damaged segment files to the reader: with the checksum
// recomputed, so that the damage reaches the structure checks and the
// lookups. Nothing may panic or loop; a damaged file is an error.
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
			n, entries, ok, err := seg.group(id)
			if err != nil || !ok {
				continue
			}
			r := &reader{b: entries}
			prev := seg.start
			for k := uint64(0); k < n && r.err == nil; k++ {
				e := r.segEntry(prev)
				if e.txnum >= seg.start && e.txnum < seg.end {
					seg.txTime(e.txnum)
				}
				prev = e.txnum
			}
		}
		for tx := seg.start; tx < seg.end && tx < seg.start+50; tx++ {
			seg.spentBy(tx, 0)
			seg.txTime(tx)
		}
		seg.txnums(0)
		seg.addrIDs(1 << 40)
		seg.load()
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

// FuzzUTXOSnapshot feeds damaged UTXO snapshots (checksum recomputed) to the
// decoder: an error or a set, never a panic; an intact snapshot round-trips.
func FuzzUTXOSnapshot(f *testing.F) {
	m := newUTXOSet()
	for i := 0; i < 20; i++ {
		m.set(outpoint{[32]byte{byte(i), 3}, uint32(i % 3)}, utxoRec{TxNum: uint64(i), Addr: uint64(i * 7), Value: uint64(i) << 40, Script: byte(i % 9)})
	}
	img := encodeUTXOSnapshot(m, nil)
	got, err := decodeUTXOSnapshot(img, "seed")
	if err != nil || got.len() != m.len() {
		f.Fatalf("round trip: %d of %d outputs, %v", got.len(), m.len(), err)
	}
	m.each(func(op *outpoint, u *utxoRec) {
		if g, ok := got.get(*op); !ok || g != *u {
			f.Fatalf("round trip: %v differs", op)
		}
	})
	f.Add(img)
	f.Fuzz(func(t *testing.T, img []byte) {
		if n := len(img) - len(utxoMagic) - 4; n >= len(utxoMagic) {
			binary.BigEndian.PutUint32(img[n:], crc32.Checksum(img[:n], castagnoli))
		}
		decodeUTXOSnapshot(img, "fuzz")
	})
}
