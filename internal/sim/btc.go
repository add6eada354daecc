package sim

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/address"
)

var regtest = &chaincfg.RegressionNetParams

// maxBlkFile is the size cap of one blk file (Bitcoin Core's is 128 MiB).
var maxBlkFile int64 = 128 << 20 // a var so tests can force rotation

// coinbaseMaturity: a coinbase output is spendable this many blocks later.
const coinbaseMaturity = 100

// utxo is an unspent output a wallet holds.
type utxo struct {
	op    wire.OutPoint
	value uint64
	addr  int32
}

// payout is one output to create.
type payout struct {
	to    int32
	value uint64
}

// btcChain builds Bitcoin blocks and writes them as blk records.
type btcChain struct {
	dir      string
	file     *os.File
	w        *bufio.Writer
	fileNum  int
	fileSize int64

	height   int32
	prev     chainhash.Hash
	lastTime int64
	txs      []*wire.MsgTx
	fees     uint64
	immature []utxo // miner's coinbase outputs, oldest first (op.Index unused for height)
	heights  []int32

	blocks, ntx, transfers int64
	buf                    bytes.Buffer
}

func newBTCChain(dir string) (*btcChain, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	b := &btcChain{dir: dir, prev: *regtest.GenesisHash, lastTime: regtest.GenesisBlock.Header.Timestamp.Unix()}
	return b, b.openFile()
}

func (b *btcChain) openFile() error {
	if b.file != nil {
		if err := b.w.Flush(); err != nil {
			return err
		}
		if err := b.file.Close(); err != nil {
			return err
		}
		b.fileNum++
	}
	f, err := os.Create(filepath.Join(b.dir, fmt.Sprintf("blk%05d.dat", b.fileNum)))
	if err != nil {
		return err
	}
	b.file, b.w, b.fileSize = f, bufio.NewWriterSize(f, 1<<20), 0
	return nil
}

func (b *btcChain) close() error {
	if b.file == nil {
		return nil
	}
	if err := b.w.Flush(); err != nil {
		return err
	}
	err := b.file.Close()
	b.file = nil
	return err
}

// pkScript builds the output script of canonical address bytes.
func pkScript(raw []byte) []byte {
	h := raw[1:]
	switch raw[0] {
	case address.BTCKindP2PKH:
		s := []byte{0x76, 0xa9, 0x14}
		s = append(s, h...)
		return append(s, 0x88, 0xac)
	case address.BTCKindP2SH:
		s := []byte{0xa9, 0x14}
		s = append(s, h...)
		return append(s, 0x87)
	case address.BTCKindP2WPKH:
		return append([]byte{0x00, 0x14}, h...)
	case address.BTCKindP2TR:
		return append([]byte{0x51, 0x20}, h...)
	}
	panic("sim: no script for address kind")
}

// vsize estimates the virtual size of a transaction (for fees).
func vsize(nIn, nOut int) int64 { return int64(11 + 68*nIn + 33*nOut) }

// feeRate draws a fee rate in sat/vB.
func (s *Sim) feeRate() uint64 {
	if s.permille(700) {
		return uint64(s.between(1, 8))
	}
	return uint64(s.between(9, 60))
}

// unlock fills the input's unlocking data for the spent address: a
// DER-shaped signature and a public key (they do not verify; the txid and
// the serialization are real).
func unlock(in *wire.TxIn, raw []byte) {
	op := in.PreviousOutPoint
	var seed [36]byte
	copy(seed[:], op.Hash[:])
	binary.LittleEndian.PutUint32(seed[32:], op.Index)
	r := sha256.Sum256(seed[:])
	sv := sha256.Sum256(r[:])
	sig := make([]byte, 0, 72)
	sig = append(sig, 0x30, 0x44, 0x02, 0x20)
	sig = append(sig, r[:]...)
	sig = append(sig, 0x02, 0x20)
	sv[0] &= 0x7f
	sig = append(sig, sv[:]...)
	sig = append(sig, 0x01)
	pk := sha256.Sum256(raw)
	pub := append([]byte{0x02}, pk[:]...)
	switch raw[0] {
	case address.BTCKindP2PKH:
		ss := append([]byte{byte(len(sig))}, sig...)
		ss = append(ss, byte(len(pub)))
		in.SignatureScript = append(ss, pub...)
	case address.BTCKindP2SH: // P2SH-P2WPKH
		redeem := append([]byte{0x00, 0x14}, raw[1:21]...)
		in.SignatureScript = append([]byte{byte(len(redeem))}, redeem...)
		in.Witness = wire.TxWitness{sig, pub}
	case address.BTCKindP2WPKH:
		in.Witness = wire.TxWitness{sig, pub}
	case address.BTCKindP2TR:
		in.Witness = wire.TxWitness{append(r[:], sv[:]...)}
	}
}

