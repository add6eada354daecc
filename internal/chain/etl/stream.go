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

// Stream receives the blocks of a streaming decode.
type Stream struct {
	// Blocks gets the next blocks, in height order, each block once; an
	// error stops the decode, which returns it.
	Blocks func([]*model.Block) error
	// Reset tells that the rows were not in block order after all: the
	// blocks handed over so far must be dropped; all blocks follow again.
	Reset func() error
}

// streamRows is how many rows a streaming decode merges between two
// hand-overs (about five 4 MiB chunks of ethereum-etl token transfers).
const streamRows = 1 << 16

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
	ki            int    // keys[ki:] are the heights with block fields from wm on
	lastH         uint64 // height of the last row merged
	rows          int    // rows merged since the last hand-over
	every         int    // rows between hand-overs
}

// row notes a merged row's height.
func (st *streamState) row(h uint64) {
	if h < st.lastH {
		st.on = false
	}
	if h < st.wm {
		st.reset = true
	}
	st.lastH = h
	st.rows++
}

// DecodeUnitStream decodes u like DecodeUnit, but hands its blocks to s
// (every block once, in height order, unless s.Reset was called: then all
// again), early when the unit's token_transfers file is in block order. The
// Result it returns has no Blocks. On an error, blocks may have been handed
// over: the caller must drop them.
func DecodeUnitStream(c model.Chain, u Unit, s Stream) (*Result, error) {
	d := NewDecoder(c)
	return d.decodeStream(u, s, d.ReadFile)
}

// decodeStream reads the files of u with read (tests read from memory).
func (d *Decoder) decodeStream(u Unit, s Stream, read func(File) error) (*Result, error) {
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
	if !st.on || st.failed || d.slotsUnsorted || st.rows < st.every || st.lastH <= st.wm {
		return nil
	}
	h := st.lastH
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
