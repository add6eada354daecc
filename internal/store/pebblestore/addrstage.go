package pebblestore

import (
	"context"
	"math"
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
// record is what one goroutine made. It also hashes each tx's txid and
// outpoints (txh, inh, outh), which the resolve step's prefetch used to:
// less work on the critical path. The resolve step reads them behind it.
//
// The stage works in runs of prefetchTxs transactions (hash the run's
// txids, outpoints and addresses, read the addresses' cache lines, resolve
// them), each under mu, and publishes how many txs are hashed and how many
// resolved (atomic stores) after each. The resolve step loads those counts;
// when it has caught up it does not wait for the stage's goroutine but
// takes mu and resolves the next run itself. It waited at first: Go has no
// priorities, and on two cores shared with the decoders and the indexer the
// stage's goroutine, woken or just started, often sat in a run queue for a
// whole time slice (10 ms) while the resolve step, the critical path,
// waited for it (9–23 waits, 64–119 ms an ingest of the 10⁶ chain in
// execution traces; a head start of 256 txs on the caller left 9–10 waits).
// So no transaction waits for a core; the stage's goroutine takes work off
// the resolve step whenever it gets one. The hand-over costs no channel
// operation: an atomic load per tx and per window, a lock and an unlock per
// run.
//
// An error stops the stage where it happened (errTx, errAt: the tx and the
// output whose id it could not give; the run's hashes are all set, as they
// come first); the resolve step returns it when it reaches that output,
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
	// The batch's hashes and ids, in tx order: txh the txidHash of each tx,
	// inh the utxoHash of each input's outpoint (none for a coinbase), outh
	// of each output's, ids the address id of each output (0: none).
	txh, inh, outh, ids []uint64
	// hashed: the txs whose hashes are set; ready: the txs whose ids are
	// set too; ended: the stage has ended, at the end of the batch or at an
	// error (err in tx errTx, at output errAt); quit: stop early.
	hashed, ready atomic.Int64
	ended         atomic.Bool
	quit          atomic.Bool
	// done closes when the stage's goroutine returns (nil: none started).
	done chan struct{}

	// Under mu: the stage's state, advanced one run at a time by whichever
	// goroutine holds it.
	mu         sync.Mutex
	next       uint64 // the next new address id (the meta's NextAddr, for the stage)
	b, t       int    // the next run's first block and tx
	tw, iw, ow int    // the next run's first tx, input and output in the arrays
	err        error
	errTx      int
	errAt      int
	hs         []uint64 // the address hashes of a run's outputs
	sink       uint64   // the prefetch's reads
	runs       [2]int   // runs resolved by the stage's goroutine and by the resolve step

	// The resolve step's side: its tx, input and output in the arrays, the
	// txs known ready and hashed, and the output it may not reach (the
	// stage's error there).
	tpos, ipos, opos int
	gotTx, gotHashed int
	limit            int
}

// noAddrStage turns the address stage off (tests: the resolve step alone
// must give the same store).
var noAddrStage = false

// splitMinTxs is the smallest batch whose address stage runs on a
// goroutine of its own; a smaller one (a tip block, mainnet's early
// blocks) is resolved by the resolve step alone, in the same runs: the
// same code and results, without a goroutine to start.
const splitMinTxs = 2 * chunkTxs

// startAddrStage starts the address stage of blocks (UTXO chains, Linked).
// bufs are arrays to reuse (txh, inh, outh, ids).
func (a *applier) startAddrStage(blocks []*model.Block, bufs *[4][]uint64) *addrStage {
	ins, outs, txs := 0, 0, 0
	for _, blk := range blocks {
		txs += len(blk.Txs)
		for i := range blk.Txs {
			tx := &blk.Txs[i]
			if !tx.Coinbase {
				ins += len(tx.Inputs)
			}
			outs += len(tx.Outputs)
		}
	}
	for i, n := range [4]int{txs, ins, outs, outs} {
		if cap(bufs[i]) < n {
			bufs[i] = make([]uint64, n)
		}
		bufs[i] = bufs[i][:n]
	}
	x := &addrStage{a: a, blocks: blocks, txh: bufs[0], inh: bufs[1], outh: bufs[2], ids: bufs[3],
		next: a.m.NextAddr, limit: math.MaxInt}
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
		x.ended.Store(true)
		return false
	}
	return true
}

