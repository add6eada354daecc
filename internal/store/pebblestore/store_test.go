package pebblestore

import (
	"errors"
	"fmt"
	"github.com/cockroachdb/pebble/v2"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// utxoWorld generates a linked UTXO chain with known per-address balances.
type utxoWorld struct {
	rng     *rand.Rand
	blocks  []*model.Block
	unspent []model.Output // with Index = position in unspentRef
	ref     []struct {
		id   [32]byte
		vout uint32
	}
	balance map[string]uint64
	txs     int
}

func newUTXOWorld(seed uint64, nBlocks int) *utxoWorld {
	w := &utxoWorld{rng: rand.New(rand.NewPCG(seed, 1)), balance: map[string]uint64{}}
	addrs := make([][]byte, 40)
	for i := range addrs {
		addrs[i] = []byte{1, byte(i), byte(i >> 8), 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7}
	}
	var prev [32]byte
	for h := 0; h < nBlocks; h++ {
		b := &model.Block{Chain: model.BTC, Height: uint64(h), PrevHash: prev, Time: int64(1600000000 + 600*h)}
		b.Hash = [32]byte{byte(h), byte(h >> 8), 0xbb, byte(seed)}
		newTx := func() [32]byte {
			w.txs++
			return [32]byte{byte(w.txs), byte(w.txs >> 8), byte(w.txs >> 16), 0xcc, byte(seed)}
		}
		// coinbase
		cb := model.Tx{ID: newTx(), Coinbase: true, Index: 0}
		to := addrs[w.rng.IntN(len(addrs))]
		cb.Outputs = []model.Output{{Address: to, Value: 5000, ScriptType: model.ScriptP2PKH}}
		b.Txs = append(b.Txs, cb)
		// a few spends of random unspent outputs
		for k := 0; k < 3 && len(w.ref) > 2; k++ {
			tx := model.Tx{ID: newTx(), Index: uint32(len(b.Txs))}
			var sum uint64
			for n := 1 + w.rng.IntN(2); n > 0 && len(w.ref) > 0; n-- {
				sum += w.spend(&tx, w.rng.IntN(len(w.ref)))
			}
			fee := uint64(w.rng.IntN(10))
			if fee > sum {
				fee = sum
			}
			a := (sum - fee) / 2
			for j, v := range []uint64{a, sum - fee - a} {
				to := addrs[w.rng.IntN(len(addrs))]
				tx.Outputs = append(tx.Outputs, model.Output{Index: uint32(j), Address: to, Value: v, ScriptType: model.ScriptP2WPKH})
			}
			b.Txs = append(b.Txs, tx)
			w.addOutputs(&tx)
		}
		w.addOutputs(&b.Txs[0])
		w.blocks = append(w.blocks, b)
		prev = b.Hash
	}
	return w
}

// spend makes unspent output i an input of tx and returns its value.
func (w *utxoWorld) spend(tx *model.Tx, i int) uint64 {
	o := w.unspent[i]
	tx.Inputs = append(tx.Inputs, model.Input{PrevTxID: w.ref[i].id, PrevIndex: w.ref[i].vout})
	w.balance[string(o.Address)] -= o.Value
	w.ref = append(w.ref[:i], w.ref[i+1:]...)
	w.unspent = append(w.unspent[:i], w.unspent[i+1:]...)
	return o.Value
}

func (w *utxoWorld) addOutputs(tx *model.Tx) {
	for j, o := range tx.Outputs {
		w.ref = append(w.ref, struct {
			id   [32]byte
			vout uint32
		}{tx.ID, uint32(j)})
		w.unspent = append(w.unspent, o)
		w.balance[string(o.Address)] += o.Value
	}
}

func openTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func digest(t *testing.T, s *Store) string {
	t.Helper()
	d, err := s.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// checkAsClean checks s, after a failure: it must equal a store that
// applied w's first k blocks with no failure, and still equal it after both
// apply the rest.
func checkAsClean(t *testing.T, s *Store, w *utxoWorld, k int, after string) {
	t.Helper()
	clean := openTestStore(t)
	if err := clean.Apply(model.BTC, store.Linked, w.blocks[:k]); err != nil {
		t.Fatal(err)
	}
	if digest(t, s) != digest(t, clean) {
		t.Fatalf("after %s, the store reloaded from disk differs from a clean one", after)
	}
	for _, x := range []*Store{s, clean} {
		if err := x.Apply(model.BTC, store.Linked, w.blocks[k:]); err != nil {
			t.Fatal(err)
		}
	}
	if digest(t, s) != digest(t, clean) {
		t.Fatalf("after %s, the continuation differs from a clean one", after)
	}
}

func TestUTXOBalancesAndRollbackExact(t *testing.T) {
	w := newUTXOWorld(1, 120)
	s := openTestStore(t)
	// The coinbase of a block is added to the world's unspent set after the
	// block's other txs, so the generator never spends within a block; apply
	// in uneven batches to cross batch boundaries.
	var digests []string
	for i := 0; i < len(w.blocks); {
		n := 1 + i%7
		if i+n > len(w.blocks) {
			n = len(w.blocks) - i
		}
		if err := s.Apply(model.BTC, store.Linked, w.blocks[i:i+n]); err != nil {
			t.Fatalf("apply %d..%d: %v", i, i+n, err)
		}
		for k := 0; k < n; k++ {
			digests = append(digests, "")
		}
		digests[i+n-1] = digest(t, s)
		i += n
	}
	for a, want := range w.balance {
		sum, err := s.Address(model.BTC, []byte(a))
		if err != nil {
			t.Fatalf("address %x: %v", a, err)
		}
		got := sum.Assets[0].Balance()
		if got.Uint64() != want {
			t.Fatalf("address %x balance %d, want %d", a, got.Uint64(), want)
		}
	}
	st, _ := s.Stats()
	if st[0].Txs != uint64(w.txs) || st[0].Blocks != uint64(len(w.blocks)) {
		t.Fatalf("stats %+v, want %d txs %d blocks", st[0], w.txs, len(w.blocks))
	}
	// Roll back to each recorded batch boundary, newest first: the store must
	// equal exactly what it was then.
	for h := len(w.blocks) - 2; h >= 0; h-- {
		if digests[h] == "" {
			continue
		}
		if err := s.RollbackTo(model.BTC, uint64(h)); err != nil {
			t.Fatal(err)
		}
		if got := digest(t, s); got != digests[h] {
			t.Fatalf("after rollback to %d the store differs from when it was at %d", h, h)
		}
	}
	// Re-apply everything after a rollback: balances again exact.
	m, _ := s.Mark(model.BTC)
	if err := s.Apply(model.BTC, store.Linked, w.blocks[m.Height+1:]); err != nil {
		t.Fatal(err)
	}
	if got := digest(t, s); got != digests[len(digests)-1] {
		t.Fatal("re-applied chain differs from the first application")
	}
}

func TestApplyIsAtomic(t *testing.T) {
	w := newUTXOWorld(2, 30)
	s := openTestStore(t)
	if err := s.Apply(model.BTC, store.Linked, w.blocks[:20]); err != nil {
		t.Fatal(err)
	}
	before := digest(t, s)
	bad := *w.blocks[25]
	bad.Txs = append([]model.Tx(nil), bad.Txs...)
	bad.Txs = append(bad.Txs, model.Tx{ID: [32]byte{0xde, 0xad}, Inputs: []model.Input{{PrevTxID: [32]byte{0x99}, PrevIndex: 3}},
		Outputs: []model.Output{{Address: []byte{1, 2, 3}, Value: 1}}})
	blocks := append(append([]*model.Block(nil), w.blocks[20:25]...), &bad)
	err := s.Apply(model.BTC, store.Linked, blocks)
	if !errors.Is(err, store.ErrChain) {
		t.Fatalf("spend of an unknown output: err = %v, want ErrChain", err)
	}
	if got := digest(t, s); got != before {
		t.Fatal("a failed Apply changed the store")
	}
	// A block that does not extend the tip is refused too.
	if err := s.Apply(model.BTC, store.Linked, w.blocks[22:23]); !errors.Is(err, store.ErrChain) {
		t.Fatalf("wrong height: err = %v", err)
	}
	// And the store still accepts the right continuation.
	if err := s.Apply(model.BTC, store.Linked, w.blocks[20:]); err != nil {
		t.Fatal(err)
	}
}

// TestApplyIsAtomicPipelined fails an Apply after its indexing goroutine
// has indexed several chunks (pipeline.go): the store must be as before,
// and after the right continuation equal a store that applied the whole
// chain at once.
func TestApplyIsAtomicPipelined(t *testing.T) {
	w := newUTXOWorld(5, 400) // ≈ 1,600 txs: several chunks of chunkTxs
	s := openTestStore(t)
	if err := s.Apply(model.BTC, store.Linked, w.blocks[:50]); err != nil {
		t.Fatal(err)
	}
	before := digest(t, s)
	bad := *w.blocks[399]
	bad.Txs = append([]model.Tx(nil), bad.Txs...)
	bad.Txs = append(bad.Txs, model.Tx{ID: [32]byte{0xde, 0xad}, Inputs: []model.Input{{PrevTxID: [32]byte{0x99}, PrevIndex: 3}},
		Outputs: []model.Output{{Address: []byte{1, 2, 3}, Value: 1}}})
	blocks := append(append([]*model.Block(nil), w.blocks[50:399]...), &bad)
	if n := countTxs(blocks); n < 3*chunkTxs {
		t.Fatalf("the failing Apply holds %d txs, want several chunks", n)
	}
	if err := s.Apply(model.BTC, store.Linked, blocks); !errors.Is(err, store.ErrChain) {
		t.Fatalf("spend of an unknown output: err = %v, want ErrChain", err)
	}
	if got := digest(t, s); got != before {
		t.Fatal("a failed Apply changed the store")
	}
	if err := s.Apply(model.BTC, store.Linked, w.blocks[50:]); err != nil {
		t.Fatal(err)
	}
	whole := openTestStore(t)
	if err := whole.Apply(model.BTC, store.Linked, w.blocks); err != nil {
		t.Fatal(err)
	}
	if digest(t, s) != digest(t, whole) {
		t.Fatal("after a failed pipelined Apply and its continuation, the store differs from one applied at once")
	}
}

func countTxs(blocks []*model.Block) int {
	n := 0
	for _, b := range blocks {
		n += len(b.Txs)
	}
	return n
}

func TestUndoToMark(t *testing.T) {
	w := newUTXOWorld(3, 40)
	s := openTestStore(t)
	if err := s.Apply(model.BTC, store.Linked, w.blocks[:10]); err != nil {
		t.Fatal(err)
	}
	mark, _ := s.Mark(model.BTC)
	before := digest(t, s)
	for i := 10; i < 40; i += 5 {
		if err := s.Apply(model.BTC, store.Linked, w.blocks[i:i+5]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Undo(model.BTC, mark); err != nil {
		t.Fatal(err)
	}
	if digest(t, s) != before {
		t.Fatal("undo to mark is not exact")
	}
	// The store survives a reopen with the same contents.
	dir := t.TempDir()
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Apply(model.BTC, store.Linked, w.blocks[:10]); err != nil {
		t.Fatal(err)
	}
	if digest(t, s2) != before {
		t.Fatal("a fresh store with the same blocks differs")
	}
	s2.Close()
	s3, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	if digest(t, s3) != before {
		t.Fatal("contents changed across close and open")
	}
}

func accountBlock(h uint64, txs ...model.Tx) *model.Block {
	return &model.Block{Chain: model.Tron, Height: h, Hash: [32]byte{byte(h), 0xaa}, Time: int64(1650000000 + 3*h), Txs: txs}
}

func TestAccountTransfersUnordered(t *testing.T) {
	a := append([]byte{0x41, 1}, make([]byte, 19)...)
	b := append([]byte{0x41, 2}, make([]byte, 19)...)
	usdt := append([]byte{0x41, 9}, make([]byte, 19)...)
	amt := func(v uint64) uint256.Int { var u uint256.Int; u.SetUint64(v); return u }
	big := uint256.MustFromDecimal("340282366920938463463374607431768211456") // 2^128
	mk := func(id byte, from, to, contract []byte, v uint256.Int, fee uint64) model.Tx {
		tx := model.Tx{ID: [32]byte{id}, Transfers: []model.Transfer{{From: from, To: to, Contract: contract, Value: v, LogIndex: -1}}, FeePayer: from}
		tx.Fee = amt(fee)
		return tx
	}
	blocks := []*model.Block{
		accountBlock(10, mk(1, a, b, nil, amt(1_000_000), 100)),
		accountBlock(12, mk(2, a, b, usdt, *big, 0), mk(3, b, a, usdt, amt(5), 7)),
		accountBlock(11, model.Tx{ID: [32]byte{4}, Failed: true, FeePayer: a, Fee: amt(50),
			Transfers: []model.Transfer{{From: a, To: b, Value: amt(999)}}}),
	}
	s := openTestStore(t)
	if err := s.Apply(model.Tron, store.Unordered, blocks); err != nil {
		t.Fatal(err)
	}
	once := digest(t, s)
	// Overlapping re-export: the same blocks again, plus nothing new.
	if err := s.Apply(model.Tron, store.Unordered, blocks[1:]); err != nil {
		t.Fatal(err)
	}
	if digest(t, s) != once {
		t.Fatal("re-applying stored transactions changed the store")
	}
	sa, err := s.Address(model.Tron, a)
	if err != nil {
		t.Fatal(err)
	}
	// a: sent 1e6 TRX + fee 100 + failed fee 50; received 5 USDT-like; sent 2^128.
	want := map[string][2]string{"TRX": {"0", fmt.Sprint(1_000_000 + 100 + 50)}, "": {"5", big.Dec()}}
	for _, x := range sa.Assets {
		w, ok := want[x.Asset.Symbol]
		if !ok {
			t.Fatalf("unexpected asset %+v", x.Asset)
		}
		if x.Received.Dec() != w[0] || x.Sent.Dec() != w[1] {
			t.Fatalf("%s: received %s sent %s, want %v", x.Asset.Symbol, x.Received.Dec(), x.Sent.Dec(), w)
		}
	}
	if sa.TxCount != 4 || sa.FirstSeen != 1650000030 || sa.LastSeen != 1650000036 {
		t.Fatalf("a: tx_count %d first %d last %d", sa.TxCount, sa.FirstSeen, sa.LastSeen)
	}
	if _, err := s.PutAsset(model.Tron, usdt, "USDT", 6); err != nil {
		t.Fatal(err)
	}
	tv, err := s.Tx(model.Tron, [32]byte{2})
	if err != nil {
		t.Fatal(err)
	}
	if len(tv.Transfers) != 1 || tv.Transfers[0].Asset.Symbol != "USDT" || tv.Transfers[0].Value.Cmp(big) != 0 {
		t.Fatalf("tx 2: %+v", tv.Transfers)
	}
	// A different block at a stored height is refused.
	clash := accountBlock(10, mk(9, a, b, nil, amt(1), 0))
	clash.Hash[5] = 1
	if err := s.Apply(model.Tron, store.Unordered, []*model.Block{clash}); !errors.Is(err, store.ErrChain) {
		t.Fatalf("conflicting block: %v", err)
	}
}

// TestAddrCacheExact: the address-id cache (complete when loaded from a
// reopened store, dropped by a rollback and reloaded, or too small to be
// complete) never changes which id an address gets. A chain applied across
// a reopen and a reorg to a branch that pays new addresses in another order
// gives exactly the store of applying the final chain in one go.
func TestAddrCacheExact(t *testing.T) {
	w := newUTXOWorld(3, 120)
	// branch copies the chain; from height 71 on its outputs pay fresh
	// addresses numbered by order(h), and (when other) its blocks differ.
	branch := func(order func(h int) int, other bool) []*model.Block {
		var out []*model.Block
		for h, b := range w.blocks {
			c := *b
			c.Txs = make([]model.Tx, len(b.Txs))
			for i, tx := range b.Txs {
				tx.Inputs = append([]model.Input(nil), tx.Inputs...)
				tx.Outputs = append([]model.Output(nil), tx.Outputs...)
				for j := range tx.Outputs {
					if h >= 71 {
						n := order(h)*64 + i*4 + j
						tx.Outputs[j].Address = []byte{1, 0xfe, byte(n), byte(n >> 8), 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9}
					}
				}
				c.Txs[i] = tx
			}
			if other && h >= 71 {
				c.Hash[3] ^= 0xff
				if h >= 72 {
					c.PrevHash[3] ^= 0xff
				}
			}
			out = append(out, &c)
		}
		return out
	}
	oneGo := openTestStore(t)
	if err := oneGo.Apply(model.BTC, store.Linked, branch(func(h int) int { return 200 - h }, true)); err != nil {
		t.Fatal(err)
	}
	want := digest(t, oneGo)
	for _, max := range []int{1 << 21, 7} {
		t.Run(fmt.Sprintf("cache-%d", max), func(t *testing.T) {
			defer func(old int) { addrCacheMax = old }(addrCacheMax)
			addrCacheMax = max
			a := branch(func(h int) int { return h }, false)
			b := branch(func(h int) int { return 200 - h }, true)
			dir := t.TempDir()
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Apply(model.BTC, store.Linked, a[:60]); err != nil {
				t.Fatal(err)
			}
			s.Close()
			if s, err = Open(dir); err != nil { // a new process: the cache loads from Pebble
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Apply(model.BTC, store.Linked, a[60:90]); err != nil {
				t.Fatal(err)
			}
			if err := s.RollbackTo(model.BTC, 70); err != nil { // a reorg: drops the cache
				t.Fatal(err)
			}
			for i := 71; i < len(b); i += 13 {
				if err := s.Apply(model.BTC, store.Linked, b[i:min(i+13, len(b))]); err != nil {
					t.Fatal(err)
				}
			}
			if got := digest(t, s); got != want {
				t.Fatal("store differs from applying the final chain in one go")
			}
			st, _ := s.state(model.BTC)
			if complete := max > 100; st.addrs.complete() != complete {
				t.Fatalf("cache complete = %v with room for %d addresses", st.addrs.complete(), max)
			}
		})
	}
}

// TestTinySegments runs the write, undo and rollback tests with segments of
// a few entries, so that applies close segments, merge small tails, and
// undos and rollbacks reach into closed segments.
func TestTinySegments(t *testing.T) {
	defer func(old int) { segMaxEntries = old }(segMaxEntries)
	for _, n := range []int{1, 7, 60} {
		segMaxEntries = n
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Run("rollback", TestUTXOBalancesAndRollbackExact)
			t.Run("atomic", TestApplyIsAtomic)
			t.Run("atomic-pipelined", TestApplyIsAtomicPipelined)
			t.Run("undo", TestUndoToMark)
			t.Run("unordered", TestAccountTransfersUnordered)
			t.Run("addrcache", TestAddrCacheExact)
			t.Run("linked-account", TestLinkedAccountChain)
			t.Run("assetcache", TestAssetCacheExact)
		})
	}
}

// TestUndoAccountAcrossSegments applies an account chain Unordered in
// batches, then undoes to every batch's mark, newest first: each undo must
// give back exactly the store of that moment, whether the mark falls in the
// open segment or deep in closed ones (segments of 13 entries), and the
// undone chain re-applied must equal the first application.
func TestUndoAccountAcrossSegments(t *testing.T) {
	for _, segMax := range []int{segMaxEntries, 13} {
		t.Run(fmt.Sprint(segMax), func(t *testing.T) {
			defer func(old int) { segMaxEntries = old }(segMaxEntries)
			segMaxEntries = segMax
			s := openTestStore(t)
			var blocks []*model.Block
			for h := uint64(1); h <= 60; h++ {
				var txs []model.Tx
				for j := uint64(0); j < 3; j++ {
					n := h*3 + j
					from := append([]byte{0x41, byte(n % 17)}, make([]byte, 19)...)
					to := append([]byte{0x41, byte(n*7%251 + 1)}, make([]byte, 19)...)
					var v uint256.Int
					v.SetUint64(n * 999)
					var c []byte
					if n%2 == 0 {
						c = append([]byte{0x41, 0xcc}, make([]byte, 19)...)
					}
					txs = append(txs, model.Tx{ID: [32]byte{byte(n), byte(n >> 8), 7}, FeePayer: from,
						Transfers: []model.Transfer{{From: from, To: to, Contract: c, Value: v}}})
				}
				blocks = append(blocks, accountBlock(h, txs...))
			}
			var marks []store.Mark
			var digests []string
			for i := 0; i < len(blocks); i += 7 {
				if i > 0 { // (an undo to the empty chain leaves its meta record behind)
					m, _ := s.Mark(model.Tron)
					marks, digests = append(marks, m), append(digests, digest(t, s))
				}
				if err := s.Apply(model.Tron, store.Unordered, blocks[i:min(i+7, len(blocks))]); err != nil {
					t.Fatal(err)
				}
			}
			final := digest(t, s)
			for i := len(marks) - 1; i >= 0; i-- {
				if err := s.Undo(model.Tron, marks[i]); err != nil {
					t.Fatal(err)
				}
				if got := digest(t, s); got != digests[i] {
					t.Fatalf("undo to mark %d (tx %d) is not exact", i, marks[i].NextTx)
				}
			}
			for i := 7; i < len(blocks); i += 7 {
				if err := s.Apply(model.Tron, store.Unordered, blocks[i:min(i+7, len(blocks))]); err != nil {
					t.Fatal(err)
				}
			}
			if got := digest(t, s); got != final {
				t.Fatal("re-applied chain differs from the first application")
			}
		})
	}
}

// TestOldLayoutRefused: a store whose meta says an earlier layout (1, the
// Pebble-only layout, whose tx records this version would misread; 3, the
// tx records in Pebble, which this version would not find) is refused with
// a message that says what to do, not read.
func TestOldLayoutRefused(t *testing.T) {
	for _, v := range []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10} {
		t.Run(fmt.Sprint(v), func(t *testing.T) { testOldLayoutRefused(t, v) })
	}
}

func testOldLayoutRefused(t *testing.T, version byte) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	w := newUTXOWorld(5, 5)
	if err := s.Apply(model.BTC, store.Linked, w.blocks); err != nil {
		t.Fatal(err)
	}
	v, err := s.get(key(tMeta, byte(model.BTC), 0))
	if err != nil {
		t.Fatal(err)
	}
	v[0] = version
	if err := s.db.Set(key(tMeta, byte(model.BTC), 0), v, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Stats(); !errors.Is(err, ErrOldLayout) || !strings.Contains(err.Error(), "ingest again") {
		t.Fatalf("layout-%d store: err = %v, want ErrOldLayout", version, err)
	}
}

// TestOldLayoutMergerRefused: a store of layout 1, whose Pebble options
// name the totals merger it used, is refused with ErrOldLayout at open
// (Pebble itself refuses to open it without that merger).
func TestOldLayoutMergerRefused(t *testing.T) {
	dir := t.TempDir()
	old := &pebble.Merger{Name: "spoor.agg.v1", Merge: pebble.DefaultMerger.Merge}
	db, err := pebble.Open(dir, &pebble.Options{Merger: old})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set([]byte("m\x01"), []byte{1}, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(dir); !errors.Is(err, ErrOldLayout) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("layout-1 store: err = %v, want ErrOldLayout naming the folder", err)
	}
}

// TestBackgroundCloseFailure makes the background write of a segment fail
// (a directory where its file goes): the error reaches the next call, the
// chain's in-memory state is dropped, and once the obstacle is gone the
// store, loaded again from disk, equals one that applied the same blocks
// with no failure, and goes on the same.
func TestBackgroundCloseFailure(t *testing.T) {
	defer func(old int) { segMaxEntries = old }(segMaxEntries)
	segMaxEntries = 40
	w := newUTXOWorld(7, 60)
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Apply(model.BTC, store.Linked, w.blocks[:20]); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	st, err := s.state(model.BTC) // settles any pending close
	if err != nil {
		s.mu.Unlock()
		t.Fatal(err)
	}
	next := st.seg.list.nextFile
	s.mu.Unlock()
	block := segPath(dir, model.BTC, next)
	if err := os.MkdirAll(block, 0o750); err != nil {
		t.Fatal(err)
	}
	err = s.Apply(model.BTC, store.Linked, w.blocks[20:40])
	if err == nil {
		_, err = s.Digest()
	}
	if err == nil || !strings.Contains(err.Error(), "closing a segment") {
		t.Fatalf("a segment file that cannot be written: err = %v, want the close's error", err)
	}
	if err := os.Remove(block); err != nil {
		t.Fatal(err)
	}
	checkAsClean(t, s, w, 40, "a failed background close")
}

// TestApplyLogWriteFailure fails the write of one of the three logs an
// Apply writes (tx, address, block), by putting a read-only handle of the
// file in the log's place: the Apply must fail naming that log, and the store,
// reopened, must hold exactly what it held before, then take the same
// blocks again to equal a store that applied them without a failure.
func TestApplyLogWriteFailure(t *testing.T) {
	w := newUTXOWorld(9, 60)
	// The world's 40 addresses are all paid in its first blocks: a later
	// coinbase pays a new one, so that the failing Apply writes all three
	// logs.
	w.blocks[45].Txs[0].Outputs[0].Address = []byte{1, 0xee, 0xee, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7}
	for _, tc := range []struct {
		name string
		file func(st *chainState) (path string, f **os.File)
	}{
		{"tx log", func(st *chainState) (string, **os.File) { return st.log.path, &st.log.f }},
		{"address log", func(st *chainState) (string, **os.File) { return st.addrLog.path, &st.addrLog.f }},
		{"block log", func(st *chainState) (string, **os.File) { return st.blockLog.path, &st.blockLog.f }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Apply(model.BTC, store.Linked, w.blocks[:30]); err != nil {
				t.Fatal(err)
			}
			path, fp := tc.file(s.chains[model.BTC])
			ro, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			rw := *fp
			*fp = ro
			err = s.Apply(model.BTC, store.Linked, w.blocks[30:])
			*fp = rw
			ro.Close()
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Fatalf("Apply with an unwritable %s: err = %v, want an error naming %s", tc.name, err, path)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if s, err = Open(dir); err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			checkAsClean(t, s, w, 30, "a failed write of the "+tc.name)
		})
	}
}
