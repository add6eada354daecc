package pebblestore

import (
	"fmt"
	"testing"

	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// txBlocks returns Tron blocks lo..hi-1, five one-transfer transactions each.
func txBlocks(lo, hi uint64) []*model.Block {
	var out []*model.Block
	for h := lo; h < hi; h++ {
		var txs []model.Tx
		for i := uint64(0); i < 5; i++ {
			n := h*5 + i
			from := append([]byte{0x41, byte(n % 17)}, make([]byte, 19)...)
			to := append([]byte{0x41, byte(n%23 + 50)}, make([]byte, 19)...)
			tx := model.Tx{ID: [32]byte{byte(n), byte(n >> 8), 0x5a}, Index: uint32(i), FeePayer: from}
			t := model.Transfer{From: from, To: to, LogIndex: int32(i)}
			t.Value.SetUint64(n*977 + 1)
			tx.Transfers = []model.Transfer{t}
			txs = append(txs, tx)
		}
		out = append(out, accountBlock(h, txs...))
	}
	return out
}

// TestTxFilterExact: the in-memory txid filter lets a fresh Unordered import
// skip almost every duplicate lookup, and never changes what is stored. Re-
// applied and overlapping batches (in the same process, after an Undo, and
// in a new process that rebuilds the filter from Pebble) leave exactly the
// store of applying each transaction once; so does a store whose filter is
// rebuilt on every batch or disabled (the chain too large for it).
func TestTxFilterExact(t *testing.T) {
	ref := openTestStore(t)
	if err := ref.Apply(model.Tron, store.Unordered, txBlocks(100, 400)); err != nil {
		t.Fatal(err)
	}
	want := digest(t, ref)
	for _, c := range []struct {
		name     string
		min, max uint64
	}{{"default", txFilterMin, txFilterMax}, {"rebuilt-each-batch", 1, 1 << 20}, {"disabled", 1, 10}} {
		t.Run(c.name, func(t *testing.T) {
			defer func(a, b uint64) { txFilterMin, txFilterMax = a, b }(txFilterMin, txFilterMax)
			txFilterMin, txFilterMax = c.min, c.max
			dir := t.TempDir()
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			apply := func(lo, hi uint64) {
				t.Helper()
				if err := s.Apply(model.Tron, store.Unordered, txBlocks(lo, hi)); err != nil {
					t.Fatal(err)
				}
			}
			apply(100, 200)
			apply(200, 300)
			if c.name == "default" && s.txGets > 25 { // 1,000 new txids, about 1% false positives
				t.Fatalf("fresh import looked up %d of 1000 txids in Pebble", s.txGets)
			}
			mark, err := s.Mark(model.Tron)
			if err != nil {
				t.Fatal(err)
			}
			apply(150, 350) // overlaps both stored batches
			if err := s.Undo(model.Tron, mark); err != nil {
				t.Fatal(err)
			}
			apply(250, 400) // again overlapping, after an undo
			apply(100, 200) // all stored
			if got := digest(t, s); got != want {
				t.Fatal("store differs from applying every transaction once")
			}
			s.Close()
			if s, err = Open(dir); err != nil { // a new process: the filter is rebuilt
				t.Fatal(err)
			}
			defer s.Close()
			gets := s.txGets
			apply(399, 400) // 5 txs into 1,500: looked up, no scan for a filter
			if st, _ := s.state(model.Tron); st.txf != nil || s.txGets-gets != 5 {
				t.Fatalf("small batch into a larger store: filter built %v, %d lookups", st.txf != nil, s.txGets-gets)
			}
			apply(100, 400)
			if got := digest(t, s); got != want {
				t.Fatal("after reopening, re-applying the export changed the store")
			}
			st, _ := s.state(model.Tron)
			if (st.txf != nil) != (c.name != "disabled") {
				t.Fatalf("filter present = %v", st.txf != nil)
			}
			if c.name == "disabled" && s.txGets != 1505 {
				t.Fatalf("without a filter every txid is looked up: %d lookups, want 1505", s.txGets)
			}
		})
	}
}

// TestTxFilterNoFalseNegatives: every added txid is reported as maybe
// present, and the false-positive rate stays near the 1% it is sized for.
func TestTxFilterNoFalseNegatives(t *testing.T) {
	f := newTxFilter(10_000)
	id := func(i int) *[32]byte {
		var b [32]byte
		copy(b[:], fmt.Sprintf("%08d", i))
		return &b
	}
	for i := 0; i < 10_000; i++ {
		f.add(id(i))
	}
	fp := 0
	for i := 0; i < 10_000; i++ {
		if !f.mayHave(id(i)) {
			t.Fatalf("txid %d added but reported absent", i)
		}
		if f.mayHave(id(1_000_000 + i)) {
			fp++
		}
	}
	if fp > 300 {
		t.Fatalf("%d false positives in 10,000, want about 100", fp)
	}
}

// TestTxFilterAfterLinked: txids stored by a Linked apply (which the filter
// does not collect) are still found by a later Unordered re-apply of the
// same blocks, so nothing is counted twice.
func TestTxFilterAfterLinked(t *testing.T) {
	linked := txBlocks(200, 210)
	for i, b := range linked {
		if i == 0 {
			b.PrevHash = accountBlock(199).Hash
		} else {
			b.PrevHash = linked[i-1].Hash
		}
	}
	s := openTestStore(t)
	if err := s.Apply(model.Tron, store.Unordered, txBlocks(100, 200)); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(model.Tron, store.Linked, linked); err != nil {
		t.Fatal(err)
	}
	want := digest(t, s)
	if err := s.Apply(model.Tron, store.Unordered, txBlocks(150, 210)); err != nil {
		t.Fatal(err)
	}
	if digest(t, s) != want {
		t.Fatal("re-applying blocks stored by a Linked apply changed the store")
	}
}