// run hashes the next prefetchTxs transactions (across blocks: mainnet's
// early blocks hold one each) and resolves their outputs' address ids,
// publishing each; false at the end of the batch or at an error.
func (x *addrStage) run() bool {
	a, blocks := x.a, x.blocks
	b, t := x.b, x.t
	if b >= len(blocks) {
		return false
	}
	// Hash the run's txids, outpoints and addresses, then read the
	// addresses' lines.
	x.hs = x.hs[:0]
	tw, iw, ow := x.tw, x.iw, x.ow
	n, eb, et := 0, b, t
	for ; eb < len(blocks) && n < prefetchTxs; eb, et = eb+1, 0 {
		txs := blocks[eb].Txs
		for ; et < len(txs) && n < prefetchTxs; et, n = et+1, n+1 {
			tx := &txs[et]
			th := txidHash(&tx.ID)
			x.txh[tw] = th
			tw++
			if !tx.Coinbase {
				for k := range tx.Inputs {
					in := &tx.Inputs[k]
					x.inh[iw] = utxoHashOf(txidHash(&in.PrevTxID), in.PrevIndex)
					iw++
				}
			}
			for k := range tx.Outputs {
				x.outh[ow] = utxoHashOf(th, uint32(k))
				ow++
				x.hs = append(x.hs, addrHashOr(tx.Outputs[k].Address))
			}
		}
		if et < len(txs) {
			break
		}
	}
	x.hashed.Store(int64(tw))
	x.sink += prefetchAddrs(a.st, x.hs)
	tx0, pos, k := x.tw, x.ow, 0
	for ; b < eb || b == eb && t < et; b, t = b+1, 0 {
		txs := blocks[b].Txs
		end := len(txs)
		if b == eb {
			end = et
		}
		for ; t < end; t, tx0 = t+1, tx0+1 {
			outs := txs[t].Outputs
			for o := range outs {
				id, err := resolveAddr(a, &x.next, outs[o].Address, x.hs[k])
				if err != nil {
					x.err, x.errTx, x.errAt = err, tx0, pos
					x.ready.Store(int64(tx0))
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
	x.b, x.t, x.tw, x.iw, x.ow = eb, et, tw, iw, ow
	x.ready.Store(int64(tw))
	return true
}

// window returns the hashes of the resolve step's next n txs (from its
// current position; ni inputs and no outputs), resolving runs itself when
// the stage has not hashed that far. Past an error of the stage they are
// zero: the resolve step stops at the error before it uses them.
func (x *addrStage) window(n, ni, no int) (txh, inh, outh []uint64) {
	for end := x.tpos + n; x.gotHashed < end; {
		if x.gotHashed = int(x.hashed.Load()); x.gotHashed >= end || x.ended.Load() {
			break
		}
		x.help()
	}
	return x.txh[x.tpos : x.tpos+n], x.inh[x.ipos : x.ipos+ni], x.outh[x.opos : x.opos+no]
}

// begin readies the resolve step's next tx: its ids are set, or the
// stage stopped at one of its outputs (limit).
func (x *addrStage) begin() {
	for x.tpos >= x.gotTx {
		if x.gotTx = int(x.ready.Load()); x.tpos < x.gotTx {
			return
		}
		if x.ended.Load() {
			if x.gotTx = int(x.ready.Load()); x.tpos < x.gotTx {
				return
			}
			// The stage's error is in this tx (a stage that ended at the
			// end of the batch has every tx ready).
			x.limit = x.errAt
			return
		}
		x.help()
	}
}

// id returns the id of the resolve step's next output; the stage's error
// when it stopped there.
func (x *addrStage) id() (uint64, error) {
	p := x.opos
	if p >= x.limit {
		return 0, x.err
	}
	x.opos++
	return x.ids[p], nil
}

// end moves the resolve step past tx.
func (x *addrStage) end(tx *model.Tx) {
	x.tpos++
	if !tx.Coinbase {
		x.ipos += len(tx.Inputs)
	}
}

// help resolves the stage's next run on the resolve step, which has caught
// up with it; shown in an execution trace.
func (x *addrStage) help() {
	if trace.IsEnabled() {
		defer trace.StartRegion(context.Background(), "apply: address stage on the resolve step").End()
	}
	x.step(1)
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
