package pebblestore

import (
	"testing"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// TestLayoutGolden pins the exact bytes Apply writes: a Bitcoin chain
// applied Linked in batches and a Tron export with tokens, fees and several
// transfers per transaction applied Unordered give a store whose digest (every
// key and merged value) equals the one the code at main 5a9a745 produced,
// before the write-path speedups (asset-id cache, reused encode buffers). A
// speedup that changes any stored byte fails here; a deliberate layout change
// updates the constant.
func TestLayoutGolden(t *testing.T) {
	s := openTestStore(t)
	w := newUTXOWorld(7, 150)
	for i := 0; i < len(w.blocks); i += 17 {
		if err := s.Apply(model.BTC, store.Linked, w.blocks[i:min(i+17, len(w.blocks))]); err != nil {
			t.Fatal(err)
		}
	}
	var blocks []*model.Block
	for h := uint64(1); h <= 300; h++ {
		var txs []model.Tx
		for j := 0; j < 7; j++ {
			n := h*7 + uint64(j)
			from := append([]byte{0x41, byte(n % 13)}, make([]byte, 19)...)
			to := append([]byte{0x41, byte(n%29 + 100)}, make([]byte, 19)...)
			var v, fee uint256.Int
			v.SetUint64(n * 1000003)
			fee.SetUint64(n % 5)
			tx := model.Tx{ID: [32]byte{byte(n), byte(n >> 8), 1}, FeePayer: from, Fee: fee}
			var c []byte
			if n%3 > 0 {
				c = append([]byte{0x41, 0xcc, byte(n % 4)}, make([]byte, 18)...)
			}
			tx.Transfers = []model.Transfer{{From: from, To: to, Contract: c, Value: v, LogIndex: int32(j)}, {From: to, To: from, Value: v, LogIndex: -1}}
			txs = append(txs, tx)
		}
		blocks = append(blocks, accountBlock(h, txs...))
	}
	for i := 0; i < len(blocks); i += 40 {
		if err := s.Apply(model.Tron, store.Unordered, blocks[i:min(i+40, len(blocks))]); err != nil {
			t.Fatal(err)
		}
	}
	const want = "44cb555e3aff5f444098ce0db971ad79b50bb63403c9a3d58c3c603019b76348"
	if got := digest(t, s); got != want {
		t.Fatalf("store digest %s, want %s", got, want)
	}
}
