package etl

import (
	"fmt"
	"sync"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
)

// Recycling the memory of handed-over blocks. A streaming decode builds
// its blocks in a few large arrays per hand-over (the model.Block values,
// the pointers handed over, the model.Tx values, the model.Transfer
// values): about 300 bytes a transfer, which an import of millions of rows
// would otherwise allocate, and the garbage collector reclaim, once per row.
// With a Recycler in its Stream, the decoder takes those arrays from the
// Recycler and lends them with the blocks; the consumer gives each block
// back once nothing of its reads it any more, and the arrays of a hand-over
// whose blocks all came back are built into again.
//
// The ownership protocol:
//
//  1. Stream.Blocks receives blocks lent by the Recycler (when Stream has
//     one). Everything reachable from them in the arrays above (the
//     blocks, their Txs, the Txs' Transfers) belongs to the consumer until
//     it returns the block.
//  2. The consumer calls Recycler.Return with blocks it is done with: for
//     ingest, right after store.Apply returned for them (the store keeps
//     no reference into applied blocks: it copies what it keeps), or when
//     it drops them unapplied (Stream.Reset, a failed import). A block is
//     returned once; returning one not lent (twice, or never lent) is an
//     error, and so is any other block of the same Return call left
//     unreturned: nothing is half-returned.
//  3. A returned block is poisoned at once (its Chain set to an invalid
//     value, its Txs emptied; in check mode every field), and Recycler.Lent
//     reports it: ingest checks every block with Lent right before it
//     applies it, so that a block returned too early is an error, not a
//     block stored empty or with another's content. Its memory is reused
//     only when every block of its hand-over was returned.
//
// The address bytes the transfers point at (From, To, Contract, FeePayer)
// are the decoder's for the whole unit and are never reused: a consumer
// that copied a Transfer keeps valid address bytes.
//
// In check mode (NewRecycler(true), for tests) the whole hand-over is
// poisoned (heights, ids, transfers), a fully returned hand-over waits one
// more Return call before it is reused, so that a block returned before
// its Apply is still poisoned when the Apply reads it (reuse cannot hide
// it), and its poison is checked to be intact when it is reused (nothing
// wrote to returned memory). Without check mode, Lent can miss a block
// returned early whose memory was already lent again (the same address),
// but the race detector reports the consumer's read of it against the
// decoder's build into it.
type Recycler struct {
	mu    sync.Mutex
	check bool
	lent  map[*model.Block]*lease
	free  []*lease
	// quarantine: check mode's fully returned hand-overs, free at the next
	// Return call.
	quarantine []*lease
	// reused counts the hand-overs built into recycled arrays (tests).
	reused int
	// A unit's decoder memory that no block points into: its
	// token_transfers rows and its transaction table's segments, for the
	// next unit's decoder once a unit is decoded (putUnit).
	xrows [][]xferRow
	segs  [][]txAcc
	// txRows are the row slices of merged transactions chunks: nothing
	// keeps them (the transactions are copied into the table).
	txRows [][]txRow
	// unitReused counts row slices and segments reused (tests).
	unitReused int
}

// lease is the memory of one hand-over.
type lease struct {
	blocks []model.Block
	ptrs   []*model.Block
	txs    []model.Tx
	xfers  []model.Transfer
	left   int // blocks lent, not returned yet
}

// poisonChain marks a returned block: no chain has this number.
const poisonChain model.Chain = 0xff

// NewRecycler returns an empty Recycler; check turns on check mode.
func NewRecycler(check bool) *Recycler {
	return &Recycler{check: check, lent: map[*model.Block]*lease{}}
}

// getXferRows returns an empty row slice recycled from a decoded unit (a
// chunk's: chunks are about the same size), or nil. r may be nil.
func (r *Recycler) getXferRows() []xferRow {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.xrows)
	if n == 0 {
		return nil
	}
	s := r.xrows[n-1]
	r.xrows[n-1] = nil
	r.xrows = r.xrows[:n-1]
	r.unitReused++
	return s[:0]
}

