package ingest

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/spoor-dev/spoor/internal/chain/evmrpc"
	"github.com/spoor-dev/spoor/internal/chain/tron"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// tronNode adapts a java-tron HTTP API client to nodeSource.
type tronNode struct{ c *tron.Client }

func (t tronNode) name() string                    { return t.c.URL }
func (t tronNode) tip() (uint64, error)            { return t.c.TipHeight() }
func (t tronNode) hash(h uint64) ([32]byte, error) { return t.c.BlockHash(h) }
func (t tronNode) chunk() int                      { return 32 }

func (t tronNode) fetch(from, to uint64) ([]nodeBlock, error) {
	out := make([]nodeBlock, 0, to-from+1)
	for h := from; h <= to; h++ {
		d, err := t.c.Block(h)
		if err != nil {
			return nil, err
		}
		out = append(out, nodeBlock{blk: d.Block, facts: d.Facts, contracts: d.Contracts,
			where: fmt.Sprintf("node %s block %d", t.c.URL, h)})
	}
	return out, nil
}

func (t tronNode) tokens(contracts [][]byte, _ uint64) ([]evmrpc.Token, error) {
	out := make([]evmrpc.Token, len(contracts))
	for i, ct := range contracts {
		if k, ok := tron.Known[string(ct)]; ok {
			out[i] = k
			continue
		}
		out[i] = t.c.Token(ct)
	}
	return out, nil
}

// knownTronTokens answers from the configured table only (files cannot
// call contracts): any other token's decimals are unknown and reported.
func knownTronTokens(contracts [][]byte, _ uint64) ([]evmrpc.Token, error) {
	out := make([]evmrpc.Token, len(contracts))
	for i, ct := range contracts {
		if k, ok := tron.Known[string(ct)]; ok {
			out[i] = k
			continue
		}
		out[i] = evmrpc.Token{Contract: ct, Decimals: -1, Err: errors.New("not configured, and a file source cannot call the contract")}
	}
	return out, nil
}

// TronAPI ingests Tron from a java-tron node's HTTP API at url
// (/wallet/getblockbynum and /wallet/gettransactioninfobyblocknum),
// incrementally from the stored tip, reorg-safe, staying rng.Confirmations
// behind the node's head.
func TronAPI(st store.Store, url string, rng RPCRange, opts Options) (*Result, error) {
	return nodeIngest(st, model.Tron, tronNode{tron.NewClient(url)}, rng, opts)
}

// decodedLine is one decoded blocks.jsonl line, or the error at it.
type decodedLine struct {
	d     *tron.Decoded
	where string
	err   error
}

// decodeLines decodes the file's lines on all cores and delivers them in
// file order; the channel closes at the end or after the first error. stop
// ends the goroutines early.
func decodeLines(fr *tron.FileReader) (<-chan decodedLine, func()) {
	done := make(chan struct{})
	jobs := make(chan func(), 64)
	ordered := make(chan chan decodedLine, 256)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		go func() {
			for j := range jobs {
				j()
			}
		}()
	}
	go func() {
		defer close(jobs)
		defer close(ordered)
		for {
			raw, line, err := fr.NextRaw()
			out := make(chan decodedLine, 1)
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				out <- decodedLine{err: err}
			} else {
				jobs <- func() {
					d, err := fr.Decode(raw, line)
					out <- decodedLine{d: d, where: fr.Where(line), err: err}
				}
			}
			select {
			case ordered <- out:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	res := make(chan decodedLine, 64)
	go func() {
		defer close(res)
		for out := range ordered {
			ln := <-out
			select {
			case res <- ln:
			case <-done:
				return
			}
			if ln.err != nil {
				return
			}
		}
	}()
	var once sync.Once
	return res, func() { once.Do(func() { close(done) }) }
}

// TronAPIFile ingests a blocks.jsonl file of java-tron HTTP API responses
// (one {"block":…,"info":…} per line, in height order). Blocks already
// stored with the same hash are skipped (re-running is idempotent; a longer
// file continues where the store stops); where the file's chain differs
// from the stored one, the store is rolled back to the fork point first.
func TronAPIFile(st store.Store, path string, opts Options) (*Result, error) {
	fr, err := tron.OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer fr.Close()
	mark, err := st.Mark(model.Tron)
	if err != nil {
		return nil, err
	}
	if mark.HasBlocks {
		if err := st.DeleteFactsAbove(model.Tron, mark.Height); err != nil {
			return nil, err
		}
	}
	lines, stop := decodeLines(fr)
	defer stop()
	var run *accountRun
	var skipped, rolled uint64
	var prev uint64 // height of the last block kept, to refuse gaps
	var hasPrev bool
	for ln := range lines {
		d, where, err := ln.d, ln.where, ln.err
		if err != nil {
			if run != nil {
				return run.fail(err)
			}
			return nil, err
		}
		b := nodeBlock{blk: d.Block, facts: d.Facts, contracts: d.Contracts, where: where}
		h := d.Block.Height
		if run == nil && mark.HasBlocks && h <= mark.Height {
			stored, err := st.BlockHash(model.Tron, h)
			if err != nil {
				return nil, fmt.Errorf("%s: stored block %d: %w", where, h, err)
			}
			if stored == d.Block.Hash {
				skipped++
				continue
			}
			if h == 0 {
				return nil, fmt.Errorf("%s: genesis block differs from the stored chain", where)
			}
			// The file's chain forks from the stored one below h.
			if err := st.RollbackTo(model.Tron, h-1); err != nil {
				return nil, err
			}
			if err := st.DeleteFactsAbove(model.Tron, h-1); err != nil {
				return nil, err
			}
			rolled += mark.Height - (h - 1)
			if mark, err = st.Mark(model.Tron); err != nil {
				return nil, err
			}
		}
		if run == nil {
			if run, err = newAccountRun(st, model.Tron, &opts, mark, h, 0, knownTronTokens); err != nil {
				return nil, err
			}
			prev, hasPrev = mark.Height, mark.HasBlocks
		}
		if hasPrev && h != prev+1 {
			return run.fail(fmt.Errorf("%s: block %d follows block %d: the file skips blocks (a filtered extract?); "+
				"a node file must hold every block in its range — ingest a filtered export with --etl instead", where, h, prev))
		}
		prev, hasPrev = h, true
		if err := run.add(b); err != nil {
			return run.fail(err)
		}
	}
	if run == nil {
		return &Result{Chain: model.Tron, Height: mark.Height, Skipped: skipped, RolledBack: rolled}, nil
	}
	res, err := run.finish()
	if err != nil {
		return nil, err
	}
	res.Skipped, res.RolledBack = skipped, rolled
	return res, nil
}
