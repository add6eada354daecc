package ingest

// A synthetic Bitcoin chain for benchmarks, built from real block shapes:
// every transaction copies a real mainnet transaction of block 277,647,
// 540,107 or 574,200 (its input count, signature scripts and witnesses
// byte for byte, its output count and script types and lengths), with its
// inputs rewired to spend earlier synthetic outputs (so UTXO linking does
// real work) and its outputs paying fresh or reused addresses of the same
// script type. Blocks carry regtest magic and chain from the regtest genesis
// block; txids and merkle roots are real, signatures do not verify (spoor
// does not verify scripts).

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/wire"
	"github.com/spoor-dev/spoor/internal/chain/btc"
	"github.com/spoor-dev/spoor/internal/chain/btc/btctestdata"
	"github.com/spoor-dev/spoor/internal/model"
)

// templates returns the non-coinbase transactions of the three real blocks.
func templates(tb testing.TB) []*wire.MsgTx {
	tb.Helper()
	var raws [][]byte
	for _, rec := range btctestdata.SplitRecords(btctestdata.Bunzip(tb, btctestdata.Path(tb, "blockchain/testdata/277647.dat.bz2"))) {
		raws = append(raws, rec[8:])
	}
	for _, f := range []string{
		"wire/testdata/block-00000000000000000021868c2cefc52a480d173c849412fe81c4e5ab806f94ab.blk",
		"wire/testdata/block-0000000000000000001602407ac49862a7bca9d00f7f402db20b7be2f5de59d2.blk",
	} {
		b, err := os.ReadFile(btctestdata.Path(tb, f))
		if err != nil {
			tb.Fatal(err)
		}
		raws = append(raws, b)
	}
	var txs []*wire.MsgTx
	for _, raw := range raws {
		var mb wire.MsgBlock
		if err := mb.Deserialize(bytes.NewReader(raw)); err != nil {
			tb.Fatal(err)
		}
		txs = append(txs, mb.Transactions[1:]...)
	}
	return txs
}

type synthOut struct {
	op    wire.OutPoint
	value int64
}

