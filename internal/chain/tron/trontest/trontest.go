// Package trontest builds java-tron HTTP API JSON for tests and benchmarks:
// /wallet/getblockbynum and /wallet/gettransactioninfobyblocknum responses
// written from the field names documented in docs/formats.md ("java-tron
// HTTP API JSON") and the brief, since no Tron node can run here. It also
// serves them as a java-tron node would (httptest), so the HTTP client path
// is exercised. Nothing in spoor's binary imports it.
package trontest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/spoor-dev/spoor/internal/chain/etl"
)

// Log is one event log of a transaction.
type Log struct {
	Address []byte // canonical 21-byte contract (written as 40 hex, no 41)
	Topics  [][32]byte
	Data    []byte
}

// Internal is one internal transaction.
type Internal struct {
	Caller, To []byte
	Value      uint64
	TokenID    string // a TRC-10 token id; "" for TRX
	Rejected   bool
}

// Tx is one transaction with its info.
type Tx struct {
	ID          [32]byte
	ContractRet string // ret[0].contractRet; "" = SUCCESS
	Type        string // TransferContract, TriggerSmartContract, or another type
	Owner       []byte
	To          []byte // TransferContract
	Amount      uint64 // TransferContract
	Contract    []byte // TriggerSmartContract
	CallValue   uint64 // TriggerSmartContract
	Fee         uint64
	InfoResult  string // "FAILED" or ""
	Logs        []Log
	Internal    []Internal
}

// Block is one block.
type Block struct {
	Num    uint64
	ID     [32]byte
	Parent [32]byte
	TimeMS int64
	Txs    []Tx
}

// BlockID makes a java-tron style block id: the height in the first 8
// bytes, then a hash of the seed.
func BlockID(num uint64, seed string) [32]byte {
	h := sha256.Sum256([]byte(seed))
	binary.BigEndian.PutUint64(h[:8], num)
	return h
}

// TxID makes a transaction id from a seed.
func TxID(seed string) [32]byte { return sha256.Sum256([]byte("tx " + seed)) }

// Word left-pads 20 address bytes (the last 20 of a canonical address) into
// a 32-byte ABI word.
func Word(addr []byte) [32]byte {
	var w [32]byte
	copy(w[12:], addr[len(addr)-20:])
	return w
}

// TransferLog is a TRC-20 Transfer(from, to, amount) event.
func TransferLog(contract, from, to []byte, amount uint64) Log {
	var data [32]byte
	binary.BigEndian.PutUint64(data[24:], amount)
	return Log{Address: contract, Topics: [][32]byte{etl.TopicTransfer, Word(from), Word(to)}, Data: data[:]}
}

// AddedBlackListLog is Tether's AddedBlackList(address) (unindexed).
func AddedBlackListLog(contract, subject []byte) Log {
	w := Word(subject)
	return Log{Address: contract, Topics: [][32]byte{etl.TopicAddedBlackList}, Data: w[:]}
}

// DestroyedBlackFundsLog is Tether's DestroyedBlackFunds(address,uint256).
func DestroyedBlackFundsLog(contract, subject []byte, amount uint64) Log {
	w := Word(subject)
	var a [32]byte
	binary.BigEndian.PutUint64(a[24:], amount)
	return Log{Address: contract, Topics: [][32]byte{etl.TopicDestroyedBlackFunds}, Data: append(w[:], a[:]...)}
}

func hx(b []byte) string { return hex.EncodeToString(b) }