// btcTx builds, records and queues a transaction spending ins into outs
// (in that order); fee = inputs − outputs. New outputs join the receiving
// wallets' UTXO sets.
func (s *Sim) btcTx(ins []utxo, outs []payout) chainhash.Hash {
	tx := wire.NewMsgTx(2)
	var inSum, outSum uint64
	for _, u := range ins {
		in := wire.NewTxIn(&u.op, nil, nil)
		in.Sequence = 0xfffffffd
		unlock(in, s.addrs[u.addr].raw)
		tx.AddTxIn(in)
		inSum += u.value
		s.debit(u.addr, native, u64(u.value))
	}
	for _, o := range outs {
		tx.AddTxOut(wire.NewTxOut(int64(o.value), pkScript(s.addrs[o.to].raw)))
		outSum += o.value
	}
	if outSum > inSum {
		s.fail(fmt.Errorf("sim: internal error: btc tx spends %d of %d", outSum, inSum))
	}
	id := tx.TxHash()
	s.lastOuts, s.lastFrom = outs, -1
	if len(ins) > 0 {
		s.lastFrom = ins[0].addr
	}
	for i, o := range outs {
		s.credit(o.to, native, u64(o.value))
		w := s.addrs[o.to].wallet
		w.utxos = append(w.utxos, utxo{op: wire.OutPoint{Hash: id, Index: uint32(i)}, value: o.value, addr: o.to})
	}
	b := s.btc
	b.txs = append(b.txs, tx)
	b.fees += inSum - outSum
	b.ntx++
	b.transfers += int64(len(ins) + len(outs))
	return id
}

// takeUTXOs removes UTXOs from w (oldest first) until they cover need; a
// wallet with many small outputs also sweeps up extra ones (consolidating
// as real wallets do). ok is false (and nothing removed) when w is short.
func (s *Sim) takeUTXOs(w *Wallet, need uint64, extra int) ([]utxo, uint64, bool) {
	var sum uint64
	n := 0
	for n < len(w.utxos) && sum < need {
		sum += w.utxos[n].value
		n++
	}
	if sum < need {
		return nil, 0, false
	}
	for k := 0; k < extra && n < len(w.utxos) && n < 40; k++ {
		sum += w.utxos[n].value
		n++
	}
	ins := append([]utxo(nil), w.utxos[:n]...)
	w.utxos = append(w.utxos[:0:0], w.utxos[n:]...)
	return ins, sum, true
}

// btcPay pays outs from wallet w, change back to w. ok false when w cannot.
func (s *Sim) btcPay(w *Wallet, outs []payout) (chainhash.Hash, bool) {
	var total uint64
	for _, o := range outs {
		total += o.value
	}
	rate := s.feeRate()
	extra := 0
	if len(w.utxos) > 12 && !w.custodial {
		extra = len(w.utxos) - 8
	}
	fee := rate * uint64(vsize(1, len(outs)+1))
	ins, sum, ok := s.takeUTXOs(w, total+fee, extra)
	if !ok {
		return chainhash.Hash{}, false
	}
	fee = rate * uint64(vsize(len(ins), len(outs)+1))
	if sum < total+fee {
		// More inputs raised the fee: take what is left if it covers.
		more, msum, ok := s.takeUTXOs(w, total+fee-sum, 0)
		if !ok {
			w.utxos = append(ins, w.utxos...)
			return chainhash.Hash{}, false
		}
		ins, sum = append(ins, more...), sum+msum
	}
	change := sum - total - fee
	all := append([]payout(nil), outs...)
	if change >= 1000 {
		var to int32
		if s.permille(w.reuse) {
			to = ins[0].addr // change back to the spending address
		} else {
			to = s.recvAddr(w)
		}
		c := payout{to, change}
		pos := s.rng.IntN(len(all) + 1)
		all = append(all, payout{})
		copy(all[pos+1:], all[pos:])
		all[pos] = c
	}
	return s.btcTx(ins, all), true
}

// btcBalance is what a wallet holds.
func btcBalance(w *Wallet) uint64 {
	var t uint64
	for _, u := range w.utxos {
		t += u.value
	}
	return t
}

// subsidy is the regtest block reward (halving every 150 blocks).
func subsidy(h int32) uint64 {
	n := h / regtest.SubsidyReductionInterval
	if n >= 64 {
		return 0
	}
	return uint64(50*100_000_000) >> uint(n)
}

