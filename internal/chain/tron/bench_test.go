package tron

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/spoor-dev/spoor/internal/chain/tron/trontest"
)

// benchBlock is a block shaped like a busy Tron mainnet block: 300
// transactions, 60% USDT TRC-20 transfers, 30% TRX transfers, the rest
// failed USDT calls and calls with an internal TRX transfer.
func benchBlock(b *testing.B) (*trontest.Block, int) {
	usdt := tronAddrOf(b, usdtAddr)
	blk := &trontest.Block{Num: 70000000, ID: trontest.BlockID(70000000, "bench"), Parent: trontest.BlockID(69999999, "bench"), TimeMS: 1740000000000}
	transfers := 0
	for i := 0; i < 300; i++ {
		p, q := person(byte(i)), person(byte(i+1))
		id := trontest.TxID(fmt.Sprint("bench", i))
		switch {
		case i%10 < 6:
			blk.Txs = append(blk.Txs, trontest.Tx{ID: id, Type: "TriggerSmartContract", Owner: p, Contract: usdt, Fee: 13_844_850,
				Logs: []trontest.Log{trontest.TransferLog(usdt, p, q, uint64(1_000_000+i))}})
			transfers++
		case i%10 < 9:
			blk.Txs = append(blk.Txs, trontest.Tx{ID: id, Type: "TransferContract", Owner: p, To: q, Amount: uint64(i + 1), Fee: 268_000})
			transfers++
		case i%20 == 9:
			blk.Txs = append(blk.Txs, trontest.Tx{ID: id, Type: "TriggerSmartContract", Owner: p, Contract: usdt, Fee: 4_000_000,
				ContractRet: "REVERT", InfoResult: "FAILED"})
		default:
			blk.Txs = append(blk.Txs, trontest.Tx{ID: id, Type: "TriggerSmartContract", Owner: p, Contract: router, CallValue: 10,
				Internal: []trontest.Internal{{Caller: router, To: q, Value: 5}}})
			transfers += 2
		}
	}
	return blk, transfers
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
