package pebblestore

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// TestKeyFilter: every fingerprint added is reported present, whatever the
// fill (up to three times the capacity, past which the store rebuilds it),
// including repeats and the extreme values.
func TestKeyFilter(t *testing.T) {
	for _, c := range []struct {
		capacity int
		fill     float64
	}{{0, 0.5}, {0, 1}, {5000, 1}, {5000, 3}, {100_000, 0.7}, {100_000, 1.5}} {
		t.Run(fmt.Sprintf("%d-%v", c.capacity, c.fill), func(t *testing.T) {
			f := newKeyFilter(c.capacity)
			rng := rand.New(rand.NewPCG(uint64(c.capacity), 7))
			n := int(float64(f.capacity) * c.fill)
			fps := []uint32{0, 0xffffffff, 0, 1}
			for len(fps) < n {
				fps = append(fps, rng.Uint32())
			}
			for _, fp := range fps {
				f.add(fp)
			}
			for _, fp := range fps {
				if !f.mayHave(fp) {
					t.Fatalf("fingerprint %#x added but not found", fp)
				}
			}
			if f.n != len(fps) || f.full() != (len(fps) > f.capacity) {
				t.Fatalf("n = %d, full = %v after %d adds, capacity %d", f.n, f.full(), len(fps), f.capacity)
			}
		})
	}
}

// TestKeyFilterFalseRate measures the false "maybe" rate at the fills the
// store keeps a filter between: right after a build (1.5× room: 18 bits a
// key) and at capacity (12 bits a key); theory for 512-bit blocks with 7
// bits a key gives ≈ 0.06 % and ≈ 0.41 %. An empty filter answers no to
// everything.
func TestKeyFilterFalseRate(t *testing.T) {
	const n = 200_000
	for _, c := range []struct {
		name     string
		capacity int
		maxRate  float64
	}{{"built", n + n/2, 0.0012}, {"full", n, 0.006}} {
		t.Run(c.name, func(t *testing.T) {
			f := newKeyFilter(c.capacity)
			rng := rand.New(rand.NewPCG(42, uint64(c.capacity)))
			in := map[uint32]bool{}
			for len(in) < n {
				fp := rng.Uint32()
				in[fp] = true
				f.add(fp)
			}
			probes, fp := 0, 0
			for probes < 2_000_000 {
				x := rng.Uint32()
				if in[x] {
					continue
				}
				probes++
				if f.mayHave(x) {
					fp++
				}
			}
			rate := float64(fp) / float64(probes)
			t.Logf("%d keys, %.2f bytes a key: false maybe rate %.4f %%", n, f.bytesPerKey(), 100*rate)
			if rate > c.maxRate || rate == 0 {
				t.Fatalf("false maybe rate %.4f %%, want (0, %.3f %%]", 100*rate, 100*c.maxRate)
			}
		})
	}
	f := newKeyFilter(0)
	for x := uint32(0); x < 1<<20; x++ {
		if f.mayHave(x * 4099) {
			t.Fatalf("an empty filter may have %#x", x*4099)
		}
	}
}

// FuzzKeyFilter: no false negatives, ever. The first two bytes pick the
// capacity (often far below the count, to overfill it), the rest are
// fingerprints; a fingerprint never added that the filter rejects is
// checked to be really absent.
func FuzzKeyFilter(f *testing.F) {
	f.Add([]byte{0, 0})
	f.Add([]byte{0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4})
	seed := make([]byte, 2+4*3000)
	for i := range seed {
		seed[i] = byte(i * 7919 >> 3)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		kf := newKeyFilter(int(binary.BigEndian.Uint16(data)))
		added := map[uint32]bool{}
		for b := data[2:]; len(b) >= 4; b = b[4:] {
			fp := binary.BigEndian.Uint32(b)
			kf.add(fp)
			added[fp] = true
		}
		for fp := range added {
			if !kf.mayHave(fp) {
				t.Fatalf("fingerprint %#x added but not found", fp)
			}
		}
		for i := 0; i+4 <= len(data); i++ { // unaligned windows: mostly not added
			fp := binary.LittleEndian.Uint32(data[i:])
			if !kf.mayHave(fp) && added[fp] {
				t.Fatalf("fingerprint %#x rejected though added", fp)
			}
		}
	})
}

// collidingKeys returns n pairs of keys (made by mk from a counter) whose
// hashes share the top 32 bits but differ: a birthday search, about 2¹⁶
// hashes a pair.
func collidingKeys[K any](n int, mk func(i uint64) K, hash func(K) uint64) [][2]K {
	seen := map[uint32]uint64{}
	var out [][2]K
	for i := uint64(0); len(out) < n; i++ {
		k := mk(i)
		h := hash(k)
		if j, ok := seen[uint32(h>>32)]; ok && hash(mk(j)) != h {
			out = append(out, [2]K{mk(j), k})
			delete(seen, uint32(h>>32))
			continue
		}
		seen[uint32(h>>32)] = i
	}
	return out
}

