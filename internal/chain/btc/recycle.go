package btc

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/spoor-dev/spoor/internal/model"
)

// Recycling the memory of decoded blocks. A decoded block is five
// allocations: the model.Block, its Txs, the Inputs and Outputs all its
// transactions slice, and the arena of its output addresses (about three
// times the raw block's size together). An ingest decodes gigabytes of
// them, each applied once and dropped, so the garbage collector reclaims
// them and fresh ones cost a page fault per 4 KiB. With a Recycler, the
// decoder builds each block into arrays the Recycler lends, and the
// consumer gives the block back once nothing of it is read any more.
//
// The ownership protocol (as etl.Recycler's, one block at a time):
//
//  1. Recycler.DecodeBlock lends the block it returns: the model.Block and
//     everything reachable from it through Txs, Inputs, Outputs and the
//     output and input Address slices belong to the consumer until it
//     returns the block.
//  2. The consumer calls Return with blocks it is done with: for ingest,
//     right after store.Apply returned for them (the store keeps no
//     reference into applied blocks: store.Writer's contract; pebblestore
//     copies addresses into its address cache arena and address log, and
//     its per-Apply state, which points into the blocks, is dropped when
//     Apply returns). A block is returned once; returning one not lent
//     (twice, or never lent) is an error, and then no block of the call
//     is returned.
//  3. A returned block is poisoned at once (its Chain set to an invalid
//     value, its Txs emptied; in check mode every element of its arrays),
//     and Lent reports it: ingest checks the blocks it is about to apply,
//     so that a block returned too early is an error, not a block stored
//     empty or with another's content.
//
// In check mode (NewRecycler(true), for tests) a returned block's arrays
// wait one more Return call before they are lent again (a block returned
// before its Apply is still poisoned when the Apply reads it), and their
// poison is checked to be intact when they are lent again: nothing wrote
// to returned memory.
type Recycler struct {
	mu    sync.Mutex
	check bool
	slab  int // bytes a slab (slabs.go)
	lent  map[*model.Block]*blockMem
	free  []*blockMem // the model.Block values, without arrays
	// quarantine: check mode's returned blocks, freed at the next Return.
	quarantine []*blockMem
	txs        slabs[model.Tx]
	ins        slabs[model.Input]
	outs       slabs[model.Output]
	arena      slabs[byte]
	// reused counts arrays lent again (tests); lentBytes is the size of
	// the arrays lent now, mostLent the most it has been.
	reused              int
	lentBytes, mostLent int
}

// blockMem is a lent block and the arrays it was built in, with the slabs
// they are ranges of (slabs.go; nil: an array of its own).
type blockMem struct {
	blk    model.Block
	ins    []model.Input
	outs   []model.Output
	arena  []byte
	txs    []model.Tx
	txsS   *slab[model.Tx]
	insS   *slab[model.Input]
	outsS  *slab[model.Output]
	arenaS *slab[byte]
}

// NewRecycler returns an empty Recycler; check turns on check mode.
func NewRecycler(check bool) *Recycler {
	r := &Recycler{check: check, slab: slabBytes, lent: map[*model.Block]*blockMem{}}
	if check {
		r.slab = checkSlabBytes
	}
	return r
}

// bytes is the size of m's arrays.
func (m *blockMem) bytes() int {
	return len(m.txs)*int(unsafe.Sizeof(model.Tx{})) + len(m.ins)*int(unsafe.Sizeof(model.Input{})) +
		len(m.outs)*int(unsafe.Sizeof(model.Output{})) + len(m.arena)
}

// MostLent returns the most memory (bytes of arrays) lent at once.
func (r *Recycler) MostLent() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mostLent
}

// Reused returns how many arrays were lent again.
func (r *Recycler) Reused() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reused
}

