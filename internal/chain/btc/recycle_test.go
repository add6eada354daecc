package btc

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spoor-dev/spoor/internal/chain/btc/btctestdata"
	"github.com/spoor-dev/spoor/internal/model"
)

// mixedBlocks returns real mainnet blocks of very different sizes, small
// and large interleaved: blocks 1–255, the blocks of 277647.dat and the
// full blocks 540,107 and 574,200.
func mixedBlocks(t *testing.T) [][]byte {
	_, data := btctestdata.Blocks1To255(t)
	var small, large [][]byte
	for _, r := range btctestdata.SplitRecords(data) {
		small = append(small, r[8:])
	}
	for _, r := range btctestdata.SplitRecords(btctestdata.Bunzip(t, btctestdata.Path(t, filepath.Join("blockchain/testdata", "277647.dat.bz2")))) {
		large = append(large, r[8:])
	}
	for _, f := range []string{block540107File, segwitBlockFile} {
		raw, err := os.ReadFile(btctestdata.Path(t, f))
		if err != nil {
			t.Fatal(err)
		}
		large = append(large, raw)
	}
	var out [][]byte
	for i, s := range small {
		out = append(out, s)
		if i%40 == 0 {
			out = append(out, large[(i/40)%len(large)])
		}
	}
	return out
}

// Blocks built in recycled memory (the stale arrays of blocks decoded
// before, of other sizes) are exactly the blocks fresh memory gives, with
// and without check mode, while several blocks are lent at once as in an
// ingest; and memory was in fact reused.
//
// With small slabs (16 KiB) slabs fill and empty many times over and the
// large blocks get arrays of their own; with the default size most blocks
// share slabs.
func TestRecycledDecodeMatchesFresh(t *testing.T) {
	raws := mixedBlocks(t)
	defer func(n, m int) { slabBytes, checkSlabBytes = n, m }(slabBytes, checkSlabBytes)
	for _, c := range []struct {
		check bool
		slab  int
	}{{false, 16 << 10}, {true, 16 << 10}, {false, slabBytes}, {true, slabBytes}} {
		check := c.check
		slabBytes, checkSlabBytes = c.slab, c.slab
		rc := NewRecycler(check)
		var lent []*model.Block
		for round := 0; round < 2; round++ {
			for i, raw := range raws {
				want, wh, werr := DecodeBlock(raw, uint64(i))
				got, gh, gerr := rc.DecodeBlock(raw, uint64(i))
				if werr != nil || gerr != nil || gh != wh {
					t.Fatalf("block %d: %v / %v", i, werr, gerr)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("check=%v block %d: recycled decode differs:\n%s", check, i, firstDiff(got, want))
				}
				lent = append(lent, got)
				if len(lent) == 7 { // return in batches, as Apply does
					if err := rc.Lent(lent); err != nil {
						t.Fatal(err)
					}
					if err := rc.Return(lent); err != nil {
						t.Fatal(err)
					}
					lent = lent[:0]
				}
			}
		}
		if rc.Reused() < len(raws) && c.slab < 1<<20 {
			t.Fatalf("check=%v: %d arrays reused over %d decodes", check, rc.Reused(), 2*len(raws))
		}
	}
}

// The protocol's errors: a block returned twice, or never lent, is an
// error and no block of that call is returned; a returned block is
// poisoned and Lent reports it.
func TestRecyclerProtocol(t *testing.T) {
	raws := mixedBlocks(t)
	for _, check := range []bool{false, true} {
		rc := NewRecycler(check)
		a, _, err := rc.DecodeBlock(raws[0], 1)
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := rc.DecodeBlock(raws[1], 2)
		if err != nil {
			t.Fatal(err)
		}
		fresh, _, _ := DecodeBlock(raws[2], 3)
		if err := rc.Return([]*model.Block{a, fresh}); err == nil || !strings.Contains(err.Error(), "never lent") {
			t.Fatalf("returning a block never lent: %v", err)
		}
		if err := rc.Lent([]*model.Block{a, b}); err != nil {
			t.Fatalf("a failed Return returned a block: %v", err)
		}
		if err := rc.Return([]*model.Block{a, a}); err == nil {
			t.Fatal("a block returned twice in one call")
		}
		if err := rc.Return([]*model.Block{a}); err != nil {
			t.Fatal(err)
		}
		if a.Chain == model.BTC || len(a.Txs) > 0 && a.Txs[0].ID != poisonTx.ID {
			t.Fatalf("check=%v: a returned block is not poisoned: chain %v", check, a.Chain)
		}
		if err := rc.Lent([]*model.Block{b, a}); err == nil || !strings.Contains(err.Error(), "returned to the recycler before it was applied") {
			t.Fatalf("Lent of a returned block: %v", err)
		}
		if err := rc.Return([]*model.Block{a}); err == nil {
			t.Fatal("a block returned twice")
		}
	}
}

