package sim

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
)

// USDTTron is the real USDT-TRC20 contract (TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t).
var USDTTron = mustHex("41a614f803b6fd780986a42c78ec9c7f77e6ded13c")

// USDCEth is the real USDC contract on Ethereum.
var USDCEth = mustHex("a0b86991c6218b36c1d19d4a2e9eb0ce3606eb48")

// transferTopic is keccak256("Transfer(address,address,uint256)").
const transferTopic = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// acctTx is one account-chain transaction: a native transfer or one token
// transfer, its fee and receipt.
type acctTx struct {
	id       [32]byte
	from, to int32
	slot     int
	value    uint256.Int
	fee      uint64 // sun or wei, paid by from
	gasPrice uint64 // Ethereum
	gasUsed  uint64 // Ethereum gas; Tron energy
	gasLimit uint64
	netFee   uint64 // Tron bandwidth burnt (sun)
	netUsage uint64 // Tron bandwidth from the free/staked allowance
	nonce    uint64
	failed   bool
	time     int64
}

// acctChain buffers one block of an account chain and writes it as
// ethereum-etl CSV rows (and, for Tron, a java-tron API JSON line).
type acctChain struct {
	chain         model.Chain
	symbol        string
	tokenSymbol   string
	tokenName     string
	contract      []byte // canonical token contract bytes
	decimals      int
	interval      int64
	baseHeight    uint64
	seed          uint64
	cur           uint64
	open          bool
	txs           []acctTx
	logIndex      int
	closers       []io.Closer // the API file's gzip writer (if any), then file
	etlDir        string
	compress      bool
	partOpen      bool
	partEnd       uint64      // last height of the open ETL partition
	partClosers   []io.Closer // the open partition's gzip writers (if any), then files
	blocksW       *bufio.Writer
	txW           *bufio.Writer
	ttW           *bufio.Writer
	api           *bufio.Writer
	buf           []byte
	blocks, ntx   int64
	transfers     int64
	firstH, lastH uint64
}

