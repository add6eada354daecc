package ingest

import (
	"maps"
	"testing"

	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	geth "github.com/ethereum/go-ethereum/eth"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/p2p"
	"github.com/ethereum/go-ethereum/params"
)

// newGethNode makes a real go-ethereum dev-chain node (not started) that
// serves the given JSON-RPC modules over HTTP on a free loopback port, with
// alloc as its genesis accounts; the caller registers any further APIs,
// starts it, and gets it closed at the end of the test.
func newGethNode(t *testing.T, alloc types.GenesisAlloc, modules ...string) (*node.Node, *geth.Ethereum, int) {
	t.Helper()
	port := freePort(t)
	nc := node.DefaultConfig
	nc.DataDir = ""
	nc.P2P = p2p.Config{NoDiscovery: true}
	nc.HTTPHost, nc.HTTPPort, nc.HTTPModules, nc.HTTPVirtualHosts = "127.0.0.1", port, modules, []string{"*"}
	stack, err := node.New(&nc)
	if err != nil {
		t.Fatal(err)
	}
	ec := ethconfig.Defaults
	ec.Genesis = &core.Genesis{Config: params.AllDevChainProtocolChanges, GasLimit: ethconfig.Defaults.Miner.GasCeil, Alloc: maps.Clone(alloc)}
	ec.SyncMode = ethconfig.FullSync
	ec.TxPool.NoLocals = true
	backend, err := geth.New(stack, &ec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stack.Close() })
	return stack, backend, port
}
