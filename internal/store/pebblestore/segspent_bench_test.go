package pebblestore

import (
	"math/rand/v2"
	"testing"

	"github.com/spoor-dev/spoor/internal/cputime"
)

// BenchmarkSegmentSpent: a random output's spender (spentBy: one spent
// block decoded) in a segment of 2^18 txs spending 2^19 outputs of
// earlier txs at random (vouts 0–3), as `spoor tx` asks for each output.
func BenchmarkSegmentSpent(b *testing.B) {
	rng := rand.New(rand.NewPCG(4, 4))
	const n = 1 << 18
	d := &segData{start: 1 << 20, end: 1<<20 + n, addrStart: 1, addrEnd: 1}
	seen := map[[2]uint64]bool{}
	var outs [][2]uint64
	for tx := d.start; tx < d.end; tx++ {
		d.times = append(d.times, 1600000000+int64(tx/2000))
		d.txids = append(d.txids, hashEnt{hash: rng.Uint64(), num: tx})
		for k := 0; k < 2; k++ {
			o := [2]uint64{1 + rng.Uint64N(tx-1), rng.Uint64N(4)}
			if seen[o] {
				continue
			}
			seen[o] = true
			outs = append(outs, o)
			d.spent = append(d.spent, spentEnt{prevTx: o[0], vout: uint32(o[1]), spender: tx})
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
	b.Logf("spent: %d spends, %d bytes packed (%.2f B a spend)", len(d.spent), len(seg.spent.packed), float64(len(seg.spent.packed))/float64(len(d.spent)))
	ids := rand.New(rand.NewPCG(5, 5))
	cpu0 := cputime.Process()
	for b.Loop() {
		o := outs[ids.IntN(len(outs))]
		if _, ok, err := seg.spentBy(o[0], uint32(o[1])); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
	b.ReportMetric(float64((cputime.Process()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}
