package pebblestore

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// TestApplyIsAtomicAddrStage fails a Bitcoin Apply large enough for its
// address stage to run on a goroutine (addrstage.go) at its first, a
// middle and its last block: when the failure comes early, the stage is
// still running ahead and must be stopped before the address cache, log
// and open segment are put back. The store must be exactly as before, and
// its continuation the store of one Apply.
func TestApplyIsAtomicAddrStage(t *testing.T) {
	w := newUTXOWorld(5, 400)
	whole := openTestStore(t)
	if err := whole.Apply(model.BTC, store.Linked, w.blocks); err != nil {
		t.Fatal(err)
	}
	want := digest(t, whole)
	for _, at := range []int{50, 200, 398} {
		t.Run(fmt.Sprintf("bad-block-%d", at), func(t *testing.T) {
			s := openTestStore(t)
			if err := s.Apply(model.BTC, store.Linked, w.blocks[:50]); err != nil {
				t.Fatal(err)
			}
			before := digest(t, s)
			bad := *w.blocks[at]
			bad.Txs = append(slices.Clone(bad.Txs), model.Tx{ID: [32]byte{0xde, 0xad}, Index: uint32(len(bad.Txs)),
				Inputs:  []model.Input{{PrevTxID: [32]byte{0x99}, PrevIndex: 3}},
				Outputs: []model.Output{{Address: []byte{1, 2, 3}, Value: 1}}})
			blocks := slices.Concat(w.blocks[50:at], []*model.Block{&bad}, w.blocks[at+1:399])
			if n := countTxs(blocks); n < splitMinTxs {
				t.Fatalf("the failing Apply holds %d txs, want at least %d (a stage of its own)", n, splitMinTxs)
			}
			err := s.Apply(model.BTC, store.Linked, blocks)
			if !errors.Is(err, store.ErrChain) {
				t.Fatalf("spend of an unknown output: err = %v, want ErrChain", err)
			}
			if got := digest(t, s); got != before {
				t.Fatal("a failed Apply changed the store")
			}
			if err := s.Apply(model.BTC, store.Linked, w.blocks[50:]); err != nil {
				t.Fatal(err)
			}
			if digest(t, s) != want {
				t.Fatal("after a failed Apply and its continuation, the store differs from one applied at once")
			}
		})
	}
}

// TestApplyAddrStageFailure fails the address stage itself: with a small
// address cache, an address paid again after it left the cache is looked
// up in the address log, whose older records are made unreadable (the
// file's first half overwritten) for one Apply. That Apply must return the
// log's error, not a chain error, and leave the store as it was; with the
// file put back, the same blocks apply and give the store of one Apply
// with the default cache.
func TestApplyAddrStageFailure(t *testing.T) {
	blocks := recurChain(5, 300)
	whole := openTestStore(t)
	if err := whole.Apply(model.BTC, store.Linked, blocks); err != nil {
		t.Fatal(err)
	}
	want := digest(t, whole)
	half := openTestStore(t)
	if err := half.Apply(model.BTC, store.Linked, blocks[:150]); err != nil {
		t.Fatal(err)
	}
	before := digest(t, half)

	dir := t.TempDir()
	o := Options{AddrCacheEntries: 64, SegmentEntries: 500}
	s, err := OpenWith(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(model.BTC, store.Linked, blocks[:150]); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopened, the cache holds the log's last addresses only.
	if s, err = OpenWith(dir, o); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Reserve(model.BTC, 0, 0); err != nil {
		t.Fatal(err)
	}
	st := s.chains[model.BTC]
	if st.addrs.complete() {
		t.Fatal("the reopened cache holds every address: no lookup would read the log")
	}
	path := st.addrLog.path
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	broken := slices.Clone(good)
	for i := range len(broken) / 2 {
		broken[i] ^= 0x5a
	}
	if err := os.WriteFile(path, broken, 0o644); err != nil {
		t.Fatal(err)
	}
	rest := blocks[150:]
	if n := countTxs(rest); n < splitMinTxs {
		t.Fatalf("the failing Apply holds %d txs, want at least %d (a stage of its own)", n, splitMinTxs)
	}
	err = s.Apply(model.BTC, store.Linked, rest)
	if !errors.Is(err, errCorrupt) || errors.Is(err, store.ErrChain) {
		t.Fatalf("Apply with an unreadable address log: err = %v, want the log's error", err)
	}
	t.Logf("the failed Apply: %v", err)
	if err := os.WriteFile(path, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := digest(t, s); got != before {
		t.Fatal("a failed Apply changed the store")
	}
	if err := s.Apply(model.BTC, store.Linked, rest); err != nil {
		t.Fatal(err)
	}
	if got := digest(t, s); got != want {
		t.Fatal("after a failed Apply and its continuation, the store differs from one applied at once")
	}
	if st.addrs.lookups == 0 || st.addrs.found == 0 {
		t.Fatalf("%d lookups, %d found in the log: the test read no old address", st.addrs.lookups, st.addrs.found)
	}
}

// TestAddrStageEqualsSerial applies the same chains with the address stage
// (on its goroutine for the large batches, on the resolve step for the
// small ones) and without it (the resolve step resolving each output's
// address itself, as before the stage): the stores must be identical, with
// the default address cache and with a small one whose misses are looked
// up in the segments and the address log, and across reopens.
func TestAddrStageEqualsSerial(t *testing.T) {
	chains := map[string][]*model.Block{"utxo-world": newUTXOWorld(7, 400).blocks, "recurring": recurChain(5, 300)}
	for name, blocks := range chains {
		for _, o := range []Options{{}, {AddrCacheEntries: 64, SegmentEntries: 500}} {
			t.Run(fmt.Sprintf("%s/cache-%d", name, o.AddrCacheEntries), func(t *testing.T) {
				run := func(stage bool) string {
					noAddrStage = !stage
					defer func() { noAddrStage = false }()
					dir := t.TempDir()
					s, err := OpenWith(dir, o)
					if err != nil {
						t.Fatal(err)
					}
					// Batches of 1, 7 and 150 blocks in turn (150: a
					// stage of its own), a reopen halfway.
					large := false
					for i, k := 0, 0; i < len(blocks); k++ {
						n := min([]int{1, 7, 150}[k%3], len(blocks)-i)
						batch := blocks[i : i+n]
						large = large || countTxs(batch) >= splitMinTxs
						if err := s.Apply(model.BTC, store.Linked, batch); err != nil {
							t.Fatal(err)
						}
						if i < len(blocks)/2 && i+n >= len(blocks)/2 {
							if err := s.Close(); err != nil {
								t.Fatal(err)
							}
							if s, err = OpenWith(dir, o); err != nil {
								t.Fatal(err)
							}
						}
						i += n
					}
					if !large {
						t.Fatalf("no batch of %d txs or more: the stage never ran on a goroutine", splitMinTxs)
					}
					defer s.Close()
					return digest(t, s)
				}
				if with, without := run(true), run(false); with != without {
					t.Fatalf("with the address stage %s, without %s", with, without)
				}
			})
		}
	}
}
