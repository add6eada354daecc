package ingest

// End-to-end tests of ETHRPC against a REAL EVM chain: go-ethereum's
// simulated backend (test-only dependency; GPL code never reaches the spoor
// binary), served over its own HTTP JSON-RPC endpoint. The ERC-20 is
// internal/chain/evmrpc/testdata/Token.json, compiled from Token.sol by npm
// solc. Every balance spoor computes is checked against the chain's own
// state (eth_getBalance, balanceOf).

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// simChain is a simulated Ethereum chain with funded accounts and the test
// token, reachable over HTTP JSON-RPC at url.
type simChain struct {
	t       *testing.T
	sim     *simulated.Backend
	cl      simulated.Client
	url     string
	keys    map[string]*ecdsa.PrivateKey
	addrs   map[string]common.Address
	nonces  map[string]uint64
	genesis map[common.Address]*big.Int
	abi     abi.ABI
	bin     []byte
	token   common.Address
	sent    int    // transactions sent since the last block
	seal    func() // seals a block where sim is not ethclient/simulated's
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func newSimChain(t *testing.T) *simChain {
	t.Helper()
	raw, err := os.ReadFile("../chain/evmrpc/testdata/Token.json")
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
	parsed, err := abi.JSON(bytes.NewReader(art.ABI))
	if err != nil {
		t.Fatal(err)
	}
	alloc := types.GenesisAlloc{}
	// alice and bob start with 100 ETH; carol and dave with nothing.
	s := newAccounts(t, alloc, "spoor test key ", 2, "alice", "bob", "carol", "dave")
	s.abi, s.bin = parsed, common.FromHex(art.Bin)
	port := freePort(t)
	s.sim = simulated.NewBackend(alloc, func(nc *node.Config, ec *ethconfig.Config) {
		nc.HTTPHost = "127.0.0.1"
		nc.HTTPPort = port
		nc.HTTPModules = []string{"eth", "net", "web3"}
		nc.HTTPVirtualHosts = []string{"*"}
	})
	t.Cleanup(func() { s.sim.Close() })
	s.cl = s.sim.Client()
	s.url = "http://127.0.0.1:" + itoa(port)
	return s
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }

func eth(x float64) *big.Int {
	v, _ := new(big.Float).Mul(big.NewFloat(x), big.NewFloat(1e18)).Int(nil)
	return v
}

// send signs and submits a transaction from name (to nil = deployment).
func (s *simChain) send(name string, to *common.Address, value *big.Int, data []byte) common.Hash {
	s.t.Helper()
	gas := uint64(21000)
	switch {
	case to == nil:
		gas = 3_000_000
	case len(data) > 0:
		gas = 300_000
	}
	tx := types.NewTx(&types.DynamicFeeTx{
		ChainID: big.NewInt(1337), Nonce: s.nonces[name], To: to, Value: value, Data: data,
		Gas: gas, GasTipCap: big.NewInt(2e9), GasFeeCap: big.NewInt(100e9),
	})
	signed, err := types.SignTx(tx, types.LatestSignerForChainID(big.NewInt(1337)), s.keys[name])
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.cl.SendTransaction(context.Background(), signed); err != nil {
		s.t.Fatalf("send from %s: %v", name, err)
	}
	s.nonces[name]++
	s.sent++
	return signed.Hash()
}

// commit seals a block once the node's pool holds every transaction sent
// since the last one (go-ethereum promotes submitted transactions
// asynchronously: sealing at once can leave some out of the block).
func (s *simChain) commit() {
	s.t.Helper()
	for try := 0; s.sent > 0; try++ {
		n, err := s.cl.PendingTransactionCount(context.Background())
		if err == nil && int(n) >= s.sent {
			break
		}
		if try == 500 {
			s.t.Fatalf("the node's pool holds %d of %d sent transactions after 5 s (%v)", n, s.sent, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.sent = 0
	if s.seal != nil {
		s.seal()
		return
	}
	s.sim.Commit()
}

func (s *simChain) pack(method string, args ...any) []byte {
	s.t.Helper()
	b, err := s.abi.Pack(method, args...)
	if err != nil {
		s.t.Fatal(err)
	}
	return b
}

// receipt waits for the node's transaction index (built asynchronously
// after a block is sealed) and returns the receipt.
func (s *simChain) receipt(h common.Hash) *types.Receipt {
	s.t.Helper()
	for try := 0; ; try++ {
		r, err := s.cl.TransactionReceipt(context.Background(), h)
		if err == nil {
			return r
		}
		if try == 100 {
			s.t.Fatalf("receipt of %s: %v", h, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tokenBalance calls balanceOf at a block (nil = head).
func (s *simChain) tokenBalance(a common.Address, at *big.Int) *big.Int {
	s.t.Helper()
	out, err := s.cl.CallContract(context.Background(), ethereum.CallMsg{To: &s.token, Data: s.pack("balanceOf", a)}, at)
	if err != nil {
		s.t.Fatal(err)
	}
	return new(big.Int).SetBytes(out)
}

// script runs the scenario: ETH transfers, a deployment, token transfers,
// a reverted transfer, approve + transferFrom, a batch (several logs in one
// tx) and Tether's blacklist events. It returns the interesting tx hashes.
func (s *simChain) script() map[string]common.Hash {
	a := s.addrs
	h := map[string]common.Hash{}
	h["eth1"] = s.send("alice", ptr(a["bob"]), eth(1.5), nil)
	h["eth2"] = s.send("alice", ptr(a["carol"]), eth(0.25), nil)
	s.commit()
	supply := big.NewInt(1_000_000_000_000) // 1,000,000.000000 TOK
	ctor, err := s.abi.Pack("", "TOK", uint8(6), supply)
	if err != nil {
		s.t.Fatal(err)
	}
	h["deploy"] = s.send("alice", nil, big.NewInt(0), append(append([]byte(nil), s.bin...), ctor...))
	s.commit()
	s.token = s.receipt(h["deploy"]).ContractAddress
	h["tok1"] = s.send("alice", &s.token, big.NewInt(0), s.pack("transfer", a["bob"], big.NewInt(1000)))
	h["eth3"] = s.send("bob", ptr(a["carol"]), eth(0.1), nil)
	h["eth4"] = s.send("carol", ptr(a["dave"]), eth(0.05), nil)
	s.commit()
	h["revert"] = s.send("bob", &s.token, big.NewInt(0), s.pack("transfer", a["carol"], big.NewInt(5000)))
	h["approve"] = s.send("alice", &s.token, big.NewInt(0), s.pack("approve", a["dave"], big.NewInt(300)))
	s.commit()
	h["from"] = s.send("dave", &s.token, big.NewInt(0), s.pack("transferFrom", a["alice"], a["carol"], big.NewInt(200)))
	h["batch"] = s.send("alice", &s.token, big.NewInt(0), s.pack("batch",
		[]common.Address{a["bob"], a["carol"], a["dave"]}, []*big.Int{big.NewInt(11), big.NewInt(22), big.NewInt(33)}))
	s.commit()
	h["black"] = s.send("alice", &s.token, big.NewInt(0), s.pack("addBlackList", a["carol"]))
	h["destroy"] = s.send("alice", &s.token, big.NewInt(0), s.pack("destroyBlackFunds", a["carol"]))
	s.commit()
	if r := s.receipt(h["revert"]); r.Status != 0 {
		s.t.Fatal("the over-balance transfer did not revert")
	}
	for k, x := range h {
		if k != "revert" && s.receipt(x).Status != 1 {
			s.t.Fatalf("tx %s failed on chain", k)
		}
	}
	return h
}

func ptr(a common.Address) *common.Address { return &a }

// flows sums what spoor stored as received and sent per asset for an
// address (nil totals when the address is unknown).
func flows(t *testing.T, st store.Store, a common.Address) map[string][2]*big.Int {
	t.Helper()
	out := map[string][2]*big.Int{}
	sum, err := st.Address(model.ETH, a.Bytes())
	if err != nil {
		return out
	}
	for _, as := range sum.Assets {
		out[string(as.Asset.Contract)] = [2]*big.Int{as.Received.ToBig(), as.Sent.ToBig()}
	}
	return out
}

// checkBalances compares spoor's balances of every scenario address with
// the chain's state at the head: ETH (genesis allocation + received − sent,
// since genesis allocations are not transactions) and the token
// (received − sent, minus what DestroyedBlackFunds burned: that burn emits
// no Transfer, spoor keeps it as a fact).
func (s *simChain) checkBalances(st store.Store) {
	t := s.t
	t.Helper()
	ctx := context.Background()
	destroyed := map[string]*big.Int{}
	facts, err := st.FactsOfKind(model.ETH, store.FactDestroyedBlackFunds)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range facts {
		destroyed[string(f.Subject)] = f.Amount.ToBig()
	}
	all := map[string]common.Address{}
	if s.token != (common.Address{}) {
		all["token"] = s.token
	}
	for k, v := range s.addrs {
		all[k] = v
	}
	for name, a := range all {
		fl := flows(t, st, a)
		want, err := s.cl.BalanceAt(ctx, a, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := new(big.Int)
		if g := s.genesis[a]; g != nil {
			got.Set(g)
		}
		if n, ok := fl[""]; ok {
			got.Add(got, n[0]).Sub(got, n[1])
		}
		if got.Cmp(want) != 0 {
			t.Errorf("%s ETH: spoor %s wei, chain %s wei", name, got, want)
		}
		if s.token == (common.Address{}) {
			continue // no token on this chain
		}
		tokWant := s.tokenBalance(a, nil)
		tokGot := new(big.Int)
		if n, ok := fl[string(s.token.Bytes())]; ok {
			tokGot.Sub(n[0], n[1])
		}
		if d := destroyed[string(a.Bytes())]; d != nil {
			tokGot.Sub(tokGot, d)
		}
		if tokGot.Cmp(tokWant) != 0 {
			t.Errorf("%s TOK: spoor %s, chain %s", name, tokGot, tokWant)
		}
	}
}

func TestETHRPCSimulatedChain(t *testing.T) {
	s := newSimChain(t)
	h := s.script()
	st := openStore(t)
	res, err := ETHRPC(st, s.url, RPCRange{}, false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	head, _ := s.cl.BlockNumber(context.Background())
	if res.Height != head || res.Applied != head+1 {
		t.Fatalf("ingest reached %d with %d blocks, chain head %d", res.Height, res.Applied, head)
	}
	s.checkBalances(st)

	// Carol holds tokens before the destroy: check her exact balance one
	// block before it against balanceOf at that block.
	if fl := flows(t, st, s.addrs["carol"]); fl[string(s.token.Bytes())][0].Cmp(big.NewInt(222)) != 0 {
		t.Errorf("carol received %v TOK, want 200 (transferFrom) + 22 (batch)", fl[string(s.token.Bytes())][0])
	}
	if b := s.tokenBalance(s.addrs["carol"], new(big.Int).SetUint64(head-1)); b.Int64() != 222 {
		t.Errorf("chain: carol held %s TOK before the destroy", b)
	}

	// The reverted transfer: failed, fee only, no token transfer.
	tv, err := st.Tx(model.ETH, h["revert"])
	if err != nil {
		t.Fatal(err)
	}
	r := s.receipt(h["revert"])
	fee := new(big.Int).Mul(new(big.Int).SetUint64(r.GasUsed), r.EffectiveGasPrice)
	if !tv.Failed || len(tv.Transfers) != 0 || tv.Fee.ToBig().Cmp(fee) != 0 || !bytes.Equal(tv.FeePayer, s.addrs["bob"].Bytes()) {
		t.Errorf("reverted tx stored as failed=%v transfers=%d fee=%s payer=%x; want failed, none, %s, bob",
			tv.Failed, len(tv.Transfers), tv.Fee.Dec(), tv.FeePayer, fee)
	}
	// The batch: three token transfers with the chain's log indexes.
	tv, err = st.Tx(model.ETH, h["batch"])
	if err != nil {
		t.Fatal(err)
	}
	br := s.receipt(h["batch"])
	if len(tv.Transfers) != 3 || len(br.Logs) != 3 {
		t.Fatalf("batch: %d transfers stored, %d logs on chain", len(tv.Transfers), len(br.Logs))
	}
	for i, x := range tv.Transfers {
		if x.LogIndex != int32(br.Logs[i].Index) || x.Asset.Symbol != "TOK" || x.Asset.Decimals != 6 || x.Value.Uint64() != uint64(11*(i+1)) {
			t.Errorf("batch transfer %d: log %d %s/%d value %s", i, x.LogIndex, x.Asset.Symbol, x.Asset.Decimals, x.Value.Dec())
		}
	}
	// Facts: the blacklisting and the destroyed funds, about carol.
	fs, err := st.Facts(model.ETH, s.addrs["carol"].Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 2 || fs[0].Kind != store.FactAddedBlackList || fs[1].Kind != store.FactDestroyedBlackFunds ||
		fs[1].Amount.Uint64() != 222 || !bytes.Equal(fs[0].Contract, s.token.Bytes()) || fs[0].TxID != h["black"] {
		t.Errorf("facts about carol: %+v", fs)
	}
	if len(res.UnknownDecimals) != 0 {
		t.Errorf("unknown decimals reported for %v", res.UnknownDecimals)
	}

	// Idempotent: a second run adds nothing and changes nothing.
	d1 := digest(t, st)
	res2, err := ETHRPC(st, s.url, RPCRange{}, false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Applied != 0 || digest(t, st) != d1 {
		t.Errorf("second run applied %d blocks or changed the store", res2.Applied)
	}
	net, _ := st.Network(model.ETH)
	if net != "chain-1337" {
		t.Errorf("network %q", net)
	}
}

// TestETHRPCReorg ingests, then forks the simulated chain below its head
// (go-ethereum's Backend.Fork) with different transactions, and ingests
// again: spoor must roll back to the fork point and end exactly where a
// fresh ingest of the new chain ends (same store digest), with balances
// matching the chain.
func TestETHRPCReorg(t *testing.T) {
	s := newSimChain(t)
	s.script()
	st := openStore(t)
	if _, err := ETHRPC(st, s.url, RPCRange{}, false, Options{}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	head, _ := s.cl.BlockNumber(ctx)
	forkAt := head - 2
	fb, err := s.cl.HeaderByNumber(ctx, new(big.Int).SetUint64(forkAt))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.sim.Fork(fb.Hash()); err != nil {
		t.Fatal(err)
	}
	// The side chain: different transactions, longer than the old one.
	// The old chain's dropped transactions return to the pool and are mined
	// again; bob and carol sent none of them, so their new ones are fresh.
	for _, n := range []string{"bob", "carol"} {
		nn, err := s.cl.NonceAt(ctx, s.addrs[n], nil)
		if err != nil {
			t.Fatal(err)
		}
		s.nonces[n] = nn
	}
	s.send("bob", ptr(s.addrs["dave"]), eth(3), nil)
	s.commit()
	s.send("carol", ptr(s.addrs["bob"]), eth(0.01), nil)
	s.commit()
	s.commit()
	newHead, _ := s.cl.BlockNumber(ctx)
	if newHead <= head {
		t.Fatalf("side chain head %d not above old head %d", newHead, head)
	}
	res, err := ETHRPC(st, s.url, RPCRange{}, false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.RolledBack != head-forkAt || res.Height != newHead {
		t.Fatalf("rolled back %d (want %d), reached %d (want %d)", res.RolledBack, head-forkAt, res.Height, newHead)
	}
	s.checkBalances(st)
	for _, f := range mustFacts(t, st) {
		if hb := s.receipt(f.TxID); hb.BlockNumber.Uint64() != f.Height {
			t.Errorf("fact %s at height %d is not where the new chain has its tx", f.Kind, f.Height)
		}
	}
	fresh := openStore(t)
	if _, err := ETHRPC(fresh, s.url, RPCRange{}, false, Options{}); err != nil {
		t.Fatal(err)
	}
	if digest(t, st) != digest(t, fresh) {
		t.Error("store after the reorg differs from a fresh ingest of the new chain")
	}
}

// noBlockReceipts forwards to the real node but answers
// eth_getBlockReceipts with "method not found", as older nodes do, so the
// per-transaction receipt path runs against the real chain.
func noBlockReceipts(t *testing.T, upstream string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), "eth_getBlockReceipts") {
			var reqs []struct {
				ID json.RawMessage `json:"id"`
			}
			if err := json.Unmarshal(body, &reqs); err != nil {
				var one struct {
					ID json.RawMessage `json:"id"`
				}
				json.Unmarshal(body, &one)
				reqs = append(reqs, one)
			}
			var out []string
			for _, q := range reqs {
				out = append(out, `{"jsonrpc":"2.0","id":`+string(q.ID)+`,"error":{"code":-32601,"message":"the method eth_getBlockReceipts does not exist/is not available"}}`)
			}
			w.Write([]byte("[" + strings.Join(out, ",") + "]"))
			return
		}
		resp, err := http.Post(upstream, "application/json", bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestETHRPCPerTxReceiptsSameStore(t *testing.T) {
	s := newSimChain(t)
	s.script()
	a, b := openStore(t), openStore(t)
	if _, err := ETHRPC(a, s.url, RPCRange{}, false, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ETHRPC(b, noBlockReceipts(t, s.url).URL, RPCRange{}, false, Options{}); err != nil {
		t.Fatal(err)
	}
	if digest(t, a) != digest(t, b) {
		t.Error("per-transaction receipts give a different store than eth_getBlockReceipts")
	}
	s.checkBalances(b)
}

// garbage serves the real node's answers with one field corrupted.
func TestETHRPCGarbageLeavesStore(t *testing.T) {
	s := newSimChain(t)
	s.script()
	st := openStore(t)
	// Ingest the first blocks, then the rest through a node that corrupts
	// one transaction value in the deployment block's successor.
	if _, err := ETHRPC(st, s.url, RPCRange{To: 2, HasTo: true}, false, Options{}); err != nil {
		t.Fatal(err)
	}
	before := digest(t, st)
	ethBlocksPerRequest = 1
	defer func() { ethBlocksPerRequest = 16 }()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		resp, err := http.Post(s.url, "application/json", bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), `["0x5",true]`) {
			out = bytes.Replace(out, []byte(`"value":"0x0"`), []byte(`"value":"0xZZ"`), 1)
		}
		w.Write(out)
	}))
	defer bad.Close()
	_, err := ETHRPC(st, bad.URL, RPCRange{}, false, Options{BatchTxs: 1})
	if err == nil || !strings.Contains(err.Error(), "eth block 5") || !strings.Contains(err.Error(), ".value") {
		t.Fatalf("want an error naming block 5 and the value field, got %v", err)
	}
	if digest(t, st) != before {
		t.Error("store changed by a failed ingest")
	}
	m, _ := st.Mark(model.ETH)
	if m.Height != 2 {
		t.Errorf("tip %d after the failed run, want 2", m.Height)
	}
}

func mustFacts(t *testing.T, st store.Store) []store.Fact {
	t.Helper()
	fs, err := st.FactsOfKind(model.ETH, "")
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestETHRPCRetries(t *testing.T) {
	fastRetries(t)
	s := newSimChain(t)
	s.script()
	clean, viaFlaky := openStore(t), openStore(t)
	if _, err := ETHRPC(clean, s.url, RPCRange{}, false, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ETHRPC(viaFlaky, flaky(t, s.url, false).URL, RPCRange{}, false, Options{}); err != nil {
		t.Fatalf("transient 503s not retried: %v", err)
	}
	if digest(t, clean) != digest(t, viaFlaky) {
		t.Error("retried ingest differs")
	}
}
