package ingest

import (
	"slices"
	"testing"

	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
	"github.com/spoor-dev/spoor/internal/store/pebblestore"
)

// batchSizes is the real store recording each Apply's transaction count
// (it does not apply them: the blocks below are not a chain).
type batchSizes struct {
	*pebblestore.Store
	txs []int
}

func (s *batchSizes) Apply(_ model.Chain, _ store.ApplyMode, blocks []*model.Block) error {
	n := 0
	for _, b := range blocks {
		n += len(b.Txs)
	}
	s.txs = append(s.txs, n)
	return nil
}

// ApplyPipelined records too (the embedded store would apply the batch).
func (s *batchSizes) ApplyPipelined(c model.Chain, m store.ApplyMode, blocks []*model.Block) error {
	return s.Apply(c, m, blocks)
}

// TestFirstBatchesRamp: with the default batch size, a run's first three
// batches are an eighth, a quarter and a half of it (so that the store
// starts early), the rest whole; a batch size the caller sets is used from
// the first batch on.
func TestFirstBatchesRamp(t *testing.T) {
	blk := &model.Block{Chain: model.BTC, Txs: make([]model.Tx, 500)}
	run := func(opts Options, blocks int) []int {
		s := &batchSizes{Store: openStore(t)}
		a := newApplier(s, model.BTC, store.Linked, &opts, 0)
		src := make(chan item, blocks)
		for range blocks {
			src <- item{blk: blk}
		}
		close(src)
		if _, err := a.run(src, store.Mark{}); err != nil {
			t.Fatal(err)
		}
		return s.txs
	}
	got := run(Options{}, 180) // 90,000 txs
	want := []int{2500, 5000, 10000, 20000, 20000, 20000, 12500}
	if !slices.Equal(got, want) {
		t.Fatalf("default batches %v, want %v", got, want)
	}
	got = run(Options{BatchTxs: 4000}, 20)
	want = []int{4000, 4000, 2000}
	if !slices.Equal(got, want) {
		t.Fatalf("batches of 4,000: %v, want %v", got, want)
	}
	// The decoded-size bound ramps too.
	defer func(b int) { maxBatchBytes = b }(maxBatchBytes)
	maxBatchBytes = 8000
	s := &batchSizes{Store: openStore(t)}
	a := newApplier(s, model.BTC, store.Linked, &Options{}, 0)
	for range 7 {
		if err := a.add(&model.Block{Chain: model.BTC, Txs: make([]model.Tx, 1)}, 1000); err != nil {
			t.Fatal(err)
		}
	}
	if want := []int{1, 2, 4}; !slices.Equal(s.txs, want) { // 1,000, 2,000, 4,000 bytes
		t.Fatalf("byte-bounded batches %v, want %v", s.txs, want)
	}
}
