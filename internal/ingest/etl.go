package ingest

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/spoor-dev/spoor/internal/address"
	"github.com/spoor-dev/spoor/internal/chain/etl"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// ETLStats is what an ethereum-etl / BigQuery export ingest read and decided,
// beyond the block counts of Result.
type ETLStats struct {
	Units     int   // block-range partitions (or 1 for an unpartitioned folder)
	Rows      int64 // data rows read, all files
	Transfers int64 // transfers in the decoded blocks (before the store skips known txs)
	// NewTransfers counts the transfers this run added to the store: an
	// overlapping re-export adds none twice.
	NewTransfers  uint64
	DroppedFailed int64 // token-transfer rows of failed transactions
	StatusUnknown int64 // transactions without receipt status (counted as succeeded)
	// SkippedTraces counts traces rows of no transaction (block and uncle
	// rewards, genesis allocations, the DAO fork): not stored.
	SkippedTraces int64
	// DroppedFailedTraces counts traces rows moving value in failed
	// transactions (receipt_status 0): dropped.
	DroppedFailedTraces int64
	Facts               int // blacklist facts recorded (Tether / Circle)
	Tokens              int // token metadata rows recorded
	// NoTime counts blocks no file gave a time for: their transfers cannot
	// be valued in USD.
	NoTime int
	// UnknownDecimals lists the token contracts (display form) this run
	// moved whose decimals no tokens file gave: their amounts stay in base
	// units and are never valued in USD.
	UnknownDecimals []string
}

// etlBatchTxs is the ETL default batch size, measured 1.6-1.8x faster than
// the driver's 20,000 when the records still went to Pebble (BENCHMARKS.md,
// ETL section); each Apply still syncs three logs and Pebble. The first
// batches of a run are smaller (etlRampBatches: an eighth, a quarter, a
// half): the store idles until the first batch is decoded, and a full one
// took ≈ 120 ms of a 1 M-row import's ≈ 750.
const (
	etlBatchTxs    = 120_000
	etlRampBatches = 3
)

// The blocks the decoder hands over are lent by an etl.Recycler (see
// package etl, recycle.go): the driver returns each block once store.Apply
// has returned for it (the store copies what it keeps) or once it drops it
// unapplied (a Reset), and the decoder builds the next blocks into the
// memory of a hand-over whose blocks all came back. Before each Apply the
// driver checks that every block it applies is still lent (Recycler.Lent),
// so that a block returned too early is an error, never a block applied
// with another's content. A failed import returns nothing (the recycler is
// dropped with it).
//
// checkRecycle turns on the recycler's check mode (the tests of this
// package do; SPOOR_CHECK_RECYCLE=1 for a binary); noRecycle hands over
// fresh memory (tests compare both); returnEarly makes the driver return
// blocks before it applies them (the mistake the checks must catch: tests
// only); recycled, when set, sees the recycler of each import (tests);
// handOverRows sets etl.Stream.Rows (tests; 0: the decoder's default).
var (
	checkRecycle = os.Getenv("SPOOR_CHECK_RECYCLE") == "1"
	noRecycle    bool
	returnEarly  bool
	recycled     func(*etl.Recycler)
	handOverRows int
)

// etlMsg is what the decoding goroutine sends: the next blocks of the unit
// being decoded, a reset (drop the unit's blocks sent so far: its rows
// were not in block order after all), or the end of the unit (its counts;
// all its blocks came before) or the error that stopped decoding.
type etlMsg struct {
	blocks []*model.Block
	reset  bool
	res    *etl.Result
	err    error
}

