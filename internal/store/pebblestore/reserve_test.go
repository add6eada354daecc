package pebblestore

import (
	"testing"
	"unsafe"

	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// TestReserve: a store told what is coming sizes its address cache and
// the open segment's adjacency array once (and within their caps), the
// ingest then grows neither, and the store it ends with is the one an
// unreserved ingest of the same blocks ends with.
func TestReserve(t *testing.T) {
	w := newUTXOWorld(11, 40)
	plain := openTestStore(t)
	for i := 0; i < len(w.blocks); i += 10 {
		if err := plain.Apply(model.BTC, store.Linked, w.blocks[i:i+10]); err != nil {
			t.Fatal(err)
		}
	}
	s := openTestStore(t)
	if err := s.Reserve(model.BTC, 5000, 20_000); err != nil {
		t.Fatal(err)
	}
	st := s.chains[model.BTC]
	slots, adj := len(st.addrs.cur.slots), unsafe.SliceData(st.seg.open.adj)
	if slots*addrCacheLoad < 5000*8 {
		t.Fatalf("%d cache slots for 5,000 addresses", slots)
	}
	if c := cap(st.seg.open.adj); c < 25_000 {
		t.Fatalf("room for %d adjacency entries, want 25,000", c)
	}
	for i := 0; i < len(w.blocks); i += 10 {
		if err := s.Apply(model.BTC, store.Linked, w.blocks[i:i+10]); err != nil {
			t.Fatal(err)
		}
	}
	if len(st.addrs.cur.slots) != slots || unsafe.SliceData(st.seg.open.adj) != adj {
		t.Fatalf("grew after the reservation: %d → %d cache slots, adjacency array moved %v",
			slots, len(st.addrs.cur.slots), unsafe.SliceData(st.seg.open.adj) != adj)
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
	if c := cap(cs.seg.open.adj); c != 1000 {
		t.Fatalf("room for %d adjacency entries with segments of 1,000", c)
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
	s, err := OpenWith(t.TempDir(), Options{SegmentEntries: 4000})
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
	if digest(t, s) != digest(t, one) {
		t.Fatal("the store with reused arrays differs from one ingest into one segment")
	}
}

// Reserve sizes the open segment's address and txid indexes, times and
// spent outputs too (within a segment): an ingest within the estimate
// moves none of them, and stores what an unreserved one stores.
func TestReserveRest(t *testing.T) {
	w := newUTXOWorld(12, 40)
	plain := openTestStore(t)
	s := openTestStore(t)
	if err := s.Reserve(model.BTC, 5000, 20_000); err != nil {
		t.Fatal(err)
	}
	d := s.chains[model.BTC].seg.open
	for _, c := range []struct {
		what      string
		have, min int
	}{{"addrs", cap(d.addrs), 5000}, {"txids", cap(d.txids), 5000}, {"times", cap(d.times), 5000}, {"spent", cap(d.spent), 10_000}} {
		if c.have < c.min {
			t.Fatalf("room for %d %s, want %d", c.have, c.what, c.min)
		}
	}
	arrays := func(d *segData) [4]unsafe.Pointer {
		return [4]unsafe.Pointer{unsafe.Pointer(unsafe.SliceData(d.addrs)), unsafe.Pointer(unsafe.SliceData(d.txids)),
			unsafe.Pointer(unsafe.SliceData(d.times)), unsafe.Pointer(unsafe.SliceData(d.spent))}
	}
	before := arrays(d)
	for i := 0; i < len(w.blocks); i += 10 {
		for _, st := range []*Store{plain, s} {
			if err := st.Apply(model.BTC, store.Linked, w.blocks[i:i+10]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(d.txids) == 0 || len(d.spent) == 0 || s.chains[model.BTC].seg.open != d {
		t.Fatal("the ingest did not fill the reserved open segment")
	}
	if after := arrays(d); after != before {
		t.Fatalf("an array moved after the reservation: %v → %v", before, after)
	}
	if digest(t, s) != digest(t, plain) {
		t.Fatal("a reserved ingest stored something else")
	}

	// Within a segment, whatever the estimate.
	capped, err := OpenWith(t.TempDir(), Options{SegmentEntries: 1000, AddrCacheEntries: 300})
	if err != nil {
		t.Fatal(err)
	}
	defer capped.Close()
	if err := capped.Reserve(model.BTC, 1<<40, 1<<40); err != nil {
		t.Fatal(err)
	}
	cd := capped.chains[model.BTC].seg.open
	if max(cap(cd.addrs), cap(cd.txids), cap(cd.times), cap(cd.spent)) > 1000 {
		t.Fatalf("reserved past a segment of 1,000: %d %d %d %d", cap(cd.addrs), cap(cd.txids), cap(cd.times), cap(cd.spent))
	}
}
