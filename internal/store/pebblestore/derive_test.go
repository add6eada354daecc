package pebblestore

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// TestDerivedIndexExports: since layout 8 a tx record leaves out its
// position in the block where that is the tx number minus the first tx of
// its block's record. Exports break that in every way an Unordered Apply
// sees: positions with gaps (an export of the txs that moved tokens), a
// block at a stored height applied again with more txs (no new record), a
// tx already stored skipped in the middle of a block, and a batch holding
// one height twice (two records). Every tx reads back with the position it
// was given, and the records hold it written exactly where it does not
// derive.
func TestDerivedIndexExports(t *testing.T) {
	from := append([]byte{0x41, 1}, make([]byte, 19)...)
	to := append([]byte{0x41, 2}, make([]byte, 19)...)
	type want struct {
		index   uint32
		derived bool
	}
	wants := map[[32]byte]want{}
	var id byte
	tx := func(index uint32, derived bool) model.Tx {
		id++
		x := model.Tx{ID: [32]byte{id, 0xde}, Index: index, FeePayer: from, Fee: *uint256.NewInt(uint64(id)),
			Transfers: []model.Transfer{{From: from, To: to, Value: *uint256.NewInt(1000 + uint64(id)), LogIndex: -1}}}
		wants[x.ID] = want{index, derived}
		return x
	}
	s := openTestStore(t)
	apply := func(blocks ...*model.Block) {
		t.Helper()
		if err := s.Apply(model.Tron, store.Unordered, blocks); err != nil {
			t.Fatal(err)
		}
	}
	stored := tx(0, true)
	apply(
		accountBlock(20, tx(0, true), tx(1, true), tx(2, true)),
		accountBlock(22, tx(3, false), tx(7, false)), // an export's positions: gaps
		accountBlock(21, tx(0, true), tx(2, false), tx(3, false)),
		accountBlock(30, stored, tx(1, true)),
	)
	apply(
		accountBlock(20, tx(3, false)), // stored heights: no new record
		accountBlock(22, tx(0, false)),
		accountBlock(23, tx(0, true), stored /* skipped */, tx(2, false)),
		accountBlock(24, tx(0, false), tx(1, false)), // the height twice in one batch
		accountBlock(25, tx(0, true)),
		accountBlock(24, tx(2, false)),
	)
	delete(wants, stored.ID) // read back below as tx 12 of block 30
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st[0].Txs != uint64(len(wants))+1 {
		t.Fatalf("%d txs stored, want %d", st[0].Txs, len(wants)+1)
	}
	l, err := s.logOf(model.Tron)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for n := uint64(1); n <= st[0].Txs; n++ {
		tv, err := s.TxByNum(model.Tron, n)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := l.tx(n)
		if err != nil {
			t.Fatal(err)
		}
		w, ok := wants[tv.TxID]
		if !ok {
			if tv.TxID != stored.ID || tv.Index != 0 {
				t.Fatalf("tx %d: %x at index %d, not one applied", n, tv.TxID[:2], tv.Index)
			}
			continue
		}
		seen++
		if tv.Index != w.index {
			t.Errorf("tx %d (%x, height %d): index %d, want %d", n, tv.TxID[:2], tv.BlockHeight, tv.Index, w.index)
		}
		// The first record of each index group always writes it.
		if got := rec.Derive&deriveIndex != 0; got != (w.derived && !groupFirst(n)) {
			t.Errorf("tx %d (%x, height %d): index derived %v, want %v", n, tv.TxID[:2], tv.BlockHeight, got, w.derived)
		}
		if tv.Fee.Uint64() != uint64(tv.TxID[0]) {
			t.Errorf("tx %d: fee %s, want %d", n, tv.Fee.Dec(), tv.TxID[0])
		}
	}
	if seen != len(wants) {
		t.Fatalf("read %d of the %d txs applied", seen, len(wants))
	}
	// The batch read derives the same.
	nums := make([]uint64, st[0].Txs)
	for i := range nums {
		nums[i] = uint64(len(nums) - i)
	}
	err = s.TxsByNum(model.Tron, nums, func(i int, tv *store.TxView) error {
		if w, ok := wants[tv.TxID]; ok && tv.Index != w.index {
			t.Errorf("batch read, tx %d: index %d, want %d", nums[i], tv.Index, w.index)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDerivedFieldsDamaged: a record whose derived position falls outside
// its block's record, or whose derived fee would be negative, is an error
// naming the tx, never a wrong answer.
func TestDerivedFieldsDamaged(t *testing.T) {
	rec := &txRec{ID: [32]byte{7}, Height: 9, Derive: deriveIndex | deriveFee,
		Inputs: []inRec{{PrevTx: 1, Value: 10}}, Outputs: []outRec{{Value: 4}, {Value: 5}}}
	for _, b := range []blockSpan{
		{firstTx: 101, nTx: 5, ok: true}, // after the tx
		{firstTx: 90, nTx: 10, ok: true}, // ends before it
		{firstTx: 100, nTx: 0, ok: true}, // no txs
		{},                               // no block at its height
	} {
		if err := rec.fillIndex(100, b); err == nil {
			t.Errorf("tx 100 in %+v: no error", b)
		}
	}
	unread := errors.New("block log unreadable")
	if err := rec.fillIndex(100, blockSpan{err: unread}); !errors.Is(err, unread) {
		t.Errorf("block record unreadable: err = %v", err)
	}
	if err := rec.fillIndex(100, blockSpan{firstTx: 96, nTx: 5, ok: true}); err != nil || rec.Index != 4 {
		t.Fatalf("index %d, %v; want 4", rec.Index, err)
	}
	if err := rec.fillFee(); err != nil || rec.Fee.Uint64() != 1 {
		t.Fatalf("fee %s, %v; want 1", rec.Fee.Dec(), err)
	}
	rec.Outputs[1].Value = 7
	if err := rec.fillFee(); err == nil {
		t.Fatal("outputs above the inputs: no error")
	}
	rec.Outputs[1].Value = ^uint64(0)
	if err := rec.fillFee(); err == nil {
		t.Fatal("outputs overflowing 64 bits: no error")
	}
}

// TestDerivedIndexBlockLogDamaged: a tx whose position derives from its
// block's record cannot be read when that record's group of the block
// log is damaged: the error names the block log, where a view used to
// show time 0.
func TestDerivedIndexBlockLogDamaged(t *testing.T) {
	dir := t.TempDir()
	// The block log's index durable at once: its groups are checked
	// against checksums written before the damage.
	s, err := OpenWith(dir, Options{LogIndexEvery: 1})
	if err != nil {
		t.Fatal(err)
	}
	w := newUTXOWorld(7, 150)
	if err := s.Apply(model.BTC, store.Linked, w.blocks); err != nil {
		t.Fatal(err)
	}
	// A tx past its block's first, in the block log's first group (blocks
	// 0–31), not first in its tx log group: its position derives.
	n := uint64(2)
	for ; ; n++ {
		tv, err := s.TxByNum(model.BTC, n)
		if err != nil || tv.BlockHeight >= recStride {
			t.Fatalf("no derived position in the first blocks (tx %d: %v)", n, err)
		}
		if rec, err := s.txByNum(model.BTC, n); err == nil && rec.Derive&deriveIndex != 0 && tv.Index > 0 {
			break
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	p, _ := blockLogPaths(dir, model.BTC)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[20] ^= 0x40 // in the first group (blocks 0–31)
	if err := os.WriteFile(p, b, 0o640); err != nil {
		t.Fatal(err)
	}
	s, err = OpenWith(dir, Options{LogIndexEvery: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.TxByNum(model.BTC, n); err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("tx %d with its block record damaged: err = %v, want one naming %s", n, err, p)
	}
}
