// Package tron reads Tron blocks from java-tron's HTTP API
// (/wallet/getblockbynum and /wallet/gettransactioninfobyblocknum), from a
// live node or from a blocks.jsonl file holding both responses per block,
// and turns them into spoor's canonical model: TRX TransferContract
// transfers, TRX call values and internal transactions, TRC-20 Transfer
// logs of any contract, fees, failed transactions (fee only) and Tether's
// blacklist events as store facts.
package tron

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/address"
	"github.com/spoor-dev/spoor/internal/chain/etl"
	"github.com/spoor-dev/spoor/internal/model"
)

// Decoded is one block in the canonical model, with the facts its logs
// carry and the token contracts its transfers touched (see etl.Decoded).
type Decoded = etl.Decoded

// Error locates a bad field: in a file (File:Line) or a node's block.
type Error struct {
	File  string
	Line  int
	Block int64 // -1 when the block number is not known yet
	Field string
	Err   error
}

func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		fmt.Fprintf(&b, "%s: ", e.File) // the file as a whole
	}
	if e.Block >= 0 {
		fmt.Fprintf(&b, "tron block %d: ", e.Block)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, "field %s: ", e.Field)
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// LogIndexInternal returns the Transfer.LogIndex of internal transaction n.
func LogIndexInternal(n int) int32 { return int32(-2 - n) }

type apiBlock struct {
	BlockID     string `json:"blockID"`
	BlockHeader *struct {
		RawData *struct {
			Number     json.Number `json:"number"`
			Timestamp  json.Number `json:"timestamp"`
			ParentHash string      `json:"parentHash"`
		} `json:"raw_data"`
	} `json:"block_header"`
	Transactions []apiTx `json:"transactions"`
	// java-tron answers {"Error": "..."} to a bad request.
	Error string `json:"Error"`
}

type apiTx struct {
	TxID string `json:"txID"`
	Ret  []struct {
		ContractRet string `json:"contractRet"`
	} `json:"ret"`
	RawData struct {
		Contract []struct {
			Type      string `json:"type"`
			Parameter struct {
				Value json.RawMessage `json:"value"`
			} `json:"parameter"`
		} `json:"contract"`
	} `json:"raw_data"`
}

type transferValue struct {
	Owner  string      `json:"owner_address"`
	To     string      `json:"to_address"`
	Amount json.Number `json:"amount"`
}

type triggerValue struct {
	Owner     string      `json:"owner_address"`
	Contract  string      `json:"contract_address"`
	CallValue json.Number `json:"call_value"`
}

type ownerValue struct {
	Owner string `json:"owner_address"`
}

type apiInfo struct {
	ID          string      `json:"id"`
	BlockNumber json.Number `json:"blockNumber"`
	Fee         json.Number `json:"fee"`
	Result      string      `json:"result"`
	Log         []struct {
		Address string   `json:"address"`
		Topics  []string `json:"topics"`
		Data    string   `json:"data"`
	} `json:"log"`
	Internal []struct {
		Caller    string `json:"caller_address"`
		To        string `json:"transferTo_address"`
		CallValue []struct {
			CallValue json.Number `json:"callValue"`
			TokenID   string      `json:"tokenId"`
		} `json:"callValueInfo"`
		Rejected bool `json:"rejected"`
	} `json:"internal_transactions"`
}

// DecodeBlock decodes one getblockbynum response and the matching
// gettransactioninfobyblocknum response (a JSON array; {} or null for a
// block without transactions). want >= 0 is the height asked for.
func DecodeBlock(want int64, rawBlock, rawInfo json.RawMessage) (*Decoded, error) {
	var b apiBlock
	if err := strictUnmarshal(rawBlock, &b); err != nil {
		return nil, &Error{Block: want, Field: "block", Err: fmt.Errorf("malformed getblockbynum JSON: %v", err)}
	}
	return decodeParsed(want, &b, rawInfo)
}

