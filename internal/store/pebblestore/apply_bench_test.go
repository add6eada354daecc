package pebblestore

import (
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/spoor-dev/spoor/internal/cputime"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// BenchmarkApplyTokens measures the store's write path alone (no CSV
// decode): token transfers shaped like the ETL benchmark's export (100,000
// addresses, 50 contracts with 80% on one, one transfer per transaction, 100
// per block) applied Unordered in batches of 120,000 transactions (the ETL
// driver's batch) into a fresh store, closed at the end. It reports wall and
// CPU rates; CPU seconds (background flushes and compactions included)
// disturb least on a shared machine. SPOOR_BENCH_ROWS sets the transfers
// (default 400,000).
func BenchmarkApplyTokens(b *testing.B) {
	n := 400_000
	if v, err := strconv.Atoi(os.Getenv("SPOOR_BENCH_ROWS")); err == nil && v > 0 {
		n = v
	}
	rng := uint64(0x9e3779b97f4a7c15)
	next := func() uint64 {
		rng ^= rng >> 12
		rng ^= rng << 25
		rng ^= rng >> 27
		return rng * 2685821657736338717
	}
	addr := func(i uint64) []byte {
		a := make([]byte, 21)
		a[0] = 0x41
		for j := 0; j < 8; j++ {
			a[20-j] = byte((i + 0x1000000) >> (8 * j))
		}
		return a
	}
	var blocks []*model.Block
	for i := 0; i < n; i++ {
		h := 50_000_000 + uint64(i/100)
		if i%100 == 0 {
			blocks = append(blocks, &model.Block{Chain: model.Tron, Height: h, Hash: [32]byte{byte(h), byte(h >> 8), byte(h >> 16), 1}, Time: 1_682_935_200 + int64(i/100)*3})
		}
		ct := uint64(0)
		if r := next() % 100; r >= 80 {
			ct = 1 + r%49
		}
		contract := addr(0xa614f803b6 + ct)
		from, to := addr(next()%100_000), addr(next()%100_000)
		tx := model.Tx{Index: uint32(i % 100), FeePayer: from}
		tx.ID[0], tx.ID[1], tx.ID[2], tx.ID[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
		t := model.Transfer{From: from, To: to, Contract: contract, LogIndex: 0}
		t.Value.SetUint64(next() % 1_000_000_000_000)
		tx.Transfers = []model.Transfer{t}
		blk := blocks[len(blocks)-1]
		blk.Txs = append(blk.Txs, tx)
	}
	const batchBlocks = 120_000 / 100
	var wall, cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		c0, t0 := cputime.Process(), time.Now()
		for j := 0; j < len(blocks); j += batchBlocks {
			if err := s.Apply(model.Tron, store.Unordered, blocks[j:min(j+batchBlocks, len(blocks))]); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		wall += time.Since(t0)
		cpu += cputime.Process() - c0
	}
	total := float64(b.N) * float64(n)
	b.ReportMetric(total/wall.Seconds(), "transfers/s")
	b.ReportMetric(total/cpu.Seconds(), "transfers/cpu-s")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
}
