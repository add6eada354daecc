package etl

import (
	"errors"
	"io"
	"sync"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
)

// The two big tables, token_transfers and transactions, are read in chunks
// (chunk.go): a worker parses a chunk's rows into a batch, the decoder merges
// batches in file order. A row's parse and merge steps run in the order of
// the original row-by-row decoder, so the first error is the same: when a
// parse error comes after a merge check in that order, the row is kept with
// its stage and the merge runs the checks before it.

// batch is one parsed chunk. Its rows hold no pointers (the garbage
// collector never scans them); addresses are offsets into arena.
type batch struct {
	lines int   // physical lines of the chunk
	err   error // first error (chunk-relative line); rows stop there
	// stage tells how far the last row got when err is a parse error
	// that comes after merge checks: 0 none (the row is not kept).
	stage int8
	arena []byte // canonical address bytes
	xf    []xferRow
	tx    []txRow
	tr    []trRow // traces rows (traces.go)
	// contracts are the token contracts of xf rows (raw 20 bytes),
	// numbered per batch; merge renumbers them decoder-wide.
	contracts [][20]byte
	cidx      map[[20]byte]int32
	lastCRaw  []byte
	lastC     int32
	// set when the merge begins: the arena's slab number and the
	// contracts' decoder-wide numbers.
	slab uint32
	gidx []int32
}

// xferRow is a token_transfers row.
type xferRow struct {
	value    uint256.Int
	id       [32]byte
	bhash    [32]byte
	h        uint64 // idHash(id)
	height   uint64
	time     int64
	from, to uint32 // offsets in the batch's arena
	contract int32  // index in batch.contracts, decoder-wide after merge
	li       int32
	line     int32 // chunk-relative
	tx       int32 // transaction slot, set by merge
	hasTime  bool
	hasBHash bool
}

// txRow is a transactions row.
type txRow struct {
	value, fee, gasPrice uint256.Int
	id, bhash            [32]byte
	h                    uint64 // idHash(id)
	height               uint64
	time                 int64
	index                int64
	from, to             uint32 // offsets in the batch's arena; to: noAddr if none
	line                 int32
	status               int8
	hasFee, hasPrice     bool
	hasTime, hasBHash    bool
}

const noAddr = ^uint32(0)

// prefetchRows is how many rows' index slots merge loads at once.
const prefetchRows = 16

// addr parses an address field of chain c into the batch arena.
func (b *batch) addr(c model.Chain, cr *csvReader, i int, name string) (uint32, error) {
	f := cr.fields[i]
	off := len(b.arena)
	if off >= 1<<32-64 {
		return 0, cr.errf(name, "chunk too large")
	}
	if len(f) == 42 && f[0] == '0' && (f[1] == 'x' || f[1] == 'X') {
		if c == model.Tron {
			b.arena = append(b.arena, 0x41)
		}
		n := len(b.arena)
		b.arena = append(b.arena, make([]byte, 20)...)
		if decodeHex(b.arena[n:], f[2:]) {
			return uint32(off), nil
		}
		b.arena = b.arena[:off]
	}
	a, err := ParseAddress(c, f)
	if err != nil {
		return 0, cr.errf(name, "%v", err)
	}
	b.arena = append(b.arena, a...)
	return uint32(off), nil
}

// contract parses a token contract address into a batch contract number.
func (b *batch) contract(c model.Chain, cr *csvReader, i int, name string) (int32, error) {
	f := cr.fields[i]
	if b.lastCRaw != nil && string(f) == string(b.lastCRaw) {
		return b.lastC, nil
	}
	var raw [20]byte
	h, ok := strip0x(f)
	if !ok || !decodeHex(raw[:], h) {
		a, err := ParseAddress(c, f)
		if err != nil {
			return 0, cr.errf(name, "%v", err)
		}
		copy(raw[:], a[len(a)-20:])
	}
	n, ok := b.cidx[raw]
	if !ok {
		if b.cidx == nil {
			b.cidx = map[[20]byte]int32{}
		}
		n = int32(len(b.contracts))
		b.contracts = append(b.contracts, raw)
		b.cidx[raw] = n
	}
	b.lastCRaw = append(b.lastCRaw[:0], f...)
	b.lastC = n
	return n, nil
}

