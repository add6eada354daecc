package etl

// Benchmarks of the CSV → model.Block decode alone (no store), on a synthetic
// export shaped like internal/ingest's (etl_bench_test.go writeSynthetic):
// USDT-like token transfers over 100,000 addresses and 50 contracts (80% on
// one), 100 per block, and one transactions.csv row per transfer.
//
//	go test ./internal/chain/etl -run '^$' -bench 'Decode' -count 5 -cpuprofile cpu.out
//
// SPOOR_BENCH_ROWS sets the number of token transfers (default 1,000,000).
// SPOOR_ETL_BENCH_DIR keeps the export in that folder (written when absent),
// so two builds can be compared on the very same files.

import (
	"bufio"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/spoor-dev/spoor/internal/cputime"
	"github.com/spoor-dev/spoor/internal/model"

	"github.com/spoor-dev/spoor/internal/chain/etl/etltest"
)

// benchExport returns the folder holding token_transfers.csv and
// transactions.csv of etltest.Rows() rows each.
func benchExport(b *testing.B) string {
	n := etltest.Rows()
	dir := os.Getenv("SPOOR_ETL_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	} else {
		dir = filepath.Join(dir, strconv.Itoa(n))
		if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
			return dir
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := etltest.WriteSynthetic(filepath.Join(dir, "token_transfers.csv"), filepath.Join(dir, "transactions.csv"), n); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "complete"), nil, 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// benchUnit is the unit of one layout of the export.
func benchUnit(dir string, withTxs bool) Unit {
	u := Unit{Files: []File{{filepath.Join(dir, "token_transfers.csv"), KindTokenTransfers}}}
	if withTxs {
		u.Files = append(u.Files, File{filepath.Join(dir, "transactions.csv"), KindTransactions})
	}
	return u
}

// decodeOnce decodes u and checks the result holds every transfer.
func decodeOnce(b *testing.B, u Unit, want int) *Result {
	r, err := DecodeUnit(model.Tron, u)
	if err != nil {
		b.Fatal(err)
	}
	if r.Transfers != int64(want) {
		b.Fatalf("decoded %d transfers, want %d", r.Transfers, want)
	}
	return r
}

// streamOnce decodes u with DecodeUnitStream (the blocks handed over are
// counted and dropped, as a store would take them) and checks that every
// transfer came.
func streamOnce(b *testing.B, u Unit, want int) {
	var got int64
	_, err := DecodeUnitStream(model.Tron, u, Stream{
		Blocks: func(bs []*model.Block) error {
			for _, blk := range bs {
				for i := range blk.Txs {
					got += int64(len(blk.Txs[i].Transfers))
				}
			}
			return nil
		},
		Reset: func() error { got = 0; return nil },
	})
	if err != nil {
		b.Fatal(err)
	}
	if got != int64(want) {
		b.Fatalf("streamed %d transfers, want %d", got, want)
	}
}

// stdlibRead reads every file of u with encoding/csv (records reused: the
// cheapest way the standard library reads), touching every field, and
// returns the records read.
func stdlibRead(b *testing.B, u Unit) int {
	n := 0
	for _, f := range u.Files {
		fh, err := os.Open(f.Path)
		if err != nil {
			b.Fatal(err)
		}
		r := csv.NewReader(bufio.NewReaderSize(fh, 1<<20))
		r.ReuseRecord = true
		for {
			rec, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if len(rec) < 8 {
				b.Fatalf("%s: %d fields", f.Path, len(rec))
			}
			n++
		}
		fh.Close()
	}
	return n
}

// spoorRead reads every file of u with spoor's streaming CSV reader (the
// one the row-by-row tables use; fields are subslices of its buffer), one
// goroutine, nothing decoded, and returns the records read.
func spoorRead(b *testing.B, u Unit) int {
	n := 0
	for _, f := range u.Files {
		fh, err := os.Open(f.Path)
		if err != nil {
			b.Fatal(err)
		}
		cr := newCSVReader(fh, f.Path)
		for {
			err := cr.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if len(cr.fields) < 8 {
				b.Fatalf("%s: %d fields", f.Path, len(cr.fields))
			}
			n++
		}
		fh.Close()
	}
	return n
}

// mallocs returns the process's allocation count so far.
func mallocs() uint64 {
	runtime.ReadMemStats(&mem0)
	return mem0.Mallocs
}

// mem0 is the memory statistics of the last mallocs call.
var mem0 runtime.MemStats

var benchLayouts = []struct {
	name    string
	withTxs bool
}{{"transfers", false}, {"transfers+txs", true}}

// BenchmarkDecode decodes each layout into blocks (DecodeUnit, no store) and,
// as reference points, reads the same files with spoor's bare CSV reader
// and with encoding/csv. Rates
// count token-transfer rows; allocs/row counts every row read.
func BenchmarkDecode(b *testing.B) {
	dir := benchExport(b)
	n := etltest.Rows()
	for _, l := range benchLayouts {
		u := benchUnit(dir, l.withTxs)
		rows := n
		if l.withTxs {
			rows = 2 * n
		}
		b.Run(l.name, func(b *testing.B) {
			runtime.GC()
			m0, c0 := mallocs(), cputime.Process()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				decodeOnce(b, u, n)
			}
			b.StopTimer()
			reportRates(b, n, rows, m0, c0)
		})
		b.Run("stream/"+l.name, func(b *testing.B) {
			runtime.GC()
			m0, c0 := mallocs(), cputime.Process()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				streamOnce(b, u, n)
			}
			b.StopTimer()
			reportRates(b, n, rows, m0, c0)
		})
		b.Run("spoor-csv/"+l.name, func(b *testing.B) {
			runtime.GC()
			m0, c0 := mallocs(), cputime.Process()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if got := spoorRead(b, u); got != rows+len(u.Files) {
					b.Fatalf("read %d records, want %d", got, rows+len(u.Files))
				}
			}
			b.StopTimer()
			reportRates(b, n, rows, m0, c0)
		})
		b.Run("encoding-csv/"+l.name, func(b *testing.B) {
			runtime.GC()
			m0, c0 := mallocs(), cputime.Process()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if got := stdlibRead(b, u); got != rows+len(u.Files) {
					b.Fatalf("read %d records, want %d", got, rows+len(u.Files))
				}
			}
			b.StopTimer()
			reportRates(b, n, rows, m0, c0)
		})
	}
}

