package tron

import (
	"encoding/json"
	"testing"

	"github.com/spoor-dev/spoor/internal/chain/tron/trontest"
)

func benchBlock(b *testing.B) (*trontest.Block, int) {
	return trontest.BusyBlock(70000000, trontest.BlockID(69999999, "bench"), tronAddrOf(b, usdtAddr))
}

// BenchmarkDecodeLine measures spoor's decode of one blocks.jsonl line
// into the canonical model.
func BenchmarkDecodeLine(b *testing.B) {
	blk, transfers := benchBlock(b)
	line := blk.Line()
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, err := DecodeLine(line)
		if err != nil {
			b.Fatal(err)
		}
		if len(d.Block.Txs) != 300 {
			b.Fatal("short block")
		}
	}
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/secs, "blocks/s")
	b.ReportMetric(float64(b.N*transfers)/secs, "transfers/s")
}

// BenchmarkGenericJSON is the baseline: encoding/json parsing the same
// line into map[string]any (no validation, no model), the floor any
// encoding/json-based decoder pays.
func BenchmarkGenericJSON(b *testing.B) {
	blk, _ := benchBlock(b)
	line := blk.Line()
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var v map[string]any
		if err := json.Unmarshal(line, &v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "blocks/s")
}
