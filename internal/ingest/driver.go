// Package ingest drives chain adapters into the store: it pulls canonical
// blocks from a source in chain order, applies them in atomic batches,
// handles reorgs by rolling the store back to the fork point, shows
// progress, and on any error returns the store to exactly the state it had
// before the ingest began.
package ingest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// Options tune an ingest run.
type Options struct {
	// BatchTxs is how many transactions go into one atomic store batch
	// (default 20,000; env SPOOR_BATCH_TXS overrides, for tests).
	BatchTxs int
	// Progress receives a progress line (with \r) when non-nil.
	Progress io.Writer
}

func (o *Options) batchTxs() int {
	if v, err := strconv.Atoi(os.Getenv("SPOOR_BATCH_TXS")); err == nil && v > 0 {
		return v
	}
	if o.BatchTxs > 0 {
		return o.BatchTxs
	}
	return 20000
}

// GCPercent is the garbage collector's target while `spoor ingest btc
// --blocks` reads at least bigInput bytes of blk files, the store's close
// included (unless GOGC is set): half Go's default.
// Its big tables hold no pointers, so a collection costs little, while
// every page the heap grows by costs a page fault and clearing in the
// kernel: on the 10⁶- and 10⁷-transfer chains the process peaked 12–18 %
// lower in memory with the same CPU within noise. A small input keeps Go's
// default: with a heap of a few MB, collections come so often at 50 that
// they cost ≈ 15 % more CPU (mainnet blocks 0–14,131: ≈ 3 MB of blocks). BENCHMARKS.md,
// sixth session.
const (
	GCPercent = 50
	bigInput  = 64 << 20
)

// GCForInput sets GCPercent for an ingest of n bytes when n is big and
// GOGC is not set, and returns what puts the previous setting back.
func GCForInput(n uint64) (restore func()) {
	if n < bigInput || os.Getenv("GOGC") != "" {
		return func() {}
	}
	old := debug.SetGCPercent(GCPercent)
	return func() { debug.SetGCPercent(old) }
}

// Result says what an ingest did.
type Result struct {
	Chain      model.Chain
	Applied    uint64 // blocks applied
	Skipped    uint64 // blocks already stored
	RolledBack uint64 // blocks removed by a reorg
	// OffChain counts blocks of the input that are not on the chain ingested
	// (side branches; blocks whose parent is missing or damaged).
	OffChain int
	Txs      uint64
	Height   uint64
	Elapsed  time.Duration
	ETL      *ETLStats // ETL export ingests only (etl.go)
	// UnknownDecimals lists token contracts (display form, with the reason)
	// whose decimals could not be learned: their amounts stay in base units.
	UnknownDecimals []string
}

// item is one decoded block from a source, or the error that stopped it.
type item struct {
	blk   *model.Block
	size  int    // about the memory blk takes, when known (Bitcoin: decodedSize)
	where string // the block and where it came from (or see describe)
	src   string // where it came from (file and offset, node URL); may be empty
	hash  fmt.Stringer
	err   error
}

// describe says which block it is and where it came from: where, or,
// when that is empty, src with the block's height and hash.
func (it *item) describe() string {
	if it.where != "" || it.hash == nil {
		return it.where
	}
	return fmt.Sprintf("%s (block %d %s)", it.src, it.blk.Height, it.hash)
}

// applier batches blocks into store.Apply calls.
type applier struct {
	st      store.Store
	chain   model.Chain
	mode    store.ApplyMode
	opts    *Options
	pending []*model.Block
	ptx     int
	pbytes  int // the pending blocks' sizes (item.size)
	res     *Result
	start   time.Time
	last    time.Time
	target  uint64
	// rc, when set, lent the blocks: each is checked to be still lent
	// before it is applied and returned once Apply returned for it.
	rc lender
	// ramp: the batches still to be made smaller (rampBatches).
	ramp int
}

// rampBatches is how many of a run's first batches are smaller (an
// eighth, a quarter and a half of the batch, in transactions and in
// bytes), when the batch size is the default: the store has nothing to do
// until the first batch is decoded, and a full one kept Apply waiting for
// ≈ 50 ms of the ≈ 0.5 s ingest of the 10⁶-transfer chain while only the
// decoders ran (BENCHMARKS.md, eighth session).
const rampBatches = 3

// lender lends decoded blocks (btc.Recycler).
type lender interface {
	Lent([]*model.Block) error
	Return([]*model.Block) error
}

