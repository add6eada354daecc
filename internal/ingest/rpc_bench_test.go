package ingest

import (
	"bytes"
	"encoding/binary"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/spoor-dev/spoor/internal/store/pebblestore"
)

// anyoneScript is a P2SH redeem script anyone can spend, distinct for each
// i (<i> OP_DROP OP_TRUE), so that every change output has its own address.
func anyoneScript(i uint32) (redeem, pkScript, sigScript []byte) {
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], i)
	redeem, _ = txscript.NewScriptBuilder().AddData(n[:]).AddOp(txscript.OP_DROP).AddOp(txscript.OP_TRUE).Script()
	pkScript, _ = txscript.NewScriptBuilder().AddOp(txscript.OP_HASH160).AddData(btcutil.Hash160(redeem)).AddOp(txscript.OP_EQUAL).Script()
	sigScript, _ = txscript.NewScriptBuilder().AddData(redeem).Script()
	return redeem, pkScript, sigScript
}

// rpcBenchChain mines a regtest chain on n: block 1 (built here) pays its
// coinbase to an anyone-can-spend output, then `small` blocks mined by the
// node (a coinbase each, as mainnet's first 100,000 blocks), then `full`
// blocks built here of txsPerBlock txs each (one input, a change output
// and two P2PKH payments to fresh keys: ≈ 0.95 MB a block at 6,000), each tx
// spending the previous one's change, as a payout chain does. It returns
// the tip height and the chain's tx count.
func rpcBenchChain(tb testing.TB, n *regtestNode, small, full, txsPerBlock int) (tip uint64, txs int) {
	params := &chaincfg.RegressionNetParams
	rng := rand.New(rand.NewSource(1))
	var prevTime time.Time
	build := func(height uint64, prev chainhash.Hash, body []*wire.MsgTx) []byte {
		cbSig, _ := txscript.NewScriptBuilder().AddInt64(int64(height)).AddInt64(rng.Int63()).Script()
		cb := wire.NewMsgTx(1)
		cb.AddTxIn(wire.NewTxIn(wire.NewOutPoint(&chainhash.Hash{}, wire.MaxPrevOutIndex), cbSig, nil))
		_, pk, _ := anyoneScript(0)
		value := int64(0)
		if height == 1 {
			value = 50_0000_0000
		}
		cb.AddTxOut(wire.NewTxOut(value, pk))
		all := append([]*wire.MsgTx{cb}, body...)
		utxs := make([]*btcutil.Tx, len(all))
		for i, tx := range all {
			utxs[i] = btcutil.NewTx(tx)
		}
		ts := time.Now().Truncate(time.Second)
		if !ts.After(prevTime) {
			ts = prevTime.Add(time.Second)
		}
		prevTime = ts
		blk := wire.MsgBlock{Header: wire.BlockHeader{Version: 0x20000000, PrevBlock: prev,
			MerkleRoot: blockchain.CalcMerkleRoot(utxs, false), Timestamp: ts, Bits: params.PowLimitBits}}
		target := blockchain.CompactToBig(params.PowLimitBits)
		for {
			h := blk.Header.BlockHash()
			if blockchain.HashToBig(&h).Cmp(target) <= 0 {
				break
			}
			blk.Header.Nonce++
		}
		for _, tx := range all {
			blk.AddTransaction(tx)
		}
		var buf bytes.Buffer
		if err := blk.Serialize(&buf); err != nil {
			tb.Fatal(err)
		}
		txs += len(all)
		return buf.Bytes()
	}
	genesis := *params.GenesisHash
	raw1 := build(1, genesis, nil)
	n.submitBlock(raw1)
	var b1 wire.MsgBlock
	b1.Deserialize(bytes.NewReader(raw1))
	fund := wire.OutPoint{Hash: b1.Transactions[0].TxHash(), Index: 0}
	fundValue := int64(50_0000_0000)
	for left := small; left > 0; left -= 500 {
		n.generate(min(left, 500))
	}
	txs += small
	tip = uint64(1 + small)
	prevHash, err := n.rpc.BlockHash(tip)
	if err != nil {
		tb.Fatal(err)
	}
	// The node's own blocks set prevTime's floor.
	prevTime = n.block(tip).Header.Timestamp
	var key [20]byte
	seq := uint32(0)
	for f := 0; f < full; f++ {
		body := make([]*wire.MsgTx, 0, txsPerBlock)
		for i := 0; i < txsPerBlock; i++ {
			_, _, sig := anyoneScript(seq)
			seq++
			_, pk, _ := anyoneScript(seq)
			tx := wire.NewMsgTx(2)
			tx.AddTxIn(wire.NewTxIn(&fund, sig, nil))
			fundValue -= 2_000
			tx.AddTxOut(wire.NewTxOut(fundValue, pk))
			for k := 0; k < 2; k++ {
				rng.Read(key[:])
				a, _ := btcutil.NewAddressPubKeyHash(key[:], params)
				p2pkh, _ := txscript.PayToAddrScript(a)
				tx.AddTxOut(wire.NewTxOut(1_000, p2pkh))
			}
			body = append(body, tx)
			fund = wire.OutPoint{Hash: tx.TxHash(), Index: 0}
		}
		tip++
		raw := build(tip, prevHash, body)
		n.submitBlock(raw)
		prevHash = chainhash.DoubleHashH(raw[:80])
	}
	if got, err := n.rpc.BlockCount(); err != nil || got != tip {
		tb.Fatalf("node at height %d (%v), want %d", got, err, tip)
	}
	return tip, txs
}

