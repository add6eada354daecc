package ingest

// Benchmarks of the ETL import (issue 4, Performance). They run only with
// -bench; the PostgreSQL comparison starts its own throw-away cluster and
// skips with a message when PostgreSQL 15 is not installed.
//
//	go test ./internal/ingest -run '^$' -bench 'ETL' -benchtime 3x -timeout 30m
//
// SPOOR_BENCH_ROWS sets the number of token transfers (default 1,000,000).

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spoor-dev/spoor/internal/chain/etl/etltest"
	"github.com/spoor-dev/spoor/internal/cputime"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/pgtest"
	"github.com/spoor-dev/spoor/internal/store/pebblestore"
)

// benchExport is a synthetic Tron-like export in three layouts.
type benchExport struct {
	xfers       string // token_transfers.csv only
	full        string // token_transfers.csv + transactions.csv
	partitioned string // the token transfers as 10 ethereum-etl block-range partitions
}

// syntheticExport writes, under a temp dir of b, n USDT-like token
// transfers over 100,000 addresses and 50 contracts (80% on one), 100 per
// block, and a transactions.csv row per transfer (fee payer, fee, status).
func syntheticExport(b *testing.B) benchExport {
	dir := b.TempDir()
	e := benchExport{filepath.Join(dir, "xfers"), filepath.Join(dir, "full"), filepath.Join(dir, "parts")}
	for _, d := range []string{e.xfers, e.full, e.partitioned} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	src := filepath.Join(e.xfers, "token_transfers.csv")
	if err := etltest.WriteSynthetic(src, filepath.Join(e.full, "transactions.csv"), etltest.Rows()); err != nil {
		b.Fatal(err)
	}
	if err := os.Link(src, filepath.Join(e.full, "token_transfers.csv")); err != nil {
		b.Fatal(err)
	}
	if err := splitPartitions(src, e.partitioned, 10); err != nil {
		b.Fatal(err)
	}
	return e
}

// splitPartitions cuts a token_transfers file (rows in block order) into
// parts files named like ethereum-etl's token_transfers_START_END.csv.
func splitPartitions(src, dir string, parts int) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	hdr, rest, _ := strings.Cut(string(data), "\n")
	lines := strings.Split(strings.TrimSuffix(rest, "\n"), "\n")
	per := (len(lines) + parts - 1) / parts
	block := func(l string) string { return strings.Split(l, ",")[6] }
	for i := 0; i < len(lines); i += per {
		j := min(i+per, len(lines))
		lo, _ := strconv.Atoi(block(lines[i]))
		hi, _ := strconv.Atoi(block(lines[j-1]))
		name := filepath.Join(dir, fmt.Sprintf("token_transfers_%08d_%08d.csv", lo, hi))
		if err := os.WriteFile(name, []byte(hdr+"\n"+strings.Join(lines[i:j], "\n")+"\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// importOnce ingests dir into a fresh store and closes it, as `spoor ingest`
// does, and returns the elapsed time (the close included: it writes the last
// open segment), the time of the close alone, and the transfers stored.
func importOnce(b *testing.B, dir string) (all, close time.Duration, n uint64) {
	st, err := pebblestore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	res, err := ETL(st, model.Tron, dir, Options{})
	if err != nil {
		st.Close()
		b.Fatal(err)
	}
	t1 := time.Now()
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	return time.Since(t0), time.Since(t1), res.ETL.NewTransfers
}

// BenchmarkETLImport: token_transfers.csv alone, with transactions.csv
// (fees and statuses joined), and cut into 10 block-range partitions (decode
// of one overlaps the store writes of the previous), into a fresh store.
func BenchmarkETLImport(b *testing.B) {
	checkRecycle = false // the tests' checks cost no time here
	e := syntheticExport(b)
	for _, c := range []struct{ name, dir string }{{"transfers", e.xfers}, {"transfers+txs", e.full}, {"transfers-10-partitions", e.partitioned}} {
		b.Run(c.name, func(b *testing.B) {
			var ds, cls, cs []time.Duration
			var n uint64
			for i := 0; i < b.N; i++ {
				runtime.GC()
				c0 := cputime.Process()
				d, cl, got := importOnce(b, c.dir)
				cs = append(cs, cputime.Process()-c0)
				ds, cls = append(ds, d), append(cls, cl)
				n = got
			}
			b.ReportMetric(float64(n)/etltest.Median(ds).Seconds(), "transfers/s")
			b.ReportMetric(etltest.Median(ds).Seconds(), "s/import")
			b.ReportMetric(etltest.Median(cls).Seconds(), "s-close/import")
			// CPU seconds of the whole process (decode, store, background
			// segment writes until the store is closed): the
			// number a busy shared machine disturbs least.
			b.ReportMetric(etltest.Median(cs).Seconds(), "cpu-s/import")
			b.ReportMetric(float64(n)/etltest.Median(cs).Seconds(), "transfers/cpu-s")
		})
	}
}

// copyOnce COPYs the file into a freshly created indexed table.
func copyOnce(b *testing.B, ctx context.Context, conn *pgx.Conn, path string) (time.Duration, int64) {
	if _, err := conn.Exec(ctx, pgtest.TokenTransfersSchema); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	t0 := time.Now()
	tag, err := conn.PgConn().CopyFrom(ctx, bufio.NewReaderSize(f, 1<<20), "COPY token_transfers FROM STDIN WITH (FORMAT csv, HEADER true)")
	if err != nil {
		b.Fatal(err)
	}
	return time.Since(t0), tag.RowsAffected()
}

// BenchmarkETLvsPostgresCOPY imports the same token_transfers.csv into
// spoor (fresh store) and, by COPY, into a fresh PostgreSQL table with a
// primary key and an index on each address column, alternating, and reports
// the median rates and their ratio.
func BenchmarkETLvsPostgresCOPY(b *testing.B) {
	checkRecycle = false
	p := pgtest.Start(b, "55432")
	xfers := syntheticExport(b).xfers
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, p.DSN())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	var sd, pd []time.Duration
	var sn uint64
	var pn int64
	for i := 0; i < b.N; i++ {
		d, _, n := importOnce(b, xfers)
		sd, sn = append(sd, d), n
		d2, n2 := copyOnce(b, ctx, conn, filepath.Join(xfers, "token_transfers.csv"))
		pd, pn = append(pd, d2), n2
	}
	if int64(sn) != pn {
		b.Fatalf("spoor stored %d transfers, PostgreSQL %d rows", sn, pn)
	}
	sr := float64(sn) / etltest.Median(sd).Seconds()
	pr := float64(pn) / etltest.Median(pd).Seconds()
	b.ReportMetric(sr, "spoor-transfers/s")
	b.ReportMetric(pr, "pg-copy-rows/s")
	b.ReportMetric(sr/pr, "spoor/pg")
	var sv strings.Builder
	for i := range sd {
		fmt.Fprintf(&sv, " spoor %.2fs pg %.2fs;", sd[i].Seconds(), pd[i].Seconds())
	}
	b.Logf("%d rows:%s", pn, sv.String())
}