func newApplier(st store.Store, c model.Chain, mode store.ApplyMode, opts *Options, target uint64) *applier {
	now := time.Now()
	a := &applier{st: st, chain: c, mode: mode, opts: opts, res: &Result{Chain: c}, start: now, last: now, target: target}
	if opts.BatchTxs == 0 && os.Getenv("SPOOR_BATCH_TXS") == "" {
		a.ramp = rampBatches
	}
	return a
}

// maxBatchBytes bounds a batch by the memory of its blocks where the
// source tells it (item.size): 20,000 ordinary Bitcoin txs take 10–13 MB
// decoded, but blocks of txs with thousands of tiny outputs take seven
// times their raw size, and a batch of 20,000 of those txs held 40 MB.
var maxBatchBytes = 24 << 20 // tests lower it

func (a *applier) add(b *model.Block, size int) error {
	a.pending = append(a.pending, b)
	a.ptx += len(b.Txs)
	a.pbytes += size
	if a.ptx >= a.opts.batchTxs()>>a.ramp || len(a.pending) >= 2000 || a.pbytes >= maxBatchBytes>>a.ramp {
		return a.flush()
	}
	return nil
}

func (a *applier) flush() error {
	if len(a.pending) == 0 {
		return nil
	}
	if a.rc != nil {
		if returnEarly { // the mistake the checks must catch (tests)
			if err := a.rc.Return(a.pending); err != nil {
				return err
			}
		}
		if err := a.rc.Lent(a.pending); err != nil {
			return err
		}
	}
	apply := a.st.Apply
	if p, ok := a.st.(store.Pipeliner); ok {
		// The batch's syncs and commit run while the next one resolves;
		// run waits for the last (Durable) before it reports success.
		apply = p.ApplyPipelined
	}
	if err := apply(a.chain, a.mode, a.pending); err != nil {
		return err
	}
	last := a.pending[len(a.pending)-1]
	a.res.Applied += uint64(len(a.pending))
	a.res.Txs += uint64(a.ptx)
	a.res.Height = last.Height
	if a.rc != nil && !returnEarly {
		// The store keeps no reference into applied blocks.
		if err := a.rc.Return(a.pending); err != nil {
			return err
		}
	}
	a.pending, a.ptx, a.pbytes = a.pending[:0], 0, 0
	a.ramp = max(a.ramp-1, 0)
	a.progress(false)
	return nil
}

func (a *applier) progress(final bool) {
	w := a.opts.Progress
	if w == nil {
		return
	}
	now := time.Now()
	if !final && now.Sub(a.last) < 200*time.Millisecond {
		return
	}
	a.last = now
	secs := now.Sub(a.start).Seconds()
	if secs <= 0 {
		secs = 1e-9
	}
	pct := ""
	if a.target > 0 {
		pct = fmt.Sprintf(" %5.1f%%", 100*float64(a.res.Height)/float64(a.target))
	}
	fmt.Fprintf(w, "\r%s height %d/%d%s  %.0f blocks/s  %.0f tx/s ", a.chain, a.res.Height, a.target, pct,
		float64(a.res.Applied)/secs, float64(a.res.Txs)/secs)
	if final {
		fmt.Fprintln(w)
	}
}

// run applies every item from src in order. On error it undoes everything
// applied since mark, so the store is as it was.
func (a *applier) run(src <-chan item, mark store.Mark) (*Result, error) {
	fail := func(err error) (*Result, error) {
		for range src { // drain so the producer stops
		}
		if uerr := a.st.Undo(a.chain, mark); uerr != nil {
			return nil, errors.Join(err, fmt.Errorf("restoring the store failed: %w", uerr))
		}
		return nil, err
	}
	for it := range src {
		if it.err != nil {
			return fail(it.err)
		}
		if err := a.add(it.blk, it.size); err != nil {
			// A batch failed: the store's error names the block; say
			// which blocks the batch held and where they came from.
			where := it.describe()
			if len(a.pending) > 1 && it.src != "" {
				where = fmt.Sprintf("%s (batch of blocks %d-%d)", it.src, a.pending[0].Height, a.pending[len(a.pending)-1].Height)
			}
			return fail(fmt.Errorf("%s: %w", where, err))
		}
	}
	if err := a.flush(); err != nil {
		return fail(err)
	}
	if p, ok := a.st.(store.Pipeliner); ok {
		if err := p.Durable(); err != nil {
			return fail(err)
		}
	}
	a.progress(true)
	a.res.Elapsed = time.Since(a.start)
	return a.res, nil
}

// Terminal reports whether f is a terminal (progress is shown only there).
func Terminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
