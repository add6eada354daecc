package pebblestore

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"

	"github.com/holiman/uint256"
)

// tEnt is an adjacency entry in absolute terms: what tests write and
// compare, whatever form (narrow or wide) the segment keeps it in.
type tEnt struct {
	addr, txnum, in, out, nIn, nOut uint64
	asset                           uint32
}

// add appends e to d's adjacency.
func (d *segData) add(e tEnt) {
	in, out := uint256.NewInt(e.in), uint256.NewInt(e.out)
	d.addAdj(e.addr, e.txnum, e.asset, e.nIn, e.nOut, in, out)
}

// ents returns d's adjacency entries decoded, in array order (amounts
// must fit 64 bits: the tests that use it write no larger ones).
func (d *segData) ents() []tEnt {
	out := make([]tEnt, len(d.adj))
	for i := range d.adj {
		x := d.entry(&d.adj[i])
		out[i] = tEnt{addr: d.entAddr(&d.adj[i]), txnum: x.txnum, in: x.in.Uint64(), out: x.out.Uint64(), nIn: x.nIn, nOut: x.nOut, asset: x.asset}
	}
	return out
}

// fullEnt is an entry with amounts of any width.
type fullEnt struct {
	addr uint64
	e    segEntry
}

func (d *segData) fullEnts() []fullEnt {
	out := make([]fullEnt, len(d.adj))
	for i := range d.adj {
		out[i] = fullEnt{d.entAddr(&d.adj[i]), d.entry(&d.adj[i])}
	}
	return out
}

func TestAdjEntSize(t *testing.T) {
	if n := unsafe.Sizeof(adjEnt{}); n != 32 {
		t.Fatalf("adjEnt is %d bytes, want 32", n)
	}
}

// TestAdjEntWide: entries whose every field is at or past the edge of the
// narrow form (ids below the segment's address base or 2³² past it, txnums
// 2³² past the segment's start, counts of 65,535 and more, amounts past 64
// bits) read back exactly, through a truncate, an appendData across
// segments of other bases (a merge, a digest), and a segment file's
// encoding and load; the narrow ones stay narrow.
func TestAdjEntWide(t *testing.T) {
	big := new(uint256.Int).Lsh(uint256.NewInt(3), 100)
	for _, c := range []struct {
		name                  string
		start, addrStart      uint64
		wantBase              uint64
		addrs, counts, farTxs []uint64 // values tried, beside narrow ones
	}{
		{"base 0", 1000, 5000, 0, []uint64{1<<32 - 1, 1 << 32, 1<<40 + 3}, []uint64{0xfffe, 0xffff, 1 << 20}, []uint64{1000 + 1<<32 - 1, 1000 + 1<<32}},
		{"sliding base", 1 << 40, 1 << 33, 1<<33 - adjAddrSpan, []uint64{1<<33 - adjAddrSpan - 1, 1<<33 - adjAddrSpan, 1 << 33, 1<<33 - adjAddrSpan + 1<<32}, []uint64{0xffff, 3}, []uint64{1<<40 + 1<<32 - 1, 1<<40 + 1<<32 + 5}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := &segData{start: c.start, end: c.start, addrStart: c.addrStart, addrEnd: c.addrStart}
			if b := d.addrBase(); b != c.wantBase {
				t.Fatalf("address base %d, want %d", b, c.wantBase)
			}
			rng := rand.New(rand.NewPCG(c.start, 9))
			var want []fullEnt
			var wide int
			add := func(tx uint64) {
				e := fullEnt{addr: c.addrStart + rng.Uint64N(100)}
				e.e.txnum, e.e.asset = tx, rng.Uint32N(3)
				e.e.nIn, e.e.nOut = rng.Uint64N(4), rng.Uint64N(4)
				e.e.in.SetUint64(rng.Uint64())
				e.e.out.SetUint64(rng.Uint64N(1 << 30))
				switch rng.IntN(8) {
				case 0:
					e.addr = c.addrs[rng.IntN(len(c.addrs))]
				case 1:
					e.e.nIn = c.counts[rng.IntN(len(c.counts))]
				case 2:
					e.e.nOut = c.counts[rng.IntN(len(c.counts))]
				case 3:
					e.e.out = *big
				}
				if e.addr-c.wantBase >= 1<<32 || tx-c.start >= 1<<32 || e.e.nIn >= 0xffff || e.e.nOut > 0xffff || !e.e.out.IsUint64() {
					wide++
				}
				want = append(want, e)
				d.addEnt(e.addr, &e.e)
			}
			tx := c.start
			for i := 0; i < 2400; i++ {
				add(tx)
				tx++ // one entry a tx: no two alike (which an unstable sort could swap)
			}
			d.end = tx + 1
			d.times = make([]int64, d.end-d.start)
			if len(d.wide) != wide || wide < 500 || len(d.adj)-wide < 1000 {
				t.Fatalf("%d wide entries of %d, want %d", len(d.wide), len(d.adj), wide)
			}
			if got := d.fullEnts(); !slices.Equal(got, want) {
				t.Fatal("entries read back differ from those added")
			}

			// Truncate at a txnum: the entries before it, and the wide
			// array cut where the first dropped wide entry was.
			cut := want[1700].e.txnum
			k := slices.IndexFunc(want, func(e fullEnt) bool { return e.e.txnum >= cut })
			tr := *d
			tr.adj, tr.wide, tr.times = slices.Clone(d.adj), slices.Clone(d.wide), slices.Clone(d.times)
			tr.truncate(cut, tr.addrEnd)
			if got := tr.fullEnts(); !slices.Equal(got, want[:k]) {
				t.Fatalf("truncated at %d: %d entries, want %d", cut, len(got), k)
			}
			for i := range tr.adj {
				if e := &tr.adj[i]; e.nIn == adjWide && int(e.in) >= len(tr.wide) {
					t.Fatalf("entry %d names wide entry %d of %d", i, e.in, len(tr.wide))
				}
			}
			if nw := len(tr.wide); nw == len(d.wide) || nw == 0 {
				t.Fatalf("truncate kept %d of %d wide entries", nw, len(d.wide))
			}

			// Through a segment file: the entries in address order, each
			// address's in append order.
			enc := *d
			enc.adj = slices.Clone(d.adj) // encodeSeg may sort it in place
			img, err := encodeSeg(&enc)
			if err != nil {
				t.Fatal(err)
			}
			s, err := parseSegment(img, "wide.seg")
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.load(nil)
			if err != nil {
				t.Fatal(err)
			}
			sorted := slices.Clone(want)
			slices.SortStableFunc(sorted, func(a, b fullEnt) int { return cmpU64(a.addr, b.addr) })
			if g := got.fullEnts(); !slices.Equal(g, sorted) {
				t.Fatal("entries loaded from the segment file differ from those added")
			}

			// Txnums 2^32 and more past the start (no times: a real
			// segment that long would hold 2^32 of them), then appended to
			// segments of other bases (a digest's: 0 and 0; one whose
			// addresses start past adjAddrSpan).
			for _, far := range c.farTxs {
				for i := 0; i < 100; i++ {
					add(far)
				}
			}
			if got := d.fullEnts(); !slices.Equal(got, want) {
				t.Fatal("entries far past the start read back differ from those added")
			}
			for _, to := range []*segData{{}, {start: 7, end: c.start, addrStart: 1 << 34}} {
				to.appendData(d)
				if got := to.fullEnts(); !slices.Equal(got, want) {
					t.Fatalf("appended to a segment at (%d, %d): entries differ", to.start, to.addrStart)
				}
			}
		})
	}
}

