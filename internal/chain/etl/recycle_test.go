package etl

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/spoor-dev/spoor/internal/chain/etl/etltest"
	"github.com/spoor-dev/spoor/internal/model"
)

// handOver builds a lease of n blocks with one tx and one transfer each, as
// build does, and lends it.
func handOver(t *testing.T, r *Recycler, n int, h0 uint64) ([]*model.Block, *lease) {
	t.Helper()
	l, err := r.get(n, n, n)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		l.xfers[i] = model.Transfer{From: []byte{1}, To: []byte{2}, LogIndex: int32(i)}
		l.txs[i] = model.Tx{ID: [32]byte{byte(i + 1)}, Transfers: l.xfers[i : i+1 : i+1]}
		l.blocks[i] = model.Block{Chain: model.Tron, Height: h0 + uint64(i), Txs: l.txs[i : i+1 : i+1]}
		l.ptrs[i] = &l.blocks[i]
	}
	r.lend(l, n)
	return l.ptrs[:n:n], l
}

// The protocol: a hand-over's memory is reused only once every block of it
// came back; a block is returned once; returned blocks are poisoned, and
// Lent tells them apart.
func TestRecyclerProtocol(t *testing.T) {
	for _, check := range []bool{false, true} {
		r := NewRecycler(check)
		a, la := handOver(t, r, 4, 100)
		if err := r.Lent(a); err != nil {
			t.Fatal(err)
		}
		// Half of the hand-over back: nothing is free yet.
		if err := r.Return(a[:2]); err != nil {
			t.Fatal(err)
		}
		if err := r.Lent(a[:1]); err == nil || !strings.Contains(err.Error(), "before it was applied") {
			t.Fatalf("check %v: Lent of a returned block: %v", check, err)
		}
		if a[0].Chain != poisonChain || (a[0].Txs != nil) != check {
			t.Fatalf("check %v: returned block not poisoned: %+v", check, a[0])
		}
		if err := r.Lent(a[2:]); err != nil {
			t.Fatalf("check %v: blocks still lent: %v", check, err)
		}
		_, lb := handOver(t, r, 4, 200)
		if lb == la || r.Reused() != 0 {
			t.Fatalf("check %v: memory of a half-returned hand-over reused", check)
		}
		// Twice, or a block never lent: an error, and nothing of the
		// call is returned.
		if err := r.Return([]*model.Block{a[2], a[0]}); err == nil {
			t.Fatalf("check %v: a block returned twice is no error", check)
		}
		if err := r.Return([]*model.Block{a[2], {Height: 7}}); err == nil {
			t.Fatalf("check %v: a block never lent returned without error", check)
		}
		if err := r.Return([]*model.Block{a[2], a[2]}); err == nil {
			t.Fatalf("check %v: the same block twice in one call is no error", check)
		}
		if err := r.Lent(a[2:]); err != nil {
			t.Fatalf("check %v: a failed Return returned blocks: %v", check, err)
		}
		if err := r.Return(a[2:]); err != nil {
			t.Fatal(err)
		}
		if check {
			// Quarantined until the next Return call.
			if _, lc := handOver(t, r, 2, 300); lc == la {
				t.Fatal("check mode reused a hand-over before the next Return")
			}
			if err := r.Return(nil); err != nil {
				t.Fatal(err)
			}
		}
		n0 := r.Reused()
		c, lc := handOver(t, r, 3, 400)
		if lc != la || r.Reused() != n0+1 {
			t.Fatalf("check %v: a fully returned hand-over not reused", check)
		}
		if c[0] != a[0] || c[0].Height != 400 || c[0].Chain != model.Tron {
			t.Fatalf("check %v: reused block %+v", check, c[0])
		}
	}
}