// filterWorld is an account chain (Tron, Unordered) whose later blocks
// bring new addresses and txids, some of which share their hash's top 32
// bits with a key stored in an early block, so the filter must pass them
// and the segments' candidates be settled by the records.
type filterWorld struct {
	blocks []*model.Block
	addrs  [][]byte
	txids  [][32]byte
}

func newFilterWorld(nBlocks int) *filterWorld {
	w := &filterWorld{}
	tronAddr := func(i uint64) []byte {
		a := make([]byte, 21)
		a[0] = 0x41
		binary.BigEndian.PutUint64(a[13:], i)
		a[1] = 0xf1
		return a
	}
	addrPairs := collidingKeys(3, func(i uint64) []byte { return tronAddr(1<<40 + i) }, addrHash)
	txPairs := collidingKeys(3, func(i uint64) [32]byte {
		var id [32]byte
		binary.BigEndian.PutUint64(id[:], i)
		id[31] = 0xc0
		return id
	}, func(id [32]byte) uint64 { return txidHash(&id) })
	rng := rand.New(rand.NewPCG(11, 12))
	nextAddr := uint64(0)
	pick := func() []byte {
		// Mostly a new address, else one seen before.
		if nextAddr < 8 || rng.IntN(3) == 0 {
			nextAddr++
			return tronAddr(nextAddr)
		}
		return tronAddr(1 + rng.Uint64N(nextAddr))
	}
	nTx := uint64(0)
	for h := uint64(1); h <= uint64(nBlocks); h++ {
		var txs []model.Tx
		for j := 0; j < 4; j++ {
			nTx++
			var id [32]byte
			binary.BigEndian.PutUint64(id[8:], nTx)
			id[0] = 0x7d
			from, to := pick(), pick()
			// The colliding pairs: the first key early, its partner late.
			for k := range addrPairs {
				if j == 0 && h == uint64(3+k) {
					to = addrPairs[k][0]
				}
				if j == 1 && h == uint64(nBlocks-10+k) {
					from = addrPairs[k][1]
				}
			}
			for k := range txPairs {
				if j == 2 && h == uint64(4+k) {
					id = txPairs[k][0]
				}
				if j == 3 && h == uint64(nBlocks-12+k) {
					id = txPairs[k][1]
				}
			}
			var v uint256.Int
			v.SetUint64(nTx * 1000)
			txs = append(txs, model.Tx{ID: id, Index: uint32(j), FeePayer: from,
				Transfers: []model.Transfer{{From: from, To: to, Value: v}}})
			w.addrs = append(w.addrs, from, to)
			w.txids = append(w.txids, id)
		}
		w.blocks = append(w.blocks, &model.Block{Chain: model.Tron, Height: h, Hash: [32]byte{byte(h), byte(h >> 8), 0xf1}, Time: 1_600_000_000 + int64(h)*3, Txs: txs})
	}
	return w
}

// checkFilterAgainstWalk compares, for every key of the world, for random
// absent keys and for hashes that share a stored key's top 32 bits, the
// candidates the filtered lookups return with the plain walk of every
// segment (the pending one's state as it is, not settled).
func checkFilterAgainstWalk(t *testing.T, s *Store, w *filterWorld, rng *rand.Rand) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.loadState(model.Tron)
	if err != nil {
		t.Fatal(err)
	}
	g := st.seg
	sorted := func(v []uint64) []uint64 { slices.Sort(v); return v }
	var txHashes, addrHashes []uint64
	for i := range w.txids {
		txHashes = append(txHashes, txidHash(&w.txids[i]))
	}
	for _, a := range w.addrs {
		addrHashes = append(addrHashes, addrHash(a))
	}
	// Random hashes (absent but for a chance in 2³²·keys): the filters
	// reject nearly all of them.
	pass := 0
	for range 2000 {
		tx, a := rng.Uint64(), rng.Uint64()
		txHashes, addrHashes = append(txHashes, tx), append(addrHashes, a)
		if g.closedKeys() && g.txFilter().mayHave(uint32(tx>>32)) {
			pass++
		}
		if g.closedKeys() && g.addrFilter().mayHave(uint32(a>>32)) {
			pass++
		}
	}
	if pass > 40 {
		t.Errorf("the filters let %d of 4000 random hashes through", pass)
	}
	n := len(txHashes)
	for _, h := range txHashes[:n] {
		txHashes = append(txHashes, h&^0xffffffff|uint64(rng.Uint32()))
	}
	n = len(addrHashes)
	for _, h := range addrHashes[:n] {
		addrHashes = append(addrHashes, h&^0xffffffff|uint64(rng.Uint32()))
	}
	for _, h := range txHashes {
		got := sorted(g.txHashCandidates(h))
		want := sorted(g.openX.get(h, g.closedTxCandidates(h, nil)))
		if !slices.Equal(got, want) {
			t.Fatalf("txid hash %#x: candidates %v, the walk of every segment %v", h, got, want)
		}
	}
	// Below a limit (the address cache's floor), the same candidates under
	// it: limits at every segment boundary, inside segments, past the end.
	limits := []uint64{math.MaxUint64, 1, 2, st.meta.NextAddr, st.meta.NextAddr / 2, st.meta.NextAddr/3 + 1}
	for _, x := range g.segs {
		limits = append(limits, x.addrStart, x.addrStart+1, x.addrEnd)
	}
	below := func(v []uint64, limit uint64) []uint64 {
		return slices.DeleteFunc(v, func(id uint64) bool { return id >= limit })
	}
	for _, h := range addrHashes {
		want := sorted(g.openA.get(h, g.closedAddrCandidates(h, nil)))
		for _, limit := range limits {
			got := sorted(below(g.addrCandidates(h, limit), limit))
			if w := below(slices.Clone(want), limit); !slices.Equal(got, w) {
				t.Fatalf("address hash %#x below %d: candidates %v, the walk of every segment %v", h, limit, got, w)
			}
		}
	}
}

