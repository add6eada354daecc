// Package btc is spoor's Bitcoin adapter: it reads Bitcoin Core blk files
// (XOR-obfuscated or not, out of height order) and node RPC (raw blocks, as
// Bitcoin Core and btcd both serve them), decodes blocks, classifies output
// scripts into canonical addresses, and hands canonical model blocks to the
// ingest driver.
//
// Ingest decodes with DecodeBlock, a bounded zero-copy decoder of its own:
// btcd's wire allocates per input, output and script and re-serialises each
// transaction to hash it, which alone costs about twice wire's decode time
// and would put the ingest target (60% of wire's rate) out of reach.
// btcd's wire stays the reference: ConvertBlock turns a wire block into the
// same canonical block, and DecodeBlock is differential-tested against it on
// every real block of btcd's test data and fuzzed against it
// (FuzzDecodeBlock). wire still reads block headers for the blk-file index
// and serves the tests.
package btc

import (
	"fmt"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/spoor-dev/spoor/internal/address"
	"github.com/spoor-dev/spoor/internal/chain/btc/hash160"
	"github.com/spoor-dev/spoor/internal/chain/btc/sha256d"
	"github.com/spoor-dev/spoor/internal/model"
)

// displayHash turns a wire hash (internal byte order) into the byte order
// explorers display, which is what model hashes hold.
func displayHash(h *chainhash.Hash) (d [32]byte) {
	for i := 0; i < 32; i++ {
		d[i] = h[31-i]
	}
	return d
}

// WireHash turns a display-order hash back into a chainhash.Hash.
func WireHash(d [32]byte) (h chainhash.Hash) {
	for i := 0; i < 32; i++ {
		h[i] = d[31-i]
	}
	return h
}

// ClassifyScript returns the canonical address bytes an output script pays
// and its script type. P2PK pays the P2PKH address of its key; anything
// without a standard address gets a pseudo-address: sha256 of the script.
func ClassifyScript(pk []byte) ([]byte, model.ScriptType) {
	return AppendScriptAddress(make([]byte, 0, addrLen(pk)), pk)
}

// AppendScriptAddress is ClassifyScript writing the address bytes at the end
// of dst (an arena shared by many outputs) instead of allocating them.
func AppendScriptAddress(dst, pk []byte) ([]byte, model.ScriptType) {
	st, kind, h := classify(pk)
	switch st {
	case model.ScriptP2PK:
		sum := hash160.Sum(h)
		return append(append(dst, kind), sum[:]...), st
	case model.ScriptNullData, model.ScriptWitnessUnknown, model.ScriptMultisig, model.ScriptNonStandard:
		sum := sha256d.Sum256(pk)
		return append(append(dst, kind), sum[:]...), st
	}
	return append(append(dst, kind), h...), st
}

// classify types an output script and returns the address kind byte and
// the bytes it hashes to the address: the hash itself for the standard
// types, the public key for P2PK (Hash160 still to apply), nil for the
// pseudo-address types (sha256 of the whole script).
func classify(pk []byte) (model.ScriptType, byte, []byte) {
	n := len(pk)
	switch {
	case n == 25 && pk[0] == 0x76 && pk[1] == 0xa9 && pk[2] == 0x14 && pk[23] == 0x88 && pk[24] == 0xac:
		return model.ScriptP2PKH, address.BTCKindP2PKH, pk[3:23]
	case n == 23 && pk[0] == 0xa9 && pk[1] == 0x14 && pk[22] == 0x87:
		return model.ScriptP2SH, address.BTCKindP2SH, pk[2:22]
	case n == 22 && pk[0] == 0x00 && pk[1] == 0x14:
		return model.ScriptP2WPKH, address.BTCKindP2WPKH, pk[2:]
	case n == 34 && pk[0] == 0x00 && pk[1] == 0x20:
		return model.ScriptP2WSH, address.BTCKindP2WSH, pk[2:]
	case n == 34 && pk[0] == 0x51 && pk[1] == 0x20:
		return model.ScriptP2TR, address.BTCKindP2TR, pk[2:]
	case (n == 35 && pk[0] == 33 && (pk[1] == 2 || pk[1] == 3) || n == 67 && pk[0] == 65 && pk[1] == 4) && pk[n-1] == 0xac:
		return model.ScriptP2PK, address.BTCKindP2PKH, pk[1 : n-1]
	case n > 0 && pk[0] == 0x6a:
		return model.ScriptNullData, address.BTCKindScript, nil
	case n >= 4 && n <= 42 && pk[0] >= 0x51 && pk[0] <= 0x60 && int(pk[1]) == n-2:
		return model.ScriptWitnessUnknown, address.BTCKindScript, nil
	case n >= 37 && pk[n-1] == 0xae && pk[0] >= 0x51 && pk[0] <= 0x60:
		return model.ScriptMultisig, address.BTCKindScript, nil
	}
	return model.ScriptNonStandard, address.BTCKindScript, nil
}

