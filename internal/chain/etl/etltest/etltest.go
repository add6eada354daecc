// Package etltest writes synthetic ethereum-etl exports for the benchmarks
// of package etl (decode alone) and package ingest (decode and store), so
// that both measure the very same rows. Test support only: nothing in the
// spoor binary imports it.
package etltest

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"
)

// WriteSynthetic writes n USDT-like token transfers (100,000 addresses, 50
// contracts, 80 % of rows on one, 100 per block, one per transaction) to
// xferPath as an ethereum-etl token_transfers.csv, and a transactions.csv
// row per transfer (fee payer, fee, status) to txPath. Deterministic: the
// same n gives the same bytes.
func WriteSynthetic(xferPath, txPath string, n int) error {
	xf, err := os.Create(xferPath)
	if err != nil {
		return err
	}
	defer xf.Close()
	tf, err := os.Create(txPath)
	if err != nil {
		return err
	}
	defer tf.Close()
	xw, tw := bufio.NewWriterSize(xf, 1<<20), bufio.NewWriterSize(tf, 1<<20)
	xw.WriteString("token_address,from_address,to_address,value,transaction_hash,log_index,block_number,block_timestamp\n")
	tw.WriteString("hash,block_number,transaction_index,from_address,to_address,value,gas_price,receipt_gas_used,receipt_status,block_timestamp\n")
	rng := uint64(0x9e3779b97f4a7c15)
	next := func() uint64 { // xorshift64*: deterministic, no allocation
		rng ^= rng >> 12
		rng ^= rng << 25
		rng ^= rng >> 27
		return rng * 2685821657736338717
	}
	addr := func(i uint64) string { return fmt.Sprintf("0x%040x", 0x1000000+i) }
	const nAddr = 100_000
	for i := 0; i < n; i++ {
		h := 50_000_000 + uint64(i/100)
		ts := 1_682_935_200 + int64(i/100)*3
		ct := uint64(0)
		if r := next() % 100; r >= 80 {
			ct = 1 + r%49
		}
		contract := fmt.Sprintf("0x%040x", 0xa614f803b6+ct)
		from, to := addr(next()%nAddr), addr(next()%nAddr)
		txid := fmt.Sprintf("%064x", uint64(i)+1)
		fmt.Fprintf(xw, "%s,%s,%s,%d,%s,0,%d,%d\n", contract, from, to, next()%1_000_000_000_000, txid, h, ts)
		fmt.Fprintf(tw, "%s,%d,%d,%s,%s,0,1,%d,1,%d\n", txid, h, i%100, from, contract, 345000+next()%14_000_000, ts)
	}
	if err := xw.Flush(); err != nil {
		return err
	}
	return tw.Flush()
}

// Rows is the number of token transfers the benchmarks generate:
// SPOOR_BENCH_ROWS, default 1,000,000.
func Rows() int {
	if n, err := strconv.Atoi(os.Getenv("SPOOR_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// Median is the median of durations (the upper one of an even count).
func Median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
