package etl

import (
	"slices"
	"sort"

	"github.com/spoor-dev/spoor/internal/model"
)

// A streaming decode hands a unit's blocks over in height order while its
// token_transfers file is still being read, so that the store can write
// the first blocks while the rest are parsed. ethereum-etl and BigQuery
// export rows in block order; that is checked, never assumed: while every
// row merged so far (and every transaction slot) is in block order, the
// blocks below the height of the last row merged are final, as no later
// row can belong to them. Rows out of order stop the handing over; a row
// below a height already handed over makes the decode call Stream.Reset
// and hand everything over again at the end.
//
// The result (blocks, counts, errors) is the same as DecodeUnit's: the
// ranges are built by the same step as Finish's single build (build), a
// failed range build stops the handing over and the final build of
// everything reports the error as Finish would, and errors of the files
// come first, as in DecodeUnit.
//
// A unit with one transactions file and one token_transfers file streams
// both (readJoint): they are parsed side by side, and merged height range by
// height range (the rows of both files below the last height of the next
// parsed token_transfers chunk, the transactions first), so that the
// hand-overs start with the first chunks of both files. The blocks and
// counts of a decode without an error do not depend on the order in which
// rows are merged (each row is merged once; conflicts are errors), but
// which error comes first does: on any error, the joined decode starts
// over as above (transactions file whole, then token transfers streamed),
// after a Reset when it handed blocks over, so that errors are DecodeUnit's.

// Stream receives the blocks of a streaming decode.
type Stream struct {
	// Blocks gets the next blocks, in height order, each block once; an
	// error stops the decode, which returns it.
	Blocks func([]*model.Block) error
	// Reset tells that the rows were not in block order after all: the
	// blocks handed over so far must be dropped; all blocks follow again.
	Reset func() error
	// Recycler, when set, lends the memory of the blocks handed over; the
	// consumer returns each block once it is done with it (recycle.go).
	// Nil: every hand-over is fresh memory, the garbage collector's.
	Recycler *Recycler
	// Rows is how many rows are merged between two hand-overs; 0: the
	// default (streamRows). Tests of consumers set it small.
	Rows int
}

// streamRows is how many rows a streaming decode merges between two
// hand-overs (about one 4 MiB chunk of ethereum-etl token transfers). The
// blocks of the hand-overs waiting to be applied are what a Recycler
// cannot reuse yet (recycle.go): smaller hand-overs keep that memory small
// (an import of 1 M rows allocated about 100 MB less than with 2^16 rows).
const streamRows = 1 << 14

// streamState is a streaming decode's progress through its token_transfers
// file.
type streamState struct {
	s    Stream
	on   bool // rows and slots in block order so far: hand over
	sent bool // some blocks were handed over
	// failed: a range build failed (the final build reports the error);
	// reset: a row below wm came after blocks were handed over.
	failed, reset bool
	wm            uint64 // heights below wm were handed over
	slot          int    // slots below were handed over
	bi, ri        int    // rows before d.xbatches[bi].rows[ri] were handed over
	keys          []uint64
	ki            int       // keys[ki:] are the heights with block fields from wm on
	lastH         [2]uint64 // height of the last row merged, per file (fileTxs, fileXfers)
	rows          int       // rows merged since the last hand-over
	every         int       // rows between hand-overs
	// joint: the transactions file is streamed too (readJoint); target is
	// the height below which rows were last merged.
	joint  bool
	target uint64
}

// The files of a streaming decode whose rows are checked for block order.
const (
	fileTxs = iota
	fileXfers
)

// row notes the height of a row of file f (fileTxs, fileXfers) merged.
func (st *streamState) row(f int, h uint64) {
	if h < st.lastH[f] {
		st.on = false
	}
	if h < st.wm {
		st.reset = true
	}
	st.lastH[f] = h
	st.rows++
}

// DecodeUnitStream decodes u like DecodeUnit, but hands its blocks to s
// (every block once, in height order, unless s.Reset was called: then all
// again), early when the unit's token_transfers file is in block order. The
// Result it returns has no Blocks. On an error, blocks may have been handed
// over: the caller must drop them.
func DecodeUnitStream(c model.Chain, u Unit, s Stream) (*Result, error) {
	d := NewDecoder(c)
	return d.decodeStream(u, s)
}

// decodeStream is DecodeUnitStream on d.
func (d *Decoder) decodeStream(u Unit, s Stream) (*Result, error) {
	d.rc = s.Recycler
	if s.Rows > 0 {
		d.streamRows = s.Rows
	}
	r, err := d.decodeStream1(u, s)
	if err == nil {
		// Nothing handed over points into the rows or the transaction
		// table: the next unit builds into them (recycle.go).
		d.rc.putUnit(d)
	}
	return r, err
}

// decodeStream1 is decodeStream after its settings.
func (d *Decoder) decodeStream1(u Unit, s Stream) (*Result, error) {
	if hasTraces(u) {
		// A transaction's internal transfers are numbered over all its
		// traces rows: the unit is decoded whole, then handed over.
		if _, err := d.decodeWhole(u); err != nil {
			return nil, err
		}
		return d.finishAll(s)
	}
	if r, ok, err := d.decodeJoint(u, s); ok {
		return r, err
	}
	return d.decodeSeparate(u, s)
}

