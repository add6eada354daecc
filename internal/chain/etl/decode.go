package etl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// Result is a decoded unit: canonical blocks in height order, facts, counts.
type Result struct {
	Blocks []*model.Block
	Facts  []store.Fact
	// Rows counts data rows read per kind.
	Rows map[Kind]int64
	// Txs and Transfers count what the blocks hold (native value transfers
	// and token transfers of successful transactions).
	Txs, Transfers int64
	// DroppedFailed counts token-transfer rows of failed transactions
	// (receipt_status 0): a failed transaction moves nothing.
	DroppedFailed int64
	// NoTime lists heights of blocks whose time no file gave (no blocks row,
	// no block_timestamp): they cannot be valued in USD.
	NoTime []uint64
	// StatusUnknown counts transactions whose receipt status is empty
	// (pre-Byzantium Ethereum): counted as succeeded.
	StatusUnknown int64
}

// blockAcc is what the files say about one block.
type blockAcc struct {
	hash, parent [32]byte
	time         int64
	hasHash      bool
	hasParent    bool
	hasTime      bool
	where        loc
}

// loc is where a row came from, for error messages.
type loc struct {
	file int32 // index into Decoder.files
	line int32
}

// txAcc collects one transaction from transactions, receipts and
// token-transfer rows.
type txAcc struct {
	id       [32]byte
	height   uint64
	index    int64 // -1: unknown
	hasRow   bool  // a transactions row was read
	status   int8  // 1 ok, 0 failed, -1 empty (unknown), -2 not given
	from, to []byte
	value    uint256.Int
	fee      uint256.Int
	hasFee   bool
	gasPrice uint256.Int // the row's gas_price, for receipts without a price
	hasPrice bool
	minLog   int32
	nXfer    int32
	where    loc
}

type xferAcc struct {
	tx    int32
	t     model.Transfer
	where loc
}

type receiptAcc struct {
	status   int8
	used     uint256.Int
	hasUsed  bool
	eff      uint256.Int // effective gas price
	hasEff   bool
	blobFee  uint256.Int
	contract []byte
	where    loc
}

// Decoder joins the files of one unit into canonical blocks. Feed it files
// with the Read* methods in any order, then call Finish.
type Decoder struct {
	chain     model.Chain
	files     []string
	blocks    map[uint64]*blockAcc
	txIdx     map[[32]byte]int32
	txs       []txAcc
	xfers     []xferAcc
	receipts  map[[32]byte]*receiptAcc
	facts     []store.Fact
	arena     []byte
	contracts map[[20]byte][]byte
	lastRaw   []byte
	lastCanon []byte
	res       Result
}

// NewDecoder returns a decoder for chain c (model.ETH or model.Tron).
func NewDecoder(c model.Chain) *Decoder {
	return &Decoder{
		chain:     c,
		blocks:    map[uint64]*blockAcc{},
		txIdx:     map[[32]byte]int32{},
		receipts:  map[[32]byte]*receiptAcc{},
		contracts: map[[20]byte][]byte{},
		res:       Result{Rows: map[Kind]int64{}},
	}
}

// DecodeUnit reads every file of u (blocks first, so times are known).
func DecodeUnit(c model.Chain, u Unit) (*Result, error) {
	d := NewDecoder(c)
	files := append([]File(nil), u.Files...)
	sort.SliceStable(files, func(i, j int) bool { return files[i].Kind < files[j].Kind })
	for _, f := range files {
		if err := d.ReadFile(f); err != nil {
			return nil, err
		}
	}
	return d.Finish()
}

// ReadFile reads one file according to its kind.
func (d *Decoder) ReadFile(f File) error {
	r, err := open(f.Path)
	if err != nil {
		return err
	}
	defer r.Close()
	return d.Read(f.Kind, r, f.Path)
}

