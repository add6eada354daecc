package pebblestore

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkIndexAdj indexes Bitcoin-shaped txs (1–3 inputs, 1–3 outputs,
// one in 50 a batch of 20 outputs, address ids over a million) into a
// segment of 2²⁰ of them, as the indexer does: the adjacency entries,
// spends and times, the segment's arrays reused between rounds.
func BenchmarkIndexAdj(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 7))
	const txs = 1 << 16
	recs := make([]txRec, txs)
	for i := range recs {
		r := &recs[i]
		nIn, nOut := 1+rng.IntN(3), 1+rng.IntN(3)
		if rng.IntN(50) == 0 {
			nOut = 20
		}
		for k := 0; k < nIn; k++ {
			r.Inputs = append(r.Inputs, inRec{PrevTx: rng.Uint64N(1 << 20), PrevIndex: uint32(k), Addr: 1 + rng.Uint64N(1<<20), Value: rng.Uint64N(1 << 40)})
		}
		for k := 0; k < nOut; k++ {
			r.Outputs = append(r.Outputs, outRec{Addr: 1 + rng.Uint64N(1<<20), Value: rng.Uint64N(1 << 40)})
		}
	}
	d := &segData{start: 1 << 20, end: 1 << 20, addrStart: 1 << 19, addrEnd: 1 << 19}
	var parts []part
	n := 0
	cpu0 := cpuTime()
	for b.Loop() {
		if n%(1<<20) == 0 {
			d.adj, d.spent, d.times = d.adj[:0], d.spent[:0], d.times[:0]
		}
		parts = indexAdj(d, d.start+uint64(n%(1<<20)), &recs[n%txs], 1_600_000_000, parts)
		n++
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/tx")
}