func newAcctChain(dir string, c model.Chain, seed uint64, compress bool) (*acctChain, error) {
	a := &acctChain{chain: c, seed: seed}
	switch c {
	case model.Tron:
		a.symbol, a.tokenSymbol, a.tokenName, a.contract, a.decimals = "TRX", "USDT", "Tether USD", USDTTron, 6
		a.interval, a.baseHeight = 3, 37_500_000
	case model.ETH:
		a.symbol, a.tokenSymbol, a.tokenName, a.contract, a.decimals = "ETH", "USDC", "USD Coin", USDCEth, 6
		a.interval, a.baseHeight = 12, 13_916_166
	}
	a.etlDir, a.compress = filepath.Join(dir, "etl"), compress
	if err := os.MkdirAll(a.etlDir, 0o755); err != nil {
		return nil, err
	}
	var err error
	if c == model.Tron {
		if err := os.MkdirAll(filepath.Join(dir, "api"), 0o755); err != nil {
			return nil, err
		}
		if a.api, err = a.create(filepath.Join(dir, "api", "blocks.jsonl"), "", &a.closers); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// PartitionBlocks is how many block heights one ETL partition spans, as
// ethereum-etl partitions its exports (start_block=/end_block= folders), so an
// export is read one bounded partition at a time.
const PartitionBlocks = 100_000

// create opens a (gzip-compressed when asked) output file with a header
// line, registering what must be closed in closers.
func (a *acctChain) create(path, header string, closers *[]io.Closer) (*bufio.Writer, error) {
	if a.compress {
		path += ".gz"
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	var dst io.Writer = f
	if a.compress {
		z, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
		*closers = append(*closers, z)
		dst = z
	}
	*closers = append(*closers, f)
	w := bufio.NewWriterSize(dst, 1<<20)
	if header != "" {
		w.WriteString(header + "\n")
	}
	return w, nil
}

// partition makes sure the open ETL partition holds height h, closing the
// previous one: ethereum-etl's layout, e.g.
// etl/transactions/start_block=37500000/end_block=37599999/transactions_37500000_37599999.csv.
func (a *acctChain) partition(h uint64) error {
	if a.partOpen && h <= a.partEnd {
		return nil
	}
	if err := a.closePartition(); err != nil {
		return err
	}
	start := h - h%PartitionBlocks
	end := start + PartitionBlocks - 1
	path := func(kind string) string {
		return filepath.Join(a.etlDir, kind, fmt.Sprintf("start_block=%08d", start), fmt.Sprintf("end_block=%08d", end),
			fmt.Sprintf("%s_%08d_%08d.csv", kind, start, end))
	}
	var err error
	if a.blocksW, err = a.create(path("blocks"), "number,hash,parent_hash,miner,timestamp,transaction_count", &a.partClosers); err != nil {
		return err
	}
	if a.txW, err = a.create(path("transactions"), "hash,nonce,block_hash,block_number,transaction_index,from_address,to_address,value,gas,gas_price,input,block_timestamp,receipt_gas_used,receipt_status", &a.partClosers); err != nil {
		return err
	}
	if a.ttW, err = a.create(path("token_transfers"), "token_address,from_address,to_address,value,transaction_hash,log_index,block_number", &a.partClosers); err != nil {
		return err
	}
	a.partOpen, a.partEnd = true, end
	return nil
}

// closePartition flushes and closes the open ETL partition's files.
func (a *acctChain) closePartition() error {
	if !a.partOpen {
		return nil
	}
	var first error
	for _, w := range []*bufio.Writer{a.blocksW, a.txW, a.ttW} {
		if err := w.Flush(); err != nil && first == nil {
			first = err
		}
	}
	for _, c := range a.partClosers {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	a.partClosers, a.partOpen = nil, false
	a.blocksW, a.txW, a.ttW = nil, nil, nil
	return first
}

// writeTokens writes tokens.csv.
func (a *acctChain) writeTokens(dir string, supply *uint256.Int) error {
	f, err := os.Create(filepath.Join(dir, "etl", "tokens.csv"))
	if err != nil {
		return err
	}
	_, err = f.WriteString("address,symbol,name,decimals,total_supply\n" + a.evm(a.contract) + "," + a.tokenSymbol + "," +
		a.tokenName + "," + strconv.Itoa(a.decimals) + "," + supply.Dec() + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// evm renders canonical address bytes in the 0x form of ETL exports.
func (a *acctChain) evm(raw []byte) string {
	if a.chain == model.Tron {
		raw = raw[1:]
	}
	return "0x" + hex.EncodeToString(raw)
}

// heightAt is the block a transaction at time t lands in.
func (a *acctChain) heightAt(t int64) uint64 {
	return a.baseHeight + uint64((t-Start.Unix())/a.interval)
}

func (a *acctChain) blockTime(h uint64) int64 {
	return Start.Unix() + int64(h-a.baseHeight)*a.interval
}

// blockHash derives block h's hash from the seed, so every block (also one
// not exported because it holds nothing of interest) has a fixed hash and
// parent_hash links are consistent. Tron block ids start with the height.
func (a *acctChain) blockHash(h uint64) [32]byte {
	var in [24]byte
	binary.LittleEndian.PutUint64(in[:], a.seed)
	binary.LittleEndian.PutUint64(in[8:], uint64(a.chain))
	binary.LittleEndian.PutUint64(in[16:], h)
	sum := sha256.Sum256(in[:])
	if a.chain == model.Tron {
		binary.BigEndian.PutUint64(sum[:8], h)
	}
	return sum
}

// add queues a transaction, flushing the open block when time moved on.
func (s *Sim) acctAdd(a *acctChain, tx acctTx) {
	h := a.heightAt(tx.time)
	if a.open && h != a.cur {
		s.fail(s.flushAcct(a))
	}
	a.open, a.cur = true, h
	a.txs = append(a.txs, tx)
	a.ntx++
	if !tx.failed {
		a.transfers++
	}
}

// flushAcct writes the open block.
func (s *Sim) flushAcct(a *acctChain) error {
	if !a.open || len(a.txs) == 0 {
		a.open = false
		return nil
	}
	h := a.cur
	if err := a.partition(h); err != nil {
		return err
	}
	if a.blocks == 0 {
		a.firstH = h
	}
	a.lastH = h
	hash, parent := a.blockHash(h), a.blockHash(h-1)
	hx, px := hex.EncodeToString(hash[:]), hex.EncodeToString(parent[:])
	bt := a.blockTime(h)
	hs, ts := strconv.FormatUint(h, 10), strconv.FormatInt(bt, 10)
	a.blocks++
	b := a.buf[:0]
	b = append(b, hs...)
	b = append(b, ",0x"...)
	b = append(b, hx...)
	b = append(b, ",0x"...)
	b = append(b, px...)
	b = append(b, ',')
	b = append(b, a.evm(s.minerOf(a, h))...)
	b = append(b, ',')
	b = append(b, ts...)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(len(a.txs)), 10)
	b = append(b, '\n')
	a.blocksW.Write(b)
	for i := range a.txs {
		t := &a.txs[i]
		from, to := s.addrs[t.from].raw, s.addrs[t.to].raw
		idx := hex.EncodeToString(t.id[:])
		b = b[:0]
		b = append(b, "0x"...)
		b = append(b, idx...)
		b = append(b, ',')
		if a.chain == model.ETH {
			b = strconv.AppendUint(b, t.nonce, 10)
		}
		b = append(b, ",0x"...)
		b = append(b, hx...)
		b = append(b, ',')
		b = append(b, hs...)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, ',')
		b = append(b, a.evm(from)...)
		b = append(b, ',')
		var input string
		if t.slot == native {
			b = append(b, a.evm(to)...)
			b = append(b, ',')
			b = append(b, t.value.Dec()...)
			input = "0x"
		} else {
			b = append(b, a.evm(a.contract)...)
			b = append(b, ",0"...)
			input = "0x" + transferCall(a, to, &t.value)
		}
		b = append(b, ',')
		b = strconv.AppendUint(b, t.gasLimit, 10)
		b = append(b, ',')
		if a.chain == model.Tron {
			b = append(b, '1')
		} else {
			b = strconv.AppendUint(b, t.gasPrice, 10)
		}
		b = append(b, ',')
		b = append(b, input...)
		b = append(b, ',')
		b = append(b, ts...)
		b = append(b, ',')
		if a.chain == model.Tron {
			b = strconv.AppendUint(b, t.fee, 10)
		} else {
			b = strconv.AppendUint(b, t.gasUsed, 10)
		}
		if t.failed {
			b = append(b, ",0\n"...)
		} else {
			b = append(b, ",1\n"...)
		}
		a.txW.Write(b)
		if t.slot == token && !t.failed {
			b = b[:0]
			b = append(b, a.evm(a.contract)...)
			b = append(b, ',')
			b = append(b, a.evm(from)...)
			b = append(b, ',')
			b = append(b, a.evm(to)...)
			b = append(b, ',')
			b = append(b, t.value.Dec()...)
			b = append(b, ",0x"...)
			b = append(b, idx...)
			b = append(b, ',')
			li := 0
			if a.chain == model.ETH {
				li = a.logIndex // Ethereum log indexes count within the block
				a.logIndex++
			}
			b = strconv.AppendInt(b, int64(li), 10)
			b = append(b, ',')
			b = append(b, hs...)
			b = append(b, '\n')
			a.ttW.Write(b)
		}
	}
	a.buf = b
	if a.api != nil {
		s.writeTronAPI(a, h, hx, px, bt)
	}
	a.txs = a.txs[:0]
	a.logIndex = 0
	a.open = false
	_, err := a.txW.Write(nil)
	return err
}

// transferCall is the ABI call data of transfer(to, value), hex.
func transferCall(a *acctChain, to []byte, v *uint256.Int) string {
	if a.chain == model.Tron {
		to = to[1:]
	}
	var buf [4 + 64]byte
	copy(buf[:4], mustHex("a9059cbb"))
	copy(buf[4+12:36], to)
	v.WriteToSlice(buf[36:68])
	return hex.EncodeToString(buf[:])
}

// minerOf picks a block producer address for the block header (a fixed
// set of producer addresses that never transact).
func (s *Sim) minerOf(a *acctChain, h uint64) []byte {
	var in [16]byte
	binary.LittleEndian.PutUint64(in[:], a.seed^0x6d696e6572)
	binary.LittleEndian.PutUint64(in[8:], h%27)
	sum := sha256.Sum256(in[:])
	if a.chain == model.Tron {
		return append([]byte{0x41}, sum[:20]...)
	}
	return sum[:20]
}

func (a *acctChain) close() error {
	first := a.closePartition()
	for _, w := range []*bufio.Writer{a.api} {
		if w != nil {
			if err := w.Flush(); err != nil && first == nil {
				first = err
			}
		}
	}
	for _, f := range a.closers {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
