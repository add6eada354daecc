package ingest

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/spoor-dev/spoor/internal/chain/btc/btctestdata"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
	"github.com/spoor-dev/spoor/internal/store/pebblestore"
)

// failingReserve is the real store with a Reserve that fails (fault
// injection: a real store's Reserve fails only when its chain state cannot
// be loaded, which would take a damaged store).
type failingReserve struct {
	*pebblestore.Store
	calls int
}

var errReserve = errors.New("reserve failed (injected)")

func (s *failingReserve) Reserve(model.Chain, uint64, uint64) error {
	s.calls++
	time.Sleep(50 * time.Millisecond) // the decoders fill the pipeline meanwhile
	return errReserve
}

var _ store.Reserver = (*failingReserve)(nil)

// TestReserveFailureStopsDecoders: the decoders start on the blocks while
// the store reserves its tables; when the reservation fails, the ingest
// returns its error, the reader and decoders stop (no goroutine is left
// behind, blocked on a full pipeline), and the store is as it was.
func TestReserveFailureStopsDecoders(t *testing.T) {
	_, data := btctestdata.Blocks1To255(t)
	p := filepath.Join(t.TempDir(), "blk.dat")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	defer func(b int) { inflightBudget = b }(inflightBudget)
	inflightBudget = 4 << 10 // a few blocks fill the pipeline: the reader blocks on it
	real := openStore(t)
	// The ingest records the network before it reserves (and keeps it).
	if err := real.SetNetwork(model.BTC, "mainnet"); err != nil {
		t.Fatal(err)
	}
	before := digest(t, real)
	goroutines := runtime.NumGoroutine()
	s := &failingReserve{Store: real}
	if _, err := BTCFiles(s, p, Options{}); !errors.Is(err, errReserve) {
		t.Fatalf("err = %v, want the reservation's", err)
	}
	if s.calls != 1 {
		t.Fatalf("Reserve called %d times", s.calls)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutines {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left behind (%d before):\n%s", runtime.NumGoroutine()-goroutines, goroutines, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
	if digest(t, real) != before {
		t.Fatal("a failed reservation changed the store")
	}
	// The store takes the same blocks afterwards.
	if _, err := BTCFiles(real, p, Options{}); err != nil {
		t.Fatal(err)
	}
	if m, _ := real.Mark(model.BTC); m.Height != 255 {
		t.Fatalf("height %d", m.Height)
	}
}

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
