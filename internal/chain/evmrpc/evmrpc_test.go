package evmrpc

// The decoder is tested on real JSON-RPC answers of go-ethereum's simulated
// backend (a real EVM chain, test-only dependency) served over its HTTP
// endpoint, compared with go-ethereum's own view of the same transactions.

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"
)

type chain struct {
	sim   *simulated.Backend
	url   string
	token common.Address
	alice common.Address
	bob   common.Address
	txs   map[string]common.Hash
	block uint64 // the block holding the interesting transactions
}

func newChain(t *testing.T) *chain {
	t.Helper()
	raw, err := os.ReadFile("testdata/Token.json")
	if err != nil {
		t.Fatal(err)
	}
	var art struct {
		ABI json.RawMessage `json:"abi"`
		Bin string          `json:"bin"`
	}
	if err := json.Unmarshal(raw, &art); err != nil {
		t.Fatal(err)
	}
	tokABI, err := abi.JSON(bytes.NewReader(art.ABI))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := crypto.ToECDSA(crypto.Keccak256([]byte("evmrpc alice")))
	alice := crypto.PubkeyToAddress(key.PublicKey)
	bob := common.HexToAddress("0x00000000000000000000000000000000000b0b00")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	sim := simulated.NewBackend(types.GenesisAlloc{alice: {Balance: new(big.Int).Mul(big.NewInt(10), big.NewInt(1e18))}},
		func(nc *node.Config, ec *ethconfig.Config) {
			nc.HTTPHost, nc.HTTPPort, nc.HTTPModules, nc.HTTPVirtualHosts = "127.0.0.1", port, []string{"eth"}, []string{"*"}
		})
	t.Cleanup(func() { sim.Close() })
	c := &chain{sim: sim, url: "http://127.0.0.1:" + strconv.Itoa(port), alice: alice, bob: bob, txs: map[string]common.Hash{}}
	cl := sim.Client()
	nonce := uint64(0)
	sent := 0
	send := func(name string, to *common.Address, value int64, data []byte, gas uint64) {
		tx, err := types.SignTx(types.NewTx(&types.DynamicFeeTx{ChainID: big.NewInt(1337), Nonce: nonce, To: to,
			Value: big.NewInt(value), Data: data, Gas: gas, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(50e9)}),
			types.LatestSignerForChainID(big.NewInt(1337)), key)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.SendTransaction(context.Background(), tx); err != nil {
			t.Fatal(err)
		}
		nonce++
		sent++
		c.txs[name] = tx.Hash()
	}
	commit := func() { commitAll(t, sim, sent); sent = 0 }
	ctor, _ := tokABI.Pack("", "TOK", uint8(6), big.NewInt(1e12))
	send("deploy", nil, 0, append(common.FromHex(art.Bin), ctor...), 3_000_000)
	commit()
	r, err := cl.TransactionReceipt(context.Background(), c.txs["deploy"])
	for try := 0; err != nil && try < 100; try++ { // the tx index is built asynchronously
		time.Sleep(50 * time.Millisecond)
		r, err = cl.TransactionReceipt(context.Background(), c.txs["deploy"])
	}
	if err != nil {
		t.Fatal(err)
	}
	c.token = r.ContractAddress
	pack := func(m string, args ...any) []byte {
		b, err := tokABI.Pack(m, args...)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	send("eth", &bob, 12345, nil, 21000)
	send("tok", &c.token, 0, pack("transfer", bob, big.NewInt(500)), 200_000)
	send("revert", &c.token, 0, pack("transferFrom", bob, alice, big.NewInt(1)), 200_000)
	send("black", &c.token, 0, pack("addBlackList", bob), 200_000)
	commit()
	c.block = 2
	return c
}

// raw fetches a block and its receipts as the node returns them.
func (c *chain) raw(t *testing.T, n uint64) (json.RawMessage, []json.RawMessage) {
	t.Helper()
	cl := New(c.url)
	var b json.RawMessage
	if err := cl.Call(&b, "eth_getBlockByNumber", hexNum(n), true); err != nil {
		t.Fatal(err)
	}
	hash, err := peekHash(b)
	if err != nil {
		t.Fatal(err)
	}
	var rs []json.RawMessage
	if err := cl.Call(&rs, "eth_getBlockReceipts", hash); err != nil {
		t.Fatal(err)
	}
	return b, rs
}

func TestDecodeAgainstGoEthereum(t *testing.T) {
	c := newChain(t)
	ds, err := New(c.url).Blocks(0, c.block)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cl := c.sim.Client()
	for _, d := range ds {
		gb, err := cl.BlockByNumber(ctx, new(big.Int).SetUint64(d.Block.Height))
		if err != nil {
			t.Fatal(err)
		}
		// The block's transactions, then (if it credits anything) its
		// block-credits pseudo-transaction.
		n := len(gb.Transactions())
		if d.Block.Hash != gb.Hash() || d.Block.PrevHash != gb.ParentHash() || d.Block.Time != int64(gb.Time()) ||
			len(d.Block.Txs) < n || len(d.Block.Txs) > n+1 {
			t.Fatalf("block %d header differs from go-ethereum's", d.Block.Height)
		}
		// The fee recipient (0x0 on the simulated chain, which sends
		// nothing) gains exactly the credited tips in the block.
		var tips big.Int
		if len(d.Block.Txs) == n+1 {
			cr := d.Block.Txs[n]
			if cr.ID != gb.Hash() || cr.Index != uint32(n) || !cr.Coinbase || !cr.Fee.IsZero() || cr.FeePayer != nil || len(cr.Transfers) != 1 {
				t.Fatalf("block %d credits: %+v", d.Block.Height, cr)
			}
			x := cr.Transfers[0]
			if x.From != nil || !bytes.Equal(x.To, gb.Coinbase().Bytes()) || x.LogIndex != -1 || x.Contract != nil {
				t.Fatalf("block %d tips transfer: %+v", d.Block.Height, x)
			}
			tips.Set(x.Value.ToBig())
		}
		if d.Block.Height > 0 {
			now, err1 := cl.BalanceAt(ctx, gb.Coinbase(), gb.Number())
			before, err2 := cl.BalanceAt(ctx, gb.Coinbase(), new(big.Int).Sub(gb.Number(), big.NewInt(1)))
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if got := new(big.Int).Sub(now, before); got.Cmp(&tips) != 0 || (n > 0 && got.Sign() == 0) {
				t.Errorf("block %d: fee recipient gained %s wei on chain, spoor credits %s", d.Block.Height, got, &tips)
			}
		}
		for i, gtx := range gb.Transactions() {
			tx := d.Block.Txs[i]
			r, err := cl.TransactionReceipt(ctx, gtx.Hash())
			for try := 0; err != nil && try < 100; try++ { // the tx index is built asynchronously
				time.Sleep(50 * time.Millisecond)
				r, err = cl.TransactionReceipt(ctx, gtx.Hash())
			}
			if err != nil {
				t.Fatal(err)
			}
			from, _ := types.Sender(types.LatestSignerForChainID(big.NewInt(1337)), gtx)
			fee := new(big.Int).Mul(new(big.Int).SetUint64(r.GasUsed), r.EffectiveGasPrice)
			if tx.ID != gtx.Hash() || tx.Failed != (r.Status == 0) || tx.Fee.ToBig().Cmp(fee) != 0 || !bytes.Equal(tx.FeePayer, from.Bytes()) {
				t.Errorf("tx %s: id/failed/fee/payer differ", gtx.Hash())
			}
		}
	}
	blk := ds[c.block].Block
	byID := map[common.Hash]int{}
	for i, tx := range blk.Txs {
		byID[common.Hash(tx.ID)] = i
	}
	ethTx := blk.Txs[byID[c.txs["eth"]]]
	if len(ethTx.Transfers) != 1 || ethTx.Transfers[0].Value.Uint64() != 12345 || ethTx.Transfers[0].LogIndex != -1 ||
		!bytes.Equal(ethTx.Transfers[0].To, c.bob.Bytes()) || ethTx.Transfers[0].Contract != nil {
		t.Errorf("ETH transfer: %+v", ethTx.Transfers)
	}
	tokTx := blk.Txs[byID[c.txs["tok"]]]
	if len(tokTx.Transfers) != 1 || tokTx.Transfers[0].Value.Uint64() != 500 || !bytes.Equal(tokTx.Transfers[0].Contract, c.token.Bytes()) ||
		!bytes.Equal(tokTx.Transfers[0].From, c.alice.Bytes()) {
		t.Errorf("token transfer: %+v", tokTx.Transfers)
	}
	if rv := blk.Txs[byID[c.txs["revert"]]]; !rv.Failed || len(rv.Transfers) != 0 {
		t.Errorf("reverted tx: %+v", rv)
	}
	if f := ds[c.block].Facts; len(f) != 1 || f[0].Kind != "AddedBlackList" || !bytes.Equal(f[0].Subject, c.bob.Bytes()) || f[0].TxID != c.txs["black"] {
		t.Errorf("facts %+v", f)
	}
	// The deployment's constructor mint is a Transfer log from 0x0.
	dep := ds[1].Block.Txs[0]
	if len(dep.Transfers) != 1 || !bytes.Equal(dep.Transfers[0].From, make([]byte, 20)) || dep.Transfers[0].Value.Uint64() != 1e12 {
		t.Errorf("deployment: %+v", dep.Transfers)
	}
	if len(ds[1].Contracts) != 1 || !bytes.Equal(ds[1].Contracts[0], c.token.Bytes()) {
		t.Errorf("contracts %x", ds[1].Contracts)
	}
}

func TestTokens(t *testing.T) {
	c := newChain(t)
	toks, err := New(c.url).Tokens([][]byte{c.token.Bytes(), c.bob.Bytes()}, hexNum(c.block))
	if err != nil {
		t.Fatal(err)
	}
	if toks[0].Symbol != "TOK" || toks[0].Decimals != 6 || toks[0].Err != nil {
		t.Errorf("token: %+v", toks[0])
	}
	// bob is not a contract: the call returns nothing, decimals unknown.
	if toks[1].Decimals != -1 || toks[1].Err == nil {
		t.Errorf("EOA: %+v", toks[1])
	}
}

func TestDecodeErrors(t *testing.T) {
	c := newChain(t)
	b, rs := c.raw(t, c.block)
	cases := []struct {
		name       string
		mutBlock   func(string) string
		mutReceipt func(int, string) string
		want       string
	}{
		{"bad value", func(s string) string { return strings.Replace(s, `"value":"0x3039"`, `"value":"0xZZ"`, 1) }, nil, "field transactions[0].value"},
		{"negative-looking value", func(s string) string { return strings.Replace(s, `"value":"0x3039"`, `"value":"-12345"`, 1) }, nil, "field transactions[0].value"},
		{"short hash", func(s string) string { return strings.Replace(s, `"hash":"0x`, `"hash":"0x12`, 1) }, nil, "field hash: want 32 bytes"},
		{"short tx hash", func(s string) string {
			return strings.Replace(s, `"hash":"`+c.txs["eth"].Hex(), `"hash":"`+c.txs["eth"].Hex()[:20], 1)
		}, nil, "field transactions[0].hash"},
		{"number", func(s string) string { return strings.Replace(s, `"number":"0x2"`, `"number":"0x3"`, 1) }, nil, "field number: node returned block 3"},
		{"tx hashes only", func(s string) string {
			var m map[string]any
			json.Unmarshal([]byte(s), &m)
			m["transactions"] = []string{"0x" + strings.Repeat("ab", 32)}
			o, _ := json.Marshal(m)
			return string(o)
		}, nil, "want a full transaction object"},
		{"status", nil, func(i int, s string) string {
			return strings.Replace(s, `"status":"0x1"`, `"status":"0x2"`, 1)
		}, "status"},
		{"topic", nil, func(i int, s string) string {
			return strings.Replace(s, `"topics":["0x`, `"topics":["0xzz`, 1)
		}, "topics[0]"},
		{"log data", nil, func(i int, s string) string { return strings.Replace(s, `"data":"0x`, `"data":"0xq`, 1) }, "data"},
		{"missing receipt", nil, func(i int, s string) string {
			if i == 0 {
				return ""
			}
			return s
		}, "receipts"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bb := string(b)
			if tc.mutBlock != nil {
				bb = tc.mutBlock(bb)
				if bb == string(b) {
					t.Fatal("mutation did not apply")
				}
			}
			var rr []json.RawMessage
			changed := tc.mutReceipt == nil
			for i, r := range rs {
				s := string(r)
				if tc.mutReceipt != nil {
					s = tc.mutReceipt(i, s)
					changed = changed || s != string(r)
				}
				if s != "" {
					rr = append(rr, json.RawMessage(s))
				}
			}
			if !changed {
				t.Fatal("mutation did not apply")
			}
			_, err := DecodeBlock(c.block, json.RawMessage(bb), rr)
			var fe *FieldError
			if err == nil || !errors.As(err, &fe) || fe.Block != c.block || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "eth block 2: field ") {
				t.Fatalf("want a field error naming block 2 and %q, got %v", tc.want, err)
			}
		})
	}
}

