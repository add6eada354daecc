package pebblestore

import (
	"math/rand/v2"
	"testing"

	"github.com/spoor-dev/spoor/internal/cputime"
)

// BenchmarkIndexAdj indexes txs of inputs and outputs only into a segment
// (of segMaxEntries entries, then again), as the indexer does: the adjacency entries, spends and
// times, the segment's arrays reused between rounds. "bitcoin": 1–3 inputs
// and 1–3 outputs, one tx in 50 a batch of 20 outputs, address ids over a
// million; "large": 10 inputs of 4 addresses and 30 outputs (past
// manyParts: the sorted, merged path).
func BenchmarkIndexAdj(b *testing.B) {
	for _, c := range []struct {
		name             string
		nIn, nOut, batch int
		inAddrs          uint64
	}{{"bitcoin", 3, 3, 50, 1 << 20}, {"large", 0, 0, 1, 4}} {
		b.Run(c.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(7, 7))
			const txs = 1 << 16
			recs := make([]txRec, txs)
			for i := range recs {
				r := &recs[i]
				nIn, nOut := 10, 30
				if c.batch > 1 {
					nIn, nOut = 1+rng.IntN(c.nIn), 1+rng.IntN(c.nOut)
					if rng.IntN(c.batch) == 0 {
						nOut = 20
					}
				}
				base := rng.Uint64N(1 << 20)
				for k := 0; k < nIn; k++ {
					r.Inputs = append(r.Inputs, inRec{PrevTx: rng.Uint64N(1 << 20), PrevIndex: uint32(k), Addr: 1 + base + rng.Uint64N(c.inAddrs), Value: rng.Uint64N(1 << 40)})
				}
				for k := 0; k < nOut; k++ {
					r.Outputs = append(r.Outputs, outRec{Addr: 1 + rng.Uint64N(1<<20), Value: rng.Uint64N(1 << 40)})
				}
			}
			d := &segData{start: 1 << 20, end: 1 << 20, addrStart: 1 << 19, addrEnd: 1 << 19}
			var parts []part
			n, k := 0, uint64(0) // txs indexed, and since the segment began
			cpu0 := cputime.Process()
			for b.Loop() {
				if len(d.adj) >= segMaxEntries {
					d.adj, d.spent, d.times, k = d.adj[:0], d.spent[:0], d.times[:0], 0
				}
				parts = indexAdj(d, d.start+k, &recs[n%txs], 1_600_000_000, parts)
				n, k = n+1, k+1
			}
			b.ReportMetric(float64((cputime.Process()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/tx")
		})
	}
}
