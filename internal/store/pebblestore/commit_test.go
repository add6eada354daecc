package pebblestore

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// A pipelined ingest leaves the same store as one of plain Applies, and
// every read between its batches sees what Apply would have left, though
// the last batch's commit may still run. Small segments make closes start
// (and settle) between pipelined batches.
func TestPipelinedApplyEqualsApply(t *testing.T) {
	w := newUTXOWorld(21, 150)
	opts := Options{SegmentEntries: 97}
	plain, err := OpenWith(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	dir := t.TempDir()
	piped, err := OpenWith(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { piped.Close() }()
	look := func(s *Store) string {
		var b strings.Builder
		for i := 0; i < 40; i += 7 {
			addr := []byte{1, byte(i), byte(i >> 8), 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7}
			sum, err := s.Address(model.BTC, addr)
			if errors.Is(err, store.ErrNotFound) {
				b.WriteString("- ")
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%+v ", *sum)
		}
		m, err := s.Mark(model.BTC)
		if err != nil {
			t.Fatal(err)
		}
		st, err := s.Stats()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%+v %+v", m, st)
		return b.String()
	}
	for i := 0; i < len(w.blocks); i += 11 {
		batch := w.blocks[i:min(i+11, len(w.blocks))]
		if err := plain.Apply(model.BTC, store.Linked, batch); err != nil {
			t.Fatal(err)
		}
		if err := piped.ApplyPipelined(model.BTC, store.Linked, batch); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 { // reads between batches, on some only
			if a, b := look(plain), look(piped); a != b {
				t.Fatalf("after blocks up to %d, a read of the pipelined store differs:\n plain %s\n piped %s", batch[len(batch)-1].Height, a, b)
			}
		}
	}
	if err := piped.Durable(); err != nil {
		t.Fatal(err)
	}
	if digest(t, plain) != digest(t, piped) {
		t.Fatal("a pipelined ingest's store differs from a plain one")
	}
	// And as reopened from disk.
	if err := piped.Close(); err != nil {
		t.Fatal(err)
	}
	if piped, err = OpenWith(dir, opts); err != nil {
		t.Fatal(err)
	}
	if digest(t, plain) != digest(t, piped) {
		t.Fatal("the pipelined store, reopened, differs from a plain one")
	}
}

// A commit job that fails is returned by the next call and every call
// after it; Close writes nothing more, and the reopened store holds
// exactly the batches committed before the failed one.
func TestPipelinedCommitFailure(t *testing.T) {
	w := newUTXOWorld(9, 60)
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range [][2]int{{0, 10}, {10, 20}, {20, 30}} {
		if err := s.ApplyPipelined(model.BTC, store.Linked, w.blocks[r[0]:r[1]]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Durable(); err != nil {
		t.Fatal(err)
	}
	fault := errors.New("injected fdatasync failure")
	commitFault = func() error { return fault }
	defer func() { commitFault = nil }()
	// The batch is stored in memory and written; its job fails behind it.
	if err := s.ApplyPipelined(model.BTC, store.Linked, w.blocks[30:40]); err != nil {
		t.Fatal(err)
	}
	commitFault = nil
	calls := []struct {
		name string
		call func() error
	}{
		{"ApplyPipelined", func() error { return s.ApplyPipelined(model.BTC, store.Linked, w.blocks[40:50]) }},
		{"Apply", func() error { return s.Apply(model.BTC, store.Linked, w.blocks[40:50]) }},
		{"Durable", s.Durable},
		{"Undo", func() error { return s.Undo(model.BTC, store.Mark{}) }},
		{"Address", func() error { _, err := s.Address(model.BTC, w.blocks[0].Txs[0].Outputs[0].Address); return err }},
		{"Close", s.Close},
	}
	for _, c := range calls {
		err := c.call()
		if !errors.Is(err, fault) || !errors.Is(err, errCommitFailed) {
			t.Fatalf("%s after a failed commit: err = %v, want the commit's error", c.name, err)
		}
	}
	if s, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkAsClean(t, s, w, 30, "a failed pipelined commit")
}
