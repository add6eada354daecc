package pebblestore

import (
	"testing"

	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// payoutBlocks returns n blocks after a block whose coinbase has 300
// outputs: each spends one of them in each of 300 txs paying 40 outputs,
// far more outputs than chunkParts in 256 txs.
func payoutBlocks(n int) []*model.Block {
	addr := func(i int) []byte {
		return []byte{1, byte(i), byte(i >> 8), byte(i >> 16), 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9}
	}
	cb := model.Tx{ID: [32]byte{0xcb}, Coinbase: true}
	for i := 0; i < 300*n; i++ {
		cb.Outputs = append(cb.Outputs, model.Output{Index: uint32(i), Address: addr(i), Value: 40, ScriptType: model.ScriptP2PKH})
	}
	blocks := []*model.Block{{Chain: model.BTC, Hash: [32]byte{0xb0}, Time: 1600000000, Txs: []model.Tx{cb}}}
	for h := 1; h <= n; h++ {
		b := &model.Block{Chain: model.BTC, Height: uint64(h), Hash: [32]byte{0xb0, byte(h)}, PrevHash: blocks[h-1].Hash, Time: 1600000000 + 600*int64(h),
			Txs: []model.Tx{{ID: [32]byte{0xcb, byte(h)}, Coinbase: true, Outputs: []model.Output{{Address: addr(1), Value: 1, ScriptType: model.ScriptP2PKH}}}}}
		for k := 0; k < 300; k++ {
			tx := model.Tx{ID: [32]byte{byte(h), byte(k), byte(k >> 8), 0xdd}, Index: uint32(k + 1),
				Inputs: []model.Input{{PrevTxID: cb.ID, PrevIndex: uint32(300*(h-1) + k)}}}
			for o := 0; o < 40; o++ {
				tx.Outputs = append(tx.Outputs, model.Output{Index: uint32(o), Address: addr(1000 + 40*k + o), Value: 1, ScriptType: model.ScriptP2PKH})
			}
			b.Txs = append(b.Txs, tx)
		}
		blocks = append(blocks, b)
	}
	return blocks
}

// An Apply hands a chunk over before a tx would take its arenas past
// chunkParts, so a chunk's arenas stay bounded (here 256 txs would hold
// 10,240 outputs), and the chunks are kept for the next Apply, which
// takes them before making new ones.
func TestApplyChunksBoundedAndKept(t *testing.T) {
	blocks := payoutBlocks(3)
	s := openTestStore(t)
	if err := s.Apply(model.BTC, store.Linked, blocks[:2]); err != nil {
		t.Fatal(err)
	}
	st := s.chains[model.BTC]
	if len(st.chunks) < 2 {
		t.Fatalf("%d chunks kept after an Apply of 600 txs", len(st.chunks))
	}
	kept := map[*txChunk]bool{}
	for _, ch := range st.chunks {
		kept[ch] = true
		if cap(ch.outs) > 2*chunkParts || cap(ch.ins) > 2*chunkParts {
			t.Fatalf("a chunk's arenas grew to %d outputs, %d inputs (chunkParts %d)", cap(ch.outs), cap(ch.ins), chunkParts)
		}
	}
	if err := s.Apply(model.BTC, store.Linked, blocks[2:]); err != nil {
		t.Fatal(err)
	}
	// How many chunks an Apply needs depends on how far the indexing
	// goroutine lags behind (up to the work channel's room): the second
	// Apply may make new ones, but it takes the kept ones first.
	reused := 0
	for _, ch := range st.chunks {
		if kept[ch] {
			reused++
		}
		if cap(ch.outs) > 2*chunkParts || cap(ch.ins) > 2*chunkParts {
			t.Fatalf("a chunk's arenas grew to %d outputs, %d inputs (chunkParts %d)", cap(ch.outs), cap(ch.ins), chunkParts)
		}
	}
	if reused == 0 || len(st.chunks) > maxSpareChunks {
		t.Fatalf("after the second Apply, %d chunks kept (at most %d), %d of them the first Apply's", len(st.chunks), maxSpareChunks, reused)
	}
	whole := openTestStore(t)
	if err := whole.Apply(model.BTC, store.Linked, blocks); err != nil {
		t.Fatal(err)
	}
	if digest(t, s) != digest(t, whole) {
		t.Fatal("applied in two batches, the store differs from one applied at once")
	}
}