// TestWriteSegTrusted: the segment a close writes and maps without the
// whole-file checks (writeSeg checks the image while the file is written)
// is the one a checked open of the file gives: the same fields, hash
// sections and lookups.
func TestWriteSegTrusted(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	d := &segData{start: 10, end: 10, addrStart: 1, addrEnd: 1}
	for n := d.start; n < 5010; n++ {
		d.times = append(d.times, 1_600_000_000+int64(n/3))
		d.txids = append(d.txids, hashEnt{hash: rng.Uint64(), num: n})
		d.addrs = append(d.addrs, hashEnt{hash: rng.Uint64(), num: d.addrEnd})
		d.add(tEnt{addr: d.addrEnd, txnum: n, out: 1 + rng.Uint64N(1<<40), nOut: 1})
		d.addrEnd++
		d.end = n + 1
	}
	path := t.TempDir() + "/t.seg"
	got, err := writeSeg(d, nil, nil, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer got.close()
	want, err := openSegment(path)
	if err != nil {
		t.Fatal(err)
	}
	defer want.close()
	if got.start != want.start || got.end != want.end || got.nAdj != want.nAdj || got.nAddr != want.nAddr ||
		got.gw != want.gw || got.sw != want.sw || got.txh.n != want.txh.n || got.addrh.n != want.addrh.n || !bytes.Equal(got.txh.body, want.txh.body) {
		t.Fatalf("trusted open %+v, checked open %+v", got, want)
	}
	for _, e := range d.txids {
		if g, w := got.txnums(e.hash), want.txnums(e.hash); !slices.Equal(g, w) || !slices.Contains(g, e.num) {
			t.Fatalf("txid hash %x: %v, checked %v", e.hash, g, w)
		}
	}
	for _, e := range d.addrs {
		if g, w := got.addrIDs(e.hash), want.addrIDs(e.hash); !slices.Equal(g, w) || !slices.Contains(g, e.num) {
			t.Fatalf("address hash %x: %v, checked %v", e.hash, g, w)
		}
	}
	// The checks a trusted open skips are the ones that find damage
	// inside the hash sections: a checked open of such bytes fails.
	img, err := encodeSeg(d)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := parseSegment(img, "x")
	off := len(segMagic) + len(s.txids) - 1 // the txid section's last byte
	img[off] ^= 0xff
	if _, err := parseSegment(img, "x"); err == nil {
		t.Fatal("a damaged txid section opened")
	}
}