// addrLen is the length of the address bytes ClassifyScript returns for pk.
func addrLen(pk []byte) int {
	switch st, _, _ := classify(pk); st {
	case model.ScriptP2PKH, model.ScriptP2SH, model.ScriptP2WPKH, model.ScriptP2PK:
		return shortAddrLen
	}
	return wideAddrLen
}

// ConvertBlock turns a decoded block at a height into a canonical block.
func ConvertBlock(mb *wire.MsgBlock, height uint64) *model.Block {
	bh := mb.BlockHash()
	b := &model.Block{
		Chain:    model.BTC,
		Height:   height,
		Hash:     displayHash(&bh),
		PrevHash: displayHash(&mb.Header.PrevBlock),
		Time:     mb.Header.Timestamp.Unix(),
		Txs:      make([]model.Tx, len(mb.Transactions)),
	}
	for i, mtx := range mb.Transactions {
		tx := &b.Txs[i]
		h := mtx.TxHash()
		tx.ID = displayHash(&h)
		tx.Index = uint32(i)
		tx.Coinbase = i == 0 && isCoinbase(mtx)
		if !tx.Coinbase {
			tx.Inputs = make([]model.Input, len(mtx.TxIn))
			for j, in := range mtx.TxIn {
				tx.Inputs[j] = model.Input{PrevTxID: displayHash(&in.PreviousOutPoint.Hash), PrevIndex: in.PreviousOutPoint.Index}
			}
		}
		tx.Outputs = make([]model.Output, len(mtx.TxOut))
		for j, out := range mtx.TxOut {
			addr, st := ClassifyScript(out.PkScript)
			tx.Outputs[j] = model.Output{Index: uint32(j), Address: addr, Value: uint64(out.Value), ScriptType: st}
		}
	}
	return b
}

func isCoinbase(tx *wire.MsgTx) bool {
	if len(tx.TxIn) != 1 {
		return false
	}
	p := tx.TxIn[0].PreviousOutPoint
	return p.Index == wire.MaxPrevOutIndex && p.Hash == (chainhash.Hash{})
}

// Networks by blk-file magic (the wire.BitcoinNet values, little-endian on disk).
var netsByMagic = map[wire.BitcoinNet]*chaincfg.Params{
	wire.MainNet:                &chaincfg.MainNetParams,
	wire.TestNet3:               &chaincfg.TestNet3Params,
	wire.TestNet:                &chaincfg.RegressionNetParams,
	wire.BitcoinNet(0x40cf030a): &chaincfg.SigNetParams,
}

// ParamsByName returns the network parameters for a name stored in the store.
func ParamsByName(name string) *chaincfg.Params { return address.BTCParams(name) }

// CheckMerkleRoot verifies that a converted block's transactions hash to the
// merkle root its header commits to, so a damaged transaction is caught
// before it is stored (the block hash covers only the header). It reuses the
// txids ConvertBlock computed.
func CheckMerkleRoot(h *wire.BlockHeader, b *model.Block) error {
	if len(b.Txs) == 0 {
		return fmt.Errorf("block has no transactions")
	}
	level := make([][32]byte, len(b.Txs))
	for i := range b.Txs {
		level[i] = [32]byte(WireHash(b.Txs[i].ID)) // back to wire byte order
	}
	var buf [64]byte
	for len(level) > 1 {
		if len(level)%2 == 1 {
			level = append(level, level[len(level)-1])
		}
		next := level[:0:0]
		for i := 0; i < len(level); i += 2 {
			copy(buf[:32], level[i][:])
			copy(buf[32:], level[i+1][:])
			next = append(next, [32]byte(chainhash.DoubleHashH(buf[:])))
		}
		level = next
	}
	if chainhash.Hash(level[0]) != h.MerkleRoot {
		root := chainhash.Hash(level[0])
		return fmt.Errorf("transactions hash to merkle root %s, the header says %s: the block's transaction data is damaged", root, h.MerkleRoot)
	}
	return nil
}
