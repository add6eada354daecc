package pebblestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

func testOutpoint(i uint64) outpoint {
	var op outpoint
	binary.LittleEndian.PutUint64(op.id[:], i/3)
	op.id[31] = 0xaa
	op.vout = uint32(i % 3)
	return op
}

func testRec(i uint64) utxoRec {
	return utxoRec{TxNum: i + 1, Addr: i * 7, Value: i << 20, Script: byte(i % 9)}
}

// checkUTXO compares the set with the reference map: size, every record,
// each's enumeration, and absent probes.
func checkUTXO(t *testing.T, m *utxoSet, ref map[outpoint]utxoRec, absent []outpoint) {
	t.Helper()
	if m.len() != len(ref) {
		t.Fatalf("set holds %d outputs, want %d", m.len(), len(ref))
	}
	for op, want := range ref {
		if got, ok := m.get(op); !ok || got != want {
			t.Fatalf("get(%x:%d) = %+v, %v; want %+v", op.id[:4], op.vout, got, ok, want)
		}
	}
	n := 0
	m.each(func(op *outpoint, u *utxoRec) {
		if want, ok := ref[*op]; !ok || want != *u {
			t.Fatalf("each names %x:%d %+v; want %+v, %v", op.id[:4], op.vout, *u, want, ok)
		}
		n++
	})
	if n != len(ref) {
		t.Fatalf("each named %d outputs, want %d", n, len(ref))
	}
	for _, op := range absent {
		if _, in := ref[op]; in {
			continue
		}
		if u, ok := m.get(op); ok {
			t.Fatalf("get(%x:%d) = %+v for an absent output", op.id[:4], op.vout, u)
		}
	}
}

// utxoCollisions finds outpoints whose hashes share the top 32 bits (one
// index fingerprint: the entries must settle it) and outpoints that share a
// home slot of the smallest index, including its last slot (a run that
// wraps), by search over the real hash.
func utxoCollisions(t *testing.T) (sameFP, sameHome, wrap []outpoint) {
	t.Helper()
	seen := map[uint32]outpoint{}
	shift := uint(64 - log2(utxoIdxMin))
	for i := uint64(0); len(sameFP) < 8 || len(sameHome) < 8 || len(wrap) < 8; i++ {
		if i > 1<<22 {
			t.Fatal("no collisions found")
		}
		op := testOutpoint(i)
		h := utxoHash(&op)
		if o, ok := seen[uint32(h>>32)]; ok && len(sameFP) < 8 {
			sameFP = append(sameFP, o, op)
		}
		seen[uint32(h>>32)] = op
		switch h >> shift {
		case 5:
			sameHome = append(sameHome, op)
		case utxoIdxMin - 1, 0:
			wrap = append(wrap, op)
		}
	}
	return sameFP, sameHome, wrap
}

// TestUTXOSet: outpoints with the same fingerprint, the same home, a run
// wrapping the index end; add refusing a present output, take and set, the
// free list reusing entries.
func TestUTXOSet(t *testing.T) {
	sameFP, sameHome, wrap := utxoCollisions(t)
	for _, tc := range []struct {
		name string
		ops  []outpoint
	}{{"same fingerprint", sameFP}, {"same home", sameHome}, {"wrapping run", wrap}} {
		t.Run(tc.name, func(t *testing.T) {
			m, ref := newUTXOSet(), map[outpoint]utxoRec{}
			absent := []outpoint{testOutpoint(1 << 40)}
			for i, op := range tc.ops {
				ok, err := m.add(op, testRec(uint64(i)))
				if err != nil || !ok {
					t.Fatalf("add %d: %v, %v", i, ok, err)
				}
				ref[op] = testRec(uint64(i))
				if ok, _ := m.add(op, testRec(99)); ok {
					t.Fatalf("add %d again succeeded", i)
				}
				checkUTXO(t, m, ref, absent)
			}
			for i := 0; i < len(tc.ops); i += 2 {
				u, ok := m.take(tc.ops[i])
				if !ok || u != ref[tc.ops[i]] {
					t.Fatalf("take %d = %+v, %v", i, u, ok)
				}
				delete(ref, tc.ops[i])
				if _, ok := m.take(tc.ops[i]); ok {
					t.Fatalf("take %d twice succeeded", i)
				}
				checkUTXO(t, m, ref, tc.ops)
			}
			used := m.used
			for i := 0; i < len(tc.ops); i += 2 { // back, into the freed entries
				if err := m.set(tc.ops[i], testRec(uint64(100+i))); err != nil {
					t.Fatal(err)
				}
				ref[tc.ops[i]] = testRec(uint64(100 + i))
			}
			if err := m.set(tc.ops[1], testRec(7)); err != nil { // replace
				t.Fatal(err)
			}
			ref[tc.ops[1]] = testRec(7)
			checkUTXO(t, m, ref, absent)
			if m.used != used {
				t.Fatalf("%d entries handed out, %d before: the free list was not reused", m.used, used)
			}
		})
	}
}