// get lends a block for counts c: its Txs of length c.txs, and arrays of
// lengths c.inputs, c.outputs and c.arena. r may be nil: fresh memory.
// In check mode, reused memory whose poison is not intact is an error.
func (r *Recycler) get(c counts) (*model.Block, []model.Input, []model.Output, []byte, error) {
	if r == nil {
		b := &model.Block{Txs: make([]model.Tx, c.txs)}
		return b, make([]model.Input, c.inputs), make([]model.Output, c.outputs), make([]byte, c.arena), nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var m *blockMem
	if n := len(r.free); n > 0 {
		m = r.free[n-1]
		r.free[n-1] = nil
		r.free = r.free[:n-1]
	} else {
		m = &blockMem{}
	}
	if r.check && m.blk.Txs != nil { // a recycled block: still poisoned?
		if b := &m.blk; b.Chain != poisonChain || b.Height != poisonHeight || b.Hash != poisonBlock.Hash || b.PrevHash != poisonBlock.PrevHash ||
			b.Time != poisonBlock.Time || len(b.Txs) != 1 || &b.Txs[0] != &poisonTxs[0] {
			return nil, nil, nil, nil, fmt.Errorf("btc: block memory written after it was returned to the recycler (block %d)", b.Height)
		}
	}
	var err error
	m.txs, m.txsS = take(r, &r.txs, c.txs, checkTxs, &err)
	m.ins, m.insS = take(r, &r.ins, c.inputs, checkInputs, &err)
	m.outs, m.outsS = take(r, &r.outs, c.outputs, checkOutputs, &err)
	m.arena, m.arenaS = take(r, &r.arena, c.arena, checkArena, &err)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	m.blk.Txs = m.txs
	r.lent[&m.blk] = m
	r.lentBytes += m.bytes()
	r.mostLent = max(r.mostLent, r.lentBytes)
	return &m.blk, m.ins, m.outs, m.arena, nil
}

// take lends n elements of p; in check mode reused memory's poison must
// be intact, else *err is set (memory written after its return).
func take[T any](r *Recycler, p *slabs[T], n int, check func([]T) error, err *error) ([]T, *slab[T]) {
	if !r.check {
		check = nil
	}
	a, s, reused := p.take(n, slabLen[T](r.slab), check, err)
	if reused {
		r.reused++
	}
	return a, s
}

// putBack takes back a block that was lent but never handed over (its
// decode failed after it was built).
func (r *Recycler) putBack(b *model.Block) {
	if r == nil || b == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if m := r.lent[b]; m != nil {
		delete(r.lent, b)
		r.release(m)
	}
}

// Lent reports an error unless every block is lent and not returned:
// ingest checks the blocks it is about to apply.
func (r *Recycler) Lent(blocks []*model.Block) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range blocks {
		if r.lent[b] == nil || b.Chain == poisonChain {
			return fmt.Errorf("btc: block %d was returned to the recycler before it was applied", b.Height)
		}
	}
	return nil
}

// Return gives blocks back (see the ownership protocol above).
func (r *Recycler) Return(blocks []*model.Block) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := make(map[*model.Block]bool, len(blocks))
	for _, b := range blocks {
		if r.lent[b] == nil || seen[b] {
			return fmt.Errorf("btc: block %d returned to the recycler twice, or never lent", b.Height)
		}
		seen[b] = true
	}
	if r.check {
		// What the previous call returned is free now; this call's
		// blocks wait for the next.
		var errs []error
		for _, m := range r.quarantine {
			r.free = append(r.free, m)
			errs = append(errs, r.putArrays(m))
		}
		clear(r.quarantine)
		r.quarantine = r.quarantine[:0]
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	for _, b := range blocks {
		m := r.lent[b]
		delete(r.lent, b)
		r.release(m)
	}
	return nil
}

// release poisons m; outside check mode its arrays are free at once.
// r.mu is held.
func (r *Recycler) release(m *blockMem) {
	r.lentBytes -= m.bytes()
	m.blk.Chain, m.blk.Txs = poisonChain, nil
	if !r.check {
		r.putArrays(m) // no check: no error
		r.free = append(r.free, m)
		return
	}
	m.blk = poisonBlock
	poisonAll(m.txs[:cap(m.txs)], poisonTx) // a slab's range has cap = len
	poisonAll(m.ins[:cap(m.ins)], poisonInput)
	poisonAll(m.outs[:cap(m.outs)], poisonOutput)
	poisonAll(m.arena[:cap(m.arena)], poisonByte)
	r.quarantine = append(r.quarantine, m)
}