// decodeParsed finishes DecodeBlock on a parsed block.
func decodeParsed(want int64, b *apiBlock, rawInfo json.RawMessage) (*Decoded, error) {
	blockNo := want
	ferr := func(field string, format string, args ...any) error {
		return &Error{Block: blockNo, Field: field, Err: fmt.Errorf(format, args...)}
	}
	if b.Error != "" {
		return nil, ferr("block.Error", "node error: %.200s", b.Error)
	}
	if b.BlockID == "" && b.BlockHeader == nil {
		return nil, ferr("block", "empty block object (the node has no such block)")
	}
	if b.BlockHeader == nil || b.BlockHeader.RawData == nil {
		return nil, ferr("block.block_header.raw_data", "missing")
	}
	rd := b.BlockHeader.RawData
	// protobuf JSON omits zero fields: a missing number is block 0.
	var num uint64
	if rd.Number != "" {
		n, err := uintNum(rd.Number)
		if err != nil {
			return nil, ferr("block.block_header.raw_data.number", "%v", err)
		}
		num = n
	}
	if num > 1<<62 {
		return nil, ferr("block.block_header.raw_data.number", "%d out of range", num)
	}
	if want >= 0 && num != uint64(want) {
		return nil, ferr("block.block_header.raw_data.number", "node returned block %d", num)
	}
	blockNo = int64(num)
	blk := &model.Block{Chain: model.Tron, Height: num}
	var err error
	if blk.Hash, err = hex32(b.BlockID); err != nil {
		return nil, ferr("block.blockID", "%v", err)
	}
	if rd.ParentHash != "" || num > 0 {
		if blk.PrevHash, err = hex32(rd.ParentHash); err != nil {
			return nil, ferr("block.block_header.raw_data.parentHash", "%v", err)
		}
	}
	if rd.Timestamp != "" {
		ms, err := uintNum(rd.Timestamp)
		if err != nil || ms > 1<<62 {
			return nil, ferr("block.block_header.raw_data.timestamp", "bad milliseconds %q", rd.Timestamp)
		}
		blk.Time = int64(ms / 1000)
	}

	var infos []apiInfo
	trimmed := bytes.TrimSpace(rawInfo)
	switch {
	case len(trimmed) == 0:
		return nil, ferr("info", "missing (want the gettransactioninfobyblocknum array)")
	case string(trimmed) == "null" || string(trimmed) == "{}":
	default:
		if err := strictUnmarshal(trimmed, &infos); err != nil {
			return nil, ferr("info", "malformed gettransactioninfobyblocknum JSON: %v", err)
		}
	}
	byID := make(map[[32]byte]int, len(infos))
	for i := range infos {
		id, err := hex32(infos[i].ID)
		if err != nil {
			return nil, ferr(fmt.Sprintf("info[%d].id", i), "%v", err)
		}
		if _, dup := byID[id]; dup {
			return nil, ferr(fmt.Sprintf("info[%d].id", i), "second info for transaction %x", id)
		}
		if infos[i].BlockNumber != "" {
			n, err := uintNum(infos[i].BlockNumber)
			if err != nil || n != num {
				return nil, ferr(fmt.Sprintf("info[%d].blockNumber", i), "%s, want %d", infos[i].BlockNumber, num)
			}
		}
		byID[id] = i
	}
	if len(infos) != len(b.Transactions) {
		return nil, ferr("info", "%d transaction infos for %d transactions", len(infos), len(b.Transactions))
	}

	d := &Decoded{Block: blk}
	blk.Txs = make([]model.Tx, len(b.Transactions))
	for i := range b.Transactions {
		t := &b.Transactions[i]
		f := func(name string) string { return fmt.Sprintf("block.transactions[%d].%s", i, name) }
		tx := &blk.Txs[i]
		tx.Index = uint32(i)
		if tx.ID, err = hex32(t.TxID); err != nil {
			return nil, ferr(f("txID"), "%v", err)
		}
		k, ok := byID[tx.ID]
		if !ok {
			return nil, ferr(f("txID"), "no transaction info for %x", tx.ID)
		}
		info := &infos[k]
		inf := func(name string) string { return fmt.Sprintf("info[%d].%s", k, name) }
		// ret[0].contractRet is absent from some old blocks' transactions;
		// the info's result then decides alone.
		failed := len(t.Ret) > 0 && t.Ret[0].ContractRet != "" && t.Ret[0].ContractRet != "SUCCESS"
		if info.Result != "" {
			switch info.Result {
			case "FAILED":
				failed = true
			case "SUCESS", "SUCCESS": // java-tron's protobuf enum spells it SUCESS
			default:
				return nil, ferr(inf("result"), "unknown result %.40q", info.Result)
			}
		}
		if len(t.RawData.Contract) == 0 {
			return nil, ferr(f("raw_data.contract"), "missing")
		}
		c0 := &t.RawData.Contract[0]
		if c0.Type == "" {
			return nil, ferr(f("raw_data.contract[0].type"), "missing")
		}
		if len(c0.Parameter.Value) == 0 {
			return nil, ferr(f("raw_data.contract[0].parameter.value"), "missing")
		}
		pv := f("raw_data.contract[0].parameter.value")
		var owner []byte
		var native *model.Transfer
		switch c0.Type {
		case "TransferContract":
			var v transferValue
			if err := json.Unmarshal(c0.Parameter.Value, &v); err != nil {
				return nil, ferr(pv, "%v", err)
			}
			if owner, err = tronAddr(v.Owner); err != nil {
				return nil, ferr(pv+".owner_address", "%v", err)
			}
			to, err := tronAddr(v.To)
			if err != nil {
				return nil, ferr(pv+".to_address", "%v", err)
			}
			var amt uint64
			if v.Amount != "" {
				if amt, err = uintNum(v.Amount); err != nil {
					return nil, ferr(pv+".amount", "%v", err)
				}
			}
			native = &model.Transfer{From: owner, To: to, LogIndex: -1}
			native.Value.SetUint64(amt)
		case "TriggerSmartContract":
			var v triggerValue
			if err := json.Unmarshal(c0.Parameter.Value, &v); err != nil {
				return nil, ferr(pv, "%v", err)
			}
			if owner, err = tronAddr(v.Owner); err != nil {
				return nil, ferr(pv+".owner_address", "%v", err)
			}
			ct, err := tronAddr(v.Contract)
			if err != nil {
				return nil, ferr(pv+".contract_address", "%v", err)
			}
			if v.CallValue != "" {
				cv, err := uintNum(v.CallValue)
				if err != nil {
					return nil, ferr(pv+".call_value", "%v", err)
				}
				native = &model.Transfer{From: owner, To: ct, LogIndex: -1}
				native.Value.SetUint64(cv)
			}
		default:
			// Other contract types (staking, votes, TRC-10, ...) move no TRX
			// or TRC-20 between addresses here; their sender pays the fee.
			var v ownerValue
			if err := json.Unmarshal(c0.Parameter.Value, &v); err != nil {
				return nil, ferr(pv, "%v", err)
			}
			if v.Owner != "" {
				if owner, err = tronAddr(v.Owner); err != nil {
					return nil, ferr(pv+".owner_address", "%v", err)
				}
			}
		}
		if info.Fee != "" {
			fee, err := uintNum(info.Fee)
			if err != nil {
				return nil, ferr(inf("fee"), "%v", err)
			}
			tx.Fee.SetUint64(fee)
		}
		tx.FeePayer = owner
		if !tx.Fee.IsZero() && owner == nil {
			return nil, ferr(pv+".owner_address", "missing, but the transaction pays a fee")
		}
		if failed {
			tx.Failed = true
			continue
		}
		if native != nil && !native.Value.IsZero() {
			tx.Transfers = append(tx.Transfers, *native)
		}
		for j := range info.Log {
			lg := &info.Log[j]
			lf := func(name string) string { return inf(fmt.Sprintf("log[%d].%s", j, name)) }
			contract, err := logAddr(lg.Address)
			if err != nil {
				return nil, ferr(lf("address"), "%v", err)
			}
			topics := make([][32]byte, len(lg.Topics))
			for q := range lg.Topics {
				if topics[q], err = hex32(lg.Topics[q]); err != nil {
					return nil, ferr(lf(fmt.Sprintf("topics[%d]", q)), "%v", err)
				}
			}
			var data []byte
			if lg.Data != "" {
				if data, err = hex.DecodeString(strings.TrimPrefix(lg.Data, "0x")); err != nil {
					return nil, ferr(lf("data"), "bad hex: %v", err)
				}
			}
			l, ok := etl.DecodeLog(model.Tron, topics, data)
			if !ok {
				continue
			}
			d.AddLog(tx, contract, l, int32(j))
		}
		for j := range info.Internal {
			it := &info.Internal[j]
			xf := func(name string) string { return inf(fmt.Sprintf("internal_transactions[%d].%s", j, name)) }
			if it.Rejected {
				continue
			}
			var sum uint256.Int
			for q := range it.CallValue {
				cv := &it.CallValue[q]
				if cv.TokenID != "" && cv.TokenID != "_" {
					continue // a TRC-10 token, not TRX
				}
				if cv.CallValue == "" {
					continue
				}
				v, err := uintNum(cv.CallValue)
				if err != nil {
					return nil, ferr(xf(fmt.Sprintf("callValueInfo[%d].callValue", q)), "%v", err)
				}
				var x uint256.Int
				x.SetUint64(v)
				sum.Add(&sum, &x)
			}
			if sum.IsZero() {
				continue
			}
			from, err := tronAddr(it.Caller)
			if err != nil {
				return nil, ferr(xf("caller_address"), "%v", err)
			}
			to, err := tronAddr(it.To)
			if err != nil {
				return nil, ferr(xf("transferTo_address"), "%v", err)
			}
			tx.Transfers = append(tx.Transfers, model.Transfer{From: from, To: to, Value: sum, LogIndex: LogIndexInternal(j)})
		}
	}
	return d, nil
}