// synthChain writes (or reuses, it is deterministic) a blk file of regtest
// blocks holding at least transfers inputs+outputs, and returns its path.
func synthChain(tb testing.TB, transfers int) string {
	tb.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("spoor-synth-v2-%d.dat", transfers))
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		return path
	}
	start := time.Now()
	tmpl := templates(tb)
	rng := rand.New(rand.NewPCG(42, 1))
	params := &chaincfg.RegressionNetParams
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	prev := *params.GenesisHash
	when := params.GenesisBlock.Header.Timestamp
	var pool []synthOut
	var addrSeq uint64
	recent := make([][32]byte, 0, 1<<16)
	// hashFor returns an address hash: a fresh one, or (a quarter of the
	// time) one paid before, as real chains reuse addresses.
	hashFor := func() (h [32]byte) {
		if len(recent) > 0 && rng.IntN(4) == 0 {
			return recent[rng.IntN(len(recent))]
		}
		addrSeq++
		binary.LittleEndian.PutUint64(h[:], addrSeq*0x9e3779b97f4a7c15)
		binary.LittleEndian.PutUint64(h[8:], addrSeq)
		binary.LittleEndian.PutUint64(h[16:], ^addrSeq*0xbf58476d1ce4e5b9)
		binary.LittleEndian.PutUint64(h[24:], addrSeq*0x94d049bb133111eb)
		if len(recent) < cap(recent) {
			recent = append(recent, h)
		} else {
			recent[rng.IntN(len(recent))] = h
		}
		return h
	}
	script := func(tpl []byte) []byte {
		h := hashFor()
		_, st := btc.ClassifyScript(tpl)
		switch st {
		case model.ScriptP2PKH:
			return append(append([]byte{0x76, 0xa9, 0x14}, h[:20]...), 0x88, 0xac)
		case model.ScriptP2SH:
			return append(append([]byte{0xa9, 0x14}, h[:20]...), 0x87)
		case model.ScriptP2WPKH:
			return append([]byte{0x00, 0x14}, h[:20]...)
		case model.ScriptP2WSH:
			return append([]byte{0x00, 0x20}, h[:]...)
		case model.ScriptP2TR:
			return append([]byte{0x51, 0x20}, h[:]...)
		}
		return tpl // P2PK, multisig, OP_RETURN, non-standard: the real script
	}
	coinbase := func(height int, outs int, value int64) *wire.MsgTx {
		tx := wire.NewMsgTx(1)
		sig := binary.LittleEndian.AppendUint32([]byte{4}, uint32(height))
		tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: wire.MaxPrevOutIndex}, SignatureScript: append(sig, 0x51), Sequence: wire.MaxTxInSequenceNum})
		for i := 0; i < outs; i++ {
			tx.AddTxOut(wire.NewTxOut(value, script([]byte{0x00, 0x14})))
		}
		return tx
	}
	seed := transfers / 20 // outputs created up front for the first spends
	total, txs, blocks := 0, 0, 0
	ti := 0
	var buf bytes.Buffer
	for height := 1; total < transfers; height++ {
		var block []*wire.MsgTx
		if seed > 0 {
			// Seed the UTXO pool: coinbases with many outputs.
			n := min(seed, 2500)
			seed -= n
			block = append(block, coinbase(height, n, 50_0000_0000))
		} else {
			block = append(block, coinbase(height, 1, 50_0000_0000))
			for n := 0; n < 2000 && total < transfers; n++ {
				t := tmpl[ti%len(tmpl)]
				if len(t.TxIn) > len(pool)/2 {
					ti++ // too many inputs for the pool yet: next shape
					continue
				}
				tx := t.Copy()
				var in int64
				for _, ti := range tx.TxIn {
					k := rng.IntN(len(pool))
					o := pool[k]
					pool[k] = pool[len(pool)-1]
					pool = pool[:len(pool)-1]
					ti.PreviousOutPoint = o.op
					in += o.value
				}
				fee := int64(1000)
				if in < fee {
					fee = in
				}
				each := (in - fee) / int64(len(tx.TxOut))
				for _, o := range tx.TxOut {
					o.PkScript = script(o.PkScript)
					o.Value = each
				}
				block = append(block, tx)
				total += len(tx.TxIn) + len(tx.TxOut)
				ti++
			}
		}
		// Outputs become spendable from the next block on.
		for _, tx := range block {
			id := tx.TxHash()
			for i, o := range tx.TxOut {
				if _, st := btc.ClassifyScript(o.PkScript); st != model.ScriptNullData {
					pool = append(pool, synthOut{wire.OutPoint{Hash: id, Index: uint32(i)}, o.Value})
				}
			}
		}
		total += len(block[0].TxOut) // non-coinbase txs were counted above
		utxs := make([]*btcutil.Tx, len(block))
		for i, tx := range block {
			utxs[i] = btcutil.NewTx(tx)
		}
		merkles := blockchain.BuildMerkleTreeStore(utxs, false)
		when = when.Add(10 * time.Minute)
		mb := wire.MsgBlock{Header: wire.BlockHeader{Version: 0x20000000, PrevBlock: prev, MerkleRoot: *merkles[len(merkles)-1],
			Timestamp: when, Bits: params.PowLimitBits, Nonce: uint32(height)}, Transactions: block}
		buf.Reset()
		if err := mb.Serialize(&buf); err != nil {
			tb.Fatal(err)
		}
		var hdr [8]byte
		binary.LittleEndian.PutUint32(hdr[:], uint32(wire.TestNet))
		binary.LittleEndian.PutUint32(hdr[4:], uint32(buf.Len()))
		w.Write(hdr[:])
		w.Write(buf.Bytes())
		prev = mb.BlockHash()
		txs += len(block)
		blocks++
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("synthetic chain %s: %d blocks, %d txs, %d transfers, built in %s", path, blocks, txs, total, time.Since(start).Round(time.Millisecond))
	return path
}

// TestSynthChainIngests checks the synthetic chain is what the benchmarks
// claim: it ingests cleanly (every input links to an earlier output, no
// output is spent twice, no tx spends more than it has) with exactly the
// transfers counted while building it.
func TestSynthChainIngests(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 20,000-transfer chain")
	}
	path := synthChain(t, 20_000)
	s := openStore(t)
	res, err := BTCFiles(s, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// An independent count: every non-coinbase input and every output.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var nTx, nXfer uint64
	for _, rec := range btctestdata.SplitRecords(data) {
		var mb wire.MsgBlock
		if err := mb.Deserialize(bytes.NewReader(rec[8:])); err != nil {
			t.Fatal(err)
		}
		for i, tx := range mb.Transactions {
			nTx++
			nXfer += uint64(len(tx.TxOut))
			if i > 0 {
				nXfer += uint64(len(tx.TxIn))
			}
		}
	}
	st, _ := s.Stats()
	if len(st) != 1 || st[0].Network != "regtest" || st[0].Transfers != nXfer+1 || st[0].Txs != nTx+1 || nXfer < 20_000 || res.Height != st[0].Height {
		t.Fatalf("synthetic chain: %+v %+v; want %d txs and %d transfers (+ the genesis block's)", res, st, nTx, nXfer)
	}
}

// TestBuildSynthChain writes the synthetic chain of SPOOR_SYNTH_BUILD
// transfers to the temp dir and prints its path, for measuring the spoor
// binary on it (peak memory with /usr/bin/time -v); skipped otherwise.
func TestBuildSynthChain(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv("SPOOR_SYNTH_BUILD"))
	if err != nil || n <= 0 {
		t.Skip("set SPOOR_SYNTH_BUILD=N to write an N-transfer synthetic chain")
	}
	fmt.Println(synthChain(t, n))
}
