package pebblestore

import (
	"testing"
	"unsafe"

	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// TestReserve: a store told what is coming sizes its address cache and the
// open segment's arrays (adjacency, address and txid indexes, times, spent
// outputs) once, within their caps and a segment; the ingest then grows
// none of them, and the store it ends with is the one an unreserved ingest
// of the same blocks ends with.
func TestReserve(t *testing.T) {
	w := newUTXOWorld(11, 40)
	plain := openTestStore(t)
	s := openTestStore(t)
	if err := s.Reserve(model.BTC, 5000, 20_000); err != nil {
		t.Fatal(err)
	}
	st := s.chains[model.BTC]
	d := st.seg.open
	if slots := len(st.addrs.cur.slots); slots*addrCacheLoad < 5000*8 {
		t.Fatalf("%d cache slots for 5,000 addresses", slots)
	}
	for _, c := range []struct {
		what      string
		have, min int
	}{{"adjacency entries", cap(d.adj), 25_000}, {"addrs", cap(d.addrs), 5000}, {"txids", cap(d.txids), 5000},
		{"times", cap(d.times), 5000}, {"spent", cap(d.spent), 10_000}} {
		if c.have < c.min {
			t.Fatalf("room for %d %s, want %d", c.have, c.what, c.min)
		}
	}
	arrays := func() [6]unsafe.Pointer {
		return [6]unsafe.Pointer{unsafe.Pointer(unsafe.SliceData(st.addrs.cur.slots)), unsafe.Pointer(unsafe.SliceData(d.adj)),
			unsafe.Pointer(unsafe.SliceData(d.addrs)), unsafe.Pointer(unsafe.SliceData(d.txids)),
			unsafe.Pointer(unsafe.SliceData(d.times)), unsafe.Pointer(unsafe.SliceData(d.spent))}
	}
	before := arrays()
	for i := 0; i < len(w.blocks); i += 10 {
		for _, x := range []*Store{plain, s} {
			if err := x.Apply(model.BTC, store.Linked, w.blocks[i:i+10]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(d.txids) == 0 || len(d.spent) == 0 || st.seg.open != d {
		t.Fatal("the ingest did not fill the reserved open segment")
	}
	if after := arrays(); after != before {
		t.Fatalf("a table or array (cache, adjacency, addrs, txids, times, spent) moved after the reservation: %v → %v", before, after)
	}
	if digest(t, s) != digest(t, plain) {
		t.Fatal("a reserved ingest stored something else")
	}

	// The caps hold whatever the estimate.
	capped, err := OpenWith(t.TempDir(), Options{SegmentEntries: 1000, AddrCacheEntries: 300})
	if err != nil {
		t.Fatal(err)
	}
	defer capped.Close()
	if err := capped.Reserve(model.BTC, 1<<40, 1<<40); err != nil {
		t.Fatal(err)
	}
	cs := capped.chains[model.BTC]
	if n, want := len(cs.addrs.cur.slots), max(addrCacheMin, cs.addrs.slots); n != want {
		t.Fatalf("%d cache slots for a cap of 300 addresses (a generation's table: %d), want %d", n, cs.addrs.slots, want)
	}
	cd := cs.seg.open
	if c, want := cap(cd.adj), 1000+adjSlack(1000); c != want {
		t.Fatalf("room for %d adjacency entries with segments of 1,000, want %d (the slack for the Apply that crosses the limit)", c, want)
	}
	if max(cap(cd.addrs), cap(cd.txids), cap(cd.times), cap(cd.spent)) > 1000 {
		t.Fatalf("reserved past a segment of 1,000: %d %d %d %d", cap(cd.addrs), cap(cd.txids), cap(cd.times), cap(cd.spent))
	}
}

// TestSpareAdj: once a segment close has settled, the open segment moves
// into that segment's adjacency array rather than growing its own, and the
// store ingested that way (many small segments) holds what one ingest into
// a single segment holds.
func TestSpareAdj(t *testing.T) {
	w := newUTXOWorld(12, 1500)
	one := openTestStore(t)
	if err := one.Apply(model.BTC, store.Linked, w.blocks); err != nil {
		t.Fatal(err)
	}
	s, err := OpenWith(t.TempDir(), Options{SegmentEntries: 1500})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	closed := map[*adjEnt]bool{}
	closedSpent := map[*spentEnt]bool{}
	reused, reusedSpent, closes := 0, 0, 0
	var last *pendingSeg
	for i := 0; i < len(w.blocks); i += 20 {
		if err := s.Apply(model.BTC, store.Linked, w.blocks[i:min(i+20, len(w.blocks))]); err != nil {
			t.Fatal(err)
		}
		g := s.chains[model.BTC].seg
		if closed[unsafe.SliceData(g.open.adj)] {
			reused++
		}
		if closedSpent[unsafe.SliceData(g.open.spent)] {
			reusedSpent++
		}
		if g.pending != nil && g.pending != last {
			closed[unsafe.SliceData(g.pending.adj)] = true
			closedSpent[unsafe.SliceData(g.pending.spent)] = true
			closes, last = closes+1, g.pending
		}
	}
	if closes < 3 || reused == 0 || reusedSpent == 0 {
		t.Fatalf("%d segment closes, %d and %d Applies into a closed segment's adjacency and spends arrays", closes, reused, reusedSpent)
	}
	t.Logf("%d closes, %d distinct adjacency arrays, %d spends", closes, len(closed), len(closedSpent))
	// Two sets of arrays take turns (closedCap): the segments closed hold
	// at most three distinct adjacency and spends arrays, the first
	// segment's and the two in turn.
	if len(closed) > 3 || len(closedSpent) > 3 {
		t.Fatalf("%d segment closes held %d distinct adjacency and %d spends arrays, want at most 3", closes, len(closed), len(closedSpent))
	}
	if digest(t, s) != digest(t, one) {
		t.Fatal("the store with reused arrays differs from one ingest into one segment")
	}
}
