package ingest

import (
	"os"
	"strconv"
	"testing"

	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store/pebblestore"
)

// BenchmarkAddrCacheCounts ingests the synthetic chain (SPOOR_BENCH_TRANSFERS,
// default 10^6), or the blk file or folder SPOOR_BENCH_BLOCKS names (a
// simulated world's btc/, say), with an address cache of SPOOR_ADDR_CACHE
// addresses (default the store's), and reports what the cache did per
// ingest: hits in its current and old generation, generation switches,
// misses looked up in the segments, and the lookups that found an address
// (the rest were new addresses). See BENCHMARKS.md, "Address cache at
// scale".
//
//	SPOOR_BENCH_TRANSFERS=10000000 go test ./internal/ingest -run '^$' -bench AddrCacheCounts -benchtime 1x
func BenchmarkAddrCacheCounts(b *testing.B) {
	path := os.Getenv("SPOOR_BENCH_BLOCKS")
	if path == "" {
		path = synthChain(b, benchTransfers())
	}
	var o pebblestore.Options
	if v, err := strconv.Atoi(os.Getenv("SPOOR_ADDR_CACHE")); err == nil && v > 0 {
		o.AddrCacheEntries = v
	}
	var st pebblestore.AddrCacheStats
	for i := 0; i < b.N; i++ {
		s, err := pebblestore.OpenWith(b.TempDir(), o)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := BTCFiles(s, path, Options{}); err != nil {
			b.Fatal(err)
		}
		st = s.AddrCacheStats(model.BTC)
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(st.HitCur), "hits-cur")
	b.ReportMetric(float64(st.HitOld), "hits-old")
	b.ReportMetric(float64(st.Switches), "switches")
	b.ReportMetric(float64(st.Lookups), "lookups")
	b.ReportMetric(float64(st.Found), "found")
}
