// Package store defines how spoor persists canonical chain data and reads it
// back: the Store interface that every backend implements (the embedded
// Pebble backend in store/pebblestore; a server backend later), the views it
// returns, and its errors. No storage-engine type appears here.
package store

import (
	"errors"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
)

// Errors. Match with errors.Is.
var (
	ErrNotFound = errors.New("store: not found")
	// ErrChain marks blocks that do not extend the stored chain (wrong
	// height or previous hash) or spend outputs that do not exist.
	ErrChain = errors.New("store: block does not fit the stored chain")
)

// Mark is the state of one chain in the store at a point in time. Undo(mark)
// returns the chain to exactly that state.
type Mark struct {
	HasBlocks bool
	Height    uint64 // highest block height stored (valid when HasBlocks)
	Hash      [32]byte
	NextTx    uint64 // next transaction number (dense, from 1, in ingest order)
	NextAddr  uint64 // next address id (dense, from 1)
	NextAsset uint32 // next token asset id (from 1; 0 is native)
	Blocks    uint64
	Txs       uint64
	Transfers uint64
}

// ApplyMode says how Apply treats block order.
type ApplyMode uint8

const (
	// Linked: each block must extend the stored tip (height+1, prev hash).
	// Required for UTXO chains and node sources with reorg handling.
	Linked ApplyMode = iota
	// Unordered: blocks may come in any height order (exports); a
	// transaction whose id is already stored is skipped, so overlapping
	// exports never double count.
	Unordered
)

// Writer ingests blocks.
type Writer interface {
	// Mark returns the chain's current state.
	Mark(c model.Chain) (Mark, error)
	// Apply stores blocks atomically: all or nothing, durable on return.
	// UTXO inputs are linked to the outputs they spend (and their Address,
	// Value and ScriptType filled in). It keeps no reference into blocks
	// once it returns: the caller may reuse their memory (the ETL import
	// does, see package etl's Recycler).
	Apply(c model.Chain, mode ApplyMode, blocks []*model.Block) error
	// Undo returns the chain to the state of mark, exactly: everything
	// applied after it is removed and spent outputs are restored.
	Undo(c model.Chain, m Mark) error
	// RollbackTo removes every block above height (a reorg to a fork point).
	RollbackTo(c model.Chain, height uint64) error
	// SetNetwork records the chain's network name ("mainnet", "regtest"...);
	// it is fixed once set.
	SetNetwork(c model.Chain, network string) error
	// PutAsset records or updates a token's symbol and decimals.
	PutAsset(c model.Chain, contract []byte, symbol string, decimals int) (model.AssetID, error)
}

// A Reserver makes room before a large ingest (optional: a backend that
// does not need it leaves it out). addresses and transfers are the
// caller's estimate of what it is about to apply to chain c, from the size
// of its input; the store may size its in-memory tables for them, within
// their usual caps, rather than grow them step by step. A wrong estimate
// costs memory or later growth, never correctness.
type Reserver interface {
	Reserve(c model.Chain, addresses, transfers uint64) error
}

// A Pipeliner lets an ingest resolve its next batch while the last one is
// made durable (optional). ApplyPipelined is Apply, except that it may
// return once the batch is stored in memory and written, before it is
// durable: its syncs and commit run in the background, in order, and
// every other call of the store waits for them (so reads and writes see
// the batch as Apply would have left it). Durable returns once every
// applied batch is durable. A failed background commit is returned by the
// next call, and by every call after it: the store must be reopened, and
// holds then exactly the batches committed before the failed one.
type Pipeliner interface {
	ApplyPipelined(c model.Chain, mode ApplyMode, blocks []*model.Block) error
	Durable() error
}

// Reader answers queries.
type Reader interface {
	Network(c model.Chain) (string, error)
	BlockHash(c model.Chain, height uint64) ([32]byte, error) // ErrNotFound
	Block(c model.Chain, height uint64) (*BlockInfo, error)
	Address(c model.Chain, addr []byte) (*AddressSummary, error) // ErrNotFound
	Tx(c model.Chain, txid [32]byte) (*TxView, error)            // ErrNotFound
	// TxByNum returns a transaction by its dense number (as AddressTxs lists
	// them).
	TxByNum(c model.Chain, n uint64) (*TxView, error)
	// TxsByNum calls fn with the transaction of each number in nums, in
	// the order given: TxByNum for many, read faster together (records
	// that share a stored block read once, address bytes and block times
	// looked up once).
	TxsByNum(c model.Chain, nums []uint64, fn func(i int, tv *TxView) error) error
	// AddressTxs lists an address's transactions in time order, starting at
	// transaction number after (exclusive), at most limit (0 = all).
	AddressTxs(c model.Chain, addr []byte, after uint64, limit int) ([]AddressTx, error)
	Assets(c model.Chain) ([]model.Asset, error)
	Stats() ([]ChainStats, error)
}

// Store is a complete backend.
type Store interface {
	Writer
	Reader
	PriceStore
	FactStore
	TagStore
	Close() error
}

// BlockInfo is a stored block header.
type BlockInfo struct {
	Height   uint64
	Hash     [32]byte
	PrevHash [32]byte
	Time     int64
	NTx      uint64
}

// AssetTotals are an address's totals in one asset, in base units.
type AssetTotals struct {
	Asset        model.Asset
	Received     uint256.Int
	Sent         uint256.Int
	TransfersIn  uint64
	TransfersOut uint64
}

// Balance is Received − Sent (zero if Sent exceeds Received, which only an
// incomplete ingest of an account chain can produce: reports must say so,
// as `spoor address` does with a negative balance and a note).
func (t *AssetTotals) Balance() uint256.Int {
	var b uint256.Int
	if t.Sent.Gt(&t.Received) {
		return b
	}
	b.Sub(&t.Received, &t.Sent)
	return b
}

// AddressSummary is what the store knows of one address.
type AddressSummary struct {
	Chain     model.Chain
	Address   []byte
	ID        uint64
	TxCount   uint64
	FirstSeen int64 // unix seconds
	LastSeen  int64
	Assets    []AssetTotals // native first, then by asset id
}

// TxInput is a linked UTXO input.
type TxInput struct {
	Address    []byte
	Value      uint64
	ScriptType model.ScriptType
	PrevTxID   [32]byte
	PrevIndex  uint32
}

// TxOutput is a UTXO output with the transaction that spent it, if any.
type TxOutput struct {
	Index      uint32
	Address    []byte
	Value      uint64
	ScriptType model.ScriptType
	SpentBy    *[32]byte
}

// TxTransfer is one value movement of an account-chain transaction.
type TxTransfer struct {
	From, To []byte
	Asset    model.Asset
	Value    uint256.Int
	LogIndex int32
}

// TxView is a stored transaction.
type TxView struct {
	Chain       model.Chain
	TxID        [32]byte
	TxNum       uint64
	BlockHeight uint64
	Time        int64
	Index       uint32
	Coinbase    bool
	Failed      bool
	Fee         uint256.Int
	FeePayer    []byte
	Inputs      []TxInput
	Outputs     []TxOutput
	Transfers   []TxTransfer
}

// AddressTx is one entry of an address's adjacency: a transaction and what
// the address received and sent in it, per asset.
type AddressTx struct {
	TxNum uint64
	Time  int64 // block time of the transaction (unix seconds)
	Asset model.AssetID
	In    uint256.Int
	Out   uint256.Int
}

// ChainStats are a chain's counters.
type ChainStats struct {
	Chain     model.Chain
	Network   string
	Height    uint64
	Blocks    uint64
	Txs       uint64
	Addresses uint64
	Transfers uint64
}
