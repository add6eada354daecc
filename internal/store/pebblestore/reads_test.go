package pebblestore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// goldenWorld applies the golden test's chains: a Bitcoin chain applied
// Linked in batches, and a Tron export with tokens, fees and several
// transfers per transaction applied Unordered.
func goldenWorld(t *testing.T, s *Store) {
	t.Helper()
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
}

// readsDigest hashes everything the Reader answers about the store: stats,
// every transaction by number and by txid, every address's summary and
// adjacency. It does not depend on how the store lays its data out.
func readsDigest(t *testing.T, s *Store) string {
	t.Helper()
	h := sha256.New()
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(h, "%+v\n", st)
	for _, cs := range st {
		c := cs.Chain
		for n := uint64(1); n <= cs.Txs; n++ {
			tv, err := s.TxByNum(c, n)
			if err != nil {
				t.Fatalf("%s tx %d: %v", c, n, err)
			}
			byID, err := s.Tx(c, tv.TxID)
			if err != nil || byID.TxNum != n {
				t.Fatalf("%s tx %x by id: %v", c, tv.TxID, err)
			}
			writeTxView(h, tv)
		}
		for id := uint64(1); id <= cs.Addresses; id++ {
			a, err := s.addrBytes(c, id)
			if err != nil {
				t.Fatal(err)
			}
			sum, err := s.Address(c, a)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(h, "addr %x id %d txs %d first %d last %d\n", a, sum.ID, sum.TxCount, sum.FirstSeen, sum.LastSeen)
			for _, x := range sum.Assets {
				fmt.Fprintf(h, " %d %s %s %d %d\n", x.Asset.ID, x.Received.Dec(), x.Sent.Dec(), x.TransfersIn, x.TransfersOut)
			}
			adj, err := s.AddressTxs(c, a, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range adj {
				fmt.Fprintf(h, " tx %d %d %s %s\n", e.TxNum, e.Asset, e.In.Dec(), e.Out.Dec())
				if tv, err := s.TxByNum(c, e.TxNum); err != nil || tv.Time != e.Time {
					t.Fatalf("%s tx %d: adjacency time %d, tx time %d (%v)", c, e.TxNum, e.Time, tv.Time, err)
				}
			}
			if len(adj) > 2 { // paging: after and limit
				page, err := s.AddressTxs(c, a, adj[0].TxNum, 1)
				if err != nil || len(page) != 1 || page[0].TxNum <= adj[0].TxNum {
					t.Fatalf("page after %d: %+v %v", adj[0].TxNum, page, err)
				}
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func writeTxView(w io.Writer, tv *store.TxView) {
	fmt.Fprintf(w, "tx %x n %d h %d t %d i %d cb %v f %v fee %s payer %x\n", tv.TxID, tv.TxNum, tv.BlockHeight, tv.Time, tv.Index, tv.Coinbase, tv.Failed, tv.Fee.Dec(), tv.FeePayer)
	for _, in := range tv.Inputs {
		fmt.Fprintf(w, " in %x %d %d %x:%d\n", in.Address, in.Value, in.ScriptType, in.PrevTxID, in.PrevIndex)
	}
	for _, o := range tv.Outputs {
		sp := "-"
		if o.SpentBy != nil {
			sp = hex.EncodeToString(o.SpentBy[:])
		}
		fmt.Fprintf(w, " out %d %x %d %d %s\n", o.Index, o.Address, o.Value, o.ScriptType, sp)
	}
	for _, x := range tv.Transfers {
		fmt.Fprintf(w, " xfer %x %x %d %s %d\n", x.From, x.To, x.Asset.ID, x.Value.Dec(), x.LogIndex)
	}
}

// TestReadsGolden pins what the Reader answers about the golden world. The
// constant was computed by this test on the Pebble-only layout (main
// 54fa34c, before segments): the segment layout answers every read the same.
// It runs with the default segment size (everything in the open segment),
// with segments of a few entries (many closed segments, merged tails), and
// closed and reopened (everything read from segment files).
func TestReadsGolden(t *testing.T) {
	const want = "f2a80d93d6229a92433b87ce515e6e78411dd647818a722331ec6e05ef9a1daa"
	for _, c := range []struct {
		name   string
		segMax int
		reopen bool
	}{{"open-segment", segMaxEntries, false}, {"tiny-segments", 5, false}, {"reopened", segMaxEntries, true}, {"tiny-reopened", 37, true}} {
		t.Run(c.name, func(t *testing.T) {
			defer func(old int) { segMaxEntries = old }(segMaxEntries)
			segMaxEntries = c.segMax
			dir := t.TempDir()
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			goldenWorld(t, s)
			if c.reopen {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				if s, err = Open(dir); err != nil {
					t.Fatal(err)
				}
			}
			defer s.Close()
			if got := readsDigest(t, s); got != want {
				t.Fatalf("reads digest %s, want %s", got, want)
			}
			if got := digest(t, s); got != layoutGolden {
				t.Fatalf("store digest %s, want %s", got, layoutGolden)
			}
		})
	}
}

// TestTxsByNum: a batch read gives, in the order asked, what TxByNum gives
// one by one, for every tx of both chains of the golden world, asked
// shuffled and with repeats, on tiny segments and the open one.
func TestTxsByNum(t *testing.T) {
	for _, segMax := range []int{segMaxEntries, 5} {
		defer func(old int) { segMaxEntries = old }(segMaxEntries)
		segMaxEntries = segMax
		s, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		goldenWorld(t, s)
		for _, c := range []model.Chain{model.BTC, model.Tron} {
			st, err := s.Stats()
			if err != nil {
				t.Fatal(err)
			}
			var n uint64
			for _, cs := range st {
				if cs.Chain == c {
					n = cs.Txs
				}
			}
			if n < 100 {
				t.Fatalf("%s: %d txs", c, n)
			}
			rng := rand.New(rand.NewPCG(uint64(segMax), 1))
			var nums []uint64
			for k := uint64(1); k <= n; k++ {
				nums = append(nums, k)
				if k%7 == 0 {
					nums = append(nums, 1+rng.Uint64N(n)) // a repeat
				}
			}
			rng.Shuffle(len(nums), func(i, j int) { nums[i], nums[j] = nums[j], nums[i] })
			seen := 0
			err = s.TxsByNum(c, nums, func(i int, tv *store.TxView) error {
				if i != seen {
					t.Fatalf("%s: view %d delivered as %d", c, seen, i)
				}
				seen++
				one, err := s.TxByNum(c, nums[i])
				if err != nil {
					return err
				}
				var a, b bytes.Buffer
				writeTxView(&a, one)
				writeTxView(&b, tv)
				if a.String() != b.String() || tv.TxNum != nums[i] {
					t.Fatalf("%s tx %d: batch\n%s\none by one\n%s", c, nums[i], b.String(), a.String())
				}
				return nil
			})
			if err != nil || seen != len(nums) {
				t.Fatalf("%s: %d of %d views, %v", c, seen, len(nums), err)
			}
			if err := s.TxsByNum(c, []uint64{1, n + 1}, func(int, *store.TxView) error { return nil }); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("%s: a number past the end: %v", c, err)
			}
		}
		s.Close()
	}
}