// Read decodes one file of the given kind from r; name is used in errors.
func (d *Decoder) Read(k Kind, r io.Reader, name string) error {
	cr := newCSVReader(r, name)
	if err := cr.readHeader(); err != nil {
		return err
	}
	d.files = append(d.files, name)
	fi := int32(len(d.files) - 1)
	switch k {
	case KindBlocks:
		return d.readBlocks(cr, fi)
	case KindTransactions:
		return d.readTransactions(cr, fi)
	case KindReceipts:
		return d.readReceipts(cr, fi)
	case KindTokenTransfers:
		return d.readTokenTransfers(cr, fi)
	case KindLogs:
		return d.readLogs(cr, fi)
	}
	return &Error{File: name, Msg: fmt.Sprintf("cannot decode a %s file here", k)}
}

// cols resolves required column names to indexes.
func cols(cr *csvReader, names ...string) ([]int, error) {
	idx := make([]int, len(names))
	for i, n := range names {
		j, err := cr.col(n)
		if err != nil {
			return nil, err
		}
		idx[i] = j
	}
	return idx, nil
}

// rows runs fn for every data record, counting them.
func (d *Decoder) rows(cr *csvReader, k Kind, fn func() error) error {
	for {
		if err := cr.record(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		d.res.Rows[k]++
		if err := fn(); err != nil {
			return err
		}
	}
}

// alloc copies b into the decoder's arena (one allocation per 1 MiB).
func (d *Decoder) alloc(b []byte) []byte {
	if cap(d.arena)-len(d.arena) < len(b) {
		d.arena = make([]byte, 0, max(1<<20, len(b)))
	}
	n := len(d.arena)
	d.arena = append(d.arena, b...)
	return d.arena[n:len(d.arena):len(d.arena)]
}

// addr parses an address field into canonical bytes kept in the arena.
func (d *Decoder) addr(cr *csvReader, i int, name string) ([]byte, error) {
	f := cr.fields[i]
	var raw [20]byte
	if h, ok := strip0x(f); ok && decodeHex(raw[:], h) {
		if d.chain == model.Tron {
			var t [21]byte
			t[0] = 0x41
			copy(t[1:], raw[:])
			return d.alloc(t[:]), nil
		}
		return d.alloc(raw[:]), nil
	}
	b, err := ParseAddress(d.chain, f)
	if err != nil {
		return nil, cr.errf(name, "%v", err)
	}
	return d.alloc(b), nil
}

// contract parses a token contract address, interning it: a few contracts
// carry most transfers.
func (d *Decoder) contract(cr *csvReader, i int, name string) ([]byte, error) {
	f := cr.fields[i]
	if d.lastCanon != nil && string(f) == string(d.lastRaw) {
		return d.lastCanon, nil
	}
	var raw [20]byte
	h, ok := strip0x(f)
	if !ok || !decodeHex(raw[:], h) {
		b, err := ParseAddress(d.chain, f)
		if err != nil {
			return nil, cr.errf(name, "%v", err)
		}
		if d.chain == model.Tron {
			copy(raw[:], b[1:])
		} else {
			copy(raw[:], b)
		}
	}
	c, ok := d.contracts[raw]
	if !ok {
		c = CanonicalEVM(d.chain, raw[:])
		d.contracts[raw] = c
	}
	d.lastRaw = append(d.lastRaw[:0], f...)
	d.lastCanon = c
	return c, nil
}

func (d *Decoder) hash(cr *csvReader, i int, name string) ([32]byte, error) {
	h, err := ParseHash(cr.fields[i])
	if err != nil {
		return h, cr.errf(name, "%v", err)
	}
	return h, nil
}

func (d *Decoder) uint(cr *csvReader, i int, name string) (uint64, error) {
	n, err := ParseUint(cr.fields[i])
	if err != nil {
		return 0, cr.errf(name, "%v", err)
	}
	return n, nil
}

// maxHeight bounds block numbers: far above any chain's (Tron, the highest,
// is near 10^8), and low enough that height arithmetic cannot overflow.
const maxHeight = 1 << 40

// height parses a block number column.
func (d *Decoder) height(cr *csvReader, i int, name string) (uint64, error) {
	n, err := d.uint(cr, i, name)
	if err == nil && n > maxHeight {
		return 0, cr.errf(name, "block number %d is out of range (no chain is past 2^40)", n)
	}
	return n, err
}

func (d *Decoder) amount(cr *csvReader, i int, name string) (uint256.Int, error) {
	v, err := ParseAmount(cr.fields[i])
	if err != nil {
		return v, cr.errf(name, "%v", err)
	}
	return v, nil
}

// block returns the accumulator of a height, creating it.
func (d *Decoder) block(h uint64) *blockAcc {
	b := d.blocks[h]
	if b == nil {
		b = &blockAcc{}
		d.blocks[h] = b
	}
	return b
}

// setBlockHash records the hash of block n, rejecting a conflicting one and
// one of a Tron block: a Tron block id begins with its number (8 bytes,
// big-endian), an Ethereum hash practically never does, so a Tron export
// given as Ethereum (spoor ingest eth --etl tron/etl) is refused at its first
// block instead of filling the store with the other chain's data. (The
// converse cannot be told from a hash alone: test exports of Tron use
// synthetic ids.)
func (d *Decoder) setBlockHash(cr *csvReader, b *blockAcc, n uint64, h [32]byte, field string, w loc) error {
	if d.chain == model.ETH && n > 0 && binary.BigEndian.Uint64(h[:8]) == n {
		return cr.errf(field, "block %d hash %x begins with the block number like a Tron block id: a Tron export? (spoor ingest tron --etl)", n, h)
	}
	if b.hasHash && b.hash != h {
		return cr.errf(field, "block hash %x conflicts with %x given at %s", h, b.hash, d.where(b.where))
	}
	if !b.hasHash {
		b.hash, b.hasHash, b.where = h, true, w
	}
	return nil
}

func (d *Decoder) setBlockTime(cr *csvReader, b *blockAcc, t int64, field string, w loc) error {
	if b.hasTime && b.time != t {
		return cr.errf(field, "block time %d conflicts with %d given at %s", t, b.time, d.where(b.where))
	}
	if !b.hasTime {
		b.time, b.hasTime = t, true
		if !b.hasHash {
			b.where = w
		}
	}
	return nil
}

func (d *Decoder) where(w loc) string {
	if int(w.file) < len(d.files) {
		return fmt.Sprintf("%s:%d", d.files[w.file], w.line)
	}
	return "?"
}

func (d *Decoder) readBlocks(cr *csvReader, fi int32) error {
	c, err := cols(cr, "number", "hash", "timestamp")
	if err != nil {
		return err
	}
	iParent := cr.optCol("parent_hash")
	return d.rows(cr, KindBlocks, func() error {
		w := loc{fi, int32(cr.line)}
		n, err := d.height(cr, c[0], "number")
		if err != nil {
			return err
		}
		h, err := d.hash(cr, c[1], "hash")
		if err != nil {
			return err
		}
		t, err := ParseTime(cr.fields[c[2]])
		if err != nil {
			return cr.errf("timestamp", "%v", err)
		}
		b := d.block(n)
		if err := d.setBlockHash(cr, b, n, h, "hash", w); err != nil {
			return err
		}
		if err := d.setBlockTime(cr, b, t, "timestamp", w); err != nil {
			return err
		}
		if iParent >= 0 && len(cr.fields[iParent]) > 0 {
			p, err := d.hash(cr, iParent, "parent_hash")
			if err != nil {
				return err
			}
			b.parent, b.hasParent = p, true
		}
		return nil
	})
}

// tx returns the accumulator slot of a txid, creating it.
func (d *Decoder) tx(id [32]byte, height uint64, w loc) (int32, bool) {
	if i, ok := d.txIdx[id]; ok {
		return i, false
	}
	i := int32(len(d.txs))
	d.txs = append(d.txs, txAcc{id: id, height: height, index: -1, status: -2, minLog: 1<<31 - 1, where: w})
	d.txIdx[id] = i
	return i, true
}

// parseStatus reads a receipt status: 1 ok, 0 failed, empty unknown (-1).
func parseStatus(cr *csvReader, i int, name string) (int8, error) {
	f := cr.fields[i]
	switch string(f) {
	case "1", "0x1", "true", "TRUE", "True":
		return 1, nil
	case "0", "0x0", "false", "FALSE", "False":
		return 0, nil
	case "":
		return -1, nil
	}
	return 0, cr.errf(name, "want receipt status 1 or 0, got %q", clip(f))
}

// fee computes gas_used × price from optional columns (-1 = absent); ok
// false when the row does not carry it.
func (d *Decoder) fee(cr *csvReader, iUsed, iPrice, iEff, iBlobUsed, iBlobPrice int, prefix string) (fee uint256.Int, ok bool, err error) {
	if iUsed < 0 || len(cr.fields[iUsed]) == 0 {
		return fee, false, nil
	}
	used, err := d.amount(cr, iUsed, prefix+"gas_used")
	if err != nil {
		return fee, false, err
	}
	var price uint256.Int
	switch {
	case iEff >= 0 && len(cr.fields[iEff]) > 0:
		if price, err = d.amount(cr, iEff, prefix+"effective_gas_price"); err != nil {
			return fee, false, err
		}
	case iPrice >= 0 && len(cr.fields[iPrice]) > 0:
		if price, err = d.amount(cr, iPrice, "gas_price"); err != nil {
			return fee, false, err
		}
	default:
		return fee, false, cr.errf("gas_price", "gas used is given but no gas price (gas_price or %seffective_gas_price)", prefix)
	}
	if _, over := fee.MulOverflow(&used, &price); over {
		return fee, false, cr.errf(prefix+"gas_used", "fee overflows 256 bits")
	}
	if iBlobUsed >= 0 && iBlobPrice >= 0 && len(cr.fields[iBlobUsed]) > 0 && len(cr.fields[iBlobPrice]) > 0 {
		bu, err := d.amount(cr, iBlobUsed, prefix+"blob_gas_used")
		if err != nil {
			return fee, false, err
		}
		bp, err := d.amount(cr, iBlobPrice, prefix+"blob_gas_price")
		if err != nil {
			return fee, false, err
		}
		var blob uint256.Int
		if _, over := blob.MulOverflow(&bu, &bp); over {
			return fee, false, cr.errf(prefix+"blob_gas_used", "blob fee overflows 256 bits")
		}
		if _, over := fee.AddOverflow(&fee, &blob); over {
			return fee, false, cr.errf(prefix+"blob_gas_used", "fee overflows 256 bits")
		}
	}
	return fee, true, nil
}

func (d *Decoder) readTransactions(cr *csvReader, fi int32) error {
	c, err := cols(cr, "hash", "block_number", "from_address", "to_address", "value")
	if err != nil {
		return err
	}
	iIndex, iTime, iBHash := cr.optCol("transaction_index"), cr.optCol("block_timestamp"), cr.optCol("block_hash")
	iStatus, iUsed, iPrice, iEff := cr.optCol("receipt_status"), cr.optCol("receipt_gas_used"), cr.optCol("gas_price"), cr.optCol("receipt_effective_gas_price")
	iBlobUsed, iBlobPrice := cr.optCol("receipt_blob_gas_used"), cr.optCol("receipt_blob_gas_price")
	iCreated := cr.optCol("receipt_contract_address")
	return d.rows(cr, KindTransactions, func() error {
		w := loc{fi, int32(cr.line)}
		id, err := d.hash(cr, c[0], "hash")
		if err != nil {
			return err
		}
		h, err := d.height(cr, c[1], "block_number")
		if err != nil {
			return err
		}
		from, err := d.addr(cr, c[2], "from_address")
		if err != nil {
			return err
		}
		var to []byte
		if len(cr.fields[c[3]]) > 0 {
			if to, err = d.addr(cr, c[3], "to_address"); err != nil {
				return err
			}
		} else if iCreated >= 0 && len(cr.fields[iCreated]) > 0 {
			if to, err = d.addr(cr, iCreated, "receipt_contract_address"); err != nil {
				return err
			}
		}
		value, err := d.amount(cr, c[4], "value")
		if err != nil {
			return err
		}
		if to == nil && !value.IsZero() {
			return cr.errf("to_address", "contract creation moves %s but no receipt_contract_address says where", value.Dec())
		}
		status := int8(-2)
		if iStatus >= 0 {
			if status, err = parseStatus(cr, iStatus, "receipt_status"); err != nil {
				return err
			}
		}
		fee, hasFee, err := d.fee(cr, iUsed, iPrice, iEff, iBlobUsed, iBlobPrice, "receipt_")
		if err != nil {
			return err
		}
		var gasPrice uint256.Int
		hasPrice := iPrice >= 0 && len(cr.fields[iPrice]) > 0
		if hasPrice {
			if gasPrice, err = d.amount(cr, iPrice, "gas_price"); err != nil {
				return err
			}
		}
		index := int64(-1)
		if iIndex >= 0 && len(cr.fields[iIndex]) > 0 {
			n, err := d.uint(cr, iIndex, "transaction_index")
			if err != nil {
				return err
			}
			if n > 1<<31 {
				return cr.errf("transaction_index", "index %d out of range", n)
			}
			index = int64(n)
		}
		b := d.block(h)
		if iTime >= 0 && len(cr.fields[iTime]) > 0 {
			t, err := ParseTime(cr.fields[iTime])
			if err != nil {
				return cr.errf("block_timestamp", "%v", err)
			}
			if err := d.setBlockTime(cr, b, t, "block_timestamp", w); err != nil {
				return err
			}
		}
		if iBHash >= 0 && len(cr.fields[iBHash]) > 0 {
			bh, err := d.hash(cr, iBHash, "block_hash")
			if err != nil {
				return err
			}
			if err := d.setBlockHash(cr, b, h, bh, "block_hash", w); err != nil {
				return err
			}
		}
		i, _ := d.tx(id, h, w)
		t := &d.txs[i]
		if t.height != h {
			return cr.errf("block_number", "transaction %x is in block %d here but block %d at %s", id, h, t.height, d.where(t.where))
		}
		if t.hasRow {
			if t.status != status || !bytesEq(t.from, from) || !bytesEq(t.to, to) || !t.value.Eq(&value) || t.fee != fee {
				return cr.errf("hash", "transaction %x listed twice with different content (first at %s)", id, d.where(t.where))
			}
			return nil
		}
		t.hasRow, t.where = true, w
		t.status, t.from, t.to, t.value, t.fee, t.hasFee, t.index = status, from, to, value, fee, hasFee, index
		t.gasPrice, t.hasPrice = gasPrice, hasPrice
		return nil
	})
}

func bytesEq(a, b []byte) bool { return string(a) == string(b) }

func (d *Decoder) readReceipts(cr *csvReader, fi int32) error {
	c, err := cols(cr, "transaction_hash", "status")
	if err != nil {
		return err
	}
	iUsed, iEff := cr.optCol("gas_used"), cr.optCol("effective_gas_price")
	iBlobUsed, iBlobPrice := cr.optCol("blob_gas_used"), cr.optCol("blob_gas_price")
	iCreated := cr.optCol("contract_address")
	return d.rows(cr, KindReceipts, func() error {
		id, err := d.hash(cr, c[0], "transaction_hash")
		if err != nil {
			return err
		}
		r := &receiptAcc{where: loc{fi, int32(cr.line)}}
		if r.status, err = parseStatus(cr, c[1], "status"); err != nil {
			return err
		}
		if iUsed >= 0 && len(cr.fields[iUsed]) > 0 {
			if r.used, err = d.amount(cr, iUsed, "gas_used"); err != nil {
				return err
			}
			r.hasUsed = true
		}
		if iEff >= 0 && len(cr.fields[iEff]) > 0 {
			if r.eff, err = d.amount(cr, iEff, "effective_gas_price"); err != nil {
				return err
			}
			r.hasEff = true
		}
		if iBlobUsed >= 0 && iBlobPrice >= 0 && len(cr.fields[iBlobUsed]) > 0 && len(cr.fields[iBlobPrice]) > 0 {
			bu, err := d.amount(cr, iBlobUsed, "blob_gas_used")
			if err != nil {
				return err
			}
			bp, err := d.amount(cr, iBlobPrice, "blob_gas_price")
			if err != nil {
				return err
			}
			if _, over := r.blobFee.MulOverflow(&bu, &bp); over {
				return cr.errf("blob_gas_used", "blob fee overflows 256 bits")
			}
		}
		if iCreated >= 0 && len(cr.fields[iCreated]) > 0 {
			if r.contract, err = d.addr(cr, iCreated, "contract_address"); err != nil {
				return err
			}
		}
		d.receipts[id] = r
		return nil
	})
}

func (d *Decoder) readTokenTransfers(cr *csvReader, fi int32) error {
	c, err := cols(cr, "token_address", "from_address", "to_address", "value", "transaction_hash", "log_index", "block_number")
	if err != nil {
		return err
	}
	iTime, iBHash := cr.optCol("block_timestamp"), cr.optCol("block_hash")
	var lastID [32]byte
	lastTx := int32(-1)
	return d.rows(cr, KindTokenTransfers, func() error {
		w := loc{fi, int32(cr.line)}
		contract, err := d.contract(cr, c[0], "token_address")
		if err != nil {
			return err
		}
		from, err := d.addr(cr, c[1], "from_address")
		if err != nil {
			return err
		}
		to, err := d.addr(cr, c[2], "to_address")
		if err != nil {
			return err
		}
		value, err := d.amount(cr, c[3], "value")
		if err != nil {
			return err
		}
		id, err := d.hash(cr, c[4], "transaction_hash")
		if err != nil {
			return err
		}
		li, err := d.uint(cr, c[5], "log_index")
		if err != nil {
			return err
		}
		if li >= 1<<31 {
			return cr.errf("log_index", "log index %d out of range", li)
		}
		h, err := d.height(cr, c[6], "block_number")
		if err != nil {
			return err
		}
		var ti int32
		if lastTx >= 0 && id == lastID {
			ti = lastTx
		} else {
			ti, _ = d.tx(id, h, w)
			lastID, lastTx = id, ti
		}
		t := &d.txs[ti]
		if t.height != h {
			return cr.errf("block_number", "transaction %x is in block %d here but block %d at %s", id, h, t.height, d.where(t.where))
		}
		if iTime >= 0 && len(cr.fields[iTime]) > 0 {
			tm, err := ParseTime(cr.fields[iTime])
			if err != nil {
				return cr.errf("block_timestamp", "%v", err)
			}
			if err := d.setBlockTime(cr, d.block(h), tm, "block_timestamp", w); err != nil {
				return err
			}
		}
		if iBHash >= 0 && len(cr.fields[iBHash]) > 0 {
			bh, err := d.hash(cr, iBHash, "block_hash")
			if err != nil {
				return err
			}
			if err := d.setBlockHash(cr, d.block(h), h, bh, "block_hash", w); err != nil {
				return err
			}
		}
		if int32(li) < t.minLog {
			t.minLog = int32(li)
		}
		t.nXfer++
		d.xfers = append(d.xfers, xferAcc{tx: ti, where: w, t: model.Transfer{From: from, To: to, Contract: contract, Value: value, LogIndex: int32(li)}})
		return nil
	})
}

// parseTopics splits ethereum-etl's comma-joined topics field.
func parseTopics(f []byte) ([][32]byte, error) {
	s := strings.Trim(string(f), "[]")
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	out := make([][32]byte, len(parts))
	for i, p := range parts {
		h, err := ParseHash([]byte(strings.Trim(strings.TrimSpace(p), `"'`)))
		if err != nil {
			return nil, fmt.Errorf("topic %d: %v", i, err)
		}
		out[i] = h
	}
	return out, nil
}

func (d *Decoder) readLogs(cr *csvReader, fi int32) error {
	c, err := cols(cr, "log_index", "transaction_hash", "block_number", "address", "data", "topics")
	if err != nil {
		return err
	}
	return d.rows(cr, KindLogs, func() error {
		topics, err := parseTopics(cr.fields[c[5]])
		if err != nil {
			return cr.errf("topics", "%v", err)
		}
		if len(topics) == 0 {
			return nil
		}
		switch topics[0] {
		case TopicAddedBlackList, TopicRemovedBlackList, TopicDestroyedBlackFunds, TopicBlacklisted, TopicUnBlacklisted:
		default:
			return nil // transfers come from token_transfers; other events are not used
		}
		contract, err := d.contract(cr, c[3], "address")
		if err != nil {
			return err
		}
		data, _ := strip0x(cr.fields[c[4]])
		raw := make([]byte, len(data)/2)
		if !decodeHex(raw, data) {
			return cr.errf("data", "want hex data, got %q", clip(cr.fields[c[4]]))
		}
		l, ok := DecodeLog(d.chain, topics, raw)
		if !ok || l.Fact == "" {
			return nil
		}
		id, err := d.hash(cr, c[1], "transaction_hash")
		if err != nil {
			return err
		}
		li, err := d.uint(cr, c[0], "log_index")
		if err != nil {
			return err
		}
		if li >= 1<<31 {
			return cr.errf("log_index", "log index %d out of range", li)
		}
		h, err := d.height(cr, c[2], "block_number")
		if err != nil {
			return err
		}
		d.facts = append(d.facts, store.Fact{Kind: l.Fact, Contract: contract, Subject: l.Subject, Amount: l.Amount,
			TxID: id, LogIndex: int32(li), Height: h})
		return nil
	})
}

// Finish joins everything read into blocks. The decoder must not be used
// afterwards.
func (d *Decoder) Finish() (*Result, error) {
	res := &d.res
	// Receipts fill in what transactions rows lack.
	for i := range d.txs {
		t := &d.txs[i]
		if r, ok := d.receipts[t.id]; ok {
			if t.status == -2 {
				t.status = r.status
			}
			if !t.hasFee && r.hasUsed {
				price := &t.gasPrice
				switch {
				case r.hasEff:
					price = &r.eff
				case !t.hasPrice:
					return nil, &Error{File: d.files[r.where.file], Line: int(r.where.line), Field: "effective_gas_price",
						Msg: fmt.Sprintf("receipt of %x gives gas used but no price, and no transactions row gives gas_price", t.id)}
				}
				if _, over := t.fee.MulOverflow(&r.used, price); over {
					return nil, &Error{File: d.files[r.where.file], Line: int(r.where.line), Field: "gas_used", Msg: "fee overflows 256 bits"}
				}
				if _, over := t.fee.AddOverflow(&t.fee, &r.blobFee); over {
					return nil, &Error{File: d.files[r.where.file], Line: int(r.where.line), Field: "blob_gas_used", Msg: "fee overflows 256 bits"}
				}
				t.hasFee = true
			}
			if t.to == nil && r.contract != nil {
				t.to = r.contract
			}
		}
		if t.hasRow && t.status == -2 {
			return nil, &Error{File: d.files[t.where.file], Line: int(t.where.line), Field: "receipt_status",
				Msg: fmt.Sprintf("transaction %x has no receipt status (no receipt_status column, no receipts row): export receipts too, or failed transactions would count", t.id)}
		}
		if t.hasRow && t.to == nil && !t.value.IsZero() {
			return nil, &Error{File: d.files[t.where.file], Line: int(t.where.line), Field: "to_address",
				Msg: fmt.Sprintf("contract creation %x moves %s but no receipt names the contract", t.id, t.value.Dec())}
		}
		if t.status == -1 {
			res.StatusUnknown++
		}
	}
	// Token transfers: check duplicates, drop those of failed txs, place
	// the rest per transaction (counting sort by tx slot).
	native := make([]bool, len(d.txs))
	offs := make([]int, len(d.txs)+1)
	for i := range d.txs {
		t := &d.txs[i]
		n := 0
		if t.status != 0 {
			n = int(t.nXfer)
		} else {
			res.DroppedFailed += int64(t.nXfer)
		}
		if t.hasRow && t.status != 0 && t.to != nil && !t.value.IsZero() {
			native[i] = true
			n++
		}
		offs[i+1] = offs[i] + n
	}
	all := make([]model.Transfer, offs[len(d.txs)])
	fill := make([]int, len(d.txs))
	copy(fill, offs[:len(d.txs)])
	for i := range d.txs {
		if native[i] {
			t := &d.txs[i]
			all[fill[i]] = model.Transfer{From: t.from, To: t.to, Value: t.value, LogIndex: -1}
			fill[i]++
		}
	}
	for k := range d.xfers {
		x := &d.xfers[k]
		if d.txs[x.tx].status == 0 {
			continue
		}
		all[fill[x.tx]] = x.t
		fill[x.tx]++
	}
	segLen := make([]int, len(d.txs))
	for i := range d.txs {
		seg := all[offs[i]:offs[i+1]]
		n := len(seg)
		for j := 1; j < len(seg); j++ {
			if seg[j].LogIndex > seg[j-1].LogIndex {
				continue
			}
			// Out of order or duplicated (overlapping exports): sort, then
			// drop exact duplicates and reject conflicting ones.
			sort.SliceStable(seg, func(a, b int) bool { return seg[a].LogIndex < seg[b].LogIndex })
			w := 1
			for k := 1; k < len(seg); k++ {
				if seg[k].LogIndex == seg[w-1].LogIndex {
					if !sameTransfer(&seg[k], &seg[w-1]) {
						return nil, d.xferConflict(int32(i), seg[k].LogIndex)
					}
					continue
				}
				seg[w] = seg[k]
				w++
			}
			n = w
			break
		}
		segLen[i] = n
	}
	// Blocks: every height seen, with its transactions in order.
	byHeight := map[uint64][]int32{}
	for i := range d.txs {
		byHeight[d.txs[i].height] = append(byHeight[d.txs[i].height], int32(i))
	}
	heights := make([]uint64, 0, len(d.blocks)+len(byHeight))
	for h := range d.blocks {
		heights = append(heights, h)
	}
	for h := range byHeight {
		if _, ok := d.blocks[h]; !ok {
			heights = append(heights, h)
		}
	}
	sort.Slice(heights, func(i, j int) bool { return heights[i] < heights[j] })
	res.Blocks = make([]*model.Block, 0, len(heights))
	txBuf := make([]model.Tx, len(d.txs))
	used := 0
	for _, h := range heights {
		b := &model.Block{Chain: d.chain, Height: h}
		if ba := d.blocks[h]; ba != nil {
			b.Hash, b.PrevHash, b.Time = ba.hash, ba.parent, ba.time
			if !ba.hasTime {
				res.NoTime = append(res.NoTime, h)
			}
		} else {
			res.NoTime = append(res.NoTime, h)
		}
		slots := byHeight[h]
		sort.Slice(slots, func(i, j int) bool {
			a, c := &d.txs[slots[i]], &d.txs[slots[j]]
			ai, ci := a.index, c.index
			if ai < 0 {
				ai = 1 << 40
			}
			if ci < 0 {
				ci = 1 << 40
			}
			if ai != ci {
				return ai < ci
			}
			if a.minLog != c.minLog {
				return a.minLog < c.minLog
			}
			return string(a.id[:]) < string(c.id[:])
		})
		b.Txs = txBuf[used : used+len(slots) : used+len(slots)]
		used += len(slots)
		for k, si := range slots {
			t := &d.txs[si]
			tx := &b.Txs[k]
			tx.ID = t.id
			tx.Index = uint32(k)
			if t.index >= 0 {
				tx.Index = uint32(t.index)
			}
			tx.Failed = t.status == 0
			tx.Fee = t.fee
			if t.hasRow {
				tx.FeePayer = t.from
			}
			start := offs[si]
			end := start + segLen[si]
			if end > start {
				tx.Transfers = all[start:end:end]
			}
			res.Transfers += int64(end - start)
		}
		res.Blocks = append(res.Blocks, b)
	}
	res.Txs = int64(len(d.txs))
	for i := range d.facts {
		f := &d.facts[i]
		if ba := d.blocks[f.Height]; ba != nil {
			f.Time = ba.time
		}
	}
	res.Facts = d.facts
	return res, nil
}

func sameTransfer(a, b *model.Transfer) bool {
	return bytesEq(a.From, b.From) && bytesEq(a.To, b.To) && bytesEq(a.Contract, b.Contract) &&
		a.Value.Eq(&b.Value) && a.LogIndex == b.LogIndex
}

func (d *Decoder) xferConflict(tx int32, li int32) error {
	for k := range d.xfers {
		x := &d.xfers[k]
		if x.tx == tx && x.t.LogIndex == li {
			return &Error{File: d.files[x.where.file], Line: int(x.where.line), Field: "log_index",
				Msg: fmt.Sprintf("transaction %x log %d listed twice with different content", d.txs[tx].id, li)}
		}
	}
	return &Error{Msg: "duplicate log index"}
}