// BlockJSON is the getblockbynum response.
func (b *Block) BlockJSON() []byte {
	raw := map[string]any{"parentHash": hx(b.Parent[:]), "timestamp": b.TimeMS, "version": 30,
		"witness_address": "41" + strings.Repeat("ab", 20), "txTrieRoot": strings.Repeat("0", 64)}
	if b.Num > 0 { // protobuf JSON omits zero fields
		raw["number"] = b.Num
	}
	blk := map[string]any{
		"blockID":      hx(b.ID[:]),
		"block_header": map[string]any{"raw_data": raw, "witness_signature": strings.Repeat("cd", 65)},
	}
	var txs []any
	for i := range b.Txs {
		t := &b.Txs[i]
		ret := t.ContractRet
		if ret == "" {
			ret = "SUCCESS"
		}
		var value map[string]any
		switch t.Type {
		case "TransferContract":
			value = map[string]any{"owner_address": hx(t.Owner), "to_address": hx(t.To), "amount": t.Amount}
		case "TriggerSmartContract":
			value = map[string]any{"owner_address": hx(t.Owner), "contract_address": hx(t.Contract), "data": "a9059cbb"}
			if t.CallValue > 0 {
				value["call_value"] = t.CallValue
			}
		default:
			value = map[string]any{"owner_address": hx(t.Owner), "frozen_balance": 1000000, "resource": "ENERGY"}
		}
		txs = append(txs, map[string]any{
			"ret":       []any{map[string]any{"contractRet": ret}},
			"txID":      hx(t.ID[:]),
			"signature": []string{strings.Repeat("ef", 65)},
			"raw_data": map[string]any{
				"contract": []any{map[string]any{
					"type":      t.Type,
					"parameter": map[string]any{"value": value, "type_url": "type.googleapis.com/protocol." + t.Type},
				}},
				"ref_block_bytes": "0000", "expiration": b.TimeMS + 60000, "timestamp": b.TimeMS,
			},
			"raw_data_hex": "0a02",
		})
	}
	if len(txs) > 0 { // java-tron omits an empty list
		blk["transactions"] = txs
	}
	out, err := json.Marshal(blk)
	if err != nil {
		panic(err)
	}
	return out
}

// InfoJSON is the gettransactioninfobyblocknum response.
func (b *Block) InfoJSON() []byte {
	infos := []any{}
	for i := range b.Txs {
		t := &b.Txs[i]
		in := map[string]any{
			"id": hx(t.ID[:]), "blockNumber": b.Num, "blockTimeStamp": b.TimeMS,
			"contractResult": []string{""},
			"receipt":        map[string]any{"energy_usage_total": 14650, "net_fee": 345000},
		}
		if t.Fee > 0 {
			in["fee"] = t.Fee
		}
		if t.InfoResult != "" {
			in["result"] = t.InfoResult
			in["receipt"].(map[string]any)["result"] = "REVERT"
		}
		var logs []any
		for _, l := range t.Logs {
			var topics []string
			for _, tp := range l.Topics {
				topics = append(topics, hx(tp[:]))
			}
			logs = append(logs, map[string]any{"address": hx(l.Address[1:]), "topics": topics, "data": hx(l.Data)})
		}
		if len(logs) > 0 {
			in["log"] = logs
		}
		var its []any
		for k, it := range t.Internal {
			cv := map[string]any{"callValue": it.Value}
			if it.TokenID != "" {
				cv["tokenId"] = it.TokenID
			}
			ih := TxID(hx(t.ID[:]) + string(rune('a'+k)))
			x := map[string]any{
				"hash":               hx(ih[:]),
				"caller_address":     hx(it.Caller),
				"transferTo_address": hx(it.To),
				"callValueInfo":      []any{cv},
				"note":               "63616c6c",
			}
			if it.Rejected {
				x["rejected"] = true
			}
			its = append(its, x)
		}
		if len(its) > 0 {
			in["internal_transactions"] = its
		}
		infos = append(infos, in)
	}
	out, err := json.Marshal(infos)
	if err != nil {
		panic(err)
	}
	return out
}

// Line is one blocks.jsonl line: {"block":…,"info":…}.
func (b *Block) Line() []byte {
	return []byte(`{"block":` + string(b.BlockJSON()) + `,"info":` + string(b.InfoJSON()) + "}\n")
}

// Node serves blocks the way java-tron's HTTP API does (POST JSON
// {"num":N}); the chain can be replaced (a reorg) while it runs.
type Node struct {
	mu     sync.Mutex
	blocks []*Block
	Server *httptest.Server
	// Tokens answers triggerconstantcontract: contract hex (41…) →
	// selector → ABI-encoded result hex.
	Tokens map[string]map[string]string
}