// getTxRows returns an empty transactions row slice of a merged chunk, or
// nil.
func (r *Recycler) getTxRows() []txRow {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.txRows)
	if n == 0 {
		return nil
	}
	s := r.txRows[n-1]
	r.txRows[n-1] = nil
	r.txRows = r.txRows[:n-1]
	return s
}

// putTxRows keeps the row slice of a merged transactions chunk. At most a
// few are kept: as many as chunks are parsed at once.
func (r *Recycler) putTxRows(s []txRow) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.txRows) < 16 {
		r.txRows = append(r.txRows, s[:0])
	}
}

// getTxSeg returns a transaction table segment (its accumulators are
// written whole as they are taken), recycled from a decoded unit when one
// is free. r may be nil.
func (r *Recycler) getTxSeg() []txAcc {
	if r != nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		if n := len(r.segs); n > 0 {
			s := r.segs[n-1]
			r.segs[n-1] = nil
			r.segs = r.segs[:n-1]
			r.unitReused++
			return s
		}
	}
	return make([]txAcc, 1<<txSegBits)
}

// putUnit keeps the memory of d, a decoder done with its unit, that no
// handed-over block points into (the address bytes are in other arrays):
// its rows and its transaction table. d must not be used afterwards.
func (r *Recycler) putUnit(d *Decoder) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range d.xrows {
		if cap(s) > 0 {
			r.xrows = append(r.xrows, s[:0])
		}
	}
	r.segs = append(r.segs, d.txs.segs...)
	d.xrows, d.xbatches, d.txs.segs, d.txs.n = nil, nil, nil, 0
}

// UnitReused returns how many row slices and transaction table segments
// of decoded units were reused.
func (r *Recycler) UnitReused() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.unitReused
}

// Reused returns how many hand-overs were built into recycled memory.
func (r *Recycler) Reused() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reused
}

// get returns a lease whose arrays have the given lengths, recycled when
// one is free. r may be nil: fresh arrays, never recycled.
func (r *Recycler) get(nBlocks, nTxs, nXfers int) (*lease, error) {
	var l *lease
	if r != nil {
		r.mu.Lock()
		if n := len(r.free); n > 0 {
			l = r.free[n-1]
			r.free[n-1] = nil
			r.free = r.free[:n-1]
			r.reused++
		}
		r.mu.Unlock()
	}
	if l == nil {
		l = &lease{}
	} else if r.check {
		if err := l.checkPoison(); err != nil {
			return nil, err
		}
	}
	l.blocks = resize(l.blocks, nBlocks)
	l.ptrs = resize(l.ptrs, nBlocks)
	l.txs = resize(l.txs, nTxs)
	l.xfers = resize(l.xfers, nXfers)
	return l, nil
}

// resize returns s with length n, reallocated when its capacity is less
// (its content is then not kept: every element is written by build).
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n, n+n/8)
	}
	return s[:n]
}

// lend registers the blocks of l as handed over (l.ptrs[:n]).
func (r *Recycler) lend(l *lease, n int) {
	if r == nil || n == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	l.left = n
	for _, b := range l.ptrs[:n] {
		r.lent[b] = l
	}
}

// putBack gives back a lease whose blocks were never handed over (a build
// that failed, or built no block).
func (r *Recycler) putBack(l *lease) {
	if r == nil || l == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	l.poison(r.check)
	r.free = append(r.free, l)
}

// Lent reports an error unless every block is lent and not returned: ingest
// checks the blocks it is about to apply.
func (r *Recycler) Lent(blocks []*model.Block) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range blocks {
		if r.lent[b] == nil || b.Chain == poisonChain {
			return fmt.Errorf("etl: block %d was returned to the recycler before it was applied", b.Height)
		}
	}
	return nil
}

// Return gives blocks back (see the ownership protocol above). A block not
// lent makes it an error, and then no block of the call is returned.
func (r *Recycler) Return(blocks []*model.Block) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := make(map[*model.Block]bool, len(blocks))
	for _, b := range blocks {
		if r.lent[b] == nil || seen[b] {
			return fmt.Errorf("etl: block %d returned to the recycler twice, or never lent", b.Height)
		}
		seen[b] = true
	}
	if r.check {
		// Free what the previous call returned, before this call's blocks
		// are poisoned: they wait for the next call.
		r.free = append(r.free, r.quarantine...)
		clear(r.quarantine)
		r.quarantine = r.quarantine[:0]
	}
	for _, b := range blocks {
		l := r.lent[b]
		delete(r.lent, b)
		b.Chain, b.Txs = poisonChain, nil
		if r.check {
			*b = poisonBlock
		}
		if l.left--; l.left > 0 {
			continue
		}
		l.poison(r.check)
		if r.check {
			r.quarantine = append(r.quarantine, l)
		} else {
			r.free = append(r.free, l)
		}
	}
	return nil
}