func parseHashField(cr *csvReader, i int, name string) ([32]byte, error) {
	h, err := ParseHash(cr.fields[i])
	if err != nil {
		return h, cr.errf(name, "%v", err)
	}
	return h, nil
}

func parseUintField(cr *csvReader, i int, name string) (uint64, error) {
	n, err := ParseUint(cr.fields[i])
	if err != nil {
		return 0, cr.errf(name, "%v", err)
	}
	return n, nil
}

func parseHeightField(cr *csvReader, i int, name string) (uint64, error) {
	n, err := parseUintField(cr, i, name)
	if err == nil && n > maxHeight {
		return 0, cr.errf(name, "block number %d is out of range (no chain is past 2^40)", n)
	}
	return n, err
}

func parseAmountField(cr *csvReader, i int, name string) (uint256.Int, error) {
	v, err := ParseAmount(cr.fields[i])
	if err != nil {
		return v, cr.errf(name, "%v", err)
	}
	return v, nil
}

// xferCols are the column indexes of a token_transfers file.
type xferCols struct {
	contract, from, to, value, id, li, height int
	time, bhash                               int // optional: -1
}

func (d *Decoder) readTokenTransfers(ch *chunker, cr *csvReader, first []byte, last bool, fi int32) error {
	parse, m, err := d.xferReader(cr, fi)
	if err != nil {
		return err
	}
	return d.readChunked(ch, cr, first, last, chunkKind{
		parse: parse,
		merge: func(b *batch, base int) error {
			if err := m.merge(b, base); err != nil {
				return err
			}
			if m.st != nil {
				return d.streamStep()
			}
			return nil
		},
	})
}

// xferReader returns how a token_transfers file with cr's header is parsed
// and merged.
func (d *Decoder) xferReader(cr *csvReader, fi int32) (func(*batch, *csvReader), *xferMerge, error) {
	c, err := cols(cr, "token_address", "from_address", "to_address", "value", "transaction_hash", "log_index", "block_number")
	if err != nil {
		return nil, nil, err
	}
	xc := xferCols{c[0], c[1], c[2], c[3], c[4], c[5], c[6], cr.optCol("block_timestamp"), cr.optCol("block_hash")}
	parse := func(b *batch, cr *csvReader) {
		if b.xf == nil {
			b.xf = d.rc.getXferRows() // parseRowsInto grows it when short
		}
		parseXfers(d.chain, &xc, b, cr)
	}
	return parse, &xferMerge{d: d, fi: fi, lastTx: -1, st: d.st}, nil
}

// parseXfers parses token_transfers rows, in the original decoder's order:
// token_address, from_address, to_address, value, transaction_hash,
// log_index, block_number, (join) block_timestamp, (time) block_hash.
func parseXfers(chain model.Chain, c *xferCols, b *batch, cr *csvReader) {
	parseRowsInto(b, cr, &b.xf, func(r *xferRow) (int8, error) { return parseXfer(chain, c, b, cr, r) })
}

// parseRowsInto parses every record of a chunk into *rows, one R each,
// stopping at the first error, which b keeps with its stage (a row that
// failed at stage 0 is dropped).
func parseRowsInto[R any, P interface {
	*R
	setLine(int32)
}](b *batch, cr *csvReader, rows *[]R, parse func(P) (int8, error)) {
	defer func() { b.lines = cr.nextLn - 1 }()
	n := cr.linesLeft()
	if cap(*rows) < n {
		*rows = make([]R, 0, n)
	}
	*rows = (*rows)[:0]
	b.arena = make([]byte, 0, 2*21*n)
	for {
		if err := cr.record(); err != nil {
			if !errors.Is(err, io.EOF) {
				b.err = err
			}
			return
		}
		var zero R
		*rows = append(*rows, zero)
		r := P(&(*rows)[len(*rows)-1])
		r.setLine(int32(cr.line))
		stage, err := parse(r)
		if err != nil {
			b.err, b.stage = err, stage
			if stage == 0 {
				*rows = (*rows)[:len(*rows)-1]
			}
			return
		}
	}
}