// ETL ingests an ethereum-etl / BigQuery-style CSV export folder of chain c
// (model.ETH or model.Tron): blocks, transactions, receipts, token_transfers,
// logs, traces and tokens files, as package etl reads them. Blocks are applied with
// store.Unordered, so re-ingesting the same or an overlapping export never
// counts a transaction twice. Token symbols and decimals go to PutAsset,
// Tether/Circle blacklist events to PutFacts. On any error the store is
// returned to exactly its state before the call.
func ETL(st store.Store, c model.Chain, dir string, opts Options) (*Result, error) {
	if c != model.ETH && c != model.Tron {
		return nil, fmt.Errorf("ingest: ETL exports are read for eth and tron, not %s", c)
	}
	start := time.Now()
	units, tokenFiles, err := etl.Scan(dir)
	if err != nil {
		return nil, err
	}
	// Token metadata is read (and validated) before anything is written.
	tokens, err := etl.ReadTokens(c, tokenFiles)
	if err != nil {
		return nil, err
	}
	mark, err := st.Mark(c)
	if err != nil {
		return nil, err
	}
	res := &Result{Chain: c, ETL: &ETLStats{Units: len(units)}}
	p := &etlProgress{opts: &opts, chain: c, start: start, units: len(units), last: start}

	// Decode on another goroutine; it hands blocks over while it still
	// reads (etl.DecodeUnitStream), so the store writes the first blocks of
	// a partition while the rest are parsed, and it goes on to the next
	// partition while the last blocks of one are written.
	var rc *etl.Recycler
	if !noRecycle {
		rc = etl.NewRecycler(checkRecycle)
		if recycled != nil {
			defer recycled(rc)
		}
	}
	// giveBack returns applied or dropped blocks to the recycler.
	giveBack := func(blocks []*model.Block) error {
		if rc == nil || len(blocks) == 0 {
			return nil
		}
		return rc.Return(blocks)
	}
	msgs := make(chan etlMsg, 4)
	stop := make(chan struct{})
	errStopped := errors.New("stopped")
	send := func(m etlMsg) error {
		select {
		case msgs <- m:
			return nil
		case <-stop:
			return errStopped
		}
	}
	go func() {
		defer close(msgs)
		for _, u := range units {
			r, err := etl.DecodeUnitStream(c, u, etl.Stream{
				Blocks:   func(b []*model.Block) error { return send(etlMsg{blocks: b}) },
				Reset:    func() error { return send(etlMsg{reset: true}) },
				Recycler: rc,
				Rows:     handOverRows,
			})
			if errors.Is(err, errStopped) || send(etlMsg{res: r, err: err}) != nil || err != nil {
				return
			}
		}
	}()
	fail := func(err error) (*Result, error) {
		close(stop)
		for range msgs {
		}
		if uerr := st.Undo(c, mark); uerr != nil {
			return nil, errors.Join(err, fmt.Errorf("restoring the store failed: %w", uerr))
		}
		return nil, err
	}

	var facts []store.Fact
	moved := map[string]bool{} // token contracts moved by this run
	batch := opts.batchTxs()
	ramp := 0 // the batches of the run still to be made smaller
	if opts.BatchTxs == 0 && os.Getenv("SPOOR_BATCH_TXS") == "" {
		batch, ramp = etlBatchTxs, etlRampBatches
	}
	// Blocks are applied in batches of about batch transactions, never
	// across units. unitMark is the store before the unit's first batch;
	// unitBlocks and unitTransfers what the unit's batches applied.
	var (
		pending       []*model.Block
		pendingTxs    int
		unitMark      store.Mark
		unitApplied   bool
		unitBlocks    uint64
		unitTransfers int64
	)
	apply := func() error {
		if len(pending) == 0 {
			return nil
		}
		if !unitApplied {
			m, err := st.Mark(c)
			if err != nil {
				return err
			}
			unitMark, unitApplied = m, true
		}
		lo, hi := pending[0].Height, pending[len(pending)-1].Height
		if returnEarly {
			if err := giveBack(pending); err != nil {
				return err
			}
		}
		if rc != nil {
			if err := rc.Lent(pending); err != nil {
				return fmt.Errorf("%s: applying blocks %d..%d: %w", dir, lo, hi, err)
			}
		}
		apply := st.Apply
		if p, ok := st.(store.Pipeliner); ok {
			apply = p.ApplyPipelined // its commit runs while the next batch decodes and resolves
		}
		if err := apply(c, store.Unordered, pending); err != nil {
			return fmt.Errorf("%s: applying blocks %d..%d: %w", dir, lo, hi, err)
		}
		n, x := uint64(len(pending)), countTransfers(pending)
		if !returnEarly {
			// Applied: the store keeps no reference into the blocks.
			if err := giveBack(pending); err != nil {
				return err
			}
		}
		res.Applied += n
		unitBlocks += n
		unitTransfers += x
		if hi > res.Height {
			res.Height = hi
		}
		p.blocks += n
		p.transfers += x
		p.show(false)
		pending, pendingTxs = nil, 0
		ramp = max(ramp-1, 0)
		return nil
	}
	for m := range msgs {
		switch {
		case m.err != nil:
			return fail(m.err)
		case m.reset:
			// The unit's rows were out of block order after some blocks
			// were handed over: they all come again.
			if err := giveBack(pending); err != nil {
				return fail(err)
			}
			pending, pendingTxs = nil, 0
			if unitApplied {
				if err := st.Undo(c, unitMark); err != nil {
					return fail(fmt.Errorf("%s: dropping blocks applied early: %w", dir, err))
				}
				res.Applied -= unitBlocks
				p.blocks -= unitBlocks
				p.transfers -= unitTransfers
				unitApplied, unitBlocks, unitTransfers = false, 0, 0
			}
		case m.res != nil:
			if err := apply(); err != nil {
				return fail(err)
			}
			unitApplied, unitBlocks, unitTransfers = false, 0, 0
			r := m.res
			s := res.ETL
			for _, n := range r.Rows {
				s.Rows += n
			}
			s.Transfers += r.Transfers
			s.DroppedFailed += r.DroppedFailed
			s.StatusUnknown += r.StatusUnknown
			s.SkippedTraces += r.SkippedTraces
			s.DroppedFailedTraces += r.DroppedFailedTraces
			s.NoTime += len(r.NoTime)
			facts = append(facts, r.Facts...)
			p.unitsDone++
			p.show(false)
		default:
			noteContracts(m.blocks, moved)
			for _, b := range m.blocks {
				if len(pending) > 0 && pendingTxs+len(b.Txs) > batch>>ramp {
					if err := apply(); err != nil {
						return fail(err)
					}
				}
				pending = append(pending, b)
				pendingTxs += len(b.Txs)
			}
		}
	}

	if p, ok := st.(store.Pipeliner); ok {
		if err := p.Durable(); err != nil {
			return fail(fmt.Errorf("%s: %w", dir, err))
		}
	}
	// Token metadata, then facts: after every block is in, so a failure
	// of either can still be undone with the blocks.
	restore, err := putTokens(st, c, tokens)
	if err != nil {
		return fail(errors.Join(err, restore()))
	}
	res.ETL.Tokens = len(tokens)
	if len(facts) > 0 {
		if err := st.PutFacts(c, facts); err != nil {
			return fail(errors.Join(fmt.Errorf("%s: recording facts: %w", dir, err), restore()))
		}
	}
	res.ETL.Facts = len(facts)

	after, err := st.Mark(c)
	if err != nil {
		return nil, err
	}
	res.Txs = after.Txs - mark.Txs
	res.ETL.NewTransfers = after.Transfers - mark.Transfers
	newBlocks := after.Blocks - mark.Blocks
	if res.Applied >= newBlocks {
		res.Skipped = res.Applied - newBlocks
	}
	res.Applied = newBlocks
	if res.Height < mark.Height && mark.HasBlocks {
		res.Height = mark.Height
	}
	if res.ETL.UnknownDecimals, err = unknownDecimals(st, c, moved); err != nil {
		return nil, err
	}
	p.show(true)
	res.Elapsed = time.Since(start)
	return res, nil
}

