package pebblestore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// genAddr is the address of id n in these tests: every third one is long
// (33 bytes, kept in the arena), the others short (21 bytes, inline).
func genAddr(n uint64) []byte {
	l := 21
	if n%3 == 0 {
		l = 33
	}
	a := bytes.Repeat([]byte{0x5a}, l)
	a[0] = byte(l)
	binary.LittleEndian.PutUint64(a[1:], n*0x9e3779b97f4a7c15)
	return a
}

// genIDs lists the ids held by c, ascending (read slot by slot, which
// also checks each slot's address is the one of its id).
func genIDs(t *testing.T, c *addrCache) []uint64 {
	t.Helper()
	var out []uint64
	for i := range c.slots {
		s := &c.slots[i]
		if s.id == 0 {
			continue
		}
		if a := c.slotBytes(s, nil); !bytes.Equal(a, genAddr(s.id)) {
			t.Fatalf("slot of id %d holds %x", s.id, a)
		}
		out = append(out, s.id)
	}
	slices.Sort(out)
	if len(out) != c.n {
		t.Fatalf("%d slots in use, n = %d", len(out), c.n)
	}
	return out
}

func ids(lo, hi uint64) []uint64 { // lo..hi inclusive
	var out []uint64
	for n := lo; n <= hi; n++ {
		out = append(out, n)
	}
	return out
}