func (r *xferRow) setLine(l int32) { r.line = l }
func (r *txRow) setLine(l int32)   { r.line = l }

func parseXfer(chain model.Chain, c *xferCols, b *batch, cr *csvReader, r *xferRow) (stage int8, err error) {
	if r.contract, err = b.contract(chain, cr, c.contract, "token_address"); err != nil {
		return 0, err
	}
	if r.from, err = b.addr(chain, cr, c.from, "from_address"); err != nil {
		return 0, err
	}
	if r.to, err = b.addr(chain, cr, c.to, "to_address"); err != nil {
		return 0, err
	}
	if r.value, err = parseAmountField(cr, c.value, "value"); err != nil {
		return 0, err
	}
	if r.id, err = parseHashField(cr, c.id, "transaction_hash"); err != nil {
		return 0, err
	}
	r.h = idHash(&r.id)
	li, err := parseUintField(cr, c.li, "log_index")
	if err != nil {
		return 0, err
	}
	if li >= 1<<31 {
		return 0, cr.errf("log_index", "log index %d out of range", li)
	}
	r.li = int32(li)
	if r.height, err = parseHeightField(cr, c.height, "block_number"); err != nil {
		return 0, err
	}
	if bad, err := blockFields(cr, c.time, c.bhash, &r.time, &r.hasTime, &r.bhash, &r.hasBHash); err != nil {
		return 1 + bad, err
	}
	return 0, nil
}

// xferMerge is the merge state of one token_transfers file.
type xferMerge struct {
	d         *Decoder
	fi        int32
	lastID    [32]byte
	lastTx    int32
	lastBlock *blockAcc
	lastH     uint64
	st        *streamState // the streaming decode this file is read for, or nil
	probes    int          // index look-ups since the last prefetch
}

func (m *xferMerge) merge(b *batch, base int) error {
	m.begin(b)
	if err := m.rows(b, base, 0, len(b.xf)); err != nil {
		return err
	}
	return relocate(b.err, base)
}

// begin makes b's arena and contracts the decoder's, before its rows are
// merged.
func (m *xferMerge) begin(b *batch) {
	d := m.d
	d.xrows = append(d.xrows, b.xf)
	b.slab = d.addSlab(b.arena)
	b.gidx = make([]int32, len(b.contracts))
	for i := range b.contracts {
		b.gidx[i] = d.contractID(b.contracts[i])
	}
}