func word(n int) string { return strings.Repeat("00", 31) + hex.EncodeToString([]byte{byte(n)}) }

func TestDecodeSymbolDecimals(t *testing.T) {
	str := func(s string) []byte {
		out, _ := hex.DecodeString(word(32) + word(len(s)))
		pad := make([]byte, (len(s)+31)/32*32)
		copy(pad, s)
		return append(out, pad...)
	}
	b32 := make([]byte, 32)
	copy(b32, "MKR")
	for _, c := range []struct {
		in   []byte
		want string
		ok   bool
	}{
		{str("USDT"), "USDT", true},
		{str(""), "", true},
		{b32, "MKR", true},
		{[]byte{1, 2, 3}, "", false},
		{append(str("AB")[:64], 0), "", false}, // length beyond the data
		{str("A\x01"), "", false},
	} {
		got, err := DecodeSymbol(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("DecodeSymbol(%x) = %q, %v", c.in, got, err)
		}
	}
	for _, c := range []struct {
		hex  string
		want int
	}{
		{word(6), 6}, {word(18), 18}, {word(0), 0}, {"", -1}, {"06", -1},
		{strings.Repeat("00", 30) + "0100", -1}, // 256 is not a uint8
	} {
		b, _ := hex.DecodeString(c.hex)
		got, err := DecodeDecimals(b)
		if got != c.want || (err == nil) != (c.want >= 0) {
			t.Errorf("DecodeDecimals(%s) = %d, %v", c.hex, got, err)
		}
	}
}

