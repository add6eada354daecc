package evmrpc

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/chain/etl"
	"github.com/spoor-dev/spoor/internal/model"
)

// Decoded is one block in the canonical model, with the facts its logs
// carry and the token contracts its transfers touched (see etl.Decoded).
type Decoded = etl.Decoded

// FieldError is a malformed field of a block: it names the block and the
// field.
type FieldError struct {
	Block uint64
	Field string
	Err   error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("eth block %d: field %s: %v", e.Block, e.Field, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

type rpcBlock struct {
	Number       *string           `json:"number"`
	Hash         *string           `json:"hash"`
	ParentHash   *string           `json:"parentHash"`
	Timestamp    *string           `json:"timestamp"`
	Transactions []json.RawMessage `json:"transactions"`
	Miner        *string           `json:"miner"`
	BaseFee      *string           `json:"baseFeePerGas"`
	Withdrawals  []rpcWithdrawal   `json:"withdrawals"`
	Uncles       []string          `json:"uncles"`
}

type rpcTx struct {
	Hash             *string `json:"hash"`
	From             *string `json:"from"`
	To               *string `json:"to"`
	Value            *string `json:"value"`
	TransactionIndex *string `json:"transactionIndex"`
	GasPrice         *string `json:"gasPrice"`
}

type rpcReceipt struct {
	TransactionHash   *string  `json:"transactionHash"`
	Status            *string  `json:"status"`
	GasUsed           *string  `json:"gasUsed"`
	EffectiveGasPrice *string  `json:"effectiveGasPrice"`
	BlobGasUsed       *string  `json:"blobGasUsed"`
	BlobGasPrice      *string  `json:"blobGasPrice"`
	ContractAddress   *string  `json:"contractAddress"`
	Logs              []rpcLog `json:"logs"`
}

type rpcLog struct {
	Address  *string  `json:"address"`
	Topics   []string `json:"topics"`
	Data     *string  `json:"data"`
	LogIndex *string  `json:"logIndex"`
	Removed  bool     `json:"removed"`
}

// DecodeBlock turns an eth_getBlockByNumber(N, true) result and the
// receipts of its transactions (any order) into a canonical block. want is
// the height asked for; the block must carry it.
//
// Rules: a successful transaction with a non-zero value moves ETH from its
// sender to its recipient (the created contract for a deployment), LogIndex
// -1; every transaction pays gasUsed × effectiveGasPrice (plus blob gas)
// from its sender; a reverted one (status 0) is marked Failed and moves
// nothing else; ERC-20 Transfer logs of any contract become token
// transfers (LogIndex = the log's block-wide logIndex, as ethereum-etl
// numbers them); Tether/Circle blacklist logs become facts.
//
// What the block credits becomes a pseudo-transaction after its last (see
// model.CreditFees): its fee recipient's priority fees and its
// withdrawals. Block and uncle rewards need the chain id and the uncles:
// see DecodeFull.
func DecodeBlock(want uint64, rawBlock json.RawMessage, rawReceipts []json.RawMessage) (*Decoded, error) {
	return DecodeFull(want, Input{Block: rawBlock, Receipts: rawReceipts})
}

// Input is one block as a node returns it, with what goes with it.
type Input struct {
	// ChainID is the node's eth_chainId. Block and uncle rewards are
	// credited for MainnetChainID only; 0 means unknown (none are).
	ChainID uint64
	// Block is the eth_getBlockByNumber(N, true) result.
	Block json.RawMessage
	// Receipts are the receipts of the block's transactions, any order.
	Receipts []json.RawMessage
	// Traces are the block's callTracer traces (see DecodeTracedBlock);
	// nil decodes without internal transfers.
	Traces json.RawMessage
	// Uncles are eth_getUncleByBlockHashAndIndex results for each of the
	// block's uncles, in order: needed on mainnet before the merge only,
	// where uncles earn rewards.
	Uncles []json.RawMessage
}

// DecodeTracedBlock is DecodeBlock with the block's call traces: the result
// of debug_traceBlockByHash with go-ethereum's callTracer (one entry per
// transaction, in block order; {"txHash","result"} or the bare frame). A
// nil rawTraces decodes without them. With them, every value the EVM moved
// inside a successful transaction becomes a native transfer (LogIndex -2-n
// for the tx's n-th, frames taken depth first): CALL, CREATE, CREATE2 and
// SELFDESTRUCT frames with a value, but not those of a frame that failed
// (its state, and that of every frame below it, was reverted), nor
// DELEGATECALL and STATICCALL (they move nothing; callTracer shows a
// DELEGATECALL with its caller's value) nor CALLCODE (value from the
// caller to itself). The outermost frame is the transaction itself, whose
// value is already the LogIndex -1 transfer.
func DecodeTracedBlock(want uint64, rawBlock json.RawMessage, rawReceipts []json.RawMessage, rawTraces json.RawMessage) (*Decoded, error) {
	return DecodeFull(want, Input{Block: rawBlock, Receipts: rawReceipts, Traces: rawTraces})
}

// DecodeFull decodes one block with everything that goes with it (see
// DecodeTracedBlock and DecodeBlock). want is the height asked for.
func DecodeFull(want uint64, in Input) (*Decoded, error) {
	rawBlock, rawReceipts, rawTraces := in.Block, in.Receipts, in.Traces
	ferr := func(field string, format string, args ...any) error {
		return &FieldError{Block: want, Field: field, Err: fmt.Errorf(format, args...)}
	}
	var b rpcBlock
	if err := json.Unmarshal(rawBlock, &b); err != nil {
		return nil, ferr("(block)", "malformed block JSON: %v", err)
	}
	if string(bytes.TrimSpace(rawBlock)) == "null" {
		return nil, ferr("(block)", "%v", ErrNoBlock)
	}
	num, err := quantityPtr(b.Number)
	if err != nil {
		return nil, ferr("number", "%v", err)
	}
	if num != want {
		return nil, ferr("number", "node returned block %d", num)
	}
	blk := &model.Block{Chain: model.ETH, Height: num}
	if blk.Hash, err = hash32(b.Hash); err != nil {
		return nil, ferr("hash", "%v", err)
	}
	if blk.PrevHash, err = hash32(b.ParentHash); err != nil {
		return nil, ferr("parentHash", "%v", err)
	}
	ts, err := quantityPtr(b.Timestamp)
	if err != nil {
		return nil, ferr("timestamp", "%v", err)
	}
	if ts > 1<<62 {
		return nil, ferr("timestamp", "%d out of range", ts)
	}
	blk.Time = int64(ts)

	for i, raw := range b.Transactions {
		if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
			return nil, ferr(fmt.Sprintf("transactions[%d]", i), "want a full transaction object (eth_getBlockByNumber with true), got %.70s", t)
		}
	}
	// Receipts by transaction hash.
	recs := make(map[[32]byte]*rpcReceipt, len(rawReceipts))
	for i, raw := range rawReceipts {
		r := new(rpcReceipt)
		if err := json.Unmarshal(raw, r); err != nil {
			return nil, ferr(fmt.Sprintf("receipts[%d]", i), "malformed receipt JSON: %v", err)
		}
		h, err := hash32(r.TransactionHash)
		if err != nil {
			return nil, ferr(fmt.Sprintf("receipts[%d].transactionHash", i), "%v", err)
		}
		if recs[h] != nil {
			return nil, ferr(fmt.Sprintf("receipts[%d].transactionHash", i), "two receipts for %x", h)
		}
		recs[h] = r
	}
	if len(recs) != len(b.Transactions) {
		return nil, ferr("receipts", "%d receipts for %d transactions", len(recs), len(b.Transactions))
	}
	// After London, what a transaction pays above the base fee (its tip)
	// goes to the fee recipient; before, all of gasUsed × gasPrice did.
	var baseFee uint256.Int
	if b.BaseFee != nil {
		if baseFee, err = u256Ptr(b.BaseFee); err != nil {
			return nil, ferr("baseFeePerGas", "%v", err)
		}
	}
	var uncles []*rpcUncle
	if wantUncles(in.ChainID, num) {
		if len(in.Uncles) != len(b.Uncles) {
			return nil, ferr("uncles", "%d uncle headers for %d uncles", len(in.Uncles), len(b.Uncles))
		}
		for k, raw := range in.Uncles {
			u := new(rpcUncle)
			if string(bytes.TrimSpace(raw)) == "null" {
				return nil, ferr(fmt.Sprintf("uncles[%d]", k), "the node has no uncle %d of this block", k)
			}
			if err := json.Unmarshal(raw, u); err != nil {
				return nil, ferr(fmt.Sprintf("uncles[%d]", k), "malformed uncle header JSON: %v", err)
			}
			uncles = append(uncles, u)
		}
	}
	var tips uint256.Int
	var traces []callFrame
	if rawTraces != nil {
		if traces, err = decodeTraces(rawTraces, len(b.Transactions)); err != nil {
			return nil, &FieldError{Block: want, Field: "traces", Err: err}
		}
	}
	d := &Decoded{Block: blk}
	blk.Txs = make([]model.Tx, len(b.Transactions))
	for i, raw := range b.Transactions {
		f := func(name string) string { return fmt.Sprintf("transactions[%d].%s", i, name) }
		var t rpcTx
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, ferr(fmt.Sprintf("transactions[%d]", i), "want a full transaction object (eth_getBlockByNumber with true): %v", err)
		}
		tx := &blk.Txs[i]
		tx.Index = uint32(i)
		if tx.ID, err = hash32(t.Hash); err != nil {
			return nil, ferr(f("hash"), "%v", err)
		}
		idx, err := quantityPtr(t.TransactionIndex)
		if err != nil {
			return nil, ferr(f("transactionIndex"), "%v", err)
		}
		if idx != uint64(i) {
			return nil, ferr(f("transactionIndex"), "%d at position %d", idx, i)
		}
		from, err := addr20(t.From)
		if err != nil {
			return nil, ferr(f("from"), "%v", err)
		}
		var to []byte
		if t.To != nil {
			if to, err = addr20(t.To); err != nil {
				return nil, ferr(f("to"), "%v", err)
			}
		}
		value, err := u256Ptr(t.Value)
		if err != nil {
			return nil, ferr(f("value"), "%v", err)
		}
		r := recs[tx.ID]
		rf := func(name string) string { return fmt.Sprintf("receipt of transactions[%d] (%x).%s", i, tx.ID, name) }
		if r == nil {
			return nil, ferr(f("hash"), "no receipt for transaction %x", tx.ID)
		}
		if r.Status == nil {
			return nil, ferr(rf("status"), "missing (a pre-Byzantium receipt: success cannot be told)")
		}
		status, err := quantity(*r.Status)
		if err != nil || status > 1 {
			return nil, ferr(rf("status"), "want 0x0 or 0x1, got %q", *r.Status)
		}
		gasUsed, err := u256Ptr(r.GasUsed)
		if err != nil {
			return nil, ferr(rf("gasUsed"), "%v", err)
		}
		price := r.EffectiveGasPrice
		priceField := rf("effectiveGasPrice")
		if price == nil { // pre-London nodes: the price paid is the tx's gasPrice
			price, priceField = t.GasPrice, f("gasPrice")
		}
		gp, err := u256Ptr(price)
		if err != nil {
			return nil, ferr(priceField, "%v", err)
		}
		if _, over := tx.Fee.MulOverflow(&gasUsed, &gp); over {
			return nil, ferr(priceField, "fee overflows uint256")
		}
		if gp.Lt(&baseFee) {
			return nil, ferr(priceField, "%s wei is below the block's baseFeePerGas %s", gp.Dec(), baseFee.Dec())
		}
		var tip uint256.Int
		tip.Sub(&gp, &baseFee)
		tip.Mul(&tip, &gasUsed) // ≤ the fee: no overflow
		if _, over := tips.AddOverflow(&tips, &tip); over {
			return nil, ferr(priceField, "the block's priority fees overflow uint256")
		}
		if r.BlobGasUsed != nil {
			bu, err := u256Ptr(r.BlobGasUsed)
			if err != nil {
				return nil, ferr(rf("blobGasUsed"), "%v", err)
			}
			bp, err := u256Ptr(r.BlobGasPrice)
			if err != nil {
				return nil, ferr(rf("blobGasPrice"), "%v", err)
			}
			var blob uint256.Int
			if _, over := blob.MulOverflow(&bu, &bp); over {
				return nil, ferr(rf("blobGasPrice"), "blob fee overflows uint256")
			}
			if _, over := tx.Fee.AddOverflow(&tx.Fee, &blob); over {
				return nil, ferr(rf("blobGasPrice"), "fee overflows uint256")
			}
		}
		tx.FeePayer = from
		if traces != nil {
			tr := &traces[i]
			if tr.TxHash != nil && *tr.TxHash != tx.ID {
				return nil, ferr(fmt.Sprintf("traces[%d].txHash", i), "%x, but transactions[%d] is %x", *tr.TxHash, i, tx.ID)
			}
			if (tr.Error != "") != (status == 0) {
				return nil, ferr(fmt.Sprintf("traces[%d].error", i), "%q, but the receipt's status is %d", tr.Error, status)
			}
		}
		if status == 0 {
			tx.Failed = true
			continue
		}
		if to == nil && r.ContractAddress != nil {
			if to, err = addr20(r.ContractAddress); err != nil {
				return nil, ferr(rf("contractAddress"), "%v", err)
			}
		}
		if !value.IsZero() {
			if to == nil {
				return nil, ferr(f("to"), "value %s sent to no recipient", value.Dec())
			}
			tx.Transfers = append(tx.Transfers, model.Transfer{From: from, To: to, Value: value, LogIndex: -1})
		}
		if traces != nil {
			if err := internalTransfers(tx, &traces[i], fmt.Sprintf("traces[%d]", i)); err != nil {
				return nil, &FieldError{Block: want, Field: err.field, Err: err.err}
			}
		}
		for j := range r.Logs {
			lg := &r.Logs[j]
			lf := func(name string) string { return rf(fmt.Sprintf("logs[%d].%s", j, name)) }
			if lg.Removed {
				return nil, ferr(lf("removed"), "log removed by a reorg inside a receipt")
			}
			contract, err := addr20(lg.Address)
			if err != nil {
				return nil, ferr(lf("address"), "%v", err)
			}
			li, err := quantityPtr(lg.LogIndex)
			if err != nil {
				return nil, ferr(lf("logIndex"), "%v", err)
			}
			if li > 1<<31-1 {
				return nil, ferr(lf("logIndex"), "%d out of range", li)
			}
			topics := make([][32]byte, len(lg.Topics))
			for k := range lg.Topics {
				if topics[k], err = hash32(&lg.Topics[k]); err != nil {
					return nil, ferr(lf(fmt.Sprintf("topics[%d]", k)), "%v", err)
				}
			}
			data, err := hexBytes(lg.Data)
			if err != nil {
				return nil, ferr(lf("data"), "%v", err)
			}
			l, ok := etl.DecodeLog(model.ETH, topics, data)
			if !ok {
				continue
			}
			d.AddLog(tx, contract, l, int32(li))
		}
	}
	if fe := credits(blk, &b, &tips, in.ChainID, uncles); fe != nil {
		return nil, fe
	}
	return d, nil
}