// rows merges rows [lo, hi) of b (begun), returning the error of the row
// that fails; b.err itself, when the batch ends in it, is the caller's.
func (m *xferMerge) rows(b *batch, base, lo, hi int) error {
	d := m.d
	n := len(b.xf)
	// The rows merged are kept even when a later one fails, so that the
	// decoder's counts and its rows agree.
	done := lo
	defer func() {
		if done > lo {
			d.xbatches = append(d.xbatches, xferBatch{rows: b.xf[lo:done:done], slab: b.slab, file: m.fi})
		}
	}()
	for i := lo; i < hi; i++ {
		if (i-lo)%prefetchRows == 0 {
			// When the rows found their transactions in the slot after
			// the last one (rows and transactions in the same order),
			// the index is not needed.
			if i == lo || m.probes > 0 {
				d.prefetch(func(k int) uint64 { return b.xf[i+k].h }, min(prefetchRows, hi-i))
			}
			m.probes = 0
		}
		r := &b.xf[i]
		errRow := b.err != nil && i == n-1 && b.stage > 0
		r.contract = b.gidx[r.contract]
		w := loc{m.fi, int32(base) + r.line}
		var ti int32
		if m.lastTx >= 0 && r.id == m.lastID {
			ti = m.lastTx
		} else if nt := m.lastTx + 1; m.lastTx >= 0 && int(nt) < d.txs.n && d.txAt(nt).id == r.id {
			ti = nt
			m.lastID, m.lastTx = r.id, ti
		} else {
			m.probes++
			ti = d.tx(&r.id, r.h, r.height, w)
			m.lastID, m.lastTx = r.id, ti
		}
		t := d.txAt(ti)
		if t.height != r.height {
			return d.errAt(w, "block_number", "transaction %x is in block %d here but block %d at %s", r.id, r.height, t.height, d.where(t.where))
		}
		if errRow && b.stage == 1 {
			return relocate(b.err, base)
		}
		if r.hasTime || r.hasBHash {
			if m.lastBlock == nil || m.lastH != r.height {
				m.lastBlock, m.lastH = d.block(r.height), r.height
			}
		}
		if err := d.mergeBlockFields(m.lastBlock, r.height, r.hasTime, r.time, r.hasBHash, r.bhash, w, errRow, b, base); err != nil {
			return err
		}
		if r.li < t.minLog {
			t.minLog = r.li
		}
		t.nXfer++
		r.tx, r.line = ti, w.line
		if st := m.st; st != nil {
			st.row(fileXfers, r.height)
		}
		done++
	}
	d.res.Rows[KindTokenTransfers] += int64(hi - lo)
	return nil
}

// txCols are the column indexes of a transactions file (optional: -1).
type txCols struct {
	id, height, from, to, value                  int
	index, time, bhash, status, used, price, eff int
	blobUsed, blobPrice, created                 int
}

func (d *Decoder) readTransactions(ch *chunker, cr *csvReader, first []byte, last bool, fi int32) error {
	parse, m, err := d.txReader(cr, fi)
	if err != nil {
		return err
	}
	return d.readChunked(ch, cr, first, last, chunkKind{parse: parse, merge: m.merge})
}

// txReader returns how a transactions file with cr's header is parsed and
// merged.
func (d *Decoder) txReader(cr *csvReader, fi int32) (func(*batch, *csvReader), *txMerge, error) {
	c, err := cols(cr, "hash", "block_number", "from_address", "to_address", "value")
	if err != nil {
		return nil, nil, err
	}
	tc := txCols{id: c[0], height: c[1], from: c[2], to: c[3], value: c[4],
		index: cr.optCol("transaction_index"), time: cr.optCol("block_timestamp"), bhash: cr.optCol("block_hash"),
		status: cr.optCol("receipt_status"), used: cr.optCol("receipt_gas_used"), price: cr.optCol("gas_price"),
		eff: cr.optCol("receipt_effective_gas_price"), blobUsed: cr.optCol("receipt_blob_gas_used"),
		blobPrice: cr.optCol("receipt_blob_gas_price"), created: cr.optCol("receipt_contract_address")}
	parse := func(b *batch, cr *csvReader) { parseTxs(d.chain, d.rc, &tc, b, cr) }
	return parse, &txMerge{d: d, fi: fi}, nil
}

// txRowPool holds the row slices of merged transactions chunks: they are
// not kept (the transactions are), so the next chunks reuse them instead of
// allocating and clearing a few MiB each. A decode with a Recycler keeps
// them there instead (a sync.Pool is emptied by every other collection,
// which an import runs several times a second).
var txRowPool sync.Pool

func getTxRows(r *Recycler) []txRow {
	if r != nil {
		return r.getTxRows()
	}
	if p, ok := txRowPool.Get().(*[]txRow); ok {
		return (*p)[:0]
	}
	return nil
}

