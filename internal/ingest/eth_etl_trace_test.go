package ingest

// The same chain through both Ethereum sources: the tracing node's
// JSON-RPC (ETHRPC with traces) and an ethereum-etl CSV export of it with a
// traces file (ETL). Both must store the same transactions, the same
// transfers (internal ones with the same LogIndex) and so the same balances,
// which equal the chain's.
//
// The export is written from the node's own JSON-RPC answers, as
// ethereum-etl writes it: transactions.csv from eth_getBlockByNumber and
// eth_getBlockReceipts, blocks.csv from the block headers. traces.csv is
// the node's debug_traceBlockByHash callTracer output converted to
// Parity-style trace rows (trace_type, call_type, trace_address, status 0
// for a failed frame and everything below it, as ethereum-etl computes
// it): this conversion stands in for ethereum-etl's export_traces, which
// needs the OpenEthereum/Erigon trace_block API that go-ethereum does not
// serve.

import (
	"context"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/spoor-dev/spoor/internal/model"
)

// rpcFrame is a callTracer frame as the node returns it.
type rpcFrame struct {
	Type  string     `json:"type"`
	From  string     `json:"from"`
	To    string     `json:"to"`
	Value string     `json:"value"`
	Error string     `json:"error"`
	Calls []rpcFrame `json:"calls"`
}

// dec turns a JSON-RPC quantity into a decimal string ("" stays "").
func dec(t *testing.T, q string) string {
	t.Helper()
	if q == "" {
		return ""
	}
	v, err := hexutil.DecodeBig(q)
	if err != nil {
		t.Fatalf("quantity %q: %v", q, err)
	}
	return v.String()
}

// parityRows appends the trace rows of frame f (at path) and of the frames
// below it, depth first, as ethereum-etl's export_traces writes them.
func parityRows(t *testing.T, rows []string, block uint64, tx string, index uint64, f *rpcFrame, path []int, parentFailed bool) []string {
	failed := parentFailed || f.Error != ""
	tt, ct := "", ""
	switch f.Type {
	case "CALL":
		tt, ct = "call", "call"
	case "DELEGATECALL", "STATICCALL", "CALLCODE":
		tt, ct = "call", strings.ToLower(f.Type)
	case "CREATE", "CREATE2":
		tt = "create"
	case "SELFDESTRUCT":
		tt = "suicide"
	default:
		t.Fatalf("tx %s: frame type %q", tx, f.Type)
	}
	to := f.To
	if tt == "create" && f.Error != "" {
		to = "" // Parity names no address for a failed creation
	}
	value := dec(t, f.Value)
	if value == "" {
		value = "0"
	}
	status := 1
	if failed {
		status = 0
	}
	p := make([]string, len(path))
	for i, k := range path {
		p[i] = fmt.Sprint(k)
	}
	rows = append(rows, fmt.Sprintf("%d,%s,%d,%s,%s,%s,0x,0x,%s,%s,,0,0,%d,\"%s\",\"%s\",%d,%s_%s\n",
		block, tx, index, strings.ToLower(f.From), strings.ToLower(to), value, tt, ct, len(f.Calls),
		strings.Join(p, ","), f.Error, status, tt, strings.Join(p, "_")))
	for k := range f.Calls {
		rows = parityRows(t, rows, block, tx, index, &f.Calls[k], append(slices.Clip(path), k), failed)
	}
	return rows
}

