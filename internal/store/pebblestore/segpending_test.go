package pebblestore

import (
	"slices"
	"testing"

	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// TestPendingLookups: while a segment is closed in the background, every
// txid and new address of it is found among the closed segments'
// candidates (through its sorted hash keys, hashKeyIndex), by its own
// number, as Applies that go on look them up.
func TestPendingLookups(t *testing.T) {
	defer func(s int) { segMaxEntries = s }(segMaxEntries)
	segMaxEntries = 400
	w := newFilterWorld(60)
	s := openTestStore(t)
	seen := 0
	for i := 0; i < len(w.blocks); i += 4 {
		if err := s.Apply(model.Tron, store.Unordered, w.blocks[i:min(i+4, len(w.blocks))]); err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		st := s.chains[model.Tron]
		if st != nil && st.seg != nil && st.seg.pending != nil {
			g := st.seg
			p := g.pending
			seen++
			for _, e := range p.txids {
				if got := g.closedTxCandidates(e.hash, nil); !slices.Contains(got, e.num) {
					t.Errorf("pending tx %d (hash %x): candidates %v", e.num, e.hash, got)
				}
			}
			for _, e := range p.addrs {
				if got := g.closedAddrCandidates(e.hash, nil); !slices.Contains(got, e.num) {
					t.Errorf("pending address %d (hash %x): candidates %v", e.num, e.hash, got)
				}
			}
		}
		s.mu.Unlock()
	}
	if seen == 0 {
		t.Fatal("no background close was pending after an Apply: the test no longer looks into one")
	}
}
