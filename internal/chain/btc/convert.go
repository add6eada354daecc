// Package btc is spoor's Bitcoin adapter: it reads Bitcoin Core blk files
// (XOR-obfuscated or not, out of height order) and node RPC (raw blocks, as
// Bitcoin Core and btcd both serve them), decodes blocks with btcd's wire
// package, classifies output scripts into canonical addresses, and hands
// canonical model blocks to the ingest driver.
package btc

import (
	"crypto/sha256"
	"fmt"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/spoor-dev/spoor/internal/address"
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
	n := len(pk)
	switch {
	case n == 25 && pk[0] == 0x76 && pk[1] == 0xa9 && pk[2] == 0x14 && pk[23] == 0x88 && pk[24] == 0xac:
		return kindHash(address.BTCKindP2PKH, pk[3:23]), model.ScriptP2PKH
	case n == 23 && pk[0] == 0xa9 && pk[1] == 0x14 && pk[22] == 0x87:
		return kindHash(address.BTCKindP2SH, pk[2:22]), model.ScriptP2SH
	case n == 22 && pk[0] == 0x00 && pk[1] == 0x14:
		return kindHash(address.BTCKindP2WPKH, pk[2:]), model.ScriptP2WPKH
	case n == 34 && pk[0] == 0x00 && pk[1] == 0x20:
		return kindHash(address.BTCKindP2WSH, pk[2:]), model.ScriptP2WSH
	case n == 34 && pk[0] == 0x51 && pk[1] == 0x20:
		return kindHash(address.BTCKindP2TR, pk[2:]), model.ScriptP2TR
	case (n == 35 && pk[0] == 33 && (pk[1] == 2 || pk[1] == 3) || n == 67 && pk[0] == 65 && pk[1] == 4) && pk[n-1] == 0xac:
		return kindHash(address.BTCKindP2PKH, btcutil.Hash160(pk[1:n-1])), model.ScriptP2PK
	case n > 0 && pk[0] == 0x6a:
		return pseudo(pk), model.ScriptNullData
	case n >= 4 && n <= 42 && pk[0] >= 0x51 && pk[0] <= 0x60 && int(pk[1]) == n-2:
		return pseudo(pk), model.ScriptWitnessUnknown
	case n >= 37 && pk[n-1] == 0xae && pk[0] >= 0x51 && pk[0] <= 0x60:
		return pseudo(pk), model.ScriptMultisig
	}
	return pseudo(pk), model.ScriptNonStandard
}

func kindHash(kind byte, h []byte) []byte {
	b := make([]byte, 1+len(h))
	b[0] = kind
	copy(b[1:], h)
	return b
}

func pseudo(script []byte) []byte {
	h := sha256.Sum256(script)
	return kindHash(address.BTCKindScript, h[:])
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