// runFilterWorld applies the world in batches with segments of 11 entries
// and an address cache of 4 (full at once, so every new address is looked
// up), reopening, applying batches again (every tx a duplicate), rolling
// back across closed segments and applying on; check runs after each step.
// It returns the store, open, and its directory.
func runFilterWorld(t *testing.T, w *filterWorld, check func(step string, s *Store)) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	open := func() *Store {
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	apply := func(s *Store, from, to, batch int) {
		for i := from; i < to; i += batch {
			if err := s.Apply(model.Tron, store.Unordered, w.blocks[i:min(i+batch, to)]); err != nil {
				t.Fatalf("blocks %d-%d: %v", i, min(i+batch, to), err)
			}
			check(fmt.Sprintf("apply %d-%d", i, min(i+batch, to)), s)
		}
	}
	s := open()
	apply(s, 0, 30, 5)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open()
	apply(s, 10, 50, 6) // blocks 10-29 again: their txs are duplicates
	if err := s.RollbackTo(model.Tron, 35); err != nil {
		t.Fatal(err)
	}
	check("rollback", s)
	apply(s, 35, len(w.blocks), 7)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open()
	apply(s, 0, len(w.blocks), len(w.blocks)) // all of it again
	return s, dir
}

// TestSegFilterSameAnswers: with the filters, every candidate list, every
// address id and every duplicate decision is what the walk of every segment
// gives: after each apply, reopen, rollback and repeated apply, the
// filtered lookups equal the walk, and the final store (digest, every
// address's id, every txid's number) equals one built with the filters
// off, as seen by the writing process and by a process that only reads
// (which builds no filter). Small filters (least capacity 8) make them regrow as segments close.
func TestSegFilterSameAnswers(t *testing.T) {
	defer func(s, a, m int) { segMaxEntries, addrCacheMax, filterMinKeys = s, a, m }(segMaxEntries, addrCacheMax, filterMinKeys)
	segMaxEntries, addrCacheMax, filterMinKeys = 11, 4, 8
	w := newFilterWorld(80)
	rng := rand.New(rand.NewPCG(3, 4))

	useSegFilter = false
	plain, _ := runFilterWorld(t, w, func(string, *Store) {})
	useSegFilter = true
	defer plain.Close()

	var probes, maybes, builds int
	stats := func(s *Store, add bool) { // the applies' lookups, not the checks'
		s.mu.Lock()
		defer s.mu.Unlock()
		if st := s.chains[model.Tron]; st != nil {
			if add {
				probes, maybes = probes+st.seg.stats.probes, maybes+st.seg.stats.maybes
			}
			builds += st.seg.stats.builds
			st.seg.stats = filterStats{}
		}
	}
	filtered, dir := runFilterWorld(t, w, func(step string, s *Store) {
		stats(s, true)
		t.Run(step, func(t *testing.T) { checkFilterAgainstWalk(t, s, w, rng) })
		stats(s, false)
	})
	if t.Failed() {
		filtered.Close()
		return
	}
	if got, want := digest(t, filtered), digest(t, plain); got != want {
		t.Fatal("the store built with the filters differs from the one built without")
	}
	for _, a := range w.addrs {
		got, err1 := filtered.addrIDOf(model.Tron, a)
		want, err2 := plain.addrIDOf(model.Tron, a)
		if got != want || err1 != nil || err2 != nil {
			t.Fatalf("address %x: id %d (%v) with the filters, %d (%v) without", a, got, err1, want, err2)
		}
	}
	for i := range w.txids {
		got, err1 := filtered.txNumOf(model.Tron, &w.txids[i])
		want, err2 := plain.txNumOf(model.Tron, &w.txids[i])
		if got != want || err1 != nil || err2 != nil {
			t.Fatalf("txid %x: tx %d (%v) with the filters, %d (%v) without", w.txids[i], got, err1, want, err2)
		}
	}
	// A process that only reads builds no filter, and finds the same.
	if err := filtered.Close(); err != nil {
		t.Fatal(err)
	}
	reader, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	for _, a := range w.addrs {
		got, err1 := reader.addrIDOf(model.Tron, a)
		want, err2 := plain.addrIDOf(model.Tron, a)
		if got != want || err1 != nil || err2 != nil {
			t.Fatalf("address %x: id %d (%v) in a reading process, %d (%v) without the filters", a, got, err1, want, err2)
		}
	}
	if st := reader.chains[model.Tron]; st.seg.txF != nil || st.seg.addrF != nil || st.seg.stats.probes == 0 {
		t.Fatalf("a reading process built filters (%d lookups)", st.seg.stats.probes)
	}
	// The applies' lookups reached the filters (a third of the addresses
	// and every repeated tx are stored, and pass), which were rebuilt as
	// they filled (by the applies' lookups or the checks').
	t.Logf("the applies' lookups: %d reached the filters, %d passed, %d builds", probes, maybes, builds)
	if probes == 0 || maybes == probes || builds < 4 {
		t.Fatalf("%d lookups reached the filters, %d passed them, %d builds", probes, maybes, builds)
	}
}

