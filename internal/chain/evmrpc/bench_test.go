package evmrpc

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// benchBlock is a mainnet-shaped post-Shanghai block in the JSON-RPC shape:
// n EIP-1559 ETH transfers (each with one ERC-20 Transfer log) paying a
// tip above the base fee, and 16 withdrawals (mainnet's maximum).
func benchBlock(n int) (json.RawMessage, []json.RawMessage) {
	var txs, ws []string
	recs := make([]json.RawMessage, n)
	for i := range n {
		h := fmt.Sprintf("0x%064x", 0xabc000+i)
		txs = append(txs, fmt.Sprintf(`{"hash":"%s","from":"0x%040x","to":"0x%040x","value":"0x%x","transactionIndex":"0x%x","gasPrice":"0x%x"}`,
			h, 0x1000+i, 0x2000+i, 1e15+i, i, 12e9+i))
		recs[i] = json.RawMessage(fmt.Sprintf(`{"transactionHash":"%s","status":"0x1","gasUsed":"0x%x","effectiveGasPrice":"0x%x","logs":[`+
			`{"address":"0xdac17f958d2ee523a2206206994597c13d831ec7","topics":["0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef","0x%064x","0x%064x"],"data":"0x%064x","logIndex":"0x%x","removed":false}]}`,
			h, 21000+i, 12e9+i, 0x1000+i, 0x3000+i, 1e6+i, i))
	}
	for k := range 16 {
		ws = append(ws, fmt.Sprintf(`{"index":"0x%x","validatorIndex":"0x%x","address":"0x%040x","amount":"0x%x"}`, 1e6+k, 4e5+k, 0x5000+k, 17e6+k))
	}
	block := fmt.Sprintf(`{"number":"0x1312d00","hash":"0x%064x","parentHash":"0x%064x","timestamp":"0x6553f100","miner":"0x%040x","baseFeePerGas":"0x2540be400",`+
		`"uncles":[],"withdrawals":[%s],"transactions":[%s]}`, 0xb10c, 0xb10b, 0xfee, strings.Join(ws, ","), strings.Join(txs, ","))
	return json.RawMessage(block), recs
}

// BenchmarkDecodeBlock decodes a 200-transaction block with its receipts
// (the JSON-RPC source's per-block CPU cost; compare with the decoder
// before block credits by running this file there).
func BenchmarkDecodeBlock(b *testing.B) {
	blk, recs := benchBlock(200)
	b.SetBytes(int64(len(blk)))
	for b.Loop() {
		if _, err := DecodeBlock(0x1312d00, blk, recs); err != nil {
			b.Fatal(err)
		}
	}
}
