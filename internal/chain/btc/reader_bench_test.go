package btc

import (
	"os"
	"testing"

	"github.com/spoor-dev/spoor/internal/chain/btc/btctestdata"
	"github.com/spoor-dev/spoor/internal/cputime"
	"github.com/spoor-dev/spoor/internal/model"
)

// benchBlkPath is the blk file the benchmarks read: SPOOR_BENCH_BLK, or
// the real mainnet blocks 0–14,131 of btcd's test data.
func benchBlkPath(b *testing.B) string {
	if path := os.Getenv("SPOOR_BENCH_BLK"); path != "" {
		return path
	}
	return btctestdata.Path(b, "blockchain/testdata/blk_0_to_14131.dat")
}

// BenchmarkReadDecode reads every block of a blk file with a Reader and
// decodes it, one goroutine, no store: the read and decode side of an
// ingest alone. It compares the blk file read with pread into fresh
// buffers and decoded into fresh blocks (the path before the sixth
// session) with the file mapped and the blocks recycled (returned at once,
// as the ingest returns them after Apply), and the two changes apart. The
// file is SPOOR_BENCH_BLK (e.g. a synthetic chain of `spoor sim`) or the
// real mainnet blocks 0–14,131 of btcd's test data. Reported: minor page
// faults and CPU seconds per pass, and tx per CPU second.
func BenchmarkReadDecode(b *testing.B) {
	path := benchBlkPath(b)
	for _, mode := range []struct {
		name    string
		mapped  bool
		recycle bool
	}{{"pread+fresh", false, false}, {"mmap+fresh", true, false}, {"pread+recycled", false, true}, {"mmap+recycled", true, true}} {
		b.Run(mode.name, func(b *testing.B) {
			defer func(m bool) { mapBlockFiles = m }(mapBlockFiles)
			mapBlockFiles = mode.mapped
			bf, plan := openPlan(b, path)
			var rc *Recycler
			if mode.recycle {
				rc = NewRecycler(false)
			}
			txs := 0
			b.ResetTimer()
			f0, c0 := cputime.MinorFaults(), cputime.Process()
			for i := 0; i < b.N; i++ {
				rd := bf.NewReader()
				for _, p := range plan {
					rb, err := rd.Read(p)
					if err != nil {
						b.Fatal(err)
					}
					blk, _, err := rc.DecodeBlock(rb.Bytes, p.Height)
					if err != nil {
						b.Fatal(err)
					}
					rd.Release(&rb)
					txs += len(blk.Txs)
					if rc != nil {
						if err := rc.Return([]*model.Block{blk}); err != nil {
							b.Fatal(err)
						}
					}
				}
				rd.Close()
			}
			cpu := cputime.Process() - c0
			b.ReportMetric(float64(cputime.MinorFaults()-f0)/float64(b.N), "faults/op")
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
			b.ReportMetric(float64(txs)/cpu.Seconds(), "tx/cpu-s")
		})
	}
}

// BenchmarkBestChain indexes a blk file's headers and orders them into
// the chain with the most work (OpenBlockFiles + BestChain: what an ingest
// does before its first block), on the real mainnet blocks 0–14,131 of
// btcd's test data or SPOOR_BENCH_BLK.
func BenchmarkBestChain(b *testing.B) {
	path := benchBlkPath(b)
	c0 := cputime.Process()
	for i := 0; i < b.N; i++ {
		if _, plan := openPlan(b, path); len(plan) == 0 {
			b.Fatal("no blocks planned")
		}
	}
	b.ReportMetric(float64(cputime.Process()-c0)/1e6/float64(b.N), "cpu-ms/op")
}
