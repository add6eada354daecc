package pebblestore

import (
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/spoor-dev/spoor/internal/ingest"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// TestLeftOutEqualOnChain ingests the blk file named by SPOOR_COMPARE_CHAIN
// (e.g. the synthetic 10⁶ chain, internal/ingest/synth_test.go) twice: with
// every spend and amount in stored, and with what sweeps imply and the tx
// records hold left out (sweeps.go, recordins.go); the two stores must have
// the same digest, the same view of every tx (in batches and one at a
// time), and the same totals and entries for the addresses of every 7th
// tx. It logs what the reads cost on each (BENCHMARKS.md, eleventh
// session). Without the variable it skips.
func TestLeftOutEqualOnChain(t *testing.T) {
	chain := os.Getenv("SPOOR_COMPARE_CHAIN")
	if chain == "" {
		t.Skip("set SPOOR_COMPARE_CHAIN to a blk file to compare stores with and without left-out spends and amounts")
	}
	defer func(sweeps, derive bool) { useSweeps, useDerive = sweeps, derive }(useSweeps, useDerive)
	build := func(leaveOut bool) *Store {
		useSweeps, useDerive = leaveOut, leaveOut
		dir := t.TempDir()
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ingest.BTCFiles(s, chain, ingest.Options{}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if s, err = Open(dir); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	plain, left := build(false), build(true)
	useSweeps, useDerive = true, true
	if a, b := digest(t, plain), digest(t, left); a != b {
		t.Fatalf("digest %s with everything stored, %s with left-outs", a, b)
	}
	nums := allTxNums(t, plain)
	// Every tx, 4,096 a call, as trace.Counterparties asks.
	views := func(s *Store) ([]*store.TxView, time.Duration) {
		var out []*store.TxView
		t0 := time.Now()
		for i := 0; i < len(nums); i += 4096 {
			if err := s.TxsByNum(model.BTC, nums[i:min(i+4096, len(nums))], func(_ int, tv *store.TxView) error { out = append(out, tv); return nil }); err != nil {
				t.Fatal(err)
			}
		}
		return out, time.Since(t0)
	}
	va, da := views(plain)
	vb, db := views(left)
	if len(va) != len(nums) || !reflect.DeepEqual(va, vb) {
		t.Fatalf("%d and %d tx views, or they differ", len(va), len(vb))
	}
	t.Logf("TxsByNum of %d txs: %v stored, %v left out", len(nums), da, db)
	// One at a time.
	var oa, ob time.Duration
	for i := 0; i < len(nums); i += 97 {
		t0 := time.Now()
		x, err := plain.TxByNum(model.BTC, nums[i])
		t1 := time.Now()
		y, err2 := left.TxByNum(model.BTC, nums[i])
		oa, ob = oa+t1.Sub(t0), ob+time.Since(t1)
		if err != nil || err2 != nil || !reflect.DeepEqual(x, y) || !reflect.DeepEqual(x, va[i]) {
			t.Fatalf("TxByNum(%d): %v, %v, or the views differ", nums[i], err, err2)
		}
	}
	t.Logf("TxByNum of every 97th tx: %v stored, %v left out", oa, ob)
	// The addresses of every 7th tx.
	var addrs [][]byte
	for i := 0; i < len(va); i += 7 {
		for _, o := range va[i].Outputs {
			addrs = append(addrs, o.Address)
		}
		for _, in := range va[i].Inputs {
			addrs = append(addrs, in.Address)
		}
	}
	var sa, sb, ta, tb time.Duration
	for _, ad := range addrs {
		t0 := time.Now()
		x, err := plain.Address(model.BTC, ad)
		t1 := time.Now()
		y, err2 := left.Address(model.BTC, ad)
		t2 := time.Now()
		xs, err3 := plain.AddressTxs(model.BTC, ad, 0, 0)
		t3 := time.Now()
		ys, err4 := left.AddressTxs(model.BTC, ad, 0, 0)
		sa, sb, ta, tb = sa+t1.Sub(t0), sb+t2.Sub(t1), ta+t3.Sub(t2), tb+time.Since(t3)
		if err != nil || err2 != nil || err3 != nil || err4 != nil || !reflect.DeepEqual(x, y) || !reflect.DeepEqual(xs, ys) || len(xs) == 0 {
			t.Fatalf("address %x: %v %v %v %v, or its totals or entries differ", ad, err, err2, err3, err4)
		}
	}
	n := time.Duration(max(len(addrs), 1))
	t.Logf("%d addresses: Address %v stored, %v left out; AddressTxs %v, %v (a call)", len(addrs), sa/n, sb/n, ta/n, tb/n)
}
