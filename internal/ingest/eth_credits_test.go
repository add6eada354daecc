package ingest

// What blocks credit (the fee recipient's priority fees and beacon-chain
// withdrawals), ingested from a REAL go-ethereum node: the simulated
// backend's stack (eth service and simulated beacon, test-only GPL
// dependency) with the simulated beacon's "dev" API served over HTTP, the
// one go-ethereum's dev mode serves: dev_setFeeRecipient picks who the
// next blocks pay, dev_addWithdrawal queues a withdrawal for the next
// block. Every balance is compared with eth_getBalance.

import (
	"bytes"
	"context"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/eth/catalyst"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/trace"
)

// beaconChain is a simChain whose blocks are sealed by a simulated beacon
// that serves the dev API; dev is an RPC client of the node.
type beaconChain struct {
	*simChain
	dev    *rpc.Client
	beacon *catalyst.SimulatedBeacon
}

// firstFeeRecipient is who the blocks pay before dev_setFeeRecipient.
var firstFeeRecipient = common.HexToAddress("0xfee0000000000000000000000000000000000fee")

func newBeaconChain(t *testing.T) *beaconChain {
	t.Helper()
	alloc := core.SystemContractAllocs()
	// alice starts with 100 ETH; the builder (fee recipient) and the
	// validator (withdrawal address) with nothing: all they spend, blocks
	// credited them.
	s := newAccounts(t, alloc, "spoor credits key ", 1, "alice", "builder", "validator", "carol")
	s.addrs["first fee recipient"] = firstFeeRecipient
	stack, backend, port := newGethNode(t, alloc, "eth", "dev")
	// A period keeps the dev API from sealing a block per transaction
	// (its on-demand mode); the beacon's own period loop never starts (it
	// is not registered as a lifecycle), so blocks are sealed by commit
	// only, as in the other simulated chains.
	beacon, err := catalyst.NewSimulatedBeacon(3600, firstFeeRecipient, backend)
	if err != nil {
		t.Fatal(err)
	}
	catalyst.RegisterSimulatedBeaconAPIs(stack, beacon)
	if err := stack.Start(); err != nil {
		t.Fatal(err)
	}
	s.useBeacon(stack, backend, beacon, port)
	dev, err := rpc.DialHTTP(s.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dev.Close)
	return &beaconChain{simChain: s, dev: dev, beacon: beacon}
}

// withdraw queues a withdrawal of gwei to name for the next block, through
// the node's dev API.
func (b *beaconChain) withdraw(index, validator uint64, name string, gwei uint64) {
	b.t.Helper()
	w := &types.Withdrawal{Index: index, Validator: validator, Address: b.addrs[name], Amount: gwei}
	if err := b.dev.Call(nil, "dev_addWithdrawal", w); err != nil {
		b.t.Fatalf("dev_addWithdrawal: %v", err)
	}
}

// creditsScenario: blocks with tips to the first fee recipient, then to
// the builder; withdrawals (two in one block, one with transactions); the
// builder and the validator spending what blocks credited them. It returns
// the blocks with withdrawals, by name.
func (b *beaconChain) creditsScenario() map[string]common.Hash {
	t := b.t
	t.Helper()
	a := b.addrs
	b.send("alice", ptr(a["carol"]), eth(1), nil)
	b.send("alice", ptr(a["carol"]), eth(2), nil)
	b.commit()
	if err := b.dev.Call(nil, "dev_setFeeRecipient", a["builder"]); err != nil {
		t.Fatalf("dev_setFeeRecipient: %v", err)
	}
	for range 3 {
		b.send("alice", ptr(a["carol"]), eth(0.5), nil)
	}
	b.commit()
	blocks := map[string]common.Hash{}
	b.withdraw(0, 1001, "validator", 32_000_000_000) // a full exit: 32 ETH
	b.withdraw(1, 1002, "validator", 17_123_456)     // a skim, 0.017123456 ETH
	b.withdraw(2, 1003, "carol", 1)                  // 1 Gwei
	b.commit()
	blocks["withdrawals"] = b.head()
	// The builder and the validator spend what blocks credited them, in a
	// block that also has a withdrawal.
	b.sendCapped("builder", a["alice"], eth(0.00001), 5e9) // all its tips could not pay a 100 Gwei cap
	b.send("validator", ptr(a["carol"]), eth(20), nil)
	b.withdraw(3, 1001, "validator", 5)
	b.commit()
	blocks["mixed"] = b.head()
	return blocks
}

// sendCapped sends value from name with a fee cap of feeCap wei per gas
// (and a 1 Gwei tip).
func (b *beaconChain) sendCapped(name string, to common.Address, value *big.Int, feeCap int64) {
	b.t.Helper()
	tx := types.NewTx(&types.DynamicFeeTx{ChainID: big.NewInt(1337), Nonce: b.nonces[name], To: &to, Value: value,
		Gas: 21000, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(feeCap)})
	signed, err := types.SignTx(tx, types.LatestSignerForChainID(big.NewInt(1337)), b.keys[name])
	if err != nil {
		b.t.Fatal(err)
	}
	if err := b.cl.SendTransaction(context.Background(), signed); err != nil {
		b.t.Fatalf("send from %s: %v", name, err)
	}
	b.nonces[name]++
	b.sent++
}

