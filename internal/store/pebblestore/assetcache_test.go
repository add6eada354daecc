package pebblestore

import (
	"testing"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// TestAssetCacheExact: the in-memory asset-id cache never changes which id
// a token gets. A store that allocates assets, caches them, rolls them back
// (RollbackTo and a PutAsset after the rolled-back block), fails a batch that
// allocated an asset, and then re-allocates the same contracts in another
// order ends byte for byte equal to a store that applied only the final
// history. A cache kept across the rollback would give the re-applied
// contracts their old ids and fail this.
func TestAssetCacheExact(t *testing.T) {
	addr := func(n byte) []byte { return append([]byte{0x41, n}, make([]byte, 19)...) }
	x, y, z, w := addr(0xa1), addr(0xa2), addr(0xa3), addr(0xa4)
	var one uint256.Int
	one.SetUint64(1)
	xfer := func(id byte, contracts ...[]byte) model.Tx {
		tx := model.Tx{ID: [32]byte{id, 0x77}, FeePayer: addr(1)}
		for i, c := range contracts {
			tx.Transfers = append(tx.Transfers, model.Transfer{From: addr(1), To: addr(byte(2 + i)), Contract: c, Value: one, LogIndex: int32(i)})
		}
		return tx
	}
	b10 := accountBlock(10, xfer(1, x))
	b11old := accountBlock(11, xfer(2, y, x))
	b11 := accountBlock(11, xfer(3, z, y, x))
	b11.Hash[7] = 1
	bad := xfer(4, w)
	bad.Fee.SetUint64(5)
	bad.FeePayer = nil // a fee without a payer: the batch fails after allocating w
	b12bad := accountBlock(12, bad)
	b13 := accountBlock(13, xfer(5, w, x))

	ref := openTestStore(t)
	for _, b := range []*model.Block{b10, b11, b13} {
		if err := ref.Apply(model.Tron, store.Unordered, []*model.Block{b}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ref.PutAsset(model.Tron, y, "YYY", 6); err != nil {
		t.Fatal(err)
	}

	s := openTestStore(t)
	if err := s.Apply(model.Tron, store.Unordered, []*model.Block{b10}); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(model.Tron, store.Unordered, []*model.Block{b11old}); err != nil { // y gets id 2
		t.Fatal(err)
	}
	if id, err := s.PutAsset(model.Tron, z, "ZZZ", 2); err != nil || id != 3 {
		t.Fatalf("PutAsset z: id %d, %v", id, err)
	}
	if err := s.RollbackTo(model.Tron, 10); err != nil { // deletes y and z
		t.Fatal(err)
	}
	if err := s.Apply(model.Tron, store.Unordered, []*model.Block{b12bad}); err == nil {
		t.Fatal("a fee without a payer was accepted")
	}
	if err := s.Apply(model.Tron, store.Unordered, []*model.Block{b11}); err != nil { // now z is 2, y is 3
		t.Fatal(err)
	}
	if id, err := s.PutAsset(model.Tron, y, "YYY", 6); err != nil || id != 3 {
		t.Fatalf("PutAsset y: id %d, %v", id, err)
	}
	if err := s.Apply(model.Tron, store.Unordered, []*model.Block{b13}); err != nil { // w is 4, not the failed batch's 2
		t.Fatal(err)
	}
	if digest(t, s) != digest(t, ref) {
		t.Fatal("store differs from applying the final history in one go")
	}
	st, _ := s.state(model.Tron)
	if len(st.assets) != 4 || st.assets[string(x)] != 1 || st.assets[string(z)] != 2 || st.assets[string(y)] != 3 || st.assets[string(w)] != 4 {
		t.Fatalf("asset cache %v", st.assets)
	}
}
