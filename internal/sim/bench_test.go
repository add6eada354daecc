package sim

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkGenerate measures generation speed (transfers per second,
// counted as the store counts them) at 10^5 and 10^6 transfers. Run with
// -benchtime=1x for the large sizes; the 10^7 run is documented in
// BENCHMARKS.md (simulator section) (spoor sim --scale large under /usr/bin/time -v).
func BenchmarkGenerate(b *testing.B) {
	for _, n := range []int64{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("transfers=%d", n), func(b *testing.B) {
			cfg, err := TransfersConfig(n, 1)
			if err != nil {
				b.Fatal(err)
			}
			var total int64
			var elapsed time.Duration
			for i := 0; i < b.N; i++ {
				out := filepath.Join(b.TempDir(), "w")
				t0 := time.Now()
				m, err := Generate(cfg, out)
				if err != nil {
					b.Fatal(err)
				}
				elapsed += time.Since(t0)
				total += m.Transfers
			}
			b.ReportMetric(float64(total)/elapsed.Seconds(), "transfers/s")
		})
	}
}
