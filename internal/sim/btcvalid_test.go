package sim

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/spoor-dev/spoor/internal/chain/btc"
	"github.com/spoor-dev/spoor/internal/model"
)

// Every Bitcoin block passes btcd's context-free consensus checks
// (blockchain.CheckBlockSanity: proof of work against regtest's limit,
// merkle root, coinbase first and only there, transaction sanity, no
// duplicate txids, sigop limit) and BIP 141's witness commitment; blocks
// chain from the regtest genesis; every input spends an output that exists
// and is unspent, the coinbase pays at most subsidy + fees and coinbase
// outputs are spent only after 100 blocks. (Signatures are not real, so
// script validation is out of scope.)
func TestBTCBlocksValid(t *testing.T) {
	dir, st, tr := smallWorld(t)
	files, err := filepath.Glob(filepath.Join(dir, "btc", "blk*.dat"))
	if err != nil || len(files) == 0 {
		t.Fatalf("blk files: %v %v", files, err)
	}
	sort.Strings(files)
	type coin struct {
		value    int64
		height   int32
		coinbase bool
	}
	utxo := map[wire.OutPoint]coin{}
	prev := *regtest.GenesisHash
	height := int32(0)
	commitments := 0
	clock := blockchain.NewMedianTime()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off < len(data); {
			if got := wire.BitcoinNet(uint32(data[off]) | uint32(data[off+1])<<8 | uint32(data[off+2])<<16 | uint32(data[off+3])<<24); got != wire.TestNet {
				t.Fatalf("%s@%d: magic %08x, want regtest fabfb5da", f, off, uint32(got))
			}
			n := int(uint32(data[off+4]) | uint32(data[off+5])<<8 | uint32(data[off+6])<<16 | uint32(data[off+7])<<24)
			blk, err := btcutil.NewBlockFromBytes(data[off+8 : off+8+n])
			if err != nil {
				t.Fatalf("%s@%d: %v", f, off, err)
			}
			off += 8 + n
			height++
			mb := blk.MsgBlock()
			if mb.Header.PrevBlock != prev {
				t.Fatalf("block %d does not build on block %d", height, height-1)
			}
			prev = *blk.Hash()
			if err := blockchain.CheckBlockSanity(blk, regtest.PowLimit, clock); err != nil {
				t.Fatalf("block %d: %v", height, err)
			}
			if err := blockchain.ValidateWitnessCommitment(blk); err != nil {
				t.Fatalf("block %d: %v", height, err)
			}
			if _, ok := blockchain.ExtractWitnessCommitment(blk.Transactions()[0]); ok {
				commitments++
			}
			var fees int64
			for i, tx := range mb.Transactions {
				id := tx.TxHash()
				if i > 0 {
					var in int64
					for _, ti := range tx.TxIn {
						c, ok := utxo[ti.PreviousOutPoint]
						if !ok {
							t.Fatalf("block %d tx %s spends %v: not an unspent output", height, id, ti.PreviousOutPoint)
						}
						if c.coinbase && height-c.height < 100 {
							t.Fatalf("block %d tx %s spends a coinbase of block %d before maturity", height, id, c.height)
						}
						delete(utxo, ti.PreviousOutPoint)
						in += c.value
					}
					var out int64
					for _, o := range tx.TxOut {
						out += o.Value
					}
					if out > in {
						t.Fatalf("block %d tx %s: outputs %d exceed inputs %d", height, id, out, in)
					}
					fees += in - out
				}
				for k, o := range tx.TxOut {
					utxo[wire.OutPoint{Hash: id, Index: uint32(k)}] = coin{o.Value, height, i == 0}
				}
			}
			var cbOut int64
			for _, o := range mb.Transactions[0].TxOut {
				cbOut += o.Value
			}
			if cbOut > blockchain.CalcBlockSubsidy(height, regtest)+fees {
				t.Fatalf("block %d: coinbase pays %d > subsidy + fees %d", height, cbOut, blockchain.CalcBlockSubsidy(height, regtest)+fees)
			}
			// spoor reads the block the same way (its txids are btcd's).
			conv := btc.ConvertBlock(mb, uint64(height))
			if len(conv.Txs) != len(mb.Transactions) || conv.Txs[0].ID != [32]byte(chainhash.Hash(reverse(mb.Transactions[0].TxHash()))) {
				t.Fatalf("block %d: spoor's conversion differs", height)
			}
		}
	}
	if commitments == 0 {
		t.Fatal("no block carries a witness commitment")
	}
	// The store knows exactly truth's BTC addresses, plus the genesis
	// output and one OP_RETURN pseudo-address per witness commitment.
	stats, err := st.Stats()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stats {
		if s.Chain == model.BTC && s.Addresses != uint64(countAddrs(tr, "btc")+1+commitments) {
			t.Errorf("btc: store has %d addresses, truth %d + 1 genesis + %d commitments", s.Addresses, countAddrs(tr, "btc"), commitments)
		}
	}
	t.Logf("%d blocks, %d with witness commitments, %d unspent outputs", height, commitments, len(utxo))
}

func reverse(h chainhash.Hash) [32]byte {
	var r [32]byte
	for i := range h {
		r[i] = h[31-i]
	}
	return r
}
