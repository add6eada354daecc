// Package model defines spoor's chain-agnostic canonical data: chains, assets,
// addresses, blocks, transactions with UTXO inputs and outputs, and
// address-level transfers with exact integer amounts.
//
// Chain adapters produce these types; the store persists them; analytics read
// them back. Nothing here knows about a file format, a node protocol or a
// storage engine.
package model

import (
	"fmt"
	"strings"

	"github.com/holiman/uint256"
)

// Chain identifies a blockchain.
type Chain uint8

// Chains spoor knows. The numeric values are persisted: never renumber.
const (
	ChainUnknown Chain = 0
	BTC          Chain = 1
	Tron         Chain = 2
	ETH          Chain = 3
	XMR          Chain = 4
)

// AllChains lists every chain in a stable order.
var AllChains = []Chain{BTC, Tron, ETH, XMR}

var chainNames = map[Chain]string{BTC: "btc", Tron: "tron", ETH: "eth", XMR: "xmr"}

func (c Chain) String() string {
	if n, ok := chainNames[c]; ok {
		return n
	}
	return fmt.Sprintf("chain(%d)", uint8(c))
}

// ParseChain maps a name ("btc", "tron", "eth", "xmr", and common aliases) to a Chain.
func ParseChain(s string) (Chain, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "btc", "bitcoin", "xbt":
		return BTC, nil
	case "tron", "trx":
		return Tron, nil
	case "eth", "ethereum":
		return ETH, nil
	case "xmr", "monero":
		return XMR, nil
	}
	return ChainUnknown, fmt.Errorf("model: unknown chain %q (want btc, tron, eth or xmr)", s)
}

// IsUTXO reports whether the chain moves value through spent outputs.
func (c Chain) IsUTXO() bool { return c == BTC }

// NativeSymbol is the ticker of the chain's native asset.
func (c Chain) NativeSymbol() string {
	switch c {
	case BTC:
		return "BTC"
	case Tron:
		return "TRX"
	case ETH:
		return "ETH"
	case XMR:
		return "XMR"
	}
	return ""
}

// NativeDecimals is the number of decimals of the chain's native asset base unit.
func (c Chain) NativeDecimals() int {
	switch c {
	case BTC:
		return 8
	case Tron:
		return 6
	case ETH:
		return 18
	case XMR:
		return 12
	}
	return -1
}

// AssetID numbers assets within one chain. 0 is always the native asset.
type AssetID uint32

// Native is the AssetID of a chain's native coin.
const Native AssetID = 0

// Asset is a native coin or a token contract on one chain.
type Asset struct {
	Chain    Chain
	ID       AssetID
	Contract []byte // canonical contract address bytes; nil for the native asset
	Symbol   string
	Decimals int // -1 when unknown: amounts are then shown in base units only
}

// ScriptType is how a Bitcoin output locks its value. Persisted: never renumber.
type ScriptType uint8

const (
	ScriptNone           ScriptType = 0 // account chains
	ScriptP2PKH          ScriptType = 1
	ScriptP2SH           ScriptType = 2
	ScriptP2WPKH         ScriptType = 3
	ScriptP2WSH          ScriptType = 4
	ScriptP2TR           ScriptType = 5
	ScriptP2PK           ScriptType = 6 // attributed to the P2PKH address of its key
	ScriptMultisig       ScriptType = 7 // bare multisig: pseudo-address
	ScriptNullData       ScriptType = 8 // OP_RETURN: pseudo-address
	ScriptNonStandard    ScriptType = 9 // anything else: pseudo-address
	ScriptWitnessUnknown ScriptType = 10
)

var scriptTypeNames = [...]string{"none", "p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr", "p2pk", "multisig", "nulldata", "nonstandard", "witness_unknown"}

func (s ScriptType) String() string {
	if int(s) < len(scriptTypeNames) {
		return scriptTypeNames[s]
	}
	return fmt.Sprintf("script(%d)", uint8(s))
}