// Check mode's poison looks like stale content in every field (no zero
// value that a build forgetting to write a field would leave as it was):
// poisonHeight, poisonByte, and the sentinel slices below.
const (
	poisonHeight = ^uint64(0) - 0x5f0
	poisonByte   = 0xdb
)

var (
	poisonAddr  = []byte{poisonByte, poisonByte, poisonByte}
	poisonValue = uint256.Int{poisonByte, poisonByte, poisonByte, poisonByte}
	poisonXfer  = model.Transfer{From: poisonAddr, To: poisonAddr, Contract: poisonAddr, Value: poisonValue, LogIndex: -poisonByte}
	poisonXfers = []model.Transfer{poisonXfer}
	poisonTx    = model.Tx{ID: [32]byte{poisonByte, poisonByte}, Index: poisonByte, Failed: true, Coinbase: true,
		Inputs: []model.Input{{}}, Outputs: []model.Output{{}}, Transfers: poisonXfers, Fee: poisonValue, FeePayer: poisonAddr}
	poisonTxs   = []model.Tx{poisonTx}
	poisonBlock = model.Block{Chain: poisonChain, Height: poisonHeight, Hash: [32]byte{poisonByte}, PrevHash: [32]byte{poisonByte},
		Time: -poisonByte, Txs: poisonTxs}
)

// poison marks a lease's blocks returned; all its memory in check mode.
func (l *lease) poison(check bool) {
	if !check {
		for i := range l.blocks {
			l.blocks[i].Chain, l.blocks[i].Txs = poisonChain, nil
		}
		return
	}
	for i := range l.blocks {
		l.blocks[i] = poisonBlock
	}
	for i := range l.txs {
		l.txs[i] = poisonTx
	}
	for i := range l.xfers {
		l.xfers[i] = poisonXfer
	}
}

// checkPoison reports an error when a check-mode lease's poison is not
// intact: something wrote to blocks after they were returned.
func (l *lease) checkPoison() error {
	same := func(a, b []byte) bool { return len(a) == len(b) && &a[0] == &b[0] }
	for i := range l.blocks {
		b := &l.blocks[i]
		if b.Chain != poisonChain || b.Height != poisonHeight || b.Hash != poisonBlock.Hash || b.PrevHash != poisonBlock.PrevHash ||
			b.Time != poisonBlock.Time || len(b.Txs) != 1 || &b.Txs[0] != &poisonTxs[0] {
			return fmt.Errorf("etl: block memory written after it was returned to the recycler (block %d)", b.Height)
		}
	}
	for i := range l.txs {
		t := &l.txs[i]
		if t.ID != poisonTx.ID || t.Index != poisonTx.Index || !t.Failed || !t.Coinbase || len(t.Inputs) != 1 || &t.Inputs[0] != &poisonTx.Inputs[0] ||
			len(t.Outputs) != 1 || &t.Outputs[0] != &poisonTx.Outputs[0] || len(t.Transfers) != 1 || &t.Transfers[0] != &poisonXfers[0] ||
			t.Fee != poisonValue || !same(t.FeePayer, poisonAddr) {
			return fmt.Errorf("etl: transaction memory written after it was returned to the recycler (%x)", t.ID)
		}
	}
	for i := range l.xfers {
		x := &l.xfers[i]
		if x.LogIndex != -poisonByte || x.Value != poisonValue || !same(x.From, poisonAddr) || !same(x.To, poisonAddr) || !same(x.Contract, poisonAddr) {
			return fmt.Errorf("etl: transfer memory written after it was returned to the recycler (log %d)", x.LogIndex)
		}
	}
	return nil
}