// BenchmarkRPCIngest: `spoor ingest btc --rpc` against a real btcd regtest
// node (started here; skipped without btcd), the store's close included.
// "small" ingests 2,000 one-tx blocks into a fresh store (mainnet's first
// 100,000 blocks look like this: a round trip a block is what limits it);
// "full" continues a copy of that store with 20 blocks of 6,000 txs
// (≈ 0.95 MB: the getblock reply's 1.9 MB of hex and the decode limit it).
// "node" is the bare fetch of the same blocks, one getblockhash and one
// getblock call a block, nothing done with them: what the node serves to a
// client that asks one call at a time. SPOOR_RPC_SMALL and SPOOR_RPC_FULL
// change the counts.
func BenchmarkRPCIngest(b *testing.B) {
	small, full := 2000, 20
	if v, err := strconv.Atoi(os.Getenv("SPOOR_RPC_SMALL")); err == nil {
		small = v
	}
	if v, err := strconv.Atoi(os.Getenv("SPOOR_RPC_FULL")); err == nil {
		full = v
	}
	miner := newRegKey(b, 1)
	n := startBtcd(b, "bench", miner.addr, false)
	tip, txs := rpcBenchChain(b, n, small, full, 6000)
	smallTip := uint64(1 + small)
	// The small part, ingested once: "full" starts from a copy.
	base := filepath.Join(b.TempDir(), "base")
	s, err := pebblestore.Open(base)
	if err == nil {
		_, err = BTCRPC(s, n.rpc, RPCRange{To: smallTip, HasTo: true}, Options{})
	}
	if err == nil {
		err = s.Close()
	}
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name     string
		from, to uint64
		txs      int
	}{{"small", 0, smallTip, 1 + small}, {"full", smallTip + 1, tip, txs - 1 - small}} {
		b.Run(bc.name, func(b *testing.B) {
			blocks := float64(bc.to + 1 - bc.from)
			for b.Loop() {
				dir := filepath.Join(b.TempDir(), "store")
				if bc.from > 0 {
					b.StopTimer()
					if err := os.CopyFS(dir, os.DirFS(base)); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				start := time.Now()
				s, err := pebblestore.Open(dir)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := BTCRPC(s, n.rpc, RPCRange{To: bc.to, HasTo: true}, Options{}); err != nil {
					b.Fatal(err)
				}
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
				sec := time.Since(start).Seconds()
				b.ReportMetric(blocks/sec, "blocks/s")
				b.ReportMetric(float64(bc.txs)/sec, "tx/s")
				os.RemoveAll(dir)
			}
		})
		b.Run(bc.name+"/node", func(b *testing.B) {
			for b.Loop() {
				start := time.Now()
				for h := bc.from; h <= bc.to; h++ {
					hash, err := n.rpc.BlockHash(h)
					if err == nil {
						_, err = n.rpc.RawBlock(hash)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(bc.to+1-bc.from)/time.Since(start).Seconds(), "blocks/s")
			}
		})
	}
}
