package pebblestore

import (
	"os"
	"testing"
	"time"

	"github.com/spoor-dev/spoor/internal/cputime"
	"github.com/spoor-dev/spoor/internal/model"
)

// BenchmarkUTXOLoad times loading the Bitcoin UTXO set of a store that
// `spoor ingest btc` wrote (SPOOR_UTXO_STORE=DIR/chain, the store folder
// inside --data): the snapshot read and the replay of the tx records after
// it, as the first Apply of a reopened store pays it (wall and process CPU
// time: on a shared machine the CPU time is the steadier). The chain's other
// state (log indexes, segment list) is loaded first and not timed. Skips
// without the variable: the store it needs is built by the CLI from a
// generated chain (BENCHMARKS.md, "Footprint (sixth session)").
func BenchmarkUTXOLoad(b *testing.B) {
	dir := os.Getenv("SPOOR_UTXO_STORE")
	if dir == "" {
		b.Skip("set SPOOR_UTXO_STORE to a store folder written by spoor ingest btc")
	}
	var total, cpu time.Duration
	var outputs int
	for i := 0; i < b.N; i++ {
		s, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		s.mu.Lock()
		st, err := s.state(model.BTC)
		if err != nil {
			b.Fatal(err)
		}
		start, c0 := time.Now(), cputime.Process()
		if err := s.ensureUTXO(model.BTC, st); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		cpu += cputime.Process() - c0
		outputs = st.utxo.len()
		s.mu.Unlock()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "load-ms")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "load-cpu-ms")
	b.ReportMetric(float64(outputs), "outputs")
	b.ReportMetric(0, "ns/op")
}