func (b *beaconChain) head() common.Hash {
	b.t.Helper()
	h, err := b.cl.HeaderByNumber(context.Background(), nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return h.Hash()
}

func TestETHRPCBlockCredits(t *testing.T) {
	b := newBeaconChain(t)
	blocks := b.creditsScenario()
	a := b.addrs
	ctx := context.Background()
	st := openStore(t)
	res, err := ETHRPC(st, b.url, RPCRange{}, false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Every address holds exactly what the chain says: the builder and
	// the validator (who spent more than any transaction sent them), the
	// first fee recipient, carol (withdrawals and transfers).
	b.checkBalances(st)
	for _, who := range []string{"builder", "validator", "first fee recipient"} {
		if bal, _ := b.cl.BalanceAt(ctx, a[who], nil); bal.Sign() == 0 {
			t.Fatalf("%s holds nothing on chain: the scenario tests nothing", who)
		}
	}

	// The withdrawal block's credits, field by field against go-ethereum's
	// view of the block.
	gb, err := b.cl.BlockByHash(ctx, blocks["withdrawals"])
	if err != nil {
		t.Fatal(err)
	}
	tv, err := st.Tx(model.ETH, blocks["withdrawals"])
	if err != nil {
		t.Fatalf("block credits of %s: %v", blocks["withdrawals"], err)
	}
	ws := gb.Withdrawals()
	if len(ws) != 3 {
		t.Fatalf("block has %d withdrawals, want 3", len(ws))
	}
	if !tv.Coinbase || !tv.Fee.IsZero() || tv.FeePayer != nil || tv.BlockHeight != gb.NumberU64() || tv.Index != uint32(len(gb.Transactions())) ||
		len(tv.Transfers) != len(ws) {
		t.Fatalf("credits tx: coinbase %v fee %s payer %x height %d index %d, %d transfers",
			tv.Coinbase, tv.Fee.Dec(), tv.FeePayer, tv.BlockHeight, tv.Index, len(tv.Transfers))
	}
	for i, w := range ws {
		x := tv.Transfers[i]
		want := new(big.Int).Mul(new(big.Int).SetUint64(w.Amount), big.NewInt(1e9))
		if x.From != nil || !bytes.Equal(x.To, w.Address.Bytes()) || x.Value.ToBig().Cmp(want) != 0 || x.LogIndex != int32(-2-i) || x.Asset.Symbol != "ETH" {
			t.Errorf("withdrawal %d: %x→%x %s %s #%d, want →%s %s wei #%d", i, x.From, x.To, x.Value.Dec(), x.Asset.Symbol, x.LogIndex, w.Address, want, -2-i)
		}
	}
	// The mixed block: the builder's tips first, then the withdrawal.
	mb, err := b.cl.BlockByHash(ctx, blocks["mixed"])
	if err != nil {
		t.Fatal(err)
	}
	mv, err := st.Tx(model.ETH, blocks["mixed"])
	if err != nil {
		t.Fatal(err)
	}
	var tips big.Int
	for _, tx := range mb.Transactions() {
		r := b.receipt(tx.Hash())
		tip := new(big.Int).Sub(r.EffectiveGasPrice, mb.BaseFee())
		tips.Add(&tips, tip.Mul(tip, new(big.Int).SetUint64(r.GasUsed)))
	}
	if len(mv.Transfers) != 2 || !bytes.Equal(mv.Transfers[0].To, a["builder"].Bytes()) || mv.Transfers[0].LogIndex != -1 ||
		mv.Transfers[0].Value.ToBig().Cmp(&tips) != 0 || mv.Transfers[1].LogIndex != -2 || mv.Transfers[1].Value.Uint64() != 5e9 {
		t.Errorf("mixed block credits: %+v; want tips %s to the builder, then 5 Gwei", mv.Transfers, &tips)
	}
	if mb.Coinbase() != a["builder"] || tips.Sign() == 0 {
		t.Errorf("mixed block: coinbase %s, tips %s", mb.Coinbase(), &tips)
	}

	// Nobody is not a counterparty of an address: the validator's incoming
	// counterparty for withdrawals has no address (new value), as a
	// coinbase or a token mint has.
	cps, err := trace.Counterparties(st, model.ETH, a["validator"].Bytes(), trace.In, trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cps) != 1 || cps[0].Address != nil || cps[0].Txs != 2 {
		t.Fatalf("validator's incoming counterparties: %+v", cps)
	}
	wantIn := new(big.Int).Add(eth(32), big.NewInt(17_123_456e9+5e9))
	if cps[0].Value.ToBig().Cmp(wantIn) != 0 {
		t.Errorf("validator received %s wei from withdrawals, want %s", cps[0].Value.Dec(), wantIn)
	}

	// Idempotent: a second run adds nothing and changes nothing.
	d1 := digest(t, st)
	res2, err := ETHRPC(st, b.url, RPCRange{}, false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Applied != 0 || digest(t, st) != d1 {
		t.Errorf("second run applied %d blocks or changed the store", res2.Applied)
	}
	// Ingesting in two runs (split inside the scenario) gives the same
	// store as one.
	split := openStore(t)
	if _, err := ETHRPC(split, b.url, RPCRange{To: res.Height - 1, HasTo: true}, false, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ETHRPC(split, b.url, RPCRange{}, false, Options{}); err != nil {
		t.Fatal(err)
	}
	if digest(t, split) != d1 {
		t.Error("two runs give a different store than one")
	}
}

// TestETHRPCBlockCreditsGarbage: a malformed withdrawal amount or miner
// field fails the ingest with an error naming the block and the field,
// and leaves the store as it was.
func TestETHRPCBlockCreditsGarbage(t *testing.T) {
	b := newBeaconChain(t)
	blocks := b.creditsScenario()
	gb, err := b.cl.HeaderByHash(context.Background(), blocks["withdrawals"])
	if err != nil {
		t.Fatal(err)
	}
	n := gb.Number.Uint64()
	ethBlocksPerRequest = 1
	defer func() { ethBlocksPerRequest = 16 }()
	for _, c := range []struct {
		name, field string
		mut         func(string) string
	}{
		{"amount", "withdrawals[1].amount", func(s string) string { // 65 bits of Gwei
			return strings.Replace(s, `"amount":"`+hexQ(17_123_456)+`"`, `"amount":"0x1ffffffffffffffff"`, 1)
		}},
		{"miner", "field miner", func(s string) string {
			return strings.Replace(s, `"miner":"0x`, `"miner":"0x12`, 1)
		}},
		{"address", "withdrawals[0].address", func(s string) string {
			return strings.Replace(s, `"address":"0x`, `"address":"0xzz`, 1)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := openStore(t)
			if _, err := ETHRPC(st, b.url, RPCRange{To: n - 1, HasTo: true}, false, Options{}); err != nil {
				t.Fatal(err)
			}
			before := digest(t, st)
			mutated := false
			bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				resp, err := http.Post(b.url, "application/json", bytes.NewReader(body))
				if err != nil {
					http.Error(w, err.Error(), 502)
					return
				}
				out, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if strings.Contains(string(body), `["`+hexQ(n)+`",true]`) {
					m := c.mut(string(out))
					mutated = mutated || m != string(out)
					out = []byte(m)
				}
				w.Write(out)
			}))
			defer bad.Close()
			_, err := ETHRPC(st, bad.URL, RPCRange{}, false, Options{BatchTxs: 1})
			if !mutated {
				t.Fatal("the mutation did not apply")
			}
			if err == nil || !strings.Contains(err.Error(), "eth block "+itoa(int(n))+":") || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("want an error naming block %d and %s, got %v", n, c.field, err)
			}
			if digest(t, st) != before {
				t.Error("store changed by a failed ingest")
			}
			if m, _ := st.Mark(model.ETH); m.Height != n-1 {
				t.Errorf("tip %d after the failed run, want %d", m.Height, n-1)
			}
		})
	}
}

