package ingest

import (
	"crypto/sha256"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spoor-dev/spoor/internal/chain/etl"
	"github.com/spoor-dev/spoor/internal/chain/etl/etltest"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// Every import of this package's tests runs with the recycler's checks
// (the benchmarks turn them off).
func init() { checkRecycle = true }

// watchStore is the real store; it fails the test when the blocks of an
// Apply change while it runs (memory reused under the store) and counts
// the Applies.
type watchStore struct {
	store.Store
	t       *testing.T
	applies int
}

func (s *watchStore) Apply(c model.Chain, mode store.ApplyMode, blocks []*model.Block) error {
	s.applies++
	before := blocksSum(blocks)
	err := s.Store.Apply(c, mode, blocks)
	if after := blocksSum(blocks); after != before {
		s.t.Errorf("blocks %d..%d changed while the store applied them", blocks[0].Height, blocks[len(blocks)-1].Height)
	}
	return err
}

// blocksSum hashes everything of blocks that the store reads.
func blocksSum(blocks []*model.Block) [32]byte {
	h := sha256.New()
	var buf []byte
	for _, b := range blocks {
		buf = binary.LittleEndian.AppendUint64(append(buf[:0], byte(b.Chain)), b.Height)
		buf = binary.LittleEndian.AppendUint64(append(append(buf, b.Hash[:]...), b.PrevHash[:]...), uint64(b.Time))
		for i := range b.Txs {
			tx := &b.Txs[i]
			buf = append(append(binary.LittleEndian.AppendUint32(append(buf, tx.ID[:]...), tx.Index), tx.Fee.Bytes()...), tx.FeePayer...)
			if tx.Failed {
				buf = append(buf, 1)
			}
			for k := range tx.Transfers {
				x := &tx.Transfers[k]
				buf = append(append(append(append(buf, x.From...), x.To...), x.Contract...), x.Value.Bytes()...)
				buf = binary.LittleEndian.AppendUint32(buf, uint32(x.LogIndex))
			}
		}
		h.Write(buf)
	}
	return [32]byte(h.Sum(nil))
}

// recycleLayouts writes the synthetic export (n rows) as token transfers
// alone, with transactions (streamed together), and in 3 partitions.
func recycleLayouts(t *testing.T, n int) map[string]string {
	t.Helper()
	dir := t.TempDir()
	ls := map[string]string{"transfers": filepath.Join(dir, "x"), "transfers+txs": filepath.Join(dir, "xt"), "partitions": filepath.Join(dir, "p")}
	for _, d := range ls {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	xp := filepath.Join(ls["transfers+txs"], "token_transfers.csv")
	if err := etltest.WriteSynthetic(xp, filepath.Join(ls["transfers+txs"], "transactions.csv"), n); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(xp, filepath.Join(ls["transfers"], "token_transfers.csv")); err != nil {
		t.Fatal(err)
	}
	if err := splitPartitions(xp, ls["partitions"], 3); err != nil {
		t.Fatal(err)
	}
	return ls
}

// An import whose decoder builds into the memory of applied blocks (and of
// the units decoded before) stores exactly what an import of fresh memory
// stores, with the same result, in every layout; no block changes while
// it is applied; and hand-overs were built into recycled memory.
func TestETLRecycledSameStore(t *testing.T) {
	handOverRows = 10_000
	defer func() { handOverRows = 0 }()
	for name, dir := range recycleLayouts(t, streamRows) {
		noRecycle = true
		fresh := openStore(t)
		wres, err := ETL(fresh, model.Tron, dir, Options{BatchTxs: 7919})
		noRecycle = false
		if err != nil {
			t.Fatal(err)
		}
		var rc *etl.Recycler
		recycled = func(r *etl.Recycler) { rc = r }
		real := openStore(t)
		ws := &watchStore{Store: real, t: t}
		res, err := ETL(ws, model.Tron, dir, Options{BatchTxs: 7919})
		recycled = nil
		if err != nil {
			t.Fatal(err)
		}
		if digest(t, real) != digest(t, fresh) {
			t.Fatalf("%s: the recycled import stored something else", name)
		}
		res.Elapsed, wres.Elapsed = 0, 0
		if !reflect.DeepEqual(res, wres) || !reflect.DeepEqual(res.ETL, wres.ETL) {
			t.Fatalf("%s: result %+v %+v\nwant %+v %+v", name, res, res.ETL, wres, wres.ETL)
		}
		if res.ETL.NewTransfers != streamRows {
			t.Fatalf("%s: %d transfers stored", name, res.ETL.NewTransfers)
		}
		// 200,000 rows: about 20 hand-overs of 10,000 rows or more (a
		// chunk's), applied in 26 batches (hand-overs returned in parts).
		if rc == nil || rc.Reused() == 0 || ws.applies < streamRows/7919 {
			t.Fatalf("%s: %d applies, recycler %v", name, ws.applies, rc)
		}
		if name == "partitions" && rc.UnitReused() == 0 {
			t.Fatalf("%s: no unit's rows or transaction table reused by the next", name)
		}
		t.Logf("%s: %d applies, %d hand-overs into recycled memory, %d row slices and table segments of units reused",
			name, ws.applies, rc.Reused(), rc.UnitReused())
	}
}

// A driver that returns blocks before it applies them (the mistake the
// protocol forbids) fails with an error before anything is applied wrong,
// and the store is as before.
func TestETLReturnEarlyIsCaught(t *testing.T) {
	dir := recycleLayouts(t, 20_000)["transfers"]
	st := openStore(t)
	before := digest(t, st)
	returnEarly = true
	_, err := ETL(st, model.Tron, dir, Options{BatchTxs: 5000})
	returnEarly = false
	if err == nil || !strings.Contains(err.Error(), "returned to the recycler before it was applied") {
		t.Fatalf("error %v, want the block returned before it was applied", err)
	}
	if digest(t, st) != before {
		t.Fatal("store changed by the failed import")
	}
}