// TestAddrGens runs scripts of cache operations on a cache of two
// generations of 4 addresses and checks what each generation and the spill then hold, the
// complete flag, the switches, and that get finds exactly the held ids.
// "put a-b" puts ids a..b (new addresses), "get a-b" gets them (a hit in
// the old generation promotes it), "begin p" starts an Apply allocating
// from p, "commit" and "abort" end it.
func TestAddrGens(t *testing.T) {
	type want struct {
		cur, old, spill []uint64
		floor           uint64 // the cache holds every id from floor on
		switches        uint64
	}
	cases := []struct {
		name string
		ops  []string
		want want
	}{
		{"fills the current generation", []string{"put 1-4"},
			want{ids(1, 4), nil, nil, 1, 0}},
		{"the fifth address switches", []string{"put 1-5"},
			want{ids(5, 5), ids(1, 4), nil, 1, 1}},
		{"the second switch drops the oldest, no longer complete", []string{"put 1-9"},
			want{ids(9, 9), ids(5, 8), nil, 5, 2}},
		{"a hit in the old generation promotes and survives the next switch", []string{"put 1-6", "get 2-3", "put 7-8"},
			// cur {5,6,2,3} is full: 7 switches (dropping 1 and 4), 8 joins.
			want{ids(7, 8), []uint64{2, 3, 5, 6}, nil, 5, 2}},
		{"a hit in the current generation does not move", []string{"put 1-3", "get 1-3", "put 4-4"},
			want{ids(1, 4), nil, nil, 1, 0}},
		{"abort takes the Apply's ids out of both generations", []string{"put 1-3", "begin 4", "put 4-7", "get 1-1", "abort"},
			// 4 fills cur {1,2,3,4}; 5 switches; 1 is promoted to cur {5,6,7,1}.
			want{[]uint64{1}, ids(1, 3), nil, 1, 1}},
		{"a committed Apply keeps its ids", []string{"put 1-3", "begin 4", "put 4-7", "commit"},
			want{ids(5, 7), ids(1, 4), nil, 1, 1}},
		{"a switch keeps the running Apply's ids in the spill", []string{"put 1-2", "begin 3", "put 3-12"},
			// Switches at 5 (drop nothing), 9 (drop 1-2 and keep 3-4), 13 would be next.
			want{ids(9, 12), ids(5, 8), ids(3, 4), 3, 2}},
		{"complete while the switch drops only the Apply's own ids", []string{"begin 1", "put 1-12"},
			want{ids(9, 12), ids(5, 8), ids(1, 4), 1, 2}},
		{"commit empties the spill: the floor rises past it", []string{"begin 1", "put 1-12", "commit"},
			want{ids(9, 12), ids(5, 8), nil, 5, 2}},
		{"abort empties the spill and both generations", []string{"put 1-1", "begin 2", "put 2-12", "abort"},
			want{nil, nil, nil, 2, 2}},
		{"after a commit the spill is not refilled", []string{"begin 1", "put 1-4", "commit", "put 5-12"},
			want{ids(9, 12), ids(5, 8), nil, 5, 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newAddrGens(8)
			g.cap = 4      // generations of 4, whatever genSize makes of 8
			g.loaded(1, 0) // an empty chain's cache, as loadAddrs leaves it
			for _, op := range tc.ops {
				var verb string
				var lo, hi uint64
				if n, _ := fmt.Sscanf(op, "%s %d-%d", &verb, &lo, &hi); n < 3 {
					hi = lo
				}
				switch verb {
				case "put":
					for n := lo; n <= hi; n++ {
						g.put(genAddr(n), addrHash(genAddr(n)), n)
					}
				case "get":
					for n := lo; n <= hi; n++ {
						if id, ok := g.get(genAddr(n), addrHash(genAddr(n))); !ok || id != n {
							t.Fatalf("%s: get(%d) = %d, %v", op, n, id, ok)
						}
					}
				case "begin":
					g.begin(lo)
				case "commit":
					g.commit()
				case "abort":
					g.abort()
				default:
					t.Fatalf("bad op %q", op)
				}
			}
			if len(g.cur.slots) < len(g.old.slots) {
				t.Fatalf("the current table (%d slots) is smaller than the old one (%d): it will grow again", len(g.cur.slots), len(g.old.slots))
			}
			got := want{genIDs(t, g.cur), genIDs(t, g.old), genIDs(t, g.spill), g.floor, g.switches}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("cur, old, spill, floor, switches:\n got %v\nwant %v", got, tc.want)
			}
			held := map[uint64]bool{}
			for _, l := range [][]uint64{got.cur, got.old, got.spill} {
				for _, n := range l {
					held[n] = true
				}
			}
			// Each generation's own lookup (get would promote, and switch).
			// And the floor is true: every id from it on (up to the last
			// put, the chain's) is held.
			for n := g.floor; n <= g.top; n++ {
				if !held[n] {
					t.Fatalf("floor %d, but %d is not held", g.floor, n)
				}
			}
			for n := uint64(1); n <= 14; n++ {
				a := genAddr(n)
				found := false
				for _, c := range []*addrCache{g.cur, g.old, g.spill} {
					if id, ok := c.get(a, addrHash(a)); ok {
						if id != n {
							t.Fatalf("get(%d) = %d", n, id)
						}
						found = true
					}
				}
				if found != held[n] {
					t.Fatalf("address %d found %v, held %v", n, found, held[n])
				}
			}
		})
	}
}

