package ingest

import (
	"math/rand/v2"
	"testing"

	"github.com/spoor-dev/spoor/internal/cputime"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
	"github.com/spoor-dev/spoor/internal/store/pebblestore"
)

// BenchmarkTxReads: the reads an investigator makes of a Bitcoin store,
// on the synthetic chain ingested once and reopened: `spoor tx` (Tx by
// txid: the txid index, the record, every spent output's record, every
// spender), a tx by number (TxByNum, as a listing's rows are read),
// a batch of 4,096 (TxsByNum, as trace.Counterparties asks), and `spoor
// address` (Address: the adjacency folded). Random txs and addresses from
// a fixed seed, so two builds read the same ones. cpu-ns/op is the
// process's CPU time per read (on a shared machine steadier than ns/op).
//
//	go test ./internal/ingest -run '^$' -bench TxReads -count 5 -timeout 30m
func BenchmarkTxReads(b *testing.B) {
	checkRecycle = false
	dir := b.TempDir()
	s, err := pebblestore.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := BTCFiles(s, synthChain(b, benchTransfers()), Options{}); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	if s, err = pebblestore.Open(dir); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	st, err := s.Stats()
	if err != nil || len(st) != 1 {
		b.Fatalf("stats %+v %v", st, err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 1 << 12
	nums := make([]uint64, n)
	ids := make([][32]byte, n)
	var addrs [][]byte
	for i := range nums {
		nums[i] = 1 + rng.Uint64N(st[0].Txs)
		tv, err := s.TxByNum(model.BTC, nums[i])
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = tv.TxID
		if len(tv.Outputs) > 0 {
			addrs = append(addrs, tv.Outputs[rng.IntN(len(tv.Outputs))].Address)
		}
	}
	b.Run("Tx", func(b *testing.B) {
		defer reportCPU(b)()
		for i := 0; i < b.N; i++ {
			if _, err := s.Tx(model.BTC, ids[i%n]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("TxByNum", func(b *testing.B) {
		defer reportCPU(b)()
		for i := 0; i < b.N; i++ {
			if _, err := s.TxByNum(model.BTC, nums[i%n]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("TxsByNum-4096", func(b *testing.B) {
		defer reportCPU(b)()
		for i := 0; i < b.N; i++ {
			if err := s.TxsByNum(model.BTC, nums, func(int, *store.TxView) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Address", func(b *testing.B) {
		defer reportCPU(b)()
		for i := 0; i < b.N; i++ {
			if _, err := s.Address(model.BTC, addrs[i%len(addrs)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// reportCPU starts timing the process's CPU; the function it returns
// reports it per op.
func reportCPU(b *testing.B) func() {
	start := cputime.Process()
	return func() { b.ReportMetric(float64(cputime.Process()-start)/float64(b.N), "cpu-ns/op") }
}
