package trace

// BenchmarkReadsVsPostgres: the two questions an investigator asks first of
// an address — its totals, and who paid it / whom it paid — answered by
// spoor (ETL import into the embedded store, then Store.Address and
// Counterparties) and by PostgreSQL 15 (the same token_transfers.csv
// COPYed into a table with an index on each address column, ANALYZEd),
// address by address, interleaved, over a sample of the export's
// addresses. Every answer is compared between the two, so the benchmark is
// also a differential test of the read path on a million rows.
//
//	SPOOR_BENCH_ROWS=1000000 go test ./internal/trace -run '^$' -bench ReadsVsPostgres -benchtime 1x -timeout 30m
//
// It skips with a message when PostgreSQL 15 is not installed.

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spoor-dev/spoor/internal/chain/etl/etltest"
	"github.com/spoor-dev/spoor/internal/ingest"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/pgtest"
	"github.com/spoor-dev/spoor/internal/store"
	"github.com/spoor-dev/spoor/internal/store/pebblestore"
)

// The address report: per token, received and sent with their counts, and
// the first and last time seen.
const pgSummary = `SELECT token_address,
	coalesce(sum(value) FILTER (WHERE to_address = $1), 0)::text,
	coalesce(sum(value) FILTER (WHERE from_address = $1), 0)::text,
	count(*) FILTER (WHERE to_address = $1), count(*) FILTER (WHERE from_address = $1),
	min(block_timestamp), max(block_timestamp)
FROM token_transfers WHERE from_address = $1 OR to_address = $1
GROUP BY token_address ORDER BY token_address`

// Who paid the address, per token: value, transactions, first and last.
const pgPayers = `SELECT from_address, token_address, sum(value)::text, count(DISTINCT transaction_hash),
	min(block_timestamp), max(block_timestamp)
FROM token_transfers WHERE to_address = $1 AND from_address <> to_address
GROUP BY from_address, token_address`

// tronBytes is the canonical form of an export's 0x… address.
func tronBytes(tb testing.TB, s string) []byte {
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil || len(b) != 20 {
		tb.Fatalf("address %q", s)
	}
	return append([]byte{0x41}, b...)
}