// A small block in the JSON-RPC shape, for fuzz seeds without a node.
const seedBlock = `{"number":"0x5","miner":"0x4444444444444444444444444444444444444444","hash":"0x` + "11111111111111111111111111111111111111111111111111111111111111aa" + `","parentHash":"0x` + "22222222222222222222222222222222222222222222222222222222222222bb" + `","timestamp":"0x6553f100","transactions":[{"hash":"0x` + "33333333333333333333333333333333333333333333333333333333333333cc" + `","from":"0x1111111111111111111111111111111111111111","to":"0x2222222222222222222222222222222222222222","value":"0xde0b6b3a7640000","transactionIndex":"0x0","gasPrice":"0x3b9aca00"}]}`
const seedReceipts = `[{"transactionHash":"0x` + "33333333333333333333333333333333333333333333333333333333333333cc" + `","status":"0x1","gasUsed":"0x5208","effectiveGasPrice":"0x3b9aca00","logs":[{"address":"0xdac17f958d2ee523a2206206994597c13d831ec7","topics":["0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef","0x0000000000000000000000001111111111111111111111111111111111111111","0x0000000000000000000000002222222222222222222222222222222222222222"],"data":"0x00000000000000000000000000000000000000000000000000000000000f4240","logIndex":"0x0","removed":false}]}]`