// recurChain is a linked Bitcoin-like chain whose outputs pay fresh
// addresses, addresses paid a few blocks back (change, deposits: as on
// mainnet, most reuse is recent) and addresses from anywhere before, short
// and long; inputs spend random earlier outputs.
func recurChain(seed uint64, nBlocks int) []*model.Block {
	rng := rand.New(rand.NewPCG(seed, 7))
	var next uint64
	var paid []uint64 // address numbers in the order first paid
	type out struct {
		id    [32]byte
		vout  uint32
		value uint64
	}
	var unspent []out
	var blocks []*model.Block
	var prev [32]byte
	txs := 0
	for h := 0; h < nBlocks; h++ {
		b := &model.Block{Chain: model.BTC, Height: uint64(h), PrevHash: prev, Time: int64(1600000000 + 600*h)}
		b.Hash = [32]byte{byte(h), byte(h >> 8), 0xab, byte(seed)}
		for i := 0; i < 4; i++ {
			txs++
			tx := model.Tx{ID: [32]byte{byte(txs), byte(txs >> 8), byte(txs >> 16), 0xcd, byte(seed)}, Index: uint32(i), Coinbase: i == 0}
			in := uint64(3 * 5000) // a coinbase's
			if i > 0 {
				in = 0
				for n := 1 + rng.IntN(2); n > 0 && len(unspent) > 0; n-- {
					k := rng.IntN(len(unspent))
					tx.Inputs = append(tx.Inputs, model.Input{PrevTxID: unspent[k].id, PrevIndex: unspent[k].vout})
					in += unspent[k].value
					unspent[k] = unspent[len(unspent)-1]
					unspent = unspent[:len(unspent)-1]
				}
			}
			for j := 0; j < 3; j++ {
				var n uint64
				switch r := rng.IntN(10); {
				case len(paid) == 0 || r < 5:
					next++
					n = next
					paid = append(paid, n)
				case r < 9:
					n = paid[len(paid)-1-rng.IntN(min(len(paid), 24))]
				default:
					n = paid[rng.IntN(len(paid))]
				}
				st := model.ScriptP2WPKH
				if n%3 == 0 {
					st = model.ScriptP2TR
				}
				tx.Outputs = append(tx.Outputs, model.Output{Index: uint32(j), Address: genAddr(n), Value: in / 3, ScriptType: st})
			}
			if tx.Coinbase || len(tx.Inputs) > 0 {
				for j := range tx.Outputs {
					unspent = append(unspent, out{tx.ID, uint32(j), in / 3})
				}
				b.Txs = append(b.Txs, tx)
			}
		}
		blocks = append(blocks, b)
		prev = b.Hash
	}
	return blocks
}