// exportETL writes the node's chain, blocks 0 to head, as an ethereum-etl
// export folder (one block-range partition) with a traces file, and
// returns the folder.
func exportETL(t *testing.T, s *simChain) string {
	t.Helper()
	ctx := context.Background()
	rc, err := rpc.Dial(s.url)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	head, err := s.cl.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type rpcTx struct {
		Hash, Nonce, BlockHash, BlockNumber, TransactionIndex, From, Gas, GasPrice, Input, Value string
		To                                                                                       *string
	}
	type rpcBlock struct {
		Number, Hash, ParentHash, Timestamp, Miner string
		Transactions                               []rpcTx
	}
	type rpcReceipt struct {
		TransactionHash, GasUsed, Status, EffectiveGasPrice string
		ContractAddress                                     *string
	}
	blocks := []string{"number,hash,parent_hash,miner,timestamp,transaction_count\n"}
	txs := []string{"hash,nonce,block_hash,block_number,transaction_index,from_address,to_address,value,gas,gas_price,input,block_timestamp,receipt_gas_used,receipt_contract_address,receipt_status,receipt_effective_gas_price\n"}
	traces := []string{"block_number,transaction_hash,transaction_index,from_address,to_address,value,input,output,trace_type,call_type,reward_type,gas,gas_used,subtraces,trace_address,error,status,trace_id\n"}
	for n := uint64(0); n <= head; n++ {
		var b rpcBlock
		if err := rc.CallContext(ctx, &b, "eth_getBlockByNumber", hexutil.EncodeUint64(n), true); err != nil {
			t.Fatal(err)
		}
		ts := dec(t, b.Timestamp)
		blocks = append(blocks, fmt.Sprintf("%d,%s,%s,%s,%s,%d\n", n, b.Hash, b.ParentHash, b.Miner, ts, len(b.Transactions)))
		if len(b.Transactions) == 0 {
			continue
		}
		var recs []rpcReceipt
		if err := rc.CallContext(ctx, &recs, "eth_getBlockReceipts", b.Hash); err != nil {
			t.Fatal(err)
		}
		if len(recs) != len(b.Transactions) {
			t.Fatalf("block %d: %d receipts for %d txs", n, len(recs), len(b.Transactions))
		}
		for i, x := range b.Transactions {
			r := recs[i]
			if r.TransactionHash != x.Hash {
				t.Fatalf("block %d: receipt %d is of %s, tx %s", n, i, r.TransactionHash, x.Hash)
			}
			to, created := "", ""
			if x.To != nil {
				to = *x.To
			}
			if r.ContractAddress != nil {
				created = *r.ContractAddress
			}
			txs = append(txs, fmt.Sprintf("%s,%s,%s,%d,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n",
				x.Hash, dec(t, x.Nonce), x.BlockHash, n, dec(t, x.TransactionIndex), x.From, to, dec(t, x.Value),
				dec(t, x.Gas), dec(t, x.GasPrice), x.Input, ts, dec(t, r.GasUsed), created, dec(t, r.Status), dec(t, r.EffectiveGasPrice)))
		}
		var tr []struct {
			TxHash string   `json:"txHash"`
			Result rpcFrame `json:"result"`
		}
		if err := rc.CallContext(ctx, &tr, "debug_traceBlockByHash", b.Hash, map[string]any{"tracer": "callTracer"}); err != nil {
			t.Fatal(err)
		}
		if len(tr) != len(b.Transactions) {
			t.Fatalf("block %d: %d traces for %d txs", n, len(tr), len(b.Transactions))
		}
		var rows []string
		for i := range tr {
			if tr[i].TxHash != b.Transactions[i].Hash {
				t.Fatalf("block %d: trace %d is of %s", n, i, tr[i].TxHash)
			}
			rows = parityRows(t, rows, n, tr[i].TxHash, uint64(i), &tr[i].Result, nil, false)
		}
		// Rows in reverse: the decoder must number them by trace_address,
		// not by their place in the file.
		slices.Reverse(rows)
		traces = append(traces, rows...)
	}
	dir := t.TempDir()
	suffix := fmt.Sprintf("_%08d_%08d", 0, head)
	for name, rows := range map[string][]string{"blocks": blocks, "transactions": txs, "traces": traces} {
		p := filepath.Join(dir, name, "start_block=00000000", fmt.Sprintf("end_block=%08d", head), name+suffix+".csv")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.Join(rows, "")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestETLTracesMatchNode(t *testing.T) {
	s := newTracingChain(t)
	h := s.traceScenario()
	node := openStore(t)
	nres, err := ETHRPC(node, s.url, RPCRange{}, true, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := exportETL(t, s)
	exp := openStore(t)
	eres, err := ETL(exp, model.ETH, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The node's store also holds each block's credits (the fee
	// recipient's tips) as a pseudo-transaction; the ETL source does not
	// read them yet (docs/formats.md), so they are counted apart.
	credited := uint64(0)
	for n := uint64(0); n <= nres.Height; n++ {
		b, err := s.cl.HeaderByNumber(context.Background(), new(big.Int).SetUint64(n))
		if err != nil {
			t.Fatal(err)
		}
		if v, err := node.Tx(model.ETH, b.Hash()); err == nil && v.Coinbase {
			credited++
		}
	}
	if credited == 0 {
		t.Fatal("the node's store credits no block: the tips are missing")
	}
	if eres.Applied != nres.Applied || eres.Txs != nres.Txs-credited || eres.Height != nres.Height {
		t.Fatalf("export: %d blocks, %d txs, height %d; node: %d blocks, %d txs (%d block credits), height %d",
			eres.Applied, eres.Txs, eres.Height, nres.Applied, nres.Txs, credited, nres.Height)
	}
	if eres.ETL.DroppedFailedTraces != 0 || eres.ETL.SkippedTraces != 0 {
		t.Fatalf("dropped %d, skipped %d trace rows: want none", eres.ETL.DroppedFailedTraces, eres.ETL.SkippedTraces)
	}
	// Every tx of the chain: the same fee, failure and transfers, in the
	// same order with the same LogIndex.
	ctx := context.Background()
	internal := 0
	for n := uint64(0); n <= nres.Height; n++ {
		b, err := s.cl.BlockByNumber(ctx, new(big.Int).SetUint64(n))
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range b.Transactions() {
			want, err := node.Tx(model.ETH, tx.Hash())
			if err != nil {
				t.Fatalf("node store: tx %s: %v", tx.Hash(), err)
			}
			got, err := exp.Tx(model.ETH, tx.Hash())
			if err != nil {
				t.Fatalf("export store: tx %s: %v", tx.Hash(), err)
			}
			if got.Failed != want.Failed || !got.Fee.Eq(&want.Fee) || len(got.Transfers) != len(want.Transfers) {
				t.Fatalf("tx %s: export failed %v fee %s, %d transfers; node failed %v fee %s, %d transfers",
					tx.Hash(), got.Failed, got.Fee.Dec(), len(got.Transfers), want.Failed, want.Fee.Dec(), len(want.Transfers))
			}
			for i := range got.Transfers {
				g, w := got.Transfers[i], want.Transfers[i]
				if !slices.Equal(g.From, w.From) || !slices.Equal(g.To, w.To) || !g.Value.Eq(&w.Value) || g.LogIndex != w.LogIndex {
					t.Fatalf("tx %s transfer %d: export %x→%x %s #%d, node %x→%x %s #%d", tx.Hash(), i,
						g.From, g.To, g.Value.Dec(), g.LogIndex, w.From, w.To, w.Value.Dec(), w.LogIndex)
				}
				if w.LogIndex <= -2 {
					internal++
				}
			}
		}
	}
	// pay, destroy, nested (2), create, delegate: the scenario's internal
	// transfers, all found in both.
	if internal != 6 {
		t.Fatalf("%d internal transfers compared, want 6", internal)
	}
	// The delegatecall tx's transfer is the delegator's (from its
	// context), in both.
	if v, err := exp.Tx(model.ETH, h["delegate"]); err != nil || len(v.Transfers) != 2 ||
		!slices.Equal(v.Transfers[1].From, s.addrs["delegator"].Bytes()) || v.Transfers[1].LogIndex != -2 {
		t.Fatalf("delegate tx in the export store: %+v, %v", v, err)
	}
	// Every address, contracts included, holds exactly what the chain says.
	s.checkBalances(exp)
	// (Store digests differ: the node's store is Linked, the export's
	// Unordered; the records compared above are what both must agree on.)

	// Re-importing the export adds nothing.
	again, err := ETL(exp, model.ETH, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if again.ETL.NewTransfers != 0 || again.Txs != 0 {
		t.Fatalf("re-import added %d txs, %d transfers", again.Txs, again.ETL.NewTransfers)
	}
	s.checkBalances(exp)
}
