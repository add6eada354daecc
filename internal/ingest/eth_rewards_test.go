package ingest

// Mainnet's pre-merge block and uncle rewards, against a REAL go-ethereum
// node (test-only GPL dependency) running a chain with mainnet's chain
// config (chain id 1, Frontier rules at these heights: 5 ETH a block),
// whose blocks go-ethereum's own chain maker built with the ethash engine
// in fake-PoW mode and inserted, so go-ethereum's consensus code computed
// every reward. The blocks are empty: before Byzantium receipts carry no
// status, which spoor refuses (success cannot be told), so transactions
// at these heights are out of reach; rewards are all this test is about.

import (
	"context"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus/ethash"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	geth "github.com/ethereum/go-ethereum/eth"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/p2p"
	"github.com/ethereum/go-ethereum/params"
	"github.com/spoor-dev/spoor/internal/model"
)

func TestETHRPCMainnetRewards(t *testing.T) {
	miners := []common.Address{common.HexToAddress("0x0000000000000000000000000000000000a11ce0"), common.HexToAddress("0x00000000000000000000000000000000000b0b00")}
	uncleMiner := common.HexToAddress("0x00000000000000000000000000000000000c0de0")
	gspec := &core.Genesis{Config: params.MainnetChainConfig, GasLimit: 5000, Alloc: types.GenesisAlloc{}}
	if gspec.Config.ChainID.Uint64() != 1 {
		t.Fatal("not mainnet's config")
	}
	// 8 blocks; block 4 includes two uncles (siblings of blocks 2 and 3),
	// block 7 one (a sibling of block 6).
	_, blocks, _ := core.GenerateChainWithGenesis(gspec, ethash.NewFaker(), 8, func(i int, g *core.BlockGen) {
		g.SetCoinbase(miners[i%2])
		uncle := func(j int, extra string) {
			h := g.PrevBlock(j).Header()
			h.Extra, h.Coinbase = []byte(extra), uncleMiner
			g.AddUncle(h)
		}
		switch i {
		case 3: // block 4
			uncle(1, "uncle of 2")
			uncle(2, "uncle of 3")
		case 6: // block 7
			uncle(5, "uncle of 6")
		}
	})

	port := freePort(t)
	nc := node.DefaultConfig
	nc.DataDir = ""
	nc.P2P = p2p.Config{NoDiscovery: true}
	nc.HTTPHost, nc.HTTPPort, nc.HTTPModules, nc.HTTPVirtualHosts = "127.0.0.1", port, []string{"eth"}, []string{"*"}
	stack, err := node.New(&nc)
	if err != nil {
		t.Fatal(err)
	}
	ec := ethconfig.Defaults
	ec.Genesis = gspec
	ec.SyncMode = ethconfig.FullSync
	ec.NetworkId = 1
	backend, err := geth.New(stack, &ec)
	if err != nil {
		t.Fatal(err)
	}
	if err := stack.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stack.Close() })
	if n, err := backend.BlockChain().InsertChain(blocks); err != nil {
		t.Fatalf("inserting block %d: %v", n, err)
	}
	url := "http://127.0.0.1:" + itoa(port)
	cl := ethclient.NewClient(stack.Attach())
	ctx := context.Background()

	st := openStore(t)
	res, err := ETHRPC(st, url, RPCRange{}, false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Height != 8 {
		t.Fatalf("ingested to %d, want 8", res.Height)
	}
	if n, _ := st.Network(model.ETH); n != "mainnet" {
		t.Fatalf("network %q", n)
	}
	// Every miner's and the uncle miner's balance is exactly what
	// go-ethereum's ethash rewards left them.
	for _, a := range append(miners, uncleMiner) {
		want, err := cl.BalanceAt(ctx, a, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := new(big.Int)
		if fl := flows(t, st, a); fl[""][0] != nil {
			got.Sub(fl[""][0], fl[""][1])
		}
		if got.Cmp(want) != 0 || want.Sign() == 0 {
			t.Errorf("%s: spoor %s wei, chain %s wei", a, got, want)
		}
	}
	// Block 4's credits: its miner's reward with two uncle bonuses, then
	// each uncle's reward, in the block's uncle order.
	b4 := blocks[3]
	tv, err := st.Tx(model.ETH, b4.Hash())
	if err != nil {
		t.Fatal(err)
	}
	five := new(big.Int).Mul(big.NewInt(5), big.NewInt(1e18))
	want := []struct {
		to    common.Address
		value *big.Int
		idx   int32
	}{
		{b4.Coinbase(), new(big.Int).Add(five, new(big.Int).Div(five, big.NewInt(16))), model.CreditBlockReward}, // + 2 × reward/32
		{uncleMiner, new(big.Int).Div(new(big.Int).Mul(five, big.NewInt(6)), big.NewInt(8)), model.CreditUncle0}, // uncle 2 in block 4: 6/8
		{uncleMiner, new(big.Int).Div(new(big.Int).Mul(five, big.NewInt(7)), big.NewInt(8)), model.CreditUncle0 + 1},
	}
	if !tv.Coinbase || len(tv.Transfers) != len(want) || len(b4.Uncles()) != 2 {
		t.Fatalf("block 4 credits: %+v (block has %d uncles)", tv, len(b4.Uncles()))
	}
	for i, w := range want {
		x := tv.Transfers[i]
		if x.From != nil || common.BytesToAddress(x.To) != w.to || x.Value.ToBig().Cmp(w.value) != 0 || x.LogIndex != w.idx {
			t.Errorf("block 4 credit %d: →%x %s #%d, want →%s %s #%d", i, x.To, x.Value.Dec(), x.LogIndex, w.to, w.value, w.idx)
		}
	}
	// Idempotent.
	d := digest(t, st)
	if r, err := ETHRPC(st, url, RPCRange{}, false, Options{}); err != nil || r.Applied != 0 || digest(t, st) != d {
		t.Errorf("second run: %v, %+v, store changed %v", err, r, digest(t, st) != d)
	}
}