// putTxRows gives the rows of a merged chunk back.
func putTxRows(r *Recycler, b *batch) {
	if cap(b.tx) > 0 {
		rows := b.tx[:0]
		b.tx = nil
		if r != nil {
			r.putTxRows(rows)
			return
		}
		txRowPool.Put(&rows)
	}
}

func parseTxs(chain model.Chain, r *Recycler, c *txCols, b *batch, cr *csvReader) {
	if b.tx == nil {
		b.tx = getTxRows(r)
	}
	parseRowsInto(b, cr, &b.tx, func(r *txRow) (int8, error) { return parseTx(chain, c, b, cr, r) })
}

// parseTx parses a transactions row, in the original decoder's order:
// hash, block_number, from_address, to_address (or
// receipt_contract_address), value, receipt_status, the fee columns,
// gas_price, transaction_index, block_timestamp, (time) block_hash.
func parseTx(chain model.Chain, c *txCols, b *batch, cr *csvReader, r *txRow) (stage int8, err error) {
	if r.id, err = parseHashField(cr, c.id, "hash"); err != nil {
		return 0, err
	}
	r.h = idHash(&r.id)
	if r.height, err = parseHeightField(cr, c.height, "block_number"); err != nil {
		return 0, err
	}
	if r.from, err = b.addr(chain, cr, c.from, "from_address"); err != nil {
		return 0, err
	}
	r.to = noAddr
	if len(cr.fields[c.to]) > 0 {
		if r.to, err = b.addr(chain, cr, c.to, "to_address"); err != nil {
			return 0, err
		}
	} else if c.created >= 0 && len(cr.fields[c.created]) > 0 {
		if r.to, err = b.addr(chain, cr, c.created, "receipt_contract_address"); err != nil {
			return 0, err
		}
	}
	if r.value, err = parseAmountField(cr, c.value, "value"); err != nil {
		return 0, err
	}
	if r.to == noAddr && !r.value.IsZero() {
		return 0, cr.errf("to_address", "contract creation moves %s but no receipt_contract_address says where", r.value.Dec())
	}
	r.status = -2
	if c.status >= 0 {
		if r.status, err = parseStatus(cr, c.status, "receipt_status"); err != nil {
			return 0, err
		}
	}
	var gpRead bool
	if r.fee, r.hasFee, r.gasPrice, gpRead, err = fee(cr, c.used, c.price, c.eff, c.blobUsed, c.blobPrice); err != nil {
		return 0, err
	}
	if c.price >= 0 && len(cr.fields[c.price]) > 0 {
		if !gpRead {
			if r.gasPrice, err = parseAmountField(cr, c.price, "gas_price"); err != nil {
				return 0, err
			}
		}
		r.hasPrice = true
	}
	if r.index, err = txIndexField(cr, c.index); err != nil {
		return 0, err
	}
	if bad, err := blockFields(cr, c.time, c.bhash, &r.time, &r.hasTime, &r.bhash, &r.hasBHash); err != nil {
		return bad, err
	}
	return 0, nil
}

// blockFields parses a row's optional block_timestamp (column ti) and
// block_hash (column hi, -1 when absent); bad says which failed (0 the
// time, 1 the hash).
func blockFields(cr *csvReader, ti, hi int, t *int64, hasT *bool, h *[32]byte, hasH *bool) (bad int8, err error) {
	if ti >= 0 && len(cr.fields[ti]) > 0 {
		if *t, err = ParseTime(cr.fields[ti]); err != nil {
			return 0, cr.errf("block_timestamp", "%v", err)
		}
		*hasT = true
	}
	if hi >= 0 && len(cr.fields[hi]) > 0 {
		if *h, err = parseHashField(cr, hi, "block_hash"); err != nil {
			return 1, err
		}
		*hasH = true
	}
	return 0, nil
}

// txMerge is the merge state of one transactions file.
type txMerge struct {
	d         *Decoder
	fi        int32
	lastBlock *blockAcc
	lastH     uint64
	started   bool
	st        *streamState // a joined streaming decode's, or nil
}

