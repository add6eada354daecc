package btc

import (
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
func TestRecycledDecodeMatchesFresh(t *testing.T) {
	raws := mixedBlocks(t)
	for _, check := range []bool{false, true} {
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
		if rc.Reused() < len(raws) {
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

// Check mode finds a write to a block's memory after its return: the
// poison is checked when the memory is lent again.
func TestRecyclerCheckFindsWriteAfterReturn(t *testing.T) {
	_, data := btctestdata.Blocks1To255(t)
	recs := btctestdata.SplitRecords(data)
	pay, one := recs[169][8:], recs[0][8:] // block 170: the first payment; block 1
	for _, what := range []string{"tx", "input", "output", "address"} {
		rc := NewRecycler(true)
		blk, _, err := rc.DecodeBlock(pay, 170)
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
		// The next Return frees the quarantined block; the next decodes of
		// blocks of the same shape are lent its arrays.
		other, _, _ := rc.DecodeBlock(one, 1)
		if err := rc.Return([]*model.Block{other}); err != nil {
			t.Fatal(err)
		}
		_, _, err = rc.DecodeBlock(pay, 170)
		if err == nil || !strings.Contains(err.Error(), "written after") {
			t.Fatalf("%s written after return: %v", what, err)
		}
	}
}