func BenchmarkReadsVsPostgres(b *testing.B) {
	pg := pgtest.Start(b, "55433")
	dir := b.TempDir()
	csv := filepath.Join(dir, "token_transfers.csv")
	if err := etltest.WriteSynthetic(csv, filepath.Join(b.TempDir(), "transactions.csv"), etltest.Rows()); err != nil {
		b.Fatal(err)
	}
	// A hub (an exchange's deposit sweeper, say): hubRows payments from
	// senders spread over the population, in blocks after the export's.
	hub := fmt.Sprintf("0x%040x", 0xdead)
	hf, err := os.OpenFile(csv, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	const hubRows = 50_000
	n := etltest.Rows()
	for i := 0; i < hubRows; i++ {
		h := 50_000_000 + n/100 + 1 + i/100
		fmt.Fprintf(hf, "0x%040x,0x%040x,%s,%d,%064x,0,%d,%d\n", 0xa614f803b6, 0x1000000+(i*7919)%100_000, hub, 1000+i, n+1+i, h, 1_682_935_200+h*3)
	}
	if err := hf.Close(); err != nil {
		b.Fatal(err)
	}
	st, err := pebblestore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := ingest.ETL(st, model.Tron, dir, ingest.Options{}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, pgtest.TokenTransfersSchema); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(csv)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := conn.PgConn().CopyFrom(ctx, f, "COPY token_transfers FROM STDIN WITH (FORMAT csv, HEADER true)"); err != nil {
		b.Fatal(err)
	}
	f.Close()
	if _, err := conn.Exec(ctx, "ANALYZE token_transfers"); err != nil {
		b.Fatal(err)
	}
	// A spread sample of the export's 100,000 addresses (etltest's naming).
	var sample []string
	for k := 0; k < 200; k++ {
		sample = append(sample, fmt.Sprintf("0x%040x", 0x1000000+(k*499)%100_000))
	}
	var sSum, pSum, sCp, pCp []time.Duration
	var hubS, hubP []time.Duration
	rows := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k, a := range append(sample, hub) {
			isHub := k == len(sample)
			ab := tronBytes(b, a)

			t0 := time.Now()
			sum, err := st.Address(model.Tron, ab)
			sSum = append(sSum, time.Since(t0))
			if errors.Is(err, store.ErrNotFound) {
				sum, err = &store.AddressSummary{FirstSeen: 1 << 62}, nil // never seen: PostgreSQL must find no rows either
			}
			if err != nil {
				b.Fatal(err)
			}
			t0 = time.Now()
			type tot struct {
				in, out     string
				nIn, nOut   int64
				first, last int64
			}
			pgTot := map[string]tot{}
			r, err := conn.Query(ctx, pgSummary, a)
			if err != nil {
				b.Fatal(err)
			}
			var first, last int64 = 1 << 62, 0
			for r.Next() {
				var tok string
				var x tot
				if err := r.Scan(&tok, &x.in, &x.out, &x.nIn, &x.nOut, &x.first, &x.last); err != nil {
					b.Fatal(err)
				}
				pgTot[string(tronBytes(b, tok))] = x
				first, last = min(first, x.first), max(last, x.last)
			}
			if r.Err() != nil {
				b.Fatal(r.Err())
			}
			pSum = append(pSum, time.Since(t0))
			// Same answer.
			if len(sum.Assets) != len(pgTot) || sum.FirstSeen != first || sum.LastSeen != last {
				b.Fatalf("%s: spoor %d assets seen %d–%d, PostgreSQL %d assets seen %d–%d", a, len(sum.Assets), sum.FirstSeen, sum.LastSeen, len(pgTot), first, last)
			}
			for _, as := range sum.Assets {
				x, ok := pgTot[string(as.Asset.Contract)]
				if !ok || as.Received.Dec() != x.in || as.Sent.Dec() != x.out || int64(as.TransfersIn) != x.nIn || int64(as.TransfersOut) != x.nOut {
					b.Fatalf("%s token %x: spoor in %s (%d) out %s (%d), PostgreSQL %+v", a, as.Asset.Contract, as.Received.Dec(), as.TransfersIn, as.Sent.Dec(), as.TransfersOut, x)
				}
			}

			t0 = time.Now()
			cps, err := Counterparties(st, model.Tron, ab, In, Options{})
			sCp = append(sCp, time.Since(t0))
			if errors.Is(err, store.ErrNotFound) {
				cps, err = nil, nil
			}
			if err != nil {
				b.Fatal(err)
			}
			t0 = time.Now()
			type cpv struct {
				value       string
				txs         int64
				first, last int64
			}
			pgCp := map[string]cpv{}
			r, err = conn.Query(ctx, pgPayers, a)
			if err != nil {
				b.Fatal(err)
			}
			for r.Next() {
				var from, tok string
				var x cpv
				if err := r.Scan(&from, &tok, &x.value, &x.txs, &x.first, &x.last); err != nil {
					b.Fatal(err)
				}
				pgCp[string(tronBytes(b, from))+string(tronBytes(b, tok))] = x
			}
			if r.Err() != nil {
				b.Fatal(r.Err())
			}
			pCp = append(pCp, time.Since(t0))
			if isHub {
				hubS, hubP = append(hubS, sCp[len(sCp)-1]), append(hubP, pCp[len(pCp)-1])
				sCp, pCp = sCp[:len(sCp)-1], pCp[:len(pCp)-1]
			}
			if len(cps) != len(pgCp) {
				b.Fatalf("%s: spoor %d payers, PostgreSQL %d", a, len(cps), len(pgCp))
			}
			for _, c := range cps {
				x, ok := pgCp[string(c.Address)+string(c.Asset.Contract)]
				if !ok || c.Value.Dec() != x.value || int64(c.Txs) != x.txs || c.First != x.first || c.Last != x.last {
					b.Fatalf("%s payer %x: spoor %s in %d txs %d–%d, PostgreSQL %+v", a, c.Address, c.Value.Dec(), c.Txs, c.First, c.Last, x)
				}
			}
			rows += len(cps)
		}
	}
	b.StopTimer()
	if rows == 0 {
		b.Fatal("no counterparties in the sample: the comparison compared nothing")
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(etltest.Median(sSum)), "spoor-summary-ms")
	b.ReportMetric(ms(etltest.Median(pSum)), "pg-summary-ms")
	b.ReportMetric(float64(etltest.Median(pSum))/float64(etltest.Median(sSum)), "summary-pg/spoor")
	b.ReportMetric(ms(etltest.Median(sCp)), "spoor-payers-ms")
	b.ReportMetric(ms(etltest.Median(pCp)), "pg-payers-ms")
	b.ReportMetric(float64(etltest.Median(pCp))/float64(etltest.Median(sCp)), "payers-pg/spoor")
	b.ReportMetric(ms(etltest.Median(hubS)), "spoor-hub-payers-ms")
	b.ReportMetric(ms(etltest.Median(hubP)), "pg-hub-payers-ms")
	b.ReportMetric(float64(etltest.Median(hubP))/float64(etltest.Median(hubS)), "hub-payers-pg/spoor")
	b.Logf("%d addresses and a hub paid %d times × %d rounds, %d payer rows compared, all equal", len(sample), hubRows, b.N, rows)
}
