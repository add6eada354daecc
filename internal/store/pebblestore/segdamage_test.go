package pebblestore

import (
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestSegmentDamageBounded reads segments damaged at random (mostly in the
// footer and the indexes before it) whose checksum was made to hold again,
// as FuzzSegment does, 3,000 of them from a fixed seed: every read must end
// in an answer or an error, never a panic or an allocation of what a
// damaged length claims (a block index claiming terabytes was a fatal
// out-of-memory; a footer claiming 2⁶⁰ txs a makeslice panic).
func TestSegmentDamageBounded(t *testing.T) {
	imgs := segImages(t)
	rng := rand.New(rand.NewPCG(1, 2))
	var worstMem uint64
	for n := 0; n < 3000; n++ {
		img := append([]byte(nil), imgs[rng.IntN(len(imgs))]...)
		k := 1 + rng.IntN(4)
		for j := 0; j < k; j++ {
			var off int
			if rng.IntN(2) == 0 {
				off = len(img) - segFooterLen - rng.IntN(200)
			} else {
				off = rng.IntN(len(img))
			}
			if off >= 0 && off < len(img) {
				img[off] = byte(rng.Uint32())
			}
		}
		body := len(img) - segFooterLen
		binary.BigEndian.PutUint32(img[body+(segHeadVals+2*segSections)*8:], crc32.Checksum(img[:body], castagnoli))
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		seg, err := parseSegment(img, "fuzz")
		if err == nil {
			for id := uint64(0); id < 50; id++ {
				seg.group(id)
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
		}
		runtime.ReadMemStats(&m1)
		worstMem = max(worstMem, m1.TotalAlloc-m0.TotalAlloc)
	}
	if worstMem > 64<<20 {
		t.Fatalf("a damaged segment's read allocated %d MB", worstMem>>20)
	}
	t.Logf("most allocated by one damaged segment's reads: %d MB", worstMem>>20)
}