// noteContracts records the token contracts the blocks move.
func noteContracts(blocks []*model.Block, moved map[string]bool) {
	var last []byte
	for _, b := range blocks {
		for i := range b.Txs {
			for k := range b.Txs[i].Transfers {
				ct := b.Txs[i].Transfers[k].Contract
				if len(ct) == 0 || (last != nil && &ct[0] == &last[0]) {
					continue
				}
				last = ct
				moved[string(ct)] = true
			}
		}
	}
}

func countTransfers(blocks []*model.Block) int64 {
	var n int64
	for _, b := range blocks {
		for i := range b.Txs {
			if !b.Txs[i].Failed {
				n += int64(len(b.Txs[i].Transfers))
			}
		}
	}
	return n
}

// putTokens records token metadata. A file that leaves symbol or decimals
// empty does not erase what the store already knows. It returns a function
// that puts back the metadata it replaced (assets it created are removed by
// Undo).
func putTokens(st store.Store, c model.Chain, tokens []etl.Token) (restore func() error, err error) {
	restore = func() error { return nil }
	if len(tokens) == 0 {
		return restore, nil
	}
	known, err := st.Assets(c)
	if err != nil {
		return restore, err
	}
	old := map[string]model.Asset{}
	for _, a := range known {
		if len(a.Contract) > 0 {
			old[string(a.Contract)] = a
		}
	}
	var replaced []model.Asset
	restore = func() error {
		var errs []error
		for _, a := range replaced {
			if _, err := st.PutAsset(c, a.Contract, a.Symbol, a.Decimals); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	for _, t := range tokens {
		sym, dec := t.Symbol, t.Decimals
		prev, had := old[string(t.Contract)]
		if had {
			if sym == "" {
				sym = prev.Symbol
			}
			if dec < 0 {
				dec = prev.Decimals
			}
			if sym == prev.Symbol && dec == prev.Decimals {
				continue
			}
		}
		if _, err := st.PutAsset(c, t.Contract, sym, dec); err != nil {
			return restore, fmt.Errorf("recording token %s: %w", address.For(c).MustEncode(t.Contract), err)
		}
		if had {
			replaced = append(replaced, prev)
		}
		old[string(t.Contract)] = model.Asset{Chain: c, Contract: t.Contract, Symbol: sym, Decimals: dec}
	}
	return restore, nil
}

// unknownDecimals lists, in display form, the moved contracts whose decimals
// the store does not know.
func unknownDecimals(st store.Store, c model.Chain, moved map[string]bool) ([]string, error) {
	if len(moved) == 0 {
		return nil, nil
	}
	assets, err := st.Assets(c)
	if err != nil {
		return nil, err
	}
	cd := address.For(c)
	var out []string
	for _, a := range assets {
		if len(a.Contract) > 0 && a.Decimals < 0 && moved[string(a.Contract)] {
			out = append(out, cd.MustEncode(a.Contract))
		}
	}
	sort.Strings(out)
	return out, nil
}

// etlProgress prints one progress line, at most five times a second.
type etlProgress struct {
	opts             *Options
	chain            model.Chain
	start, last      time.Time
	units, unitsDone int
	blocks           uint64
	transfers        int64
}

func (p *etlProgress) show(final bool) {
	w := p.opts.Progress
	if w == nil {
		return
	}
	now := time.Now()
	if !final && now.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = now
	secs := max(now.Sub(p.start).Seconds(), 1e-9)
	fmt.Fprintf(w, "\r%s etl: partition %d/%d  %d blocks  %d transfers  %.0f transfers/s ", p.chain, p.unitsDone, p.units,
		p.blocks, p.transfers, float64(p.transfers)/secs)
	if final {
		fmt.Fprintln(w)
	}
}