// NewNode starts a node serving chain (blocks[i].Num == i).
func NewNode(chain []*Block) *Node {
	n := &Node{blocks: chain, Tokens: map[string]map[string]string{}}
	n.Server = httptest.NewServer(http.HandlerFunc(n.serve))
	return n
}

// SetChain replaces the served chain.
func (n *Node) SetChain(chain []*Block) {
	n.mu.Lock()
	n.blocks = chain
	n.mu.Unlock()
}

func (n *Node) serve(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var req struct {
		Num             *uint64 `json:"num"`
		ContractAddress string  `json:"contract_address"`
		Selector        string  `json:"function_selector"`
	}
	if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&req) != nil {
		http.Error(w, "bad request", 400)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/wallet/getnowblock":
		w.Write(n.blocks[len(n.blocks)-1].BlockJSON())
	case "/wallet/getblockbynum", "/wallet/gettransactioninfobyblocknum":
		if req.Num == nil || *req.Num >= uint64(len(n.blocks)) {
			if r.URL.Path == "/wallet/getblockbynum" {
				w.Write([]byte("{}"))
			} else {
				w.Write([]byte("[]"))
			}
			return
		}
		b := n.blocks[*req.Num]
		if r.URL.Path == "/wallet/getblockbynum" {
			w.Write(b.BlockJSON())
		} else {
			w.Write(b.InfoJSON())
		}
	case "/wallet/triggerconstantcontract":
		res, ok := n.Tokens[req.ContractAddress][req.Selector]
		if !ok {
			w.Write([]byte(`{"result":{"code":"CONTRACT_VALIDATE_ERROR","message":"no such function"}}`))
			return
		}
		w.Write([]byte(`{"result":{"result":true},"energy_used":300,"constant_result":["` + res + `"]}`))
	default:
		http.NotFound(w, r)
	}
}

// BusyBlock makes a block shaped like a busy Tron mainnet block: 300
// transactions, 60% USDT TRC-20 transfers, 30% TRX transfers, the rest
// failed USDT calls and calls with an internal TRX transfer, between
// 256 addresses. It returns the block and its number of value transfers.
func BusyBlock(num uint64, parent [32]byte, usdt []byte) (*Block, int) {
	person := func(i int) []byte {
		b := make([]byte, 21)
		b[0] = 0x41
		for k := 1; k < 21; k++ {
			b[k] = byte(i*31 + k)
		}
		return b
	}
	router := person(1000)
	seed := hex.EncodeToString(parent[:4])
	blk := &Block{Num: num, ID: BlockID(num, "busy"+seed), Parent: parent, TimeMS: 1740000000000 + 3000*int64(num)}
	transfers := 0
	for i := 0; i < 300; i++ {
		p, q := person(int(num)*7+i), person(int(num)*7+i+1)
		id := TxID(seed + hex.EncodeToString([]byte{byte(i >> 8), byte(i)}))
		switch {
		case i%10 < 6:
			blk.Txs = append(blk.Txs, Tx{ID: id, Type: "TriggerSmartContract", Owner: p, Contract: usdt, Fee: 13_844_850,
				Logs: []Log{TransferLog(usdt, p, q, uint64(1_000_000+i))}})
			transfers++
		case i%10 < 9:
			blk.Txs = append(blk.Txs, Tx{ID: id, Type: "TransferContract", Owner: p, To: q, Amount: uint64(i + 1), Fee: 268_000})
			transfers++
		case i%20 == 9:
			blk.Txs = append(blk.Txs, Tx{ID: id, Type: "TriggerSmartContract", Owner: p, Contract: usdt, Fee: 4_000_000,
				ContractRet: "REVERT", InfoResult: "FAILED"})
		default:
			blk.Txs = append(blk.Txs, Tx{ID: id, Type: "TriggerSmartContract", Owner: p, Contract: router, CallValue: 10,
				Internal: []Internal{{Caller: router, To: q, Value: 5}}})
			transfers += 2
		}
	}
	return blk, transfers
}