func (m *txMerge) merge(b *batch, base int) error {
	m.begin(b)
	if err := m.rows(b, base, 0, len(b.tx)); err != nil {
		return err
	}
	putTxRows(m.d.rc, b)
	return relocate(b.err, base)
}

// begin makes b's arena the decoder's, before its rows are merged.
func (m *txMerge) begin(b *batch) { b.slab = m.d.addSlab(b.arena) }

// rows merges rows [lo, hi) of b (begun), returning the error of the row
// that fails; b.err itself, when the batch ends in it, is the caller's.
func (m *txMerge) rows(b *batch, base, lo, hi int) error {
	d := m.d
	slab := b.slab
	ref := func(off uint32) addrRef {
		if off == noAddr {
			return addrRef{}
		}
		return addrRef{slab, off}
	}
	n := len(b.tx)
	for i := lo; i < hi; i++ {
		if (i-lo)%prefetchRows == 0 {
			d.prefetch(func(k int) uint64 { return b.tx[i+k].h }, min(prefetchRows, hi-i))
		}
		r := &b.tx[i]
		errRow := b.err != nil && i == n-1 && b.stage > 0
		w := loc{m.fi, int32(base) + r.line}
		if !m.started || m.lastH != r.height {
			m.lastBlock, m.lastH, m.started = d.block(r.height), r.height, true
		}
		if err := d.mergeBlockFields(m.lastBlock, r.height, r.hasTime, r.time, r.hasBHash, r.bhash, w, errRow, b, base); err != nil {
			return err
		}
		if st := m.st; st != nil {
			st.row(fileTxs, r.height)
		}
		ti := d.tx(&r.id, r.h, r.height, w)
		t := d.txAt(ti)
		if t.height != r.height {
			return d.errAt(w, "block_number", "transaction %x is in block %d here but block %d at %s", r.id, r.height, t.height, d.where(t.where))
		}
		from, to := ref(r.from), ref(r.to)
		if t.hasRow {
			if t.status != r.status || !bytesEq(d.addrBytes(t.from), d.addrBytes(from)) || !bytesEq(d.addrBytes(t.to), d.addrBytes(to)) ||
				!t.value.Eq(&r.value) || t.fee != r.fee {
				return d.errAt(w, "hash", "transaction %x listed twice with different content (first at %s)", r.id, d.where(t.where))
			}
			continue
		}
		t.hasRow, t.where = true, w
		t.status, t.from, t.to, t.value, t.fee, t.hasFee, t.index = r.status, from, to, r.value, r.fee, r.hasFee, r.index
		t.gasPrice, t.hasPrice = r.gasPrice, r.hasPrice
	}
	d.res.Rows[KindTransactions] += int64(hi - lo)
	return nil
}

// mergeBlockFields records a row's block time and hash on its block, in the
// original decoder's order: the time, then the row's own parse error (a row
// that failed after its first stage), then the hash.
func (d *Decoder) mergeBlockFields(blk *blockAcc, h uint64, hasT bool, t int64, hasH bool, bh [32]byte, w loc, errRow bool, b *batch, base int) error {
	if hasT {
		if err := d.setBlockTime(blk, t, "block_timestamp", w); err != nil {
			return err
		}
	}
	if errRow {
		return relocate(b.err, base)
	}
	if hasH {
		return d.setBlockHash(blk, h, bh, "block_hash", w)
	}
	return nil
}

// txIndexField parses the optional transaction_index column i (-1: absent
// or empty).
func txIndexField(cr *csvReader, i int) (int64, error) {
	if i < 0 || len(cr.fields[i]) == 0 {
		return -1, nil
	}
	n, err := parseUintField(cr, i, "transaction_index")
	if err != nil {
		return 0, err
	}
	if n > 1<<31 {
		return 0, cr.errf("transaction_index", "index %d out of range", n)
	}
	return int64(n), nil
}
