package pebblestore

import (
	"context"
	"runtime/trace"
	"sync"
	"sync/atomic"

	"github.com/spoor-dev/spoor/internal/model"
)

// A Bitcoin Apply's resolve step (the caller's goroutine) did two jobs per
// transaction that share no state: the address ids of its outputs (the
// address cache, and for a miss the segments' address hashes and the
// address log, or a new id: the address log and the open segment's address
// index) and the rest (the UTXO set's takes and adds, the tx record, the
// open segment's txid index, the chunks for the indexer). The address stage
// does the first on a goroutine of its own, running ahead over the whole
// batch: it writes the id of every output, in transaction order, to ids,
// handing out new ids in the same order as before, so every id and every
// record is what one goroutine made. The resolve step reads them behind it.
//
// The stage works in runs of prefetchTxs transactions (hash the run's
// addresses, read their cache lines, resolve them), each under mu, and
// publishes how many ids are set (an atomic store) after each. The resolve
// step loads that count; when it has caught up it does not wait for the
// stage's goroutine but takes mu and resolves the next run itself. It
// waited at first: Go has no priorities, and on two cores shared with the
// decoders and the indexer the stage's goroutine, woken or just started,
// often sat in a run queue for a whole time slice (10 ms) while the resolve
// step, the critical path, waited for it (≈ 10 waits of 6–10 ms an ingest
// of the 10⁶ chain in execution traces). So no transaction waits for a
// core; the stage's goroutine only takes work off the resolve step when it
// gets one. The hand-over costs no channel operation: an atomic load per
// output, a lock and an unlock per run.
//
// An error stops the stage where it happened (errAt: the output whose id it
// could not give); the resolve step returns it when it reaches that output,
// so an Apply fails with the same error, at the same point, as before. When
// the resolve step fails first, it stops the stage (quit) and waits for its
// goroutine before the Apply puts the address cache, the address log and
// the open segment back. Nothing the stage touches is read by the resolve
// step's own work or the indexer: the address cache and its counters, the
// address log, the open segment's address index and the address filters;
// the meta's NextAddr is the stage's own counter (next) until the Apply has
// waited for it (the resolve step counts the new ids it reads, for the
// block records' meta, apply.go).
//
// Only Linked Applies of UTXO chains split: an Unordered Apply skips the
// transactions already stored, which only the resolve step can tell.
type addrStage struct {
	a      *applier // s, st, chain, firstA: read only
	blocks []*model.Block
	// ids: the id of each output of the batch, in order (0: no address).
	ids []uint64
	// ready: how many of ids are set; ended: the stage has ended, at the
	// end of the batch or at an error (err, errAt). quit: stop early.
	ready atomic.Int64
	ended atomic.Bool
	quit  atomic.Bool
	// done closes when the stage's goroutine returns (nil: none started).
	done chan struct{}

	// Under mu: the stage's state, advanced one run at a time by whichever
	// goroutine holds it.
	mu    sync.Mutex
	next  uint64 // the next new address id (the meta's NextAddr, for the stage)
	b, t  int    // the next run's first block and tx
	wpos  int    // ids set
	err   error
	errAt int
	hs    []uint64 // the address hashes of a run's outputs
	sink  uint64   // the prefetch's reads
	runs  [2]int   // runs resolved by the stage's goroutine and by the resolve step

	// The resolve step's side: the ids known ready, the next one to read.
	got, pos int
}

// splitMinTxs is the smallest batch whose address stage runs on a
// goroutine of its own; a smaller one (a tip block, mainnet's early
// blocks) runs the stage first, on the caller's goroutine, then the rest:
// the same code and results, without a goroutine to start and wake.
const splitMinTxs = 2 * chunkTxs

