package pebblestore

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/holiman/uint256"

	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// TestSweepsEqualStored: a store whose segments leave out the spends their
// sweeps imply and the amounts in the tx records hold (recordins.go) answers
// every tx view (each output's spender), every address's totals and
// entries, and hashes to the same digest as one that stores every spend
// and amount, through closes of tiny segments, merges into the last
// segment after a reopen, a rollback into a closed segment and the blocks
// applied again; and it does leave spends and amounts out (else the
// comparison would prove nothing).
func TestSweepsEqualStored(t *testing.T) {
	for _, tc := range []struct {
		name string
		w    *utxoWorld
	}{
		{"fresh addresses", newSweepWorld(11, 500)},
		{"40 addresses", newUTXOWorld(11, 500)},
	} {
		t.Run(tc.name, func(t *testing.T) { testSweepsEqualStored(t, tc.w) })
	}
}

func testSweepsEqualStored(t *testing.T, w *utxoWorld) {
	defer func(sweeps, derive bool) { useSweeps, useDerive = sweeps, derive }(useSweeps, useDerive)
	build := func(leaveOut bool) *Store {
		useSweeps, useDerive = leaveOut, leaveOut
		dir := t.TempDir()
		open := func() *Store {
			s, err := OpenWith(dir, Options{SegmentEntries: 300})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		s := open()
		for i := 0; i < len(w.blocks); i += 10 {
			if err := s.Apply(model.BTC, store.Linked, w.blocks[i:i+10]); err != nil {
				t.Fatal(err)
			}
			switch i {
			case 120, 300: // a small last segment, merged into by the next close
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				s = open()
			case 400: // back into a closed segment, and forward again
				if err := s.RollbackTo(model.BTC, 330); err != nil {
					t.Fatal(err)
				}
				if err := s.Apply(model.BTC, store.Linked, w.blocks[331:i+10]); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return open()
	}
	plain := build(false)
	defer plain.Close()
	swept := build(true)
	defer swept.Close()

	count := func(s *Store) (segs int, spends, sweeps, derived uint64) {
		s.mu.Lock()
		defer s.mu.Unlock()
		st, err := s.state(model.BTC)
		if err != nil {
			t.Fatal(err)
		}
		for _, seg := range st.seg.segs {
			spends += seg.nSpent
			d, err := seg.load(st.log)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range d.marks {
				sweeps += uint64(m >> 7)
			}
			var ents []segEntry
			if err := seg.eachGroup(func(_, n, prev uint64, entries []byte) error {
				ents, _, err = decodeGroup(ents[:0], n, prev, seg.end, entries)
				for i := range ents {
					if ents[i].inDerived {
						derived++
					}
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		return len(st.seg.segs), spends, sweeps, derived
	}
	nSeg, plainSpends, plainSweeps, plainDerived := count(plain)
	_, sweptSpends, nSweeps, nDerived := count(swept)
	t.Logf("%d segments; spends stored: %d without sweeps, %d with %d sweeps; %d amounts in left to the records", nSeg, plainSpends, sweptSpends, nSweeps, nDerived)
	if nSeg < 3 || plainSweeps != 0 || nSweeps == 0 || sweptSpends >= plainSpends || plainDerived != 0 || nDerived == 0 {
		t.Fatalf("%d segments, %d and %d sweeps, %d and %d spends stored, %d and %d amounts derived: the test no longer exercises sweeps and derived amounts", nSeg, plainSweeps, nSweeps, plainSpends, sweptSpends, plainDerived, nDerived)
	}
	if a, b := digest(t, plain), digest(t, swept); a != b {
		t.Fatalf("digest %s with every spend stored, %s with sweeps", a, b)
	}
	nums := allTxNums(t, plain)
	views := func(s *Store) []*store.TxView {
		var out []*store.TxView
		if err := s.TxsByNum(model.BTC, nums, func(_ int, tv *store.TxView) error { out = append(out, tv); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	a, b := views(plain), views(swept)
	spent := 0
	for i := range a {
		for _, o := range a[i].Outputs {
			if o.SpentBy != nil {
				spent++
			}
		}
		if !reflect.DeepEqual(a[i], b[i]) {
			t.Fatalf("tx %d: %+v with every spend stored, %+v with sweeps", nums[i], a[i], b[i])
		}
		if i%7 == 0 { // one at a time too (spenderID, not the batch's lookups)
			x, err := swept.TxByNum(model.BTC, nums[i])
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a[i], x) {
				t.Fatalf("TxByNum(%d): %+v, want %+v", nums[i], x, a[i])
			}
		}
	}
	if len(a) == 0 || spent < len(a) {
		t.Fatalf("%d txs, %d spent outputs: too few to compare", len(a), spent)
	}
	// Every address's totals and entries.
	seen := map[string]bool{}
	for _, b := range w.blocks {
		for _, tx := range b.Txs {
			for _, o := range tx.Outputs {
				addr := o.Address
				if seen[string(addr)] {
					continue
				}
				seen[string(addr)] = true
				x, err := plain.Address(model.BTC, addr)
				if err != nil {
					t.Fatal(err)
				}
				y, err := swept.Address(model.BTC, addr)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(x, y) {
					t.Fatalf("address %x: %+v with every amount stored, %+v derived", addr, x, y)
				}
				xs, err := plain.AddressTxs(model.BTC, addr, 0, 0)
				if err != nil {
					t.Fatal(err)
				}
				ys, err := swept.AddressTxs(model.BTC, addr, 0, 0)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(xs, ys) || len(xs) == 0 {
					t.Fatalf("address %x: %d entries with every amount stored, %d derived, or they differ", addr, len(xs), len(ys))
				}
			}
		}
	}
}

// allTxNums returns the numbers of every tx of s, a store of one chain.
func allTxNums(t *testing.T, s *Store) []uint64 {
	t.Helper()
	stats, err := s.Stats()
	if err != nil || len(stats) != 1 {
		t.Fatal(stats, err)
	}
	nums := make([]uint64, stats[0].Txs)
	for i := range nums {
		nums[i] = uint64(i) + 1
	}
	return nums
}

// TestSweeper: which out entries are sweeps, by the count of the
// address's unspent outputs of the segment; a count that misses spends
// only ever loses sweeps.
func TestSweeper(t *testing.T) {
	type step struct {
		nIn  uint64 // outputs the entry is paid
		out  bool   // an out entry
		m    uint8  // its spends of the segment's outputs paired
		want bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"receive, spend", []step{{nIn: 1}, {out: true, m: 1, want: true}}},
		{"receive twice, spend both", []step{{nIn: 1}, {nIn: 1}, {out: true, m: 2, want: true}}},
		{"receive twice, spend one, then the other", []step{{nIn: 1}, {nIn: 1}, {out: true, m: 1}, {out: true, m: 1, want: true}}},
		{"spends only older outputs", []step{{out: true, m: 0}}},
		{"change to itself, then a sweep", []step{{nIn: 1}, {nIn: 1, out: true, m: 1, want: true}, {out: true, m: 1, want: true}}},
		{"a missed spend: no sweep after it", []step{{nIn: 2}, {out: true, m: 0}, {out: true, m: 1}}},
		{"a loaded sweep", []step{{nIn: 3}, {out: true, m: markSweep, want: true}, {nIn: 1}, {out: true, m: 1, want: true}}},
	} {
		var w sweeper
		for i, s := range tc.steps {
			if s.out {
				if got := w.out(s.m); got != s.want {
					t.Errorf("%s: step %d: sweep %v, want %v", tc.name, i, got, s.want)
				}
			}
			w.unspent += s.nIn
		}
	}
}

// newSweepWorld is a linked UTXO chain shaped like a real one for the
// sweeps: most outputs pay a fresh address, some one of a few reused ones
// (an exchange's); a tx spends either everything an address holds (a
// sweep, mostly) or one random output (which leaves the rest of a reused
// address unswept).
func newSweepWorld(seed uint64, nBlocks int) *utxoWorld {
	w := &utxoWorld{rng: rand.New(rand.NewPCG(seed, 2)), balance: map[string]uint64{}}
	fresh := 0
	addr := func() []byte {
		if w.rng.IntN(10) < 3 {
			return []byte{1, byte(w.rng.IntN(8)), 0xee, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7}
		}
		fresh++
		return []byte{1, byte(fresh), byte(fresh >> 8), byte(fresh >> 16), 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9}
	}
	var prev [32]byte
	for h := 0; h < nBlocks; h++ {
		b := &model.Block{Chain: model.BTC, Height: uint64(h), PrevHash: prev, Time: int64(1600000000 + 600*h)}
		b.Hash = [32]byte{byte(h), byte(h >> 8), 0xbd, byte(seed)}
		newTx := func() [32]byte {
			w.txs++
			return [32]byte{byte(w.txs), byte(w.txs >> 8), byte(w.txs >> 16), 0xcd, byte(seed)}
		}
		cb := model.Tx{ID: newTx(), Coinbase: true}
		cb.Outputs = []model.Output{{Address: addr(), Value: 5000, ScriptType: model.ScriptP2PKH}}
		b.Txs = append(b.Txs, cb)
		var made []model.Tx
		for k := 0; k < 4 && len(w.ref) > 4; k++ {
			tx := model.Tx{ID: newTx(), Index: uint32(len(b.Txs))}
			pick := len(w.ref) - 1 - w.rng.IntN(min(len(w.ref), 24)) // mostly recent outputs, as on a real chain
			take := []int{pick}
			if w.rng.IntN(4) != 0 { // everything its address holds
				take = take[:0]
				for i := range w.unspent {
					if string(w.unspent[i].Address) == string(w.unspent[pick].Address) {
						take = append(take, i)
					}
				}
			}
			var sum uint64
			for j := len(take) - 1; j >= 0; j-- { // from the back: removal keeps the earlier positions
				sum += w.spend(&tx, take[j])
			}
			a := sum / 3
			for j, v := range []uint64{a, sum - a} {
				tx.Outputs = append(tx.Outputs, model.Output{Index: uint32(j), Address: addr(), Value: v, ScriptType: model.ScriptP2WPKH})
			}
			b.Txs = append(b.Txs, tx)
			made = append(made, tx)
		}
		// Outputs are spendable from the next block on.
		for i := range made {
			w.addOutputs(&made[i])
		}
		w.addOutputs(&b.Txs[0])
		w.blocks = append(w.blocks, b)
		prev = b.Hash
	}
	return w
}

// TestRecordIn: an amount in left to the records is the sum of the tx's
// outputs to the address, and a record that pays the address another number
// of outputs than its entry says is an error, not a silent amount.
func TestRecordIn(t *testing.T) {
	rec := &txRec{Outputs: []outRec{{Addr: 7, Value: 5}, {Addr: 9, Value: 1}, {Addr: 7, Value: 1 << 62}, {Addr: 7, Value: 1 << 62}}}
	v, err := recordIn(rec, 3, 7, 3)
	if want := new(uint256.Int).Lsh(uint256.NewInt(1), 63); err != nil || v.Cmp(want.AddUint64(want, 5)) != 0 {
		t.Errorf("recordIn = %v, %v; want 2^63+5", &v, err)
	}
	for _, c := range []struct{ addr, nIn uint64 }{{7, 2}, {9, 2}, {8, 1}} {
		if _, err := recordIn(rec, 3, c.addr, c.nIn); !errors.Is(err, errCorrupt) {
			t.Errorf("address %d with %d outputs: %v, want a corruption error", c.addr, c.nIn, err)
		}
	}
}

// FuzzGroupResolve decodes arbitrary bytes as a group's entries and
// resolves the amounts they leave to the records: an error or entries, never
// a panic, and a resolved group's amounts out that refer to an amount in are
// one of its amounts in.
func FuzzGroupResolve(f *testing.F) {
	f.Add(uint8(2), []byte{1, 1 | efIn, 1, 5, 3, efSweep | 1<<efOutShift})
	f.Add(uint8(3), []byte{1, 1, 2, efExt | efOut | 1<<efOutShift, 1, 1, 9, 1, efOutSame | 1<<efOutShift})
	f.Fuzz(func(t *testing.T, n uint8, b []byte) {
		ents, _, err := decodeGroup(nil, uint64(n%(deriveMax+2)), 10, 1<<20, b)
		if err != nil {
			return
		}
		err = resolveGroup(ents, func(e *segEntry) (uint256.Int, error) { return *uint256.NewInt(e.txnum % 3), nil })
		if err != nil {
			return
		}
		ins := map[uint256.Int]bool{}
		for _, e := range ents {
			if e.outSame && !ins[e.out] {
				t.Fatalf("an amount out %v that no amount in before it had", &e.out)
			}
			if !e.in.IsZero() {
				ins[e.in] = true
			}
		}
	})
}