// putArrays gives m's arrays to the free lists. r.mu is held.
// In check mode, it returns an error when a slab that no block holds any
// more is not poisoned wherever it was lent (written after its return).
func (r *Recycler) putArrays(m *blockMem) error {
	var ct func([]model.Tx) error
	var ci func([]model.Input) error
	var co func([]model.Output) error
	var ca func([]byte) error
	if r.check {
		ct, ci, co, ca = checkTxs, checkInputs, checkOutputs, checkArena
	}
	err := errors.Join(r.txs.give(m.txs, m.txsS, ct), r.ins.give(m.ins, m.insS, ci),
		r.outs.give(m.outs, m.outsS, co), r.arena.give(m.arena, m.arenaS, ca))
	m.txs, m.ins, m.outs, m.arena = nil, nil, nil, nil
	m.txsS, m.insS, m.outsS, m.arenaS = nil, nil, nil, nil
	return err
}

// Check mode's poison looks like stale content in every field.
const (
	poisonChain  model.Chain = 0xff
	poisonHeight             = ^uint64(0) - 0x5f0
	poisonByte               = 0xdb
)

var (
	poisonAddr   = []byte{poisonByte, poisonByte, poisonByte}
	poisonInput  = model.Input{PrevTxID: [32]byte{poisonByte, poisonByte}, PrevIndex: poisonByte, Address: poisonAddr, Value: poisonByte, ScriptType: poisonByte}
	poisonOutput = model.Output{Index: poisonByte, Address: poisonAddr, Value: poisonByte, ScriptType: poisonByte}
	poisonIns    = []model.Input{poisonInput}
	poisonOuts   = []model.Output{poisonOutput}
	poisonTx     = model.Tx{ID: [32]byte{poisonByte, poisonByte}, Index: poisonByte, Failed: true, Coinbase: true,
		Inputs: poisonIns, Outputs: poisonOuts, FeePayer: poisonAddr}
	poisonTxs   = []model.Tx{poisonTx}
	poisonBlock = model.Block{Chain: poisonChain, Height: poisonHeight, Hash: [32]byte{poisonByte}, PrevHash: [32]byte{poisonByte},
		Time: -poisonByte, Txs: poisonTxs}
)

func poisonAll[T any](s []T, v T) {
	for i := range s {
		s[i] = v
	}
}

func sameAddr(a []byte) bool { return len(a) == len(poisonAddr) && &a[0] == &poisonAddr[0] }

func checkTxs(s []model.Tx) error {
	for i := range s {
		t := &s[i]
		if t.ID != poisonTx.ID || t.Index != poisonTx.Index || !t.Failed || !t.Coinbase || len(t.Inputs) != 1 || &t.Inputs[0] != &poisonIns[0] ||
			len(t.Outputs) != 1 || &t.Outputs[0] != &poisonOuts[0] || t.Transfers != nil || !t.Fee.IsZero() || !sameAddr(t.FeePayer) {
			return fmt.Errorf("btc: transaction memory written after it was returned to the recycler (%x)", t.ID)
		}
	}
	return nil
}

func checkInputs(s []model.Input) error {
	for i := range s {
		in := &s[i]
		if in.PrevTxID != poisonInput.PrevTxID || in.PrevIndex != poisonByte || !sameAddr(in.Address) || in.Value != poisonByte || in.ScriptType != poisonByte {
			return fmt.Errorf("btc: input memory written after it was returned to the recycler (spends %x:%d)", in.PrevTxID, in.PrevIndex)
		}
	}
	return nil
}

func checkOutputs(s []model.Output) error {
	for i := range s {
		o := &s[i]
		if o.Index != poisonByte || !sameAddr(o.Address) || o.Value != poisonByte || o.ScriptType != poisonByte {
			return fmt.Errorf("btc: output memory written after it was returned to the recycler (output %d)", o.Index)
		}
	}
	return nil
}

func checkArena(s []byte) error {
	for i, c := range s {
		if c != poisonByte {
			return fmt.Errorf("btc: address bytes written after they were returned to the recycler (byte %d is %#x)", i, c)
		}
	}
	return nil
}