// startAddrStage starts the address stage of blocks (UTXO chains, Linked).
// ids is a buffer to reuse.
func (a *applier) startAddrStage(blocks []*model.Block, ids []uint64) *addrStage {
	outs, txs := 0, 0
	for _, blk := range blocks {
		txs += len(blk.Txs)
		for i := range blk.Txs {
			outs += len(blk.Txs[i].Outputs)
		}
	}
	if cap(ids) < outs {
		ids = make([]uint64, outs)
	}
	x := &addrStage{a: a, blocks: blocks, ids: ids[:outs], next: a.m.NextAddr}
	if txs >= splitMinTxs {
		x.done = make(chan struct{})
		go func() {
			defer close(x.done)
			for !x.quit.Load() && x.step(0) {
			}
		}()
	}
	return x
}

// step resolves the next run under mu (by: 0 the stage's goroutine, 1 the
// resolve step), reporting whether the stage goes on.
func (x *addrStage) step(by int) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.ended.Load() || x.quit.Load() {
		return false
	}
	x.runs[by]++
	if !x.run() {
		x.errAt = x.wpos
		x.ended.Store(true)
		return false
	}
	return true
}

// run resolves the address ids of the outputs of the next prefetchTxs
// transactions (across blocks: mainnet's early blocks hold one each) and
// publishes them; false at the end of the batch or at an error.
func (x *addrStage) run() bool {
	a, blocks := x.a, x.blocks
	b, t, pos := x.b, x.t, x.wpos
	if b >= len(blocks) {
		return false
	}
	// Hash the run's addresses, then read their lines.
	x.hs = x.hs[:0]
	n, eb, et := 0, b, t
	for ; eb < len(blocks) && n < prefetchTxs; eb, et = eb+1, 0 {
		txs := blocks[eb].Txs
		for ; et < len(txs) && n < prefetchTxs; et, n = et+1, n+1 {
			for k := range txs[et].Outputs {
				x.hs = append(x.hs, addrHashOr(txs[et].Outputs[k].Address))
			}
		}
		if et < len(txs) {
			break
		}
	}
	x.sink += prefetchAddrs(a.st, x.hs)
	k := 0
	for ; b < eb || b == eb && t < et; b, t = b+1, 0 {
		txs := blocks[b].Txs
		end := len(txs)
		if b == eb {
			end = et
		}
		for ; t < end; t++ {
			outs := txs[t].Outputs
			for o := range outs {
				id, err := resolveAddr(a, &x.next, outs[o].Address, x.hs[k])
				if err != nil {
					x.err, x.wpos = err, pos
					x.ready.Store(int64(pos))
					return false
				}
				x.ids[pos] = id
				pos++
				k++
			}
		}
		if b == eb {
			break
		}
	}
	x.b, x.t, x.wpos = eb, et, pos
	x.ready.Store(int64(pos))
	return true
}

// id returns the id of the batch's next output, resolving runs itself when
// the stage has not got that far; the stage's error when it stopped there.
func (x *addrStage) id() (uint64, error) {
	p := x.pos
	if p >= x.got {
		if err := x.wait(p); err != nil {
			return 0, err
		}
	}
	x.pos++
	return x.ids[p], nil
}

// wait returns once output p's id is set, resolving the runs up to it
// itself, or the stage's error if it ended before p. Runs it resolves
// show in an execution trace.
func (x *addrStage) wait(p int) error {
	var r *trace.Region
	defer func() {
		if r != nil {
			r.End()
		}
	}()
	for {
		if x.got = int(x.ready.Load()); p < x.got {
			return nil
		}
		if x.ended.Load() {
			if x.got = int(x.ready.Load()); p < x.got {
				return nil
			}
			return x.err
		}
		if r == nil && trace.IsEnabled() {
			r = trace.StartRegion(context.Background(), "apply: address stage on the resolve step")
		}
		x.step(1)
	}
}

// finish ends the stage once the resolve step has read every id, and
// returns its error, if any (none, unless it stopped early).
func (x *addrStage) finish() error {
	x.stop()
	if x.err != nil && x.errAt < len(x.ids) {
		return x.err
	}
	return nil
}

// stop ends the stage, early if the resolve step failed, and waits for its
// goroutine.
func (x *addrStage) stop() {
	x.quit.Store(true)
	if x.done != nil {
		<-x.done
	}
	x.mu.Lock() // for the race detector: the Apply reads next, sink after
	x.mu.Unlock()
}