// reportRates reports token transfers per second of wall time and per CPU
// second (all goroutines, GC included), and allocations per row.
func reportRates(b *testing.B, n, rows int, m0 uint64, c0 time.Duration) {
	cpu := cputime.Process() - c0
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "transfers/s")
	b.ReportMetric(float64(n)*float64(b.N)/cpu.Seconds(), "transfers/cpu-s")
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	b.ReportMetric(float64(m.Mallocs-m0)/float64(rows*b.N), "allocs/row")
	b.ReportMetric(float64(m.NumGC-mem0.NumGC)/float64(b.N), "gcs/op")
	b.ReportMetric(float64(m.TotalAlloc-mem0.TotalAlloc)/float64(rows*b.N), "B/row")
}

// BenchmarkDecodeVsEncodingCSV alternates a full decode and a bare
// encoding/csv read of the same files (so both see the same machine load)
// and reports the median rates and their ratio. Run with -benchtime 5x.
func BenchmarkDecodeVsEncodingCSV(b *testing.B) {
	dir := benchExport(b)
	n := etltest.Rows()
	for _, l := range benchLayouts {
		u := benchUnit(dir, l.withTxs)
		b.Run(l.name, func(b *testing.B) {
			var dd, sd []time.Duration
			for i := 0; i < b.N; i++ {
				runtime.GC()
				t0 := time.Now()
				decodeOnce(b, u, n)
				dd = append(dd, time.Since(t0))
				runtime.GC()
				t0 = time.Now()
				stdlibRead(b, u)
				sd = append(sd, time.Since(t0))
			}
			dr := float64(n) / etltest.Median(dd).Seconds()
			sr := float64(n) / etltest.Median(sd).Seconds()
			b.ReportMetric(dr, "decode-transfers/s")
			b.ReportMetric(sr, "encoding-csv-transfers/s")
			b.ReportMetric(dr/sr, "decode/encoding-csv")
		})
	}
}