// strictUnmarshal decodes one JSON value (numbers land in json.Number
// fields; trailing data is refused).
func strictUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// uintNum parses a non-negative integer JSON number (java-tron writes sun
// amounts and heights as JSON numbers).
func uintNum(n json.Number) (uint64, error) {
	if n == "" {
		return 0, errors.New("missing")
	}
	v, err := strconv.ParseUint(string(n), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("want a non-negative integer, got %.40q", string(n))
	}
	return v, nil
}

func hex32(s string) ([32]byte, error) {
	var h [32]byte
	if s == "" {
		return h, errors.New("missing")
	}
	x := strings.TrimPrefix(s, "0x")
	if len(x) != 64 {
		return h, fmt.Errorf("want 64 hex digits, got %.80q", s)
	}
	if _, err := hex.Decode(h[:], []byte(x)); err != nil {
		return h, fmt.Errorf("bad hex %.80q", s)
	}
	return h, nil
}

// tronAddr parses an address field: hex 41… (visible=false) or base58 T…
// (visible=true).
func tronAddr(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("missing")
	}
	return address.TronDecode(s)
}

// logAddr parses a log's contract address: 40 hex digits without the 41
// prefix (java-tron's form), or with it.
func logAddr(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("missing")
	}
	x := s
	switch len(x) {
	case 40:
		b, err := hex.DecodeString(x)
		if err != nil {
			return nil, fmt.Errorf("bad hex %.60q", x)
		}
		return address.TronFromEVM(b), nil
	case 42:
		return address.TronDecode(x)
	}
	return nil, fmt.Errorf("want 40 hex digits, got %.60q", x)
}
