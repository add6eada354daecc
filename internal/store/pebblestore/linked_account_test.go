package pebblestore

import (
	"errors"
	"testing"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// TestLinkedAccountChain: node sources apply account-chain blocks in Linked
// mode. There are no outputs to link; the store must still refuse a block
// that does not extend the tip (height, previous hash), keep failed
// transactions to their fee, and roll back exactly.
func TestLinkedAccountChain(t *testing.T) {
	s := openTestStore(t)
	a, b := []byte{0x41, 1}, []byte{0x41, 2}
	mk := func(h uint64, prev [32]byte, failed bool) *model.Block {
		blk := &model.Block{Chain: model.Tron, Height: h, Hash: [32]byte{byte(h), 0xcc}, PrevHash: prev, Time: int64(1700000000 + 3*h)}
		tx := model.Tx{ID: [32]byte{byte(h), 0x77}, Failed: failed, FeePayer: a}
		tx.Fee.SetUint64(10)
		tx.Transfers = []model.Transfer{{From: a, To: b, Value: *uint256.NewInt(1000), LogIndex: -1}}
		blk.Txs = []model.Tx{tx}
		return blk
	}
	b0 := mk(100, [32]byte{}, false) // a node ingest may start anywhere
	b1 := mk(101, b0.Hash, true)
	if err := s.Apply(model.Tron, store.Linked, []*model.Block{b0, b1}); err != nil {
		t.Fatal(err)
	}
	after1 := digest(t, s)
	if err := s.Apply(model.Tron, store.Linked, []*model.Block{mk(103, b1.Hash, false)}); !errors.Is(err, store.ErrChain) {
		t.Errorf("height gap accepted: %v", err)
	}
	if err := s.Apply(model.Tron, store.Linked, []*model.Block{mk(102, [32]byte{9}, false)}); !errors.Is(err, store.ErrChain) {
		t.Errorf("wrong previous hash accepted: %v", err)
	}
	if digest(t, s) != after1 {
		t.Fatal("refused blocks changed the store")
	}
	sum, err := s.Address(model.Tron, a)
	if err != nil {
		t.Fatal(err)
	}
	// a sent 1000 in b0 (the failed tx in b1 moved nothing) and paid two fees.
	if got := sum.Assets[0].Sent.Uint64(); got != 1000+10+10 {
		t.Errorf("a sent %d, want 1020", got)
	}
	if err := s.Apply(model.Tron, store.Linked, []*model.Block{mk(102, b1.Hash, false)}); err != nil {
		t.Fatal(err)
	}
	if err := s.RollbackTo(model.Tron, 101); err != nil {
		t.Fatal(err)
	}
	if digest(t, s) != after1 {
		t.Error("rollback not exact")
	}
}