// TestUTXOSetGrowth: 200,000 outputs through index doublings and several
// pages, most then spent, the rest spent and re-added, as a chain does.
func TestUTXOSetGrowth(t *testing.T) {
	m, ref := newUTXOSet(), map[outpoint]utxoRec{}
	const n = 200_000
	for i := uint64(0); i < n; i++ {
		if ok, err := m.add(testOutpoint(i), testRec(i)); !ok || err != nil {
			t.Fatalf("add %d: %v %v", i, ok, err)
		}
		ref[testOutpoint(i)] = testRec(i)
	}
	checkUTXO(t, m, ref, []outpoint{testOutpoint(n)})
	for i := uint64(0); i < n; i++ {
		if i%5 != 0 {
			m.take(testOutpoint(i))
			delete(ref, testOutpoint(i))
		}
	}
	checkUTXO(t, m, ref, []outpoint{testOutpoint(1), testOutpoint(2)})
	for i := uint64(n); i < n+n/2; i++ {
		m.add(testOutpoint(i), testRec(i))
		ref[testOutpoint(i)] = testRec(i)
	}
	checkUTXO(t, m, ref, []outpoint{testOutpoint(1)})
	if m.used > n {
		t.Fatalf("%d entries for at most %d outputs at a time", m.used, n)
	}
}

// TestUTXOJournal: the changes made between begin and abort are undone
// exactly (an output added and spent in the same batch, one spent and
// created again, outputs spent from before), with no entry reused in
// between; those between begin and commit stay, and commit frees the
// spent entries for reuse.
func TestUTXOJournal(t *testing.T) {
	m, ref := newUTXOSet(), map[outpoint]utxoRec{}
	for i := uint64(0); i < 1000; i++ {
		m.add(testOutpoint(i), testRec(i))
		ref[testOutpoint(i)] = testRec(i)
	}
	batch := func() {
		for i := uint64(0); i < 1000; i += 3 {
			if _, ok := m.take(testOutpoint(i)); !ok {
				t.Fatalf("take %d", i)
			}
		}
		for i := uint64(1000); i < 1500; i++ {
			if ok, err := m.add(testOutpoint(i), testRec(i)); !ok || err != nil {
				t.Fatalf("add %d: %v %v", i, ok, err)
			}
		}
		for i := uint64(1000); i < 1500; i += 2 {
			m.take(testOutpoint(i))
		}
		m.add(testOutpoint(3), testRec(7)) // spent above, created again
	}
	used := m.used
	m.begin()
	batch()
	if len(m.free) != 0 {
		t.Fatalf("%d entries freed during the batch", len(m.free))
	}
	m.abort()
	checkUTXO(t, m, ref, []outpoint{testOutpoint(1000), testOutpoint(1001)})
	if m.used > used+501 {
		t.Fatalf("%d entries after an aborted batch of 501 adds (had %d)", m.used, used)
	}
	m.begin()
	batch()
	m.commit()
	for i := uint64(0); i < 1000; i += 3 {
		delete(ref, testOutpoint(i))
	}
	for i := uint64(1001); i < 1500; i += 2 {
		ref[testOutpoint(i)] = testRec(i)
	}
	ref[testOutpoint(3)] = testRec(7)
	checkUTXO(t, m, ref, []outpoint{testOutpoint(0), testOutpoint(1000)})
	used = m.used
	for i := uint64(2000); i < 2300; i++ {
		m.add(testOutpoint(i), testRec(i))
		ref[testOutpoint(i)] = testRec(i)
	}
	if m.used != used {
		t.Fatalf("300 adds after a commit that freed 584 entries took %d new ones", m.used-used)
	}
	checkUTXO(t, m, ref, nil)
}

// FuzzUTXOSet drives the set and a Go map with the same adds, takes and
// sets over a small family of outpoints (ids sharing all but a byte, so
// entries differ late) and compares them.
func FuzzUTXOSet(f *testing.F) {
	f.Add([]byte{0, 1, 2, 0x40, 0x41, 0x80, 0x81, 3})
	f.Add([]byte("\x00\x01\x02\x03\x04\x05\x06\x07\x47\x46\x45\x44\x83\x82\x00\x01"))
	f.Fuzz(func(t *testing.T, ops []byte) {
		m, ref := newUTXOSet(), map[outpoint]utxoRec{}
		var seen []outpoint
		for i, b := range ops {
			var op outpoint
			op.id[30] = b & 0x3f / 4
			op.vout = uint32(b & 3)
			seen = append(seen, op)
			switch b >> 6 {
			case 0, 1:
				_, had := ref[op]
				ok, err := m.add(op, testRec(uint64(i)))
				if err != nil || ok == had {
					t.Fatalf("add: %v, %v with the output present %v", ok, err, had)
				}
				if !had {
					ref[op] = testRec(uint64(i))
				}
			case 2:
				u, ok := m.take(op)
				want, had := ref[op]
				if ok != had || u != want {
					t.Fatalf("take = %+v, %v; want %+v, %v", u, ok, want, had)
				}
				delete(ref, op)
			case 3:
				m.set(op, testRec(uint64(i)))
				ref[op] = testRec(uint64(i))
			}
		}
		checkUTXO(t, m, ref, seen)
	})
}