func hexQ(n uint64) string { return "0x" + new(big.Int).SetUint64(n).Text(16) }

// TestETHRPCBlockCreditsReorg: blocks with withdrawals and tips replaced by
// a longer side chain with other credits: the rolled-back blocks' credits
// leave the store, the new ones enter, and the store equals a fresh
// ingest of the new chain, every balance exact.
func TestETHRPCBlockCreditsReorg(t *testing.T) {
	b := newBeaconChain(t)
	b.creditsScenario()
	ctx := context.Background()
	st := openStore(t)
	if _, err := ETHRPC(st, b.url, RPCRange{}, false, Options{}); err != nil {
		t.Fatal(err)
	}
	head, err := b.cl.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	forkAt := head - 2 // drops the withdrawals block and the mixed one
	fb, err := b.cl.HeaderByNumber(ctx, new(big.Int).SetUint64(forkAt))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.beacon.Fork(fb.Hash()); err != nil {
		t.Fatal(err)
	}
	if err := b.dev.Call(nil, "dev_setFeeRecipient", firstFeeRecipient); err != nil {
		t.Fatal(err)
	}
	b.withdraw(10, 2001, "validator", 40_000_000_000)
	b.send("alice", ptr(b.addrs["carol"]), eth(0.1), nil)
	b.commit()
	b.withdraw(11, 2002, "carol", 7)
	b.commit()
	b.commit()
	newHead, _ := b.cl.BlockNumber(ctx)
	if newHead <= head {
		t.Fatalf("side chain head %d not above old head %d", newHead, head)
	}
	res, err := ETHRPC(st, b.url, RPCRange{}, false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.RolledBack != head-forkAt || res.Height != newHead {
		t.Fatalf("rolled back %d (want %d), reached %d (want %d)", res.RolledBack, head-forkAt, res.Height, newHead)
	}
	b.checkBalances(st)
	fresh := openStore(t)
	if _, err := ETHRPC(fresh, b.url, RPCRange{}, false, Options{}); err != nil {
		t.Fatal(err)
	}
	if digest(t, st) != digest(t, fresh) {
		t.Error("store after the reorg differs from a fresh ingest of the new chain")
	}
}
