package etl

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

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
	// SkippedTraces counts traces rows of no transaction (block and
	// uncle rewards, genesis allocations, the DAO fork's moves): not
	// stored.
	SkippedTraces int64
	// DroppedFailedTraces counts traces rows that would move value but
	// belong to a failed transaction (receipt_status 0): dropped.
	DroppedFailedTraces int64
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
	from, to addrRef
	value    uint256.Int
	fee      uint256.Int
	hasFee   bool
	gasPrice uint256.Int // the row's gas_price, for receipts without a price
	hasPrice bool
	minLog   int32
	nXfer    int32
	nTrace   int32 // traces rows that move value (traces.go)
	where    loc
}

// addrRef locates canonical address bytes in one of the decoder's slabs
// (slab 0: no address), so that accumulators hold no pointers.
type addrRef struct{ slab, off uint32 }

// xferBatch is the token_transfers rows of one merged chunk.
type xferBatch struct {
	rows []xferRow // line: the file's line
	slab uint32
	file int32
}

type receiptAcc struct {
	status   int8
	used     uint256.Int
	hasUsed  bool
	eff      uint256.Int // effective gas price
	hasEff   bool
	blobFee  uint256.Int
	contract addrRef
	where    loc
}

// Decoder joins the files of one unit into canonical blocks. Feed it files
// with the Read* methods in any order, then call Finish. It is not safe for
// concurrent use; it runs goroutines of its own (transactions and
// token_transfers files are parsed on all cores, see chunk.go), which have
// all ended when a Read or Finish returns.
type Decoder struct {
	chain    model.Chain
	alen     int // canonical address length: 20, Tron 21
	files    []string
	blocks   map[uint64]*blockAcc
	txs      txTable
	xbatches []xferBatch
	// traces are the traces rows that move value, paths their
	// trace_addresses (traces.go).
	traces         []traceRow
	paths          []byte
	tracesNumbered bool
	receipts       map[[32]byte]*receiptAcc
	facts          []store.Fact
	// slabs hold canonical address bytes: chunk arenas, and own (the
	// decoder's, for the files read row by row).
	slabs     [][]byte
	own       []byte
	ownSlab   uint32
	contracts map[[20]byte]int32 // raw EVM address -> index in clist
	clist     [][]byte           // canonical contract addresses
	lastRaw   []byte
	lastCanon []byte
	res       Result
	// chunk and workers override the chunk size and the number of parsing
	// goroutines (tests); 0: defaults.
	chunk, workers int
	streamRows     int    // rows between a streaming decode's hand-overs (tests); 0: streamRows
	sizeHint       int64  // size of the file being read, when known
	sink           uint32 // keeps prefetch loads
	// lastSlotH is the height of the newest transaction slot;
	// slotsUnsorted tells that some slot has a lower height than the one
	// before it (a streaming decode then hands over nothing early).
	lastSlotH     uint64
	slotsUnsorted bool
	st            *streamState // a streaming decode's state, or nil
	// finishing is set when a streaming decode has read its files;
	// restarts counts the joined decodes that started over (tests).
	finishing bool
	restarts  int
	// openFile opens a unit's file (tests: from memory); nil: open(path).
	openFile func(File) (io.ReadCloser, error)
	// rc lends the memory of the blocks built (recycle.go); nil: fresh
	// memory each build.
	rc *Recycler
	// xrows are the row slices of the token_transfers chunks merged
	// (xbatches hold parts of them), for the next unit (recycle.go).
	xrows [][]xferRow
	// scratch is build's memory that no block points into, reused by the
	// next build.
	scratch struct {
		offs, fill []int
		segLen     []int32
		order      []int32
	}
}

// NewDecoder returns a decoder for chain c (model.ETH or model.Tron).
func NewDecoder(c model.Chain) *Decoder {
	alen := 20
	if c == model.Tron {
		alen = 21
	}
	return &Decoder{
		chain:     c,
		alen:      alen,
		blocks:    map[uint64]*blockAcc{},
		receipts:  map[[32]byte]*receiptAcc{},
		contracts: map[[20]byte]int32{},
		res:       Result{Rows: map[Kind]int64{}},
	}
}