// Address is an address in canonical bytes. For Bitcoin the first byte is the
// address kind (see package address) followed by the hash; for Tron it is the
// 21-byte 0x41-prefixed form; for Ethereum the 20 raw bytes.
type Address struct {
	Chain Chain
	Bytes []byte
}

// Key returns the address bytes as a string, usable as a map key.
func (a Address) Key() string { return string(a.Bytes) }

// Block is one block of any chain, with its transactions in block order.
type Block struct {
	Chain    Chain
	Height   uint64
	Hash     [32]byte
	PrevHash [32]byte
	Time     int64 // unix seconds
	Txs      []Tx
}

// Tx is a transaction. UTXO chains fill Inputs and Outputs; account chains fill
// Transfers (value movements, native and token, in log order) and Fee/FeePayer.
type Tx struct {
	ID    [32]byte
	Index uint32 // position in block
	// Failed marks an account-chain transaction that reverted: it pays its fee
	// and moves nothing else.
	Failed bool

	Inputs  []Input  // UTXO chains
	Outputs []Output // UTXO chains
	// Coinbase marks a UTXO transaction that creates new coins (no real
	// inputs), and on account chains a block-credits pseudo-transaction.
	Coinbase bool

	Transfers []Transfer // account chains
	Fee       uint256.Int
	FeePayer  []byte // canonical address bytes of who paid Fee (account chains)
}

// Block credits (account chains). What a block itself credits, rather than
// one of its transactions, is one pseudo-transaction after the block's
// last: ID = the block hash (it cannot collide with a txid), Index = the
// number of real transactions, Coinbase = true, no fee and no fee payer.
// Its Transfers have an empty From ("nobody": new issuance, or fees the
// block collected from its transactions) and, in this order and with
// these LogIndex values:
//
//   - CreditFees: the fee recipient's (Ethereum's block.miner) priority
//     fees, Σ gasUsed × (effectiveGasPrice − baseFeePerGas) of the block's
//     transactions (Σ gasUsed × gasPrice before London; the base fee and
//     blob fees are burnt, nobody receives them);
//   - CreditBlockReward: the miner's block reward, with its bonus for the
//     uncles it included (Ethereum mainnet before the merge);
//   - CreditUncle0+k: the reward of the miner of the block's k-th uncle;
//   - CreditWithdrawal0−n: the block's n-th beacon-chain withdrawal
//     (its position in block.withdrawals, not its global index).
//
// A credit of zero is left out; a block that credits nothing has no such
// transaction. The ranges cannot meet: a block holds at most two uncles
// and far fewer than 2³¹ withdrawals.
const (
	CreditFees        int32 = -1
	CreditWithdrawal0 int32 = -2
	CreditBlockReward int32 = -1 << 31
	CreditUncle0      int32 = CreditBlockReward + 1
)

// Input spends a previous output. The adapter fills PrevTxID/PrevIndex; the
// store links it and fills Address, Value and ScriptType from the spent output.
type Input struct {
	PrevTxID   [32]byte
	PrevIndex  uint32
	Address    []byte
	Value      uint64
	ScriptType ScriptType
}

// Output creates value locked to an address.
type Output struct {
	Index      uint32
	Address    []byte // canonical address bytes (pseudo-address for non-standard scripts)
	Value      uint64
	ScriptType ScriptType
}

// Transfer is an address-to-address movement of one asset on an account chain.
type Transfer struct {
	From, To []byte // canonical address bytes
	Contract []byte // nil for the native asset, else the token contract's address bytes
	Value    uint256.Int
	// LogIndex locates the event: Ethereum uses the block-wide logIndex (as
	// ethereum-etl numbers it, so node and export ingests agree); Tron, whose
	// API gives no index, the position in the transaction's log array. -1 is
	// the transaction's native value, -2-n its internal transfer n. In a
	// block-credits pseudo-transaction the Credit* constants number them.
	LogIndex int32
}
