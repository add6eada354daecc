package ingest

import (
	"errors"
	"fmt"
	"time"

	"github.com/spoor-dev/spoor/internal/address"
	"github.com/spoor-dev/spoor/internal/chain/evmrpc"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// nodeBlock is one decoded account-chain block from a node source.
type nodeBlock struct {
	blk       *model.Block
	facts     []store.Fact
	contracts [][]byte
	where     string
}

// nodeSource is an account-chain node (Ethereum JSON-RPC, java-tron HTTP).
type nodeSource interface {
	name() string
	tip() (uint64, error)
	hash(h uint64) ([32]byte, error)
	// fetch returns the blocks from..to in height order.
	fetch(from, to uint64) ([]nodeBlock, error)
	chunk() int
	// tokens learns symbol and decimals (-1 with Err when unknown).
	tokens(contracts [][]byte, at uint64) ([]evmrpc.Token, error)
}

// accountRun applies account-chain blocks in Linked mode with facts and
// token metadata, and restores the store exactly on error.
type accountRun struct {
	st      store.Store
	c       model.Chain
	opts    *Options
	mark    store.Mark // the state to return to on error
	factsLo uint64     // facts above this height are this run's
	known   map[string]bool
	learn   func(contracts [][]byte, at uint64) ([]evmrpc.Token, error)
	pending []nodeBlock
	ptx     int
	res     *Result
	start   time.Time
	last    time.Time
	target  uint64
}

func newAccountRun(st store.Store, c model.Chain, opts *Options, mark store.Mark, first uint64, target uint64,
	learn func([][]byte, uint64) ([]evmrpc.Token, error)) (*accountRun, error) {
	assets, err := st.Assets(c)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, a := range assets {
		if len(a.Contract) > 0 {
			known[string(a.Contract)] = true
		}
	}
	lo := mark.Height
	if !mark.HasBlocks {
		// Nothing stored: facts of every block from the first one on are
		// this run's. (A genesis block carries no logs: see add.)
		lo = 0
		if first > 0 {
			lo = first - 1
		}
	}
	now := time.Now()
	return &accountRun{st: st, c: c, opts: opts, mark: mark, factsLo: lo, known: known, learn: learn,
		res: &Result{Chain: c, Height: mark.Height}, start: now, last: now, target: target}, nil
}

func (r *accountRun) add(b nodeBlock) error {
	if b.blk.Height == 0 && len(b.facts) > 0 {
		return fmt.Errorf("%s: genesis block carries %d event facts: refused (a genesis block has no logs)", b.where, len(b.facts))
	}
	r.pending = append(r.pending, b)
	r.ptx += len(b.blk.Txs)
	if r.ptx >= r.opts.batchTxs() || len(r.pending) >= 2000 {
		return r.flush()
	}
	return nil
}

// flush stores the pending blocks: facts first (an interrupted run leaves
// only facts above the tip, which the next run deletes), then the blocks in
// one atomic Apply, then what is learned about new token contracts.
func (r *accountRun) flush() error {
	if len(r.pending) == 0 {
		return nil
	}
	var facts []store.Fact
	blocks := make([]*model.Block, len(r.pending))
	var fresh [][]byte
	for i, p := range r.pending {
		blocks[i] = p.blk
		facts = append(facts, p.facts...)
		for _, ct := range p.contracts {
			if !r.known[string(ct)] {
				r.known[string(ct)] = true
				fresh = append(fresh, ct)
			}
		}
	}
	last := r.pending[len(r.pending)-1]
	if err := r.st.PutFacts(r.c, facts); err != nil {
		return fmt.Errorf("%s: storing facts: %w", last.where, err)
	}
	if err := r.st.Apply(r.c, store.Linked, blocks); err != nil {
		return fmt.Errorf("%s (blocks %d..%d): %w", last.where, blocks[0].Height, last.blk.Height, err)
	}
	if len(fresh) > 0 {
		toks, err := r.learn(fresh, last.blk.Height)
		if err != nil {
			return err
		}
		for _, t := range toks {
			if _, err := r.st.PutAsset(r.c, t.Contract, t.Symbol, t.Decimals); err != nil {
				return err
			}
			if t.Decimals < 0 {
				disp, _ := address.For(r.c).Encode(t.Contract)
				why := "unknown"
				if t.Err != nil {
					why = t.Err.Error()
				}
				r.res.UnknownDecimals = append(r.res.UnknownDecimals, fmt.Sprintf("%s (%s)", disp, why))
			}
		}
	}
	r.res.Applied += uint64(len(blocks))
	r.res.Txs += uint64(r.ptx)
	r.res.Height = last.blk.Height
	r.pending, r.ptx = r.pending[:0], 0
	r.progress(false)
	return nil
}

// fail restores the store to the run's mark and joins any failure to do so.
func (r *accountRun) fail(err error) (*Result, error) {
	uerr := r.st.Undo(r.c, r.mark)
	if uerr == nil {
		uerr = r.st.DeleteFactsAbove(r.c, r.factsLo)
	}
	if uerr != nil {
		return nil, errors.Join(err, fmt.Errorf("restoring the store failed: %w", uerr))
	}
	return nil, err
}

func (r *accountRun) finish() (*Result, error) {
	if err := r.flush(); err != nil {
		return r.fail(err)
	}
	r.progress(true)
	r.res.Elapsed = time.Since(r.start)
	return r.res, nil
}

func (r *accountRun) progress(final bool) {
	w := r.opts.Progress
	if w == nil {
		return
	}
	now := time.Now()
	if !final && now.Sub(r.last) < 200*time.Millisecond {
		return
	}
	r.last = now
	secs := max(now.Sub(r.start).Seconds(), 1e-9)
	at := fmt.Sprintf("height %d", r.res.Height)
	if r.target > 0 {
		at = fmt.Sprintf("height %d/%d %5.1f%%", r.res.Height, r.target, 100*float64(r.res.Height)/float64(r.target))
	}
	fmt.Fprintf(w, "\r%s %s  %.0f blocks/s  %.0f tx/s ", r.c, at, float64(r.res.Applied)/secs, float64(r.res.Txs)/secs)
	if final {
		fmt.Fprintln(w)
	}
}

// nodeIngest ingests from a node: it first walks back from the stored tip
// until the node's block hash agrees with the store and rolls back to that
// fork point (a reorg), then applies blocks up to the node's tip less the
// confirmations. Blocks go in Linked mode (each must extend the stored tip)
// in atomic batches; on any error the store returns to its state after the
// reorg step (a rolled-back block is off the node's chain and stays removed).
func nodeIngest(st store.Store, c model.Chain, src nodeSource, rng RPCRange, opts Options) (*Result, error) {
	tip, err := src.tip()
	if err != nil {
		return nil, err
	}
	if tip < rng.Confirmations {
		return &Result{Chain: c}, nil
	}
	tip -= rng.Confirmations
	mark, err := st.Mark(c)
	if err != nil {
		return nil, err
	}
	rolled := uint64(0)
	if mark.HasBlocks {
		// Facts above the tip are left by an interrupted run: not ours.
		if err := st.DeleteFactsAbove(c, mark.Height); err != nil {
			return nil, err
		}
		h := min(mark.Height, tip)
		for {
			stored, err := st.BlockHash(c, h)
			if errors.Is(err, store.ErrNotFound) {
				return nil, fmt.Errorf("%s: the node's chain differs from every stored block down to height %d, where the stored chain starts: re-ingest from an earlier --from into a new store", src.name(), h+1)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: stored block %d: %w", c, h, err)
			}
			nodeHash, err := src.hash(h)
			if err != nil {
				return nil, err
			}
			if stored == nodeHash {
				break
			}
			if h == 0 {
				return nil, fmt.Errorf("%s: the node's genesis block differs from the stored chain", src.name())
			}
			h--
		}
		if h < mark.Height && h < tip {
			if err := st.RollbackTo(c, h); err != nil {
				return nil, err
			}
			if err := st.DeleteFactsAbove(c, h); err != nil {
				return nil, err
			}
			rolled = mark.Height - h
			if mark, err = st.Mark(c); err != nil {
				return nil, err
			}
		}
	}
	from := uint64(0)
	skipped := uint64(0)
	if mark.HasBlocks {
		from = mark.Height + 1
		if rng.HasFrom {
			if rng.From > from {
				return nil, fmt.Errorf("--from %d: a node ingest extends the stored chain block by block, so it must continue from height %d (the stored tip + 1)", rng.From, from)
			}
			skipped = from - rng.From
		}
	} else if rng.HasFrom {
		from = rng.From
	}
	to := tip
	if rng.HasTo && rng.To < to {
		to = rng.To
	}
	run, err := newAccountRun(st, c, &opts, mark, from, to, src.tokens)
	if err != nil {
		return nil, err
	}
	type chunk struct {
		blocks []nodeBlock
		err    error
	}
	ch := make(chan chunk, 2)
	stop := make(chan struct{})
	go func() {
		defer close(ch)
		for lo := from; lo <= to && from <= to; {
			hi := min(to, lo+uint64(src.chunk())-1)
			bs, err := src.fetch(lo, hi)
			select {
			case ch <- chunk{bs, err}:
			case <-stop:
				return
			}
			if err != nil || hi == to {
				return
			}
			lo = hi + 1
		}
	}()
	defer close(stop)
	for ck := range ch {
		if ck.err != nil {
			return run.fail(ck.err)
		}
		for _, b := range ck.blocks {
			if err := run.add(b); err != nil {
				return run.fail(err)
			}
		}
	}
	res, err := run.finish()
	if err != nil {
		return nil, err
	}
	res.Skipped, res.RolledBack = skipped, rolled
	return res, nil
}