// Check mode finds a write to a block's memory after its return: when the
// last block of its slab comes back (Return reports it), or, for a block
// with arrays of its own, when they are lent again (DecodeBlock reports
// it). Without the write, neither reports anything.
func TestRecyclerCheckFindsWriteAfterReturn(t *testing.T) {
	_, data := btctestdata.Blocks1To255(t)
	recs := btctestdata.SplitRecords(data)
	pay, one := recs[169][8:], recs[0][8:] // block 170: the first payment; block 1
	defer func(n int) { checkSlabBytes = n }(checkSlabBytes)
	for _, slab := range []int{slabBytes, 64} { // 64: every array is the block's own
		checkSlabBytes = slab
		for _, what := range []string{"", "tx", "input", "output", "address"} {
			rc := NewRecycler(true)
			blk, _, err := rc.DecodeBlock(pay, 170)
			if err != nil {
				t.Fatal(err)
			}
			other, _, err := rc.DecodeBlock(one, 1) // shares pay's slabs
			if err != nil {
				t.Fatal(err)
			}
			tx := &blk.Txs[1]
			in, out, addr := &tx.Inputs[0], &tx.Outputs[0], tx.Outputs[0].Address
			if err := rc.Return([]*model.Block{blk}); err != nil {
				t.Fatal(err)
			}
			switch what { // the consumer keeps using memory it returned
			case "tx":
				tx.Index = 9
			case "input":
				in.Value = 1
			case "output":
				out.Value = 1
			case "address":
				addr[0] = 1
			}
			// The next Returns free the quarantined blocks (the slabs
			// empty with other's); the next decode of a block of the
			// same shape is lent pay's memory.
			errR := rc.Return([]*model.Block{other})
			if errR == nil {
				errR = rc.Return(nil)
			}
			_, _, errD := rc.DecodeBlock(pay, 170)
			err = errors.Join(errR, errD)
			if what == "" {
				if err != nil {
					t.Fatalf("slab %d: nothing written after return, yet: %v", slab, err)
				}
				continue
			}
			if err == nil || !strings.Contains(err.Error(), "written after") {
				t.Fatalf("slab %d: %s written after return: %v", slab, what, err)
			}
		}
	}
}

// The memory a Recycler holds follows what is in flight, not the mix of
// block sizes: blocks of very different sizes are decoded with up to 24
// lent at once and returned in batches of 8 (as the ingest does); every
// type's slabs add up to at most twice the most of it ever lent at once,
// plus two slabs (a slab's unused end is shorter than the range that did
// not fit; the current slab may be almost empty).
func TestRecyclerHoldsWhatIsInFlight(t *testing.T) {
	mixed := mixedBlocks(t)
	var raws [][]byte // the large blocks, each between two small ones
	for i, raw := range mixed {
		if len(raw) > 20000 {
			raws = append(raws, mixed[i-1], raw, mixed[i+1])
		}
	}
	defer func(n int) { slabBytes = n }(slabBytes)
	slabBytes = 1 << 20
	rc := NewRecycler(false)
	var lent []*model.Block
	var now, most [3]int // txs, inputs, outputs in lent blocks of slabs
	count := func(b *model.Block, sign int) {
		m := rc.lent[b]
		if m.txsS != nil {
			now[0] += sign * len(m.txs)
		}
		if m.insS != nil {
			now[1] += sign * len(m.ins)
		}
		if m.outsS != nil {
			now[2] += sign * len(m.outs)
		}
	}
	for round := 0; round < 4; round++ {
		for i, raw := range raws {
			b, _, err := rc.DecodeBlock(raw, uint64(i))
			if err != nil {
				t.Fatal(err)
			}
			count(b, 1)
			for k := range now {
				most[k] = max(most[k], now[k])
			}
			lent = append(lent, b)
			if len(lent) == 24 {
				for _, b := range lent[:8] {
					count(b, -1)
				}
				if err := rc.Return(lent[:8]); err != nil {
					t.Fatal(err)
				}
				lent = append(lent[:0], lent[8:]...)
			}
		}
	}
	for k, c := range []struct {
		made, len int
	}{{rc.txs.made, slabLen[model.Tx](rc.slab)}, {rc.ins.made, slabLen[model.Input](rc.slab)}, {rc.outs.made, slabLen[model.Output](rc.slab)}} {
		t.Logf("type %d: %d slabs of %d, at most %d lent at once", k, c.made, c.len, most[k])
		if c.made*c.len > 2*most[k]+2*c.len {
			t.Errorf("type %d: %d slabs of %d for at most %d lent at once", k, c.made, c.len, most[k])
		}
	}
}