// benchSegs returns n segments of per txids and per addresses each (random
// hashes), built in memory as closeOpen would write them.
func benchSegs(b *testing.B, n, per int) []*segment {
	b.Helper()
	rng := rand.New(rand.NewPCG(uint64(n), uint64(per)))
	var segs []*segment
	for i := range n {
		start := uint64(1 + i*per)
		d := &segData{start: start, end: start + uint64(per), addrStart: start, addrEnd: start + uint64(per)}
		for j := range uint64(per) {
			d.txids = append(d.txids, hashEnt{hash: rng.Uint64(), num: start + j})
			d.addrs = append(d.addrs, hashEnt{hash: rng.Uint64(), num: start + j})
			d.times = append(d.times, 1_600_000_000)
		}
		img, err := encodeSeg(d)
		if err != nil {
			b.Fatal(err)
		}
		s, err := parseSegment(img, fmt.Sprintf("bench-%d", i))
		if err != nil {
			b.Fatal(err)
		}
		segs = append(segs, s)
	}
	return segs
}

// BenchmarkAbsentLookups: the address and txid lookups of keys no segment
// holds (a new address once the address cache is full, a new txid in an
// Unordered apply), against the number of closed segments (2¹⁵ txids and
// addresses each), with the filters and with the walk of every segment
// they replace. The filters and the segments' bitmaps are built before the
// timing.
func BenchmarkAbsentLookups(b *testing.B) {
	const per = 1 << 15
	for _, n := range []int{5, 50, 500} {
		segs := benchSegs(b, n, per)
		for _, filter := range []bool{false, true} {
			name := "walk"
			if filter {
				name = "filter"
			}
			b.Run(fmt.Sprintf("segs=%d/%s", n, name), func(b *testing.B) {
				defer func(old bool) { useSegFilter = old }(useSegFilter)
				useSegFilter = filter
				g := &segState{segs: segs, writing: true}
				end := uint64(1 + n*per)
				g.resetOpen(end, end)
				rng := rand.New(rand.NewPCG(9, 9))
				keys := make([]uint64, 1<<16)
				for i := range keys {
					keys[i] = rng.Uint64()
				}
				for _, h := range keys[:64] { // build every bitmap and filter
					g.addrCandidates(h, math.MaxUint64)
					g.txHashCandidates(h)
				}
				g.stats = filterStats{}
				found := 0
				i := 0
				for b.Loop() {
					h := keys[i&(len(keys)-1)]
					i++
					found += len(g.addrCandidates(h, math.MaxUint64)) + len(g.txHashCandidates(h^0x5555))
				}
				if found > b.N/100 {
					b.Fatalf("%d of %d random keys found", found, 2*b.N)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*b.N), "ns/lookup")
				if filter {
					b.ReportMetric(float64(g.stats.maybes)/float64(g.stats.probes), "passed/lookup")
					b.ReportMetric(g.addrF.bytesPerKey(), "filter-B/key")
				}
			})
		}
	}
}