// closeBTCBlock mines the pending transactions into a block at time t: a
// coinbase paying subsidy and fees to the miner, the merkle root, a nonce
// that meets regtest's target, and one blk record.
func (s *Sim) closeBTCBlock(t int64, miner *Wallet) {
	b := s.btc
	b.height++
	if t <= b.lastTime {
		t = b.lastTime + 1
	}
	b.lastTime = t
	to := s.recvAddr(miner)
	cb := wire.NewMsgTx(1)
	script := make([]byte, 0, 16)
	script = append(script, 0x04) // push the height (BIP 34 style) to make the txid unique
	script = binary.LittleEndian.AppendUint32(script, uint32(b.height))
	script = append(script, []byte{0x06, 's', 'p', 'o', 'o', 'r', '!'}...)
	cb.AddTxIn(wire.NewTxIn(wire.NewOutPoint(&chainhash.Hash{}, wire.MaxPrevOutIndex), script, nil))
	value := subsidy(b.height) + b.fees
	cb.AddTxOut(wire.NewTxOut(int64(value), pkScript(s.addrs[to].raw)))
	s.witnessCommitment(cb)
	cbID := cb.TxHash()
	s.credit(to, native, u64(value))
	b.immature = append(b.immature, utxo{op: wire.OutPoint{Hash: cbID}, value: value, addr: to})
	b.heights = append(b.heights, b.height)
	for len(b.heights) > 0 && b.heights[0]+coinbaseMaturity <= b.height {
		miner.utxos = append(miner.utxos, b.immature[0])
		b.immature, b.heights = b.immature[1:], b.heights[1:]
	}

	blk := wire.MsgBlock{Header: wire.BlockHeader{Version: 0x20000000, PrevBlock: b.prev,
		Timestamp: unixTime(t), Bits: regtest.PowLimitBits}}
	blk.Transactions = make([]*wire.MsgTx, 0, len(b.txs)+1)
	blk.Transactions = append(blk.Transactions, cb)
	blk.Transactions = append(blk.Transactions, b.txs...)
	ids := make([]chainhash.Hash, len(blk.Transactions))
	ids[0] = cbID
	for i, tx := range b.txs {
		ids[i+1] = tx.TxHash()
	}
	blk.Header.MerkleRoot = merkleRoot(ids)
	for {
		h := blk.Header.BlockHash()
		if hashMeets(&h) {
			b.prev = h
			break
		}
		blk.Header.Nonce++
	}
	b.buf.Reset()
	if err := blk.Serialize(&b.buf); err != nil {
		s.fail(err)
		return
	}
	rec := int64(8 + b.buf.Len())
	if b.fileSize > 0 && b.fileSize+rec > maxBlkFile {
		if err := b.openFile(); err != nil {
			s.fail(err)
			return
		}
	}
	var hdr [8]byte
	binary.LittleEndian.PutUint32(hdr[:], uint32(wire.TestNet)) // regtest magic fabfb5da
	binary.LittleEndian.PutUint32(hdr[4:], uint32(b.buf.Len()))
	b.w.Write(hdr[:])
	if _, err := b.w.Write(b.buf.Bytes()); err != nil {
		s.fail(err)
	}
	b.fileSize += rec
	b.blocks++
	b.ntx++
	b.transfers++ // the coinbase output
	b.txs = b.txs[:0]
	b.fees = 0
}

// witnessCommitment adds BIP 141's commitment to the coinbase when the
// block's transactions carry witness data: an OP_RETURN output with the
// double hash of the witness merkle root and the coinbase's 32-byte witness
// nonce (zero).
func (s *Sim) witnessCommitment(cb *wire.MsgTx) {
	txs := s.btc.txs
	ids := make([]chainhash.Hash, len(txs)+1) // the coinbase's wtxid counts as zero
	witness := false
	for i, tx := range txs {
		witness = witness || tx.HasWitness()
		ids[i+1] = tx.WitnessHash()
	}
	if !witness {
		return
	}
	root := merkleRoot(ids)
	var nonce [32]byte
	commit := chainhash.DoubleHashH(append(root[:], nonce[:]...))
	script := append([]byte{0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed}, commit[:]...)
	cb.AddTxOut(wire.NewTxOut(0, script))
	cb.TxIn[0].Witness = wire.TxWitness{nonce[:]}
	s.btc.transfers++ // the commitment output
}

// hashMeets reports whether a block hash is within regtest's target.
func hashMeets(h *chainhash.Hash) bool {
	var v uint256.Int
	var be [32]byte
	for i := range be {
		be[i] = h[31-i]
	}
	v.SetBytes(be[:])
	return !v.Gt(powLimit)
}

var powLimit = new(uint256.Int).SetBytes(regtest.PowLimit.Bytes())

func unixTime(t int64) time.Time { return time.Unix(t, 0).UTC() }

// merkleRoot computes the Bitcoin merkle root of txids.
func merkleRoot(ids []chainhash.Hash) chainhash.Hash {
	level := append([]chainhash.Hash(nil), ids...)
	var buf [64]byte
	for len(level) > 1 {
		if len(level)%2 == 1 {
			level = append(level, level[len(level)-1])
		}
		next := level[:0]
		for i := 0; i < len(level); i += 2 {
			copy(buf[:32], level[i][:])
			copy(buf[32:], level[i+1][:])
			next = append(next, chainhash.DoubleHashH(buf[:]))
		}
		level = next
	}
	return level[0]
}