// quantity parses a JSON-RPC QUANTITY ("0x" + hex, no more than 64 bits).
func quantity(s string) (uint64, error) {
	if !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") {
		return 0, fmt.Errorf("want a 0x-prefixed hex quantity, got %.40q", s)
	}
	if len(s) == 2 {
		return 0, fmt.Errorf("empty hex quantity")
	}
	n, err := strconv.ParseUint(s[2:], 16, 64)
	if err != nil {
		return 0, fmt.Errorf("bad hex quantity %.40q", s)
	}
	return n, nil
}

func quantityPtr(s *string) (uint64, error) {
	if s == nil {
		return 0, fmt.Errorf("missing")
	}
	return quantity(*s)
}

// u256Ptr parses a QUANTITY of up to 256 bits.
func u256Ptr(s *string) (uint256.Int, error) {
	var v uint256.Int
	if s == nil {
		return v, fmt.Errorf("missing")
	}
	x := *s
	if !strings.HasPrefix(x, "0x") && !strings.HasPrefix(x, "0X") {
		return v, fmt.Errorf("want a 0x-prefixed hex quantity, got %.40q", x)
	}
	digits := strings.TrimLeft(x[2:], "0")
	if len(x) == 2 {
		return v, fmt.Errorf("empty hex quantity")
	}
	if len(digits) > 64 {
		return v, fmt.Errorf("%.20q… exceeds 256 bits", x)
	}
	if len(digits)%2 == 1 {
		digits = "0" + digits
	}
	b, err := hex.DecodeString(digits)
	if err != nil {
		return v, fmt.Errorf("bad hex quantity %.40q", x)
	}
	v.SetBytes(b)
	return v, nil
}

// hexBytes parses DATA: "0x" + an even number of hex digits.
func hexBytes(s *string) ([]byte, error) {
	if s == nil {
		return nil, fmt.Errorf("missing")
	}
	x := *s
	if !strings.HasPrefix(x, "0x") && !strings.HasPrefix(x, "0X") {
		return nil, fmt.Errorf("want 0x-prefixed hex data, got %.40q", x)
	}
	b, err := hex.DecodeString(x[2:])
	if err != nil {
		return nil, fmt.Errorf("bad hex data %.40q: %v", x, err)
	}
	return b, nil
}

func fixed(s *string, n int) ([]byte, error) {
	b, err := hexBytes(s)
	if err != nil {
		return nil, err
	}
	if len(b) != n {
		return nil, fmt.Errorf("want %d bytes, got %d", n, len(b))
	}
	return b, nil
}

func hash32(s *string) ([32]byte, error) {
	var h [32]byte
	b, err := fixed(s, 32)
	if err != nil {
		return h, err
	}
	copy(h[:], b)
	return h, nil
}

func addr20(s *string) ([]byte, error) { return fixed(s, 20) }
