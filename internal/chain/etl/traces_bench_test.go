package etl

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/spoor-dev/spoor/internal/chain/etl/etltest"
	"github.com/spoor-dev/spoor/internal/model"
)

// writeTraceBench writes a traces.csv of n rows shaped like mainnet's
// (ethereum-etl columns): per tx an outermost call, a call moving value,
// a delegatecall and a staticcall below it; one tx in 20 failed (all its
// rows status 0). Returns the rows that become transfers.
func writeTraceBench(b *testing.B, path string, n int) int {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(traceHead)
	moving := 0
	addr := func(i int) string { return fmt.Sprintf("0x%040x", i%100_000+1) }
	for i, tx := 0, 0; i < n; tx++ {
		id := fmt.Sprintf("0x%064x", tx+1)
		block := 1_000_000 + tx/150
		status, errMsg := 1, ""
		if tx%20 == 19 {
			status, errMsg = 0, "Reverted"
		}
		for k, r := range []struct{ typ, path, value string }{
			{"call/call", "", "1000000000000000000"}, {"call/call", "0", "250000000000000000"},
			{"call/delegatecall", "0,0", "250000000000000000"}, {"call/staticcall", "1", "0"},
		} {
			if i == n {
				break
			}
			st, em := status, ""
			if k == 0 {
				em = errMsg
			}
			w.WriteString(traceLine(block, id, tx%150, addr(tx+k), addr(tx+k+7), r.value, r.typ, r.path, em, st))
			if k == 1 && st == 1 {
				moving++
			}
			i++
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	return moving
}

// BenchmarkDecodeTraces decodes a traces file (row by row, one core) and
// reads the same file with encoding/csv, alternately, and reports the
// median rates and their ratio. SPOOR_BENCH_ROWS sets the rows (default
// 1,000,000). Run with -benchtime 5x.
func BenchmarkDecodeTraces(b *testing.B) {
	n := etltest.Rows()
	dir := b.TempDir()
	p := filepath.Join(dir, "traces.csv")
	want := writeTraceBench(b, p, n)
	u := Unit{Files: []File{{p, KindTraces}}}
	var dd, sd []time.Duration
	for i := 0; i < b.N; i++ {
		runtime.GC()
		t0 := time.Now()
		r, err := DecodeUnit(model.ETH, u)
		if err != nil {
			b.Fatal(err)
		}
		dd = append(dd, time.Since(t0))
		if r.Transfers != int64(want) {
			b.Fatalf("%d transfers, want %d", r.Transfers, want)
		}
		runtime.GC()
		t0 = time.Now()
		if got := stdlibRead(b, u); got != n+1 {
			b.Fatalf("read %d records, want %d", got, n+1)
		}
		sd = append(sd, time.Since(t0))
	}
	dr := float64(n) / etltest.Median(dd).Seconds()
	sr := float64(n) / etltest.Median(sd).Seconds()
	b.ReportMetric(dr, "decode-rows/s")
	b.ReportMetric(sr, "encoding-csv-rows/s")
	b.ReportMetric(dr/sr, "decode/encoding-csv")
}
