package pebblestore

import (
	"testing"
	"unsafe"

	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

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