func TestSeedBlock(t *testing.T) {
	var rs []json.RawMessage
	json.Unmarshal([]byte(seedReceipts), &rs)
	d, err := DecodeBlock(5, json.RawMessage(seedBlock), rs)
	if err != nil {
		t.Fatal(err)
	}
	tx := d.Block.Txs[0]
	if tx.Fee.Uint64() != 21000*1e9 || len(tx.Transfers) != 2 || tx.Transfers[0].Value.Uint64() != 1e18 || tx.Transfers[1].Value.Uint64() != 1e6 {
		t.Errorf("%+v", tx)
	}
	// No baseFeePerGas (before London): the whole fee goes to the miner.
	if len(d.Block.Txs) != 2 {
		t.Fatalf("%d txs, want the transaction and the block's credits", len(d.Block.Txs))
	}
	cr := d.Block.Txs[1]
	if !cr.Coinbase || cr.Index != 1 || cr.ID != d.Block.Hash || len(cr.Transfers) != 1 || cr.Transfers[0].Value.Uint64() != 21000*1e9 ||
		cr.Transfers[0].From != nil || cr.Transfers[0].To[0] != 0x44 {
		t.Errorf("credits %+v", cr)
	}
}

// FuzzDecodeBlock: every block/receipts pair either decodes or fails with a
// FieldError naming block 5, never a panic. Run e.g.
// go test ./internal/chain/evmrpc -run X -fuzz FuzzDecodeBlock -fuzztime 60s -fuzzminimizetime 2s
func FuzzDecodeBlock(f *testing.F) {
	f.Add([]byte(seedBlock), []byte(seedReceipts))
	f.Add([]byte(`{"number":"0x0","hash":"0x00","transactions":[]}`), []byte(`[]`))
	f.Add([]byte(`null`), []byte(`[{}]`))
	f.Fuzz(func(t *testing.T, block, receipts []byte) {
		var rs []json.RawMessage
		if json.Unmarshal(receipts, &rs) != nil {
			return
		}
		d, err := DecodeBlock(5, block, rs)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Block != 5 {
				t.Fatalf("error not located: %v", err)
			}
			return
		}
		if d.Block.Height != 5 {
			t.Fatalf("height %d", d.Block.Height)
		}
		for i, tx := range d.Block.Txs {
			if tx.Failed && len(tx.Transfers) > 0 {
				t.Fatal("failed tx with transfers")
			}
			// Only the block-credits pseudo-tx, last, credits from nobody.
			if tx.Coinbase && (i != len(d.Block.Txs)-1 || tx.ID != d.Block.Hash || len(tx.Transfers) == 0 || !tx.Fee.IsZero()) {
				t.Fatalf("credits tx %d of %d: %+v", i, len(d.Block.Txs), tx)
			}
			for _, x := range tx.Transfers {
				if (len(x.From) != 20 && !tx.Coinbase) || (tx.Coinbase && x.From != nil) || len(x.To) != 20 || x.Value.IsZero() && tx.Coinbase {
					t.Fatalf("address lengths %d %d", len(x.From), len(x.To))
				}
			}
		}
	})
}

// commitAll waits until the node's pool holds the sent transactions
// (go-ethereum promotes submitted transactions asynchronously: sealing at
// once can leave some out of the block), then seals a block.
func commitAll(t testing.TB, sim *simulated.Backend, sent int) {
	t.Helper()
	for try := 0; sent > 0; try++ {
		n, err := sim.Client().PendingTransactionCount(context.Background())
		if err == nil && int(n) >= sent {
			break
		}
		if try == 500 {
			t.Fatalf("the node's pool holds %d of %d sent transactions after 5 s (%v)", n, sent, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	sim.Commit()
}
