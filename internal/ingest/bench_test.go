package ingest

// Benchmarks of the Bitcoin ingest against btcd's wire decoder, side by
// side in each iteration (the machine is shared and noisy: compare within
// one iteration, take medians over -count runs), and of the store's
// footprint. See BENCHMARKS.md for results and the commands.
//
//	go test ./internal/ingest -run '^$' -bench . -benchtime 1x -count 5 -timeout 30m
//
// SPOOR_BENCH_TRANSFERS sets the synthetic chain's size (default 10^6).

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire"
	"github.com/spoor-dev/spoor/internal/chain/btc"
	"github.com/spoor-dev/spoor/internal/chain/btc/btctestdata"
	"github.com/spoor-dev/spoor/internal/cputime"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store/pebblestore"
)

func benchTransfers() int {
	if n, err := strconv.Atoi(os.Getenv("SPOOR_BENCH_TRANSFERS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

type benchSet struct {
	name string
	path func(testing.TB) string
}

var benchSets = []benchSet{
	{"mainnet-0-14131", func(tb testing.TB) string {
		return btctestdata.Path(tb, "blockchain/testdata/blk_0_to_14131.dat")
	}},
	{"synthetic", func(tb testing.TB) string { return synthChain(tb, benchTransfers()) }},
}

// blockBytes reads the blocks of a blk file (records in order) into memory.
func blockBytes(tb testing.TB, path string) (raws [][]byte, txs int) {
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	for _, rec := range btctestdata.SplitRecords(data) {
		raw := rec[8:]
		raws = append(raws, raw)
		var mb wire.MsgBlock
		if err := mb.Deserialize(bytes.NewReader(raw)); err != nil {
			tb.Fatal(err)
		}
		txs += len(mb.Transactions)
	}
	return raws, txs
}

// wireDecode decodes every block with btcd's wire on workers goroutines
// (blocks dealt round-robin), computing txids when withTxids is set.
func wireDecode(raws [][]byte, workers int, withTxids bool) time.Duration {
	start := time.Now()
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(raws) {
					return
				}
				var mb wire.MsgBlock
				if err := mb.Deserialize(bytes.NewReader(raws[i])); err != nil {
					panic(err)
				}
				if withTxids {
					for _, tx := range mb.Transactions {
						tx.TxHash()
					}
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// BenchmarkIngestVsWire times, in each iteration, btcd's wire decoding the
// blocks (one core, and all cores) and spoor's full ingest of the same blk
// file into an empty store (read, decode on all cores, classify scripts,
// link every input to its output, write and sync the logs, close the
// store). The
// ratio metrics are ingest rate / wire rate, in percent: by wall time
// against wire on one core and on all cores, and by CPU time (the CPU
// seconds wire needs to decode the blocks / the CPU seconds the ingest
// needs, background compactions included), which a busy shared machine
// disturbs least. The same ingest also runs in a fresh process in each
// iteration (childIngest; the -child metrics): that is what a user runs,
// while the ingest in this process finds a heap already mapped.
func BenchmarkIngestVsWire(b *testing.B) {
	checkRecycle = false // the tests' checks of recycled blocks cost no time here
	for _, set := range benchSets {
		b.Run(set.name, func(b *testing.B) {
			path := set.path(b)
			raws, ntx := blockBytes(b, path)
			procs := runtime.GOMAXPROCS(0)
			var wire1, wireN, wireTx, ing, wireCPU, ingCPU, closeWall, closeCPU, childWall, childCPU time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				runtime.GC()
				c0 := cputime.Process()
				wire1 += wireDecode(raws, 1, false)
				wireCPU += cputime.Process() - c0
				wireN += wireDecode(raws, procs, false)
				wireTx += wireDecode(raws, procs, true)
				dir := b.TempDir()
				s, err := pebblestore.Open(dir)
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				// The collector as `spoor ingest btc --blocks` runs it
				// (GCForInput); wire, above, runs with Go's default.
				restore := GCForInput(btc.FilesSize(path))
				c0 = cputime.Process()
				start := time.Now()
				res, err := BTCFiles(s, path, Options{})
				if err != nil {
					b.Fatal(err)
				}
				// Closed, as `spoor ingest` does: the close writes the
				// last open segment.
				c1, start1 := cputime.Process(), time.Now()
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
				closeWall += time.Since(start1)
				closeCPU += cputime.Process() - c1
				ing += time.Since(start)
				ingCPU += cputime.Process() - c0
				restore()
				if res.Txs != uint64(ntx)+uint64(btcGenesisExtra(path)) {
					b.Fatalf("ingested %d txs, file holds %d", res.Txs, ntx)
				}
				w, c := childIngest(b, path, res.Txs)
				childWall += w
				childCPU += c
			}
			n := float64(b.N) * float64(ntx)
			b.ReportMetric(n/wire1.Seconds(), "wire1-tx/s")
			b.ReportMetric(n/wireN.Seconds(), "wireN-tx/s")
			b.ReportMetric(n/wireTx.Seconds(), "wireN+txid-tx/s")
			b.ReportMetric(n/ing.Seconds(), "ingest-tx/s")
			b.ReportMetric(100*wireN.Seconds()/ing.Seconds(), "%-of-wireN")
			b.ReportMetric(100*wire1.Seconds()/ing.Seconds(), "%-of-wire1")
			b.ReportMetric(100*wireCPU.Seconds()/ingCPU.Seconds(), "%-of-wire-cpu")
			b.ReportMetric(n/ingCPU.Seconds(), "ingest-tx/cpu-s")
			b.ReportMetric(n/childWall.Seconds(), "child-ingest-tx/s")
			b.ReportMetric(100*wire1.Seconds()/childWall.Seconds(), "%-of-wire1-child")
			b.ReportMetric(100*wireCPU.Seconds()/childCPU.Seconds(), "%-of-wire-cpu-child")
			b.ReportMetric(float64(procs), "procs")
			b.ReportMetric(closeWall.Seconds()/float64(b.N), "s-close")
			b.ReportMetric(closeCPU.Seconds()/float64(b.N), "cpu-s-close")
		})
	}
}

// childIngest ingests the blk file at path into an empty store in a new
// process (this test binary again, running TestIngestChild), as `spoor
// ingest btc --blocks` does, and returns its wall and CPU time, the store's
// close included. The ingest in the benchmark's own process runs in a heap
// that already held the blocks and wire's garbage, mapped in small pages
// and partly reused: changes that depend on fresh memory (huge pages,
// arrays kept between segments) measured ±10 % there from the heap's
// state alone (BENCHMARKS.md, twelfth session). The child measures what a
// user runs, in the same iteration as wire.
func childIngest(b *testing.B, path string, txs uint64) (wall, cpu time.Duration) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestIngestChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "SPOOR_BENCH_CHILD="+path, "SPOOR_BENCH_CHILD_DATA="+b.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("the child ingest failed: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		var w, c, n int64
		if k, _ := fmt.Sscanf(strings.TrimSpace(line), "child-ingest wall-ns %d cpu-ns %d txs %d", &w, &c, &n); k == 3 {
			if uint64(n) != txs {
				b.Fatalf("the child ingested %d txs, the benchmark's ingest %d", n, txs)
			}
			return time.Duration(w), time.Duration(c)
		}
	}
	b.Fatalf("the child ingest printed no result:\n%s", out)
	return 0, 0
}

// TestIngestChild is BenchmarkIngestVsWire's ingest in a fresh process
// (childIngest); skipped unless that benchmark runs it.
func TestIngestChild(t *testing.T) {
	path, dir := os.Getenv("SPOOR_BENCH_CHILD"), os.Getenv("SPOOR_BENCH_CHILD_DATA")
	if path == "" || dir == "" {
		t.Skip("BenchmarkIngestVsWire runs this in a child process (SPOOR_BENCH_CHILD)")
	}
	checkRecycle = false
	s, err := pebblestore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	restore := GCForInput(btc.FilesSize(path))
	defer restore()
	c0, start := cputime.Process(), time.Now()
	res, err := BTCFiles(s, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wall, cpu := time.Since(start), cputime.Process()-c0
	fmt.Printf("child-ingest wall-ns %d cpu-ns %d txs %d\n", wall.Nanoseconds(), cpu.Nanoseconds(), res.Txs)
}

// btcGenesisExtra is 1 when the file starts at block 1 (the ingest adds the
// genesis block from the chain parameters), else 0.
func btcGenesisExtra(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	var hdr [8 + 80]byte
	if _, err := f.Read(hdr[:]); err != nil {
		return 0
	}
	for _, c := range hdr[8+4 : 8+36] {
		if c != 0 {
			return 1 // previous hash set: not a genesis block
		}
	}
	return 0
}

// BenchmarkFootprint ingests a chain, then flushes and compacts the store
// and reports its bytes on disk per transfer (all files, and the sstables
// alone: the data without the write-ahead log) and per transaction, and the
// peak Go heap during the ingest (sampled every 10 ms) next to the size of
// the final UTXO set the ingest must hold.
func BenchmarkFootprint(b *testing.B) {
	checkRecycle = false
	for _, set := range benchSets {
		b.Run(set.name, func(b *testing.B) {
			path := set.path(b)
			var perXfer, sstPerXfer, perTx, peakMB, utxoMB float64
			for i := 0; i < b.N; i++ {
				dir := b.TempDir()
				s, err := pebblestore.Open(dir)
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				stop := make(chan struct{})
				var peak uint64
				done := make(chan struct{})
				go func() {
					defer close(done)
					var ms runtime.MemStats
					for {
						runtime.ReadMemStats(&ms)
						if ms.HeapInuse > peak {
							if prof := os.Getenv("SPOOR_BENCH_PEAKPROF"); prof != "" && ms.HeapInuse > peak+peak/8 {
								if f, err := os.Create(prof); err == nil {
									pprof.Lookup("heap").WriteTo(f, 0)
									f.Close()
								}
							}
							peak = ms.HeapInuse
						}
						select {
						case <-stop:
							return
						case <-time.After(10 * time.Millisecond):
						}
					}
				}()
				restore := GCForInput(btc.FilesSize(path))
				if _, err := BTCFiles(s, path, Options{}); err != nil {
					b.Fatal(err)
				}
				close(stop)
				<-done
				if err := s.Flush(); err != nil {
					b.Fatal(err)
				}
				if err := s.Compact(); err != nil {
					b.Fatal(err)
				}
				st, err := s.Stats()
				if err != nil || len(st) != 1 || st[0].Chain != model.BTC {
					b.Fatalf("stats %+v %v", st, err)
				}
				disk := float64(s.DiskUsage())
				perXfer += disk / float64(st[0].Transfers)
				sstPerXfer += float64(s.TableBytes()) / float64(st[0].Transfers)
				perTx += disk / float64(st[0].Txs)
				peakMB += float64(peak) / (1 << 20)
				utxoMB += float64(s.UTXOBytes(model.BTC)) / (1 << 20)
				if i == 0 {
					tables, _ := s.DiskUsageByTable()
					b.Logf("%s: %d txs, %d transfers, %d addresses, %.1f MB on disk; bytes per transfer by table %s", set.name,
						st[0].Txs, st[0].Transfers, st[0].Addresses, disk/(1<<20), perTable(tables, st[0].Transfers))
				}
				s.Close()
				restore()
			}
			n := float64(b.N)
			b.ReportMetric(perXfer/n, "disk-B/transfer")
			b.ReportMetric(sstPerXfer/n, "sst-B/transfer")
			b.ReportMetric(perTx/n, "disk-B/tx")
			b.ReportMetric(peakMB/n, "peak-heap-MB")
			b.ReportMetric(utxoMB/n, "utxo-set-MB")
		})
	}
}

func perTable(t map[string]uint64, transfers uint64) string {
	var b bytes.Buffer
	for _, k := range []string{"t", "d", "i", "b", "o", "m", "seg", "utxo"} {
		fmt.Fprintf(&b, " %s=%.2f", k, float64(t[k])/float64(transfers))
	}
	return b.String()
}