// TestAddrGensStore: a chain whose addresses recur, ingested with tiny
// address caches (many generation switches, promotions, spills in Applies
// that create more addresses than a generation holds) across a failed
// Apply, a reopen and a rollback, gives exactly the store of one ingest
// with the default cache; and the small caches did switch and find reused
// addresses in their old generation and in the segments.
func TestAddrGensStore(t *testing.T) {
	blocks := recurChain(5, 300)
	big := openTestStore(t)
	if err := big.Apply(model.BTC, store.Linked, blocks); err != nil {
		t.Fatal(err)
	}
	want := digest(t, big)
	if g := big.chains[model.BTC].addrs; !g.complete() || g.lookups != 0 || g.switches != 0 {
		t.Fatalf("default cache: complete %v, %d lookups, %d switches", g.complete(), g.lookups, g.switches)
	}
	for _, max := range []int{2, 7, 64, 1000} {
		t.Run(fmt.Sprintf("cache-%d", max), func(t *testing.T) {
			dir := t.TempDir()
			o := Options{AddrCacheEntries: max, SegmentEntries: 500}
			s, err := OpenWith(dir, o)
			if err != nil {
				t.Fatal(err)
			}
			var hitOld, found, switches uint64
			apply := func(bs []*model.Block) {
				t.Helper()
				if err := s.Apply(model.BTC, store.Linked, bs); err != nil {
					t.Fatal(err)
				}
				checkFloor(t, s.chains[model.BTC])
			}
			tally := func() {
				g := s.chains[model.BTC].addrs
				hitOld, found, switches = hitOld+g.hitOld, found+g.found, switches+g.switches
			}
			for i := 0; i < 150; i += 25 {
				apply(blocks[i : i+25])
			}
			// A failed Apply: good blocks, then one at a wrong height.
			bad := *blocks[176]
			if err := s.Apply(model.BTC, store.Linked, append(slices.Clone(blocks[150:175]), &bad)); err == nil {
				t.Fatal("an Apply with a block out of order succeeded")
			}
			checkFloor(t, s.chains[model.BTC])
			apply(blocks[150:200])
			tally()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if s, err = OpenWith(dir, o); err != nil { // loads the log's last addresses
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Reserve(model.BTC, 0, 0); err != nil { // a write's state: the cache loads
				t.Fatal(err)
			}
			st := s.chains[model.BTC]
			n, g := st.meta.NextAddr-1, st.addrs
			if k := min(n, uint64(g.cap)); uint64(g.cur.n) != k || g.floor != n-k+1 || g.top != n {
				t.Fatalf("reopened with %d addresses, generations of %d: %d loaded, floor %d, top %d; want the last %d",
					n, g.cap, g.cur.n, g.floor, g.top, k)
			}
			checkFloor(t, st)
			apply(blocks[200:260])
			if err := s.RollbackTo(model.BTC, 229); err != nil {
				t.Fatal(err)
			}
			for i := 230; i < len(blocks); i += 7 {
				apply(blocks[i:min(i+7, len(blocks))])
			}
			tally()
			if got := digest(t, s); got != want {
				t.Fatal("store differs from one ingest with the default cache")
			}
			if max < 1000 && (switches == 0 || hitOld == 0 || found == 0) {
				t.Fatalf("cache of %d: %d switches, %d old-generation hits, %d found in the segments", max, switches, hitOld, found)
			}
			t.Logf("cache of %d: %d switches, %d old-generation hits, %d found in the segments", max, switches, hitOld, found)
		})
	}
}

// checkFloor checks the cache's promise against the chain's address log:
// every address from id floor on is held, with its id.
func checkFloor(t *testing.T, st *chainState) {
	t.Helper()
	g, n := st.addrs, st.meta.NextAddr-1
	if g.floor == 0 || g.floor > n+1 {
		if g.floor != math.MaxUint64 {
			t.Fatalf("floor %d past the chain's %d addresses", g.floor, n)
		}
		return
	}
	if err := st.addrLog.scan(g.floor-1, n, func(r uint64, v []byte) error {
		for _, c := range []*addrCache{g.cur, g.old, g.spill} {
			if id, ok := c.get(v, addrHash(v)); ok && id == r+1 {
				return nil
			}
		}
		return fmt.Errorf("floor %d, but address %d (%x) is not held", g.floor, r+1, v)
	}); err != nil {
		t.Fatal(err)
	}
}

// TestAddrGensSwitchSize: past the first switch, the current table starts
// at the size of the full one (it would otherwise double its way up again,
// a second time per cache), and no later switch or put grows either.
func TestAddrGensSwitchSize(t *testing.T) {
	g := newAddrGens(8192)
	g.loaded(1, 0)
	for n := uint64(1); g.switches < 4; n++ {
		a := genAddr(n)
		g.put(a, addrHash(a), n)
		if g.switches > 0 && (len(g.cur.slots) != g.slots || len(g.old.slots) != g.slots) {
			t.Fatalf("after %d addresses (%d switches): tables of %d and %d slots, a full one has %d",
				n, g.switches, len(g.cur.slots), len(g.old.slots), g.slots)
		}
	}
	if g.slots <= addrCacheMin {
		t.Fatalf("a full generation has %d slots: the test needs more than the minimum table", g.slots)
	}
}

// TestGenSize: the two generations take at most the slots of the one table
// the same AddrCacheEntries made before them, hold at least half as many
// addresses, and never grow their table.
func TestGenSize(t *testing.T) {
	for _, n := range []int{1, 2, 4, 7, 300, 131072, 1 << 21} {
		slots, cap := genSize(n)
		one := 1 << log2(n*8/addrCacheLoad+1) // the single table's size for n
		if 2*slots > one || 2*cap < n || (cap+1)*8 <= slots*addrCacheLoad || cap*8 > slots*addrCacheLoad && cap > 1 {
			t.Errorf("genSize(%d) = %d slots, %d addresses; one table had %d slots", n, slots, cap, one)
		}
	}
	if _, cap := genSize(addrCacheMax); cap != 1310720 {
		t.Errorf("default generation of %d addresses, want 1,310,720", cap)
	}
}
