package pebblestore

import "testing"

// reserveAdj over the Applies of one open segment (each adding what it
// reserved, until the segment holds limit entries): the entries are kept,
// every Apply finds its room, and the arrays allocated over the segment's
// life add up to well under what doubling allocates.
func TestReserveAdjGrowth(t *testing.T) {
	const limit = 1 << 16
	for _, need := range []int{1, 7, 300, 2000, 7000, limit / 3, limit, 3 * limit} {
		var d segData
		allocated, reallocs, doubling := 0, 0, 0
		for n := 0; n < limit; n += need {
			before := cap(d.adj)
			d.reserveAdj(need, limit)
			if cap(d.adj) != before {
				allocated += cap(d.adj)
				reallocs++
			}
			if cap(d.adj)-len(d.adj) < need {
				t.Fatalf("need %d at %d: room for %d", need, len(d.adj), cap(d.adj)-len(d.adj))
			}
			for k := range need {
				d.adj = append(d.adj, adjEnt{txnum: uint32(n + k)})
			}
		}
		for i, e := range d.adj {
			if e.txnum != uint32(i) {
				t.Fatalf("need %d: entry %d holds %d", need, i, e.txnum)
			}
		}
		// What push's doubling from 1024 allocates for the same entries.
		for c := 0; c < len(d.adj); {
			c = max(2*c, 1024)
			doubling += c
		}
		t.Logf("need %d: %d entries allocated in %d arrays for %d, doubling %d", need, allocated, reallocs, len(d.adj), doubling)
		if need < limit && allocated > doubling*9/10 {
			t.Errorf("need %d: %d entries allocated in %d arrays for %d, doubling %d", need, allocated, reallocs, len(d.adj), doubling)
		}
		if allocated > 2*len(d.adj)+1024 {
			t.Errorf("need %d: %d entries allocated for %d", need, allocated, len(d.adj))
		}
	}
}