// DecodeUnit reads every file of u (blocks first, so times are known).
// DecodeUnitStream (stream.go) gives the same blocks in parts, while it
// reads.
func DecodeUnit(c model.Chain, u Unit) (*Result, error) {
	d := NewDecoder(c)
	if _, err := d.decodeWhole(u); err != nil {
		return nil, err
	}
	return d.Finish()
}

// decodeWhole reads every file of u, in kind order (blocks first, traces
// last).
func (d *Decoder) decodeWhole(u Unit) (*Decoder, error) {
	files := append([]File(nil), u.Files...)
	sort.SliceStable(files, func(i, j int) bool { return files[i].Kind < files[j].Kind })
	for _, f := range files {
		if err := d.ReadFile(f); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// ReadFile reads one file according to its kind.
func (d *Decoder) ReadFile(f File) error {
	r, size, err := d.open(f)
	if err != nil {
		return err
	}
	defer r.Close()
	d.sizeHint = size
	defer func() { d.sizeHint = 0 }()
	return d.Read(f.Kind, r, f.Path)
}

// open opens f; size is its size when known (not compressed), else 0.
func (d *Decoder) open(f File) (r io.ReadCloser, size int64, err error) {
	if d.openFile != nil {
		r, err = d.openFile(f)
		return r, 0, err
	}
	if r, err = open(f.Path); err != nil {
		return nil, 0, err
	}
	if st, err := os.Stat(f.Path); err == nil && !strings.HasSuffix(strings.ToLower(f.Path), ".gz") {
		size = st.Size()
	}
	return r, size, nil
}

// Read decodes one file of the given kind from r; name is used in errors.
// r is not read after Read returns.
func (d *Decoder) Read(k Kind, r io.Reader, name string) error {
	if k == KindTransactions || k == KindTokenTransfers || k == KindTraces {
		return d.readBig(k, r, name)
	}
	cr := newCSVReader(r, name)
	if err := cr.readHeader(); err != nil {
		return err
	}
	d.files = append(d.files, name)
	fi := int32(len(d.files) - 1)
	switch k {
	case KindBlocks:
		return d.readBlocks(cr, fi)
	case KindReceipts:
		return d.readReceipts(cr, fi)
	case KindLogs:
		return d.readLogs(cr, fi)
	}
	return &Error{File: name, Msg: fmt.Sprintf("cannot decode a %s file here", k)}
}

// readBig reads a transactions, token_transfers or traces file in chunks,
// on all cores when it has more than one.
func (d *Decoder) readBig(k Kind, r io.Reader, name string) error {
	ch, cr, first, last, fi, err := d.openBig(k, r, name)
	if err != nil {
		return err
	}
	switch k {
	case KindTransactions:
		return d.readTransactions(ch, cr, first, last, fi)
	case KindTraces:
		return d.readTraces(ch, cr, first, last, fi)
	}
	return d.readTokenTransfers(ch, cr, first, last, fi)
}

// openBig reads the header of a transactions or token_transfers file from
// its first chunk (first; last: the whole input) and registers the file.
func (d *Decoder) openBig(k Kind, r io.Reader, name string) (ch *chunker, cr *csvReader, first []byte, last bool, fi int32, err error) {
	size := d.chunk
	if size <= 0 {
		size = defaultChunk
	}
	ch = &chunker{r: r, size: size, free: make(chan []byte, 4)}
	first, last, rerr := ch.next()
	for {
		if rerr != nil {
			cr = newCSVReader(io.MultiReader(bytes.NewReader(first), errReader{rerr}), name)
		} else {
			cr = newCSVBytes(first, name)
		}
		err := cr.readHeader()
		if err == nil {
			break
		}
		if last || cr.pos < len(first) {
			return nil, nil, nil, false, 0, err
		}
		// The chunk held blank lines only: the header is further on.
		more, l, e := ch.next()
		first, last, rerr = append(first[:len(first):len(first)], more...), l, e
	}
	d.files = append(d.files, name)
	fi = int32(len(d.files) - 1)
	// Size the transaction index for the rows to come, estimated from the
	// first chunk, so that it is not rebuilt as it grows. Token transfers
	// read after transactions mostly join them: no estimate then.
	if d.sizeHint > 0 && !last && (k == KindTransactions || (k == KindTokenTransfers && d.txs.n == 0)) {
		if rows := cr.linesLeft(); rows > 0 {
			d.txs.reserve(d, d.txs.n+int(min(d.sizeHint*int64(rows)/int64(len(first)), 1<<25)))
		}
	}
	return ch, cr, first, last, fi, nil
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

// addSlab registers a chunk arena and returns its slab number.
func (d *Decoder) addSlab(b []byte) uint32 {
	d.slabs = append(d.slabs, b)
	return uint32(len(d.slabs))
}

// alloc copies b into the decoder's own slab (one allocation per 256 KiB).
func (d *Decoder) alloc(b []byte) addrRef {
	if cap(d.own)-len(d.own) < len(b) {
		d.own = make([]byte, 0, max(256<<10, len(b)))
		d.ownSlab = d.addSlab(d.own[:0:cap(d.own)])
	}
	n := len(d.own)
	d.own = append(d.own, b...)
	return addrRef{d.ownSlab, uint32(n)}
}

// addrBytes returns the bytes an addrRef locates (nil for none).
func (d *Decoder) addrBytes(r addrRef) []byte {
	if r.slab == 0 {
		return nil
	}
	e := int(r.off) + d.alen
	return d.slabs[r.slab-1][r.off:e:e]
}

// addr parses an address field into canonical bytes kept in the decoder.
func (d *Decoder) addr(cr *csvReader, i int, name string) (addrRef, error) {
	b, err := ParseAddress(d.chain, cr.fields[i])
	if err != nil {
		return addrRef{}, cr.errf(name, "%v", err)
	}
	return d.alloc(b), nil
}

// contractID interns a token contract (raw EVM bytes): a few contracts
// carry most transfers.
func (d *Decoder) contractID(raw [20]byte) int32 {
	id, ok := d.contracts[raw]
	if !ok {
		id = int32(len(d.clist))
		d.clist = append(d.clist, CanonicalEVM(d.chain, raw[:]))
		d.contracts[raw] = id
	}
	return id
}

// contract parses a token contract address field into its interned
// canonical bytes.
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
		copy(raw[:], b[len(b)-20:])
	}
	c := d.clist[d.contractID(raw)]
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
func (d *Decoder) setBlockHash(b *blockAcc, n uint64, h [32]byte, field string, w loc) error {
	if d.chain == model.ETH && n > 0 && binary.BigEndian.Uint64(h[:8]) == n {
		return d.errAt(w, field, "block %d hash %x begins with the block number like a Tron block id: a Tron export? (spoor ingest tron --etl)", n, h)
	}
	if b.hasHash && b.hash != h {
		return d.errAt(w, field, "block hash %x conflicts with %x given at %s", h, b.hash, d.where(b.where))
	}
	if !b.hasHash {
		b.hash, b.hasHash, b.where = h, true, w
	}
	return nil
}

func (d *Decoder) setBlockTime(b *blockAcc, t int64, field string, w loc) error {
	if b.hasTime && b.time != t {
		return d.errAt(w, field, "block time %d conflicts with %d given at %s", t, b.time, d.where(b.where))
	}
	if !b.hasTime {
		b.time, b.hasTime = t, true
		if !b.hasHash {
			b.where = w
		}
	}
	return nil
}

// errAt returns an *Error for the row at w.
func (d *Decoder) errAt(w loc, field, format string, args ...any) error {
	return &Error{File: d.files[w.file], Line: int(w.line), Field: field, Msg: fmt.Sprintf(format, args...)}
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
		if err := d.setBlockHash(b, n, h, "hash", w); err != nil {
			return err
		}
		if err := d.setBlockTime(b, t, "timestamp", w); err != nil {
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

// txTable holds the transactions seen, by id: accumulators in segments
// (growing never copies them) and an open-addressing index.
type txTable struct {
	segs  [][]txAcc
	n     int
	slots []txSlot
	shift uint
}

// txSlot is an index entry: part of the id's hash, and the slot + 1 (0:
// empty).
type txSlot struct {
	fp  uint32
	idx int32
}

const txSegBits = 14

func idHash(id *[32]byte) uint64 {
	a := binary.LittleEndian.Uint64(id[0:])
	b := binary.LittleEndian.Uint64(id[8:])
	c := binary.LittleEndian.Uint64(id[16:])
	e := binary.LittleEndian.Uint64(id[24:])
	h := a*0x9e3779b97f4a7c15 ^ bits.RotateLeft64(b*0xc2b2ae3d27d4eb4f, 21) ^
		bits.RotateLeft64(c*0x165667b19e3779f9, 42) ^ e*0xd6e8feb86659fd93
	h ^= h >> 31
	return h * 0x9e3779b97f4a7c15
}

// txAt returns the accumulator of slot i.
func (d *Decoder) txAt(i int32) *txAcc {
	return &d.txs.segs[i>>txSegBits][i&(1<<txSegBits-1)]
}

// reserve sizes the index for n transactions.
func (t *txTable) reserve(d *Decoder, n int) {
	if 2*n > len(t.slots) {
		t.resize(d, 1<<bits.Len(uint(2*n)))
	}
}

// grow doubles the index.
func (t *txTable) grow(d *Decoder) {
	t.resize(d, max(1<<12, 2*len(t.slots)))
}

// resize rebuilds the index with n slots (a power of two).
func (t *txTable) resize(d *Decoder, n int) {
	t.slots = make([]txSlot, n)
	t.shift = uint(64 - bits.TrailingZeros(uint(n)))
	mask := uint64(n - 1)
	for i := 0; i < t.n; i++ {
		h := idHash(&d.txAt(int32(i)).id)
		for k := h >> t.shift; ; k = (k + 1) & mask {
			if t.slots[k].idx == 0 {
				t.slots[k] = txSlot{uint32(h), int32(i + 1)}
				break
			}
		}
	}
}

// prefetch loads the index slots of the ids with hashes hs into the
// cache, all at once: the index is far larger than the cache, and one miss
// after the other is what inserting costs.
func (d *Decoder) prefetch(hs func(i int) uint64, n int) {
	t := &d.txs
	if len(t.slots) == 0 {
		return
	}
	var sum uint32
	for i := range n {
		sum += t.slots[hs(i)>>t.shift].fp
	}
	d.sink += sum
}

// tx returns the accumulator slot of a txid whose idHash is h, creating it.
func (d *Decoder) tx(id *[32]byte, h uint64, height uint64, w loc) int32 {
	t := &d.txs
	if 2*(t.n+1) > len(t.slots) {
		t.grow(d)
	}
	mask := uint64(len(t.slots) - 1)
	k := h >> t.shift
	for {
		s := &t.slots[k]
		if s.idx == 0 {
			break
		}
		if s.fp == uint32(h) && d.txAt(s.idx-1).id == *id {
			return s.idx - 1
		}
		k = (k + 1) & mask
	}
	i := int32(t.n)
	if i > 0 && height < d.lastSlotH {
		d.slotsUnsorted = true
	}
	d.lastSlotH = height
	if t.n>>txSegBits == len(t.segs) {
		t.segs = append(t.segs, d.rc.getTxSeg())
	}
	t.n++
	t.slots[k] = txSlot{uint32(h), i + 1}
	*d.txAt(i) = txAcc{id: *id, height: height, index: -1, status: -2, minLog: 1<<31 - 1, where: w}
	return i
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

// fee computes a transactions row's receipt_gas_used × price from optional
// columns (-1 = absent); ok false when the row does not carry it. When it
// read gas_price, it returns it too (gasPriceRead).
func fee(cr *csvReader, iUsed, iPrice, iEff, iBlobUsed, iBlobPrice int) (fee uint256.Int, ok bool, gasPrice uint256.Int, gasPriceRead bool, err error) {
	if iUsed < 0 || len(cr.fields[iUsed]) == 0 {
		return fee, false, gasPrice, false, nil
	}
	used, err := parseAmountField(cr, iUsed, "receipt_gas_used")
	if err != nil {
		return fee, false, gasPrice, false, err
	}
	var price uint256.Int
	switch {
	case iEff >= 0 && len(cr.fields[iEff]) > 0:
		if price, err = parseAmountField(cr, iEff, "receipt_effective_gas_price"); err != nil {
			return fee, false, gasPrice, false, err
		}
	case iPrice >= 0 && len(cr.fields[iPrice]) > 0:
		if price, err = parseAmountField(cr, iPrice, "gas_price"); err != nil {
			return fee, false, gasPrice, false, err
		}
		gasPrice, gasPriceRead = price, true
	default:
		return fee, false, gasPrice, false, cr.errf("gas_price", "gas used is given but no gas price (gas_price or receipt_effective_gas_price)")
	}
	if used.IsUint64() && price.IsUint64() {
		hi, lo := bits.Mul64(used.Uint64(), price.Uint64())
		fee = uint256.Int{lo, hi, 0, 0}
	} else if _, over := fee.MulOverflow(&used, &price); over {
		return fee, false, gasPrice, false, cr.errf("receipt_gas_used", "fee overflows 256 bits")
	}
	if iBlobUsed >= 0 && iBlobPrice >= 0 && len(cr.fields[iBlobUsed]) > 0 && len(cr.fields[iBlobPrice]) > 0 {
		bu, err := parseAmountField(cr, iBlobUsed, "receipt_blob_gas_used")
		if err != nil {
			return fee, false, gasPrice, false, err
		}
		bp, err := parseAmountField(cr, iBlobPrice, "receipt_blob_gas_price")
		if err != nil {
			return fee, false, gasPrice, false, err
		}
		var blob uint256.Int
		if _, over := blob.MulOverflow(&bu, &bp); over {
			return fee, false, gasPrice, false, cr.errf("receipt_blob_gas_used", "blob fee overflows 256 bits")
		}
		if _, over := fee.AddOverflow(&fee, &blob); over {
			return fee, false, gasPrice, false, cr.errf("receipt_blob_gas_used", "fee overflows 256 bits")
		}
	}
	return fee, true, gasPrice, gasPriceRead, nil
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
	blocks, err := d.build(0, d.txs.n, d.xbatches, d.blockKeys(0))
	if err != nil {
		return nil, err
	}
	d.res.Blocks = blocks
	d.finishFacts()
	return &d.res, nil
}

// blockKeys returns the heights from from on that some file gave block
// fields for, in no order.
func (d *Decoder) blockKeys(from uint64) []uint64 {
	keys := make([]uint64, 0, len(d.blocks))
	for h := range d.blocks {
		if h >= from {
			keys = append(keys, h)
		}
	}
	return keys
}

// finishFacts gives the facts their block times.
func (d *Decoder) finishFacts() {
	for i := range d.facts {
		f := &d.facts[i]
		if ba := d.blocks[f.Height]; ba != nil {
			f.Time = ba.time
		}
	}
	d.res.Facts = d.facts
}

// build joins the transactions of slots [s0, s1) into blocks: xb must hold
// exactly the token-transfer rows of those slots, keys the heights with
// block fields in the range (in any order; the range's transaction heights
// are added). It adds to the result's counts. Finish builds all slots at
// once; a streaming decode (stream.go) builds successive height ranges,
// which give the same blocks and counts. The decoder state it changes
// (receipts joined into transactions, the rows' h) is changed the same way
// by building again, so that a streaming decode can fall back to one build
// of everything.
func (d *Decoder) build(s0, s1 int, xb []xferBatch, keys []uint64) ([]*model.Block, error) {
	res := &d.res
	ntx := s1 - s0
	if err := d.numberTraces(); err != nil {
		return nil, err
	}
	// Receipts fill in what transactions rows lack; then each transaction's
	// transfers are counted (offs: where they start in all).
	sc := &d.scratch
	sc.offs = resize(sc.offs, ntx+1)
	offs := sc.offs
	for i := range ntx {
		t := d.txAt(int32(s0 + i))
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
			if t.to.slab == 0 && r.contract.slab != 0 {
				t.to = r.contract
			}
		}
		if t.hasRow && t.status == -2 {
			return nil, &Error{File: d.files[t.where.file], Line: int(t.where.line), Field: "receipt_status",
				Msg: fmt.Sprintf("transaction %x has no receipt status (no receipt_status column, no receipts row): export receipts too, or failed transactions would count", t.id)}
		}
		if t.hasRow && t.to.slab == 0 && !t.value.IsZero() {
			return nil, &Error{File: d.files[t.where.file], Line: int(t.where.line), Field: "to_address",
				Msg: fmt.Sprintf("contract creation %x moves %s but no receipt names the contract", t.id, t.value.Dec())}
		}
		if t.status == -1 {
			res.StatusUnknown++
		}
		// Token transfers: drop those of failed txs, place the rest per
		// transaction (counting sort by tx slot), then check duplicates.
		n := 0
		if t.status != 0 {
			n = int(t.nXfer) + int(t.nTrace)
		} else {
			res.DroppedFailed += int64(t.nXfer)
			res.DroppedFailedTraces += int64(t.nTrace)
		}
		if t.native() {
			n++
		}
		offs[i+1] = offs[i] + n
	}
	// The rest cannot fail before the transfers are placed: the lease
	// (recycle.go) is taken here, given back on a conflict.
	heights := d.heightsOf(s0, s1, keys)
	ls, err := d.rc.get(len(heights), ntx, offs[ntx])
	if err != nil {
		return nil, err
	}
	all := ls.xfers
	sc.fill = resize(sc.fill, ntx)
	fill := sc.fill
	for i := range ntx {
		fill[i] = offs[i]
		if t := d.txAt(int32(s0 + i)); t.native() {
			all[fill[i]] = model.Transfer{From: d.addrBytes(t.from), To: d.addrBytes(t.to), Value: t.value, LogIndex: -1}
			fill[i]++
		}
	}
	// Internal transfers (traces.go), after the native one and in LogIndex
	// order -2, -3, …: the rows are sorted by transaction and path.
	for k := range d.traces {
		r := &d.traces[k]
		l := int(r.tx) - s0
		if r.dup || l < 0 || l >= ntx || d.txAt(r.tx).status == 0 {
			continue
		}
		all[fill[l]] = d.traceTransfer(r)
		fill[l]++
	}
	// Each row's place first (its h is no longer needed), then the rows
	// are written on all cores.
	const skip = ^uint64(0)
	for _, b := range xb {
		for k := range b.rows {
			x := &b.rows[k]
			if d.txAt(x.tx).status == 0 {
				x.h = skip
				continue
			}
			l := int(x.tx) - s0
			x.h = uint64(fill[l])
			fill[l]++
		}
	}
	// Every place is filled: recycled memory holds no stale transfer.
	for i := range ntx {
		if fill[i] != offs[i+1] {
			d.rc.putBack(ls)
			return nil, fmt.Errorf("etl: transaction %x: %d transfers placed for %d counted", d.txAt(int32(s0+i)).id, fill[i]-offs[i], offs[i+1]-offs[i])
		}
	}
	d.parallel(len(xb), func(lo, hi int) {
		a := d.alen
		for _, b := range xb[lo:hi] {
			slab := d.slabs[b.slab-1]
			for k := range b.rows {
				x := &b.rows[k]
				if x.h == skip {
					continue
				}
				all[x.h] = model.Transfer{From: slab[x.from : int(x.from)+a : int(x.from)+a], To: slab[x.to : int(x.to)+a : int(x.to)+a],
					Contract: d.clist[x.contract], Value: x.value, LogIndex: x.li}
			}
		}
	})
	// Out of order or duplicated transfers (overlapping exports) are
	// sorted, exact duplicates dropped, conflicting ones an error: the
	// first transaction's, as all cores check a range each.
	sc.segLen = resize(sc.segLen, ntx)
	segLen := sc.segLen
	conflicts := make([]error, runtime.GOMAXPROCS(0))
	parallelParts(ntx, conflicts, func(lo, hi int, cerr *error) {
		for i := lo; i < hi; i++ {
			seg := all[offs[i]:offs[i+1]]
			n, li, ok := dedupSeg(seg)
			if !ok {
				*cerr = d.xferConflict(int32(s0+i), li)
				return
			}
			segLen[i] = int32(n)
		}
	})
	for _, err := range conflicts {
		if err != nil {
			d.rc.putBack(ls)
			return nil, err
		}
	}
	order := d.txOrder(s0, s1)
	blocks, out, txBuf := ls.blocks, ls.ptrs, ls.txs
	// Blocks are built on all cores, each part from the first transaction
	// of its first height.
	type part struct {
		noTime    []uint64
		transfers int64
	}
	parts := make([]part, runtime.GOMAXPROCS(0))
	parallelParts(len(heights), parts, func(lo, hi int, pt *part) {
		p := sort.Search(ntx, func(i int) bool { return d.txAt(order[i]).height >= heights[lo] })
		for bi := lo; bi < hi; bi++ {
			p = d.buildBlock(&blocks[bi], heights[bi], order, p, s0, txBuf, all, offs, segLen, &pt.noTime, &pt.transfers)
			out[bi] = &blocks[bi]
		}
	})
	for _, pt := range parts {
		res.NoTime = append(res.NoTime, pt.noTime...)
		res.Transfers += pt.transfers
	}
	res.Txs += int64(ntx)
	if len(out) == 0 {
		d.rc.putBack(ls)
		return []*model.Block{}, nil
	}
	d.rc.lend(ls, len(out))
	return out, nil
}

// txOrder returns slots [s0, s1) in block order: height, index (unknown
// last), first log, id. Exports are usually in that order already. The
// slice is the decoder's, valid until the next call.
func (d *Decoder) txOrder(s0, s1 int) []int32 {
	sc := &d.scratch
	sc.order = resize(sc.order, s1-s0)
	order := sc.order
	for i := range order {
		order[i] = int32(s0 + i)
	}
	cmpTx := func(x, y int32) int {
		a, c := d.txAt(x), d.txAt(y)
		if a.height != c.height {
			return cmp.Compare(a.height, c.height)
		}
		ai, ci := a.index, c.index
		if ai < 0 {
			ai = 1 << 40
		}
		if ci < 0 {
			ci = 1 << 40
		}
		if ai != ci {
			return cmp.Compare(ai, ci)
		}
		if a.minLog != c.minLog {
			return cmp.Compare(a.minLog, c.minLog)
		}
		return bytes.Compare(a.id[:], c.id[:])
	}
	if !slices.IsSortedFunc(order, cmpTx) {
		slices.SortFunc(order, cmpTx)
	}
	return order
}

// heightsOf returns the heights of the blocks of slots [s0, s1): every
// height of keys (block fields) or of a transaction, in order. It may
// append to keys.
func (d *Decoder) heightsOf(s0, s1 int, keys []uint64) []uint64 {
	heights := keys
	for i := s0; i < s1; i++ {
		if h := d.txAt(int32(i)).height; i == s0 || h != d.txAt(int32(i-1)).height {
			heights = append(heights, h)
		}
	}
	slices.Sort(heights)
	return slices.Compact(heights)
}

// buildBlock fills block b of height h with the transactions order[p:]
// of that height and returns where the next height's start. order holds
// slots from s0 on; offs and segLen are indexed from s0.
func (d *Decoder) buildBlock(b *model.Block, h uint64, order []int32, p, s0 int, txBuf []model.Tx, all []model.Transfer,
	offs []int, segLen []int32, noTime *[]uint64, transfers *int64) int {
	ntx := len(order)
	// Whole values are written: b and the txs may be recycled memory.
	*b = model.Block{Chain: d.chain, Height: h}
	if ba := d.blocks[h]; ba != nil {
		b.Hash, b.PrevHash, b.Time = ba.hash, ba.parent, ba.time
		if !ba.hasTime {
			*noTime = append(*noTime, h)
		}
	} else {
		*noTime = append(*noTime, h)
	}
	q := p
	for q < ntx && d.txAt(order[q]).height == h {
		q++
	}
	if q == p {
		return p
	}
	b.Txs = txBuf[p:q:q]
	for k, si := range order[p:q] {
		t := d.txAt(si)
		tx := &b.Txs[k]
		*tx = model.Tx{ID: t.id, Index: uint32(k), Failed: t.status == 0, Fee: t.fee}
		if t.index >= 0 {
			tx.Index = uint32(t.index)
		}
		if t.hasRow {
			tx.FeePayer = d.addrBytes(t.from)
		}
		start := offs[int(si)-s0]
		end := start + int(segLen[int(si)-s0])
		if end > start {
			tx.Transfers = all[start:end:end]
		}
		*transfers += int64(end - start)
	}
	return q
}

// parallel runs fn over [0, n) cut into one range per core.
func (d *Decoder) parallel(n int, fn func(lo, hi int)) {
	parts := make([]struct{}, runtime.GOMAXPROCS(0))
	parallelParts(n, parts, func(lo, hi int, _ *struct{}) { fn(lo, hi) })
}

// parallelParts runs fn over [0, n) cut into len(parts) ranges, each with
// its part, concurrently.
func parallelParts[P any](n int, parts []P, fn func(lo, hi int, p *P)) {
	w := min(len(parts), n)
	if w <= 1 {
		if n > 0 {
			fn(0, n, &parts[0])
		}
		return
	}
	var wg sync.WaitGroup
	for i := range w {
		lo, hi := n*i/w, n*(i+1)/w
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi, &parts[i])
		}()
	}
	wg.Wait()
}

// liOrder is the place of a transfer with log index li in its transaction,
// as the node source lists them: the native value (-1), the internal
// transfers (-2, -3, …), then the token transfers by log index.
func liOrder(li int32) int64 {
	if li < 0 {
		return -1<<32 - int64(li) - 1
	}
	return int64(li)
}

// dedupSeg orders one transaction's transfers (liOrder) when they are not,
// dropping exact duplicates. It returns how many are left, or the log index
// listed twice with different content (ok false).
func dedupSeg(seg []model.Transfer) (n int, conflict int32, ok bool) {
	for j := 1; j < len(seg); j++ {
		if liOrder(seg[j].LogIndex) > liOrder(seg[j-1].LogIndex) {
			continue
		}
		sort.SliceStable(seg, func(a, b int) bool { return liOrder(seg[a].LogIndex) < liOrder(seg[b].LogIndex) })
		w := 1
		for k := 1; k < len(seg); k++ {
			if seg[k].LogIndex == seg[w-1].LogIndex {
				if !sameTransfer(&seg[k], &seg[w-1]) {
					return 0, seg[k].LogIndex, false
				}
				continue
			}
			seg[w] = seg[k]
			w++
		}
		return w, 0, true
	}
	return len(seg), 0, true
}

// native reports whether t moves the chain's own asset.
func (t *txAcc) native() bool {
	return t.hasRow && t.status != 0 && t.to.slab != 0 && !t.value.IsZero()
}

func sameTransfer(a, b *model.Transfer) bool {
	return bytesEq(a.From, b.From) && bytesEq(a.To, b.To) && bytesEq(a.Contract, b.Contract) &&
		a.Value.Eq(&b.Value) && a.LogIndex == b.LogIndex
}

func (d *Decoder) xferConflict(tx int32, li int32) error {
	for _, b := range d.xbatches {
		for k := range b.rows {
			x := &b.rows[k]
			if x.tx == tx && x.li == li {
				return &Error{File: d.files[b.file], Line: int(x.line), Field: "log_index",
					Msg: fmt.Sprintf("transaction %x log %d listed twice with different content", d.txAt(tx).id, li)}
			}
		}
	}
	return &Error{Msg: "duplicate log index"}
}
