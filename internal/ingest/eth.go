package ingest

import (
	"fmt"

	"github.com/spoor-dev/spoor/internal/chain/evmrpc"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// ethNode adapts an evmrpc client to nodeSource.
type ethNode struct{ c *evmrpc.Client }

func (e ethNode) name() string                    { return e.c.URL }
func (e ethNode) tip() (uint64, error)            { return e.c.BlockNumber() }
func (e ethNode) hash(h uint64) ([32]byte, error) { return e.c.BlockHash(h) }
func (e ethNode) chunk() int                      { return ethBlocksPerRequest }

// ethBlocksPerRequest is how many blocks one batch request asks for.
var ethBlocksPerRequest = 16

func (e ethNode) fetch(from, to uint64) ([]nodeBlock, error) {
	ds, err := e.c.Blocks(from, to)
	if err != nil {
		return nil, err
	}
	out := make([]nodeBlock, len(ds))
	for i, d := range ds {
		out[i] = nodeBlock{blk: d.Block, facts: d.Facts, contracts: d.Contracts,
			where: fmt.Sprintf("node %s block %d", e.c.URL, d.Block.Height)}
	}
	return out, nil
}

func (e ethNode) tokens(contracts [][]byte, _ uint64) ([]evmrpc.Token, error) {
	return e.c.Tokens(contracts, "latest")
}

// ETHRPC ingests Ethereum from a node's JSON-RPC API at url: blocks with
// full transactions, receipts, ERC-20 Transfer logs of any contract and
// blacklist facts, incrementally from the stored tip, reorg-safe (see
// nodeIngest), staying rng.Confirmations behind the node's head. What each
// block credits (its fee recipient's priority fees, beacon-chain
// withdrawals and, on mainnet before the merge, block and uncle rewards)
// is stored as the block's credits pseudo-transaction (model.CreditFees),
// so fee recipients, validators' withdrawal addresses and old miners hold
// what the chain says.
//
// With traces, every block's call traces are read too (the node must serve
// debug_traceBlockByHash) and the ETH that contracts move becomes internal
// transfers; without, an address paid by a contract (a mixer's or a
// multisig's payout) shows less received than it holds.
func ETHRPC(st store.Store, url string, rng RPCRange, traces bool, opts Options) (*Result, error) {
	c := evmrpc.New(url)
	c.Traces = traces
	id, err := c.ChainID()
	if err != nil {
		return nil, err
	}
	if err := st.SetNetwork(model.ETH, evmrpc.Network(id)); err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	return nodeIngest(st, model.ETH, ethNode{c}, rng, opts)
}