// TestApplyDuplicateOutputAtomic: a batch that creates an output, spends
// another output of the same tx, and then creates an output already
// unspent (same txid and index) fails as a whole: the UTXO set (in the
// digest) and everything else are as before, and the right continuation
// still applies and equals a clean run.
func TestApplyDuplicateOutputAtomic(t *testing.T) {
	w := newUTXOWorld(5, 30)
	s := openTestStore(t)
	if err := s.Apply(model.BTC, store.Linked, w.blocks[:20]); err != nil {
		t.Fatal(err)
	}
	before := digest(t, s)
	bad := *w.blocks[25]
	x := model.Tx{ID: [32]byte{0xd0, 0x0d}, Coinbase: true, Index: uint32(len(bad.Txs)),
		Outputs: []model.Output{{Address: []byte{9, 9}, Value: 10}, {Index: 1, Address: []byte{9, 8}, Value: 20}}}
	y := model.Tx{ID: [32]byte{0xd0, 0x0e}, Index: x.Index + 1, Inputs: []model.Input{{PrevTxID: x.ID, PrevIndex: 1}},
		Outputs: []model.Output{{Address: []byte{9, 7}, Value: 15}}}
	z := model.Tx{ID: x.ID, Coinbase: true, Index: y.Index + 1, Outputs: []model.Output{{Address: []byte{9, 6}, Value: 1}}}
	bad.Txs = append(append([]model.Tx(nil), bad.Txs...), x, y, z)
	blocks := append(append([]*model.Block(nil), w.blocks[20:25]...), &bad)
	err := s.Apply(model.BTC, store.Linked, blocks)
	if !errors.Is(err, store.ErrChain) {
		t.Fatalf("an output created twice: err = %v, want ErrChain", err)
	}
	if got := digest(t, s); got != before {
		t.Fatal("a failed Apply changed the store")
	}
	if err := s.Apply(model.BTC, store.Linked, w.blocks[20:]); err != nil {
		t.Fatal(err)
	}
	clean := openTestStore(t)
	if err := clean.Apply(model.BTC, store.Linked, w.blocks); err != nil {
		t.Fatal(err)
	}
	if digest(t, s) != digest(t, clean) {
		t.Fatal("the store after a failed Apply and its continuation differs from a clean run")
	}
}

// BenchmarkUTXOSet: a chain's life in the set, the way Apply drives it:
// 2²¹ outputs held, then per op one output spent (take; a Go map: lookup
// and delete) and one created (add; a Go map: lookup and assign), against
// the Go map it replaced. B/output is the heap the set holds at 2²¹ (the
// index at its smallest and fullest loads lies in between powers of two, so
// 1.5 × 2²¹ is measured too).
func BenchmarkUTXOSet(b *testing.B) {
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	for _, n := range []int{1 << 21, 3 << 20} {
		b.Run(fmt.Sprintf("table-%d", n), func(b *testing.B) {
			h0 := heap()
			m := newUTXOSet()
			for i := 0; i < n; i++ {
				m.add(testOutpoint(uint64(i)), testRec(uint64(i)))
			}
			bytes := float64(heap()-h0) / float64(n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, ok := m.take(testOutpoint(uint64(i))); !ok {
					b.Fatal("missing")
				}
				if ok, _ := m.add(testOutpoint(uint64(n+i)), testRec(uint64(i))); !ok {
					b.Fatal("present")
				}
			}
			b.ReportMetric(bytes, "B/output")
			runtime.KeepAlive(m)
		})
		b.Run(fmt.Sprintf("go-map-%d", n), func(b *testing.B) {
			h0 := heap()
			m := map[outpoint]utxoRec{}
			for i := 0; i < n; i++ {
				m[testOutpoint(uint64(i))] = testRec(uint64(i))
			}
			bytes := float64(heap()-h0) / float64(n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				op := testOutpoint(uint64(i))
				if _, ok := m[op]; !ok {
					b.Fatal("missing")
				}
				delete(m, op)
				op = testOutpoint(uint64(n + i))
				if _, ok := m[op]; ok {
					b.Fatal("present")
				}
				m[op] = testRec(uint64(i))
			}
			b.ReportMetric(bytes, "B/output")
			runtime.KeepAlive(m)
		})
	}
}