// Check mode finds memory written after it was returned, when it is
// reused.
func TestRecyclerCheckFindsWriteAfterReturn(t *testing.T) {
	for _, write := range []func(b *model.Block, tx *model.Tx, x *model.Transfer){
		func(b *model.Block, _ *model.Tx, _ *model.Transfer) { b.Height = 5 },
		func(_ *model.Block, tx *model.Tx, _ *model.Transfer) { tx.Fee.SetUint64(1) },
		func(_ *model.Block, _ *model.Tx, x *model.Transfer) { x.Value.SetUint64(1) },
	} {
		r := NewRecycler(true)
		a, l := handOver(t, r, 2, 10)
		if err := r.Return(a); err != nil {
			t.Fatal(err)
		}
		if err := r.Return(nil); err != nil { // end of quarantine
			t.Fatal(err)
		}
		write(&l.blocks[1], &l.txs[1], &l.xfers[0])
		if _, err := r.get(2, 2, 2); err == nil || !strings.Contains(err.Error(), "written after it was returned") {
			t.Fatalf("reuse of written memory: %v", err)
		}
	}
}

// A streaming decode of the benchmarks' synthetic export whose consumer
// returns each hand-over only when the next arrives (as ingest returns a
// batch after its Apply) gives DecodeUnit's blocks, built mostly into
// recycled memory; a consumer that reads a block after returning it would
// see poison, which the copy taken before the return would show.
func TestStreamRecycledSynthetic(t *testing.T) {
	dir := t.TempDir()
	xp, tp := filepath.Join(dir, "token_transfers.csv"), filepath.Join(dir, "transactions.csv")
	if err := etltest.WriteSynthetic(xp, tp, 20_000); err != nil {
		t.Fatal(err)
	}
	for _, files := range [][]File{
		{{Kind: KindTokenTransfers, Path: xp}},
		{{Kind: KindTransactions, Path: tp}, {Kind: KindTokenTransfers, Path: xp}},
	} {
		u := Unit{Files: files}
		want, err := DecodeUnit(model.Tron, u)
		if err != nil {
			t.Fatal(err)
		}
		rc := NewRecycler(true)
		d := NewDecoder(model.Tron)
		d.chunk, d.streamRows = 64<<10, 1000
		var got, held []*model.Block
		sends := 0
		_, err = d.decodeStream(u, Stream{
			Blocks: func(b []*model.Block) error {
				if err := rc.Lent(b); err != nil {
					return err
				}
				if err := rc.Return(held); err != nil {
					return err
				}
				got = append(got, cloneBlocks(b)...)
				held = append(held[:0], b...)
				sends++
				return nil
			},
			Reset:    func() error { t.Fatal("reset"); return nil },
			Recycler: rc,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := rc.Return(held); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want.Blocks) {
			t.Fatalf("%d blocks, want %d", len(got), len(want.Blocks))
		}
		for i := range got {
			if !sameBlock(got[i], want.Blocks[i]) {
				t.Fatalf("block %d differs:\n got %+v\nwant %+v", i, got[i], want.Blocks[i])
			}
		}
		if sends < 10 || rc.Reused() < sends/2 {
			t.Fatalf("%d hand-overs, %d into recycled memory", sends, rc.Reused())
		}
	}
}

func sameBlock(a, b *model.Block) bool {
	if a.Chain != b.Chain || a.Height != b.Height || a.Hash != b.Hash || a.PrevHash != b.PrevHash || a.Time != b.Time || len(a.Txs) != len(b.Txs) {
		return false
	}
	for i := range a.Txs {
		x, y := &a.Txs[i], &b.Txs[i]
		if x.ID != y.ID || x.Index != y.Index || x.Failed != y.Failed || x.Fee != y.Fee || string(x.FeePayer) != string(y.FeePayer) ||
			len(x.Transfers) != len(y.Transfers) || len(x.Inputs)+len(x.Outputs)+len(y.Inputs)+len(y.Outputs) != 0 {
			return false
		}
		for k := range x.Transfers {
			if !sameTransfer(&x.Transfers[k], &y.Transfers[k]) {
				return false
			}
		}
	}
	return true
}
