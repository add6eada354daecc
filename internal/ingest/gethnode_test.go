package ingest

import (
	"crypto/ecdsa"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/catalyst"
	"github.com/ethereum/go-ethereum/ethclient"
	"maps"
	"math/big"
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

// newAccounts returns a chain's test state with keyed accounts named names
// (keys derived from seed and the name), the first funded of them holding
// 100 ETH in alloc (and in s.genesis).
func newAccounts(t *testing.T, alloc types.GenesisAlloc, seed string, funded int, names ...string) *simChain {
	t.Helper()
	s := &simChain{t: t, keys: map[string]*ecdsa.PrivateKey{}, addrs: map[string]common.Address{},
		nonces: map[string]uint64{}, genesis: map[common.Address]*big.Int{}}
	for i, name := range names {
		k, err := crypto.ToECDSA(crypto.Keccak256([]byte(seed + name)))
		if err != nil {
			t.Fatal(err)
		}
		s.keys[name], s.addrs[name] = k, crypto.PubkeyToAddress(k.PublicKey)
		if i < funded {
			bal := new(big.Int).Mul(big.NewInt(100), big.NewInt(1e18))
			alloc[s.addrs[name]] = types.Account{Balance: bal}
			s.genesis[s.addrs[name]] = bal
		}
	}
	return s
}

// useBeacon makes beacon, over the started node's backend, seal s's blocks
// (on demand, at commit), and s talk to the node.
func (s *simChain) useBeacon(stack *node.Node, backend *geth.Ethereum, beacon *catalyst.SimulatedBeacon, port int) {
	s.t.Helper()
	if err := beacon.Fork(backend.BlockChain().GetCanonicalHash(0)); err != nil {
		s.t.Fatal(err)
	}
	// The pool resets to a new head in the background: a send right
	// after a block could be checked against the state before it (a
	// withdrawal's recipient with no balance yet). Sync waits for it.
	s.seal = func() {
		beacon.Commit()
		if err := backend.TxPool().Sync(); err != nil {
			s.t.Fatal(err)
		}
	}
	s.cl = ethclient.NewClient(stack.Attach())
	s.url = "http://127.0.0.1:" + itoa(port)
}
