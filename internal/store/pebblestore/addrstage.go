package pebblestore

import (
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
// The hand-over costs no channel operation per transaction: the stage
// publishes how many ids are ready (an atomic store) after each run of
// prefetchTxs transactions, and wakes the resolve step through a channel of
// one slot only when it may be waiting; the resolve step loads the count and
// waits only when it has caught up.
//
// An error stops the stage where it happened (errAt: the output whose id it
// could not give); the resolve step returns it when it reaches that output,
// so an Apply fails with the same error, at the same point, as before. When
// the resolve step fails first, it stops the stage (quit) and waits for it
// before the Apply puts the address cache, the address log and the open
// segment back. Nothing the stage touches is read by the resolve step or
// the indexer: the address cache and its counters, the address log, the
// open segment's address index and the address filters; the meta's NextAddr
// is the stage's own counter (next) until the Apply has waited for it.
//
// Only Linked Applies of UTXO chains split: an Unordered Apply skips the
// transactions already stored, which only the resolve step can tell.
type addrStage struct {
	a *applier // s, st, chain, firstA: read only
	// ids: the id of each output of the batch, in order (0: no address).
	ids []uint64
	// next: the next new address id (the meta's NextAddr, for the stage).
	next uint64
	// ready: how many of ids are set; finished: the stage has ended (err
	// and errAt set before it). wake holds a token after a publish.
	ready    atomic.Int64
	finished atomic.Bool
	quit     atomic.Bool
	wake     chan struct{}
	err      error
	errAt    int
	// The resolve step's side: the ids known ready, the next one to read.
	got, pos int
	// hs: the address hashes of a run of outputs; sink keeps the
	// prefetch's reads.
	hs   []uint64
	sink uint64
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
	x := &addrStage{a: a, ids: ids[:outs], next: a.m.NextAddr, wake: make(chan struct{}, 1)}
	if txs >= splitMinTxs {
		go x.run(blocks)
	} else {
		x.run(blocks)
	}
	return x
}

// run resolves the address ids of blocks' outputs, in runs of at least
// prefetchTxs transactions (across blocks: mainnet's early blocks hold one
// each), publishing after each.
func (x *addrStage) run(blocks []*model.Block) {
	a := x.a
	pos := 0
	defer func() {
		x.errAt = pos
		x.ready.Store(int64(pos))
		x.finished.Store(true)
		x.signal()
	}()
	b, t := 0, 0 // the next run's first block and tx
	for b < len(blocks) {
		if x.quit.Load() {
			return
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
						x.err = err
						return
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
		x.ready.Store(int64(pos))
		x.signal()
	}
}

// signal leaves a token in wake, unless one is there.
func (x *addrStage) signal() {
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

// id returns the id of the batch's next output, waiting for the stage if
// it is not ready; the stage's error when it stopped there.
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

// wait waits until output p's id is ready, or the stage has ended before
// it (its error).
func (x *addrStage) wait(p int) error {
	for {
		x.got = int(x.ready.Load())
		if p < x.got {
			return nil
		}
		if x.finished.Load() {
			x.got = int(x.ready.Load())
			if p < x.got {
				return nil
			}
			return x.err
		}
		<-x.wake
	}
}

// finish waits for the stage to end and returns its error, if any: the
// resolve step has read every id, so there is none unless it stopped early.
func (x *addrStage) finish() error {
	for !x.finished.Load() {
		<-x.wake
	}
	if x.err != nil && x.errAt < len(x.ids) {
		return x.err
	}
	return nil
}

// stop ends the stage early (the resolve step failed) and waits for it.
func (x *addrStage) stop() {
	x.quit.Store(true)
	for !x.finished.Load() {
		<-x.wake
	}
}