// decodeSeparate is decodeStream that reads a transactions file whole
// before it streams the token_transfers file.
func (d *Decoder) decodeSeparate(u Unit, s Stream) (*Result, error) {
	read := d.ReadFile
	files := append([]File(nil), u.Files...)
	sort.SliceStable(files, func(i, j int) bool { return files[i].Kind < files[j].Kind })
	// One token_transfers file is streamed. It is read last; the files of
	// later kinds (logs: facts only) before it, with their first error
	// kept until it has been read, so that errors come as in DecodeUnit.
	si := -1
	for i, f := range files {
		if f.Kind == KindTokenTransfers {
			if si >= 0 {
				si = -1
				break
			}
			si = i
		}
	}
	if si < 0 {
		for _, f := range files {
			if err := read(f); err != nil {
				return nil, err
			}
		}
		return d.finishAll(s)
	}
	for _, f := range files[:si] {
		if err := read(f); err != nil {
			return nil, err
		}
	}
	var later error
	for _, f := range files[si+1:] {
		if later = read(f); later != nil {
			break
		}
	}
	every := d.streamRows
	if every <= 0 {
		every = streamRows
	}
	keys := d.blockKeys(0)
	slices.Sort(keys)
	d.st = &streamState{s: s, on: true, keys: keys, every: every}
	if err := read(files[si]); err != nil {
		return nil, err
	}
	if later != nil {
		return nil, later
	}
	return d.finishStream()
}

// finishAll builds every block and hands them over at once.
func (d *Decoder) finishAll(s Stream) (*Result, error) {
	d.finishing = true
	r, err := d.Finish()
	if err != nil {
		return nil, err
	}
	blocks := r.Blocks
	r.Blocks = nil
	if len(blocks) > 0 {
		if err := s.Blocks(blocks); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// streamStep hands over the blocks that the rows merged so far make final.
func (d *Decoder) streamStep() error {
	st := d.st
	if !st.on || st.failed || d.slotsUnsorted || st.rows < st.every || st.lastH[fileXfers] <= st.wm {
		return nil
	}
	h := st.lastH[fileXfers]
	// Slots are in block order: those of heights [wm, h) follow the ones
	// handed over.
	n := d.txs.n
	s1 := st.slot + sort.Search(n-st.slot, func(i int) bool { return d.txAt(int32(st.slot+i)).height >= h })
	xb, bi, ri := d.rowsBelow(h)
	k1 := st.ki + sort.Search(len(st.keys)-st.ki, func(i int) bool { return st.keys[st.ki+i] >= h })
	keys := append([]uint64(nil), st.keys[st.ki:k1]...)
	blocks, err := d.build(st.slot, s1, xb, keys)
	if err != nil {
		// Finish's build of everything reports it, unless a file has an
		// error first.
		st.failed = true
		return nil
	}
	st.wm, st.slot, st.bi, st.ri, st.ki, st.rows = h, s1, bi, ri, k1, 0
	if len(blocks) == 0 {
		return nil
	}
	st.sent = true
	return st.s.Blocks(blocks)
}

// rowsBelow returns the rows from the last hand-over on whose height is
// below h (all of them when h is ^0), and where they end.
func (d *Decoder) rowsBelow(h uint64) (xb []xferBatch, bi, ri int) {
	st := d.st
	bi, ri = st.bi, st.ri
	for bi < len(d.xbatches) {
		b := d.xbatches[bi]
		rows := b.rows[ri:]
		k := sort.Search(len(rows), func(i int) bool { return rows[i].height >= h })
		if k > 0 {
			xb = append(xb, xferBatch{rows: rows[:k:k], slab: b.slab, file: b.file})
		}
		if k < len(rows) {
			return xb, bi, ri + k
		}
		bi, ri = bi+1, 0
	}
	return xb, bi, ri
}

// finishStream builds the blocks not handed over yet and hands them over:
// the rest, or, when the rows turned out out of order or a range build
// failed, everything (after a Reset when blocks were handed over).
func (d *Decoder) finishStream() (*Result, error) {
	d.finishing = true
	st := d.st
	var blocks []*model.Block
	if st.sent && !st.reset && !st.failed {
		xb, _, _ := d.rowsBelow(^uint64(0))
		var err error
		if blocks, err = d.build(st.slot, d.txs.n, xb, d.blockKeys(st.wm)); err != nil {
			return nil, err
		}
	} else {
		r := &d.res
		r.Txs, r.Transfers, r.DroppedFailed, r.StatusUnknown, r.NoTime = 0, 0, 0, 0, nil
		r.DroppedFailedTraces = 0
		var err error
		if blocks, err = d.build(0, d.txs.n, d.xbatches, d.blockKeys(0)); err != nil {
			return nil, err
		}
		if st.sent {
			if err := st.s.Reset(); err != nil {
				return nil, err
			}
		}
	}
	d.finishFacts()
	if len(blocks) > 0 {
		if err := st.s.Blocks(blocks); err != nil {
			return nil, err
		}
	}
	return &d.res, nil
}
