package pebblestore

import (
	"fmt"

	"github.com/spoor-dev/spoor/internal/model"
)

// heightSet is the set of a chain's stored block heights, kept in memory so
// that an Unordered Apply (exports, which may overlap) looks a block up in
// the block log only when its height is already stored: a fresh Tron export has
// millions of blocks of one or two transactions, and a point lookup each
// cost more than the rest of the block's work. It is exact: built by
// scanning the block log, extended after each commit with the heights the
// batch stored, and dropped by Undo (rebuilt when next needed).
type heightSet map[uint64]*[1024]uint64 // height>>16 → 65,536 bits

func (h heightSet) has(n uint64) bool {
	c := h[n>>16]
	return c != nil && c[n>>6&1023]&(1<<(n&63)) != 0
}

func (h heightSet) add(n uint64) {
	c := h[n>>16]
	if c == nil {
		c = new([1024]uint64)
		h[n>>16] = c
	}
	c[n>>6&1023] |= 1 << (n & 63)
}

// heightsFor returns the chain's height set, building it when needed.
// Callers hold s.mu.
func (s *Store) heightsFor(c model.Chain, st *chainState) (heightSet, error) {
	if st.heights != nil {
		return st.heights, nil
	}
	h := heightSet{}
	if err := st.blockLog.scan(0, st.meta.Blocks, func(r uint64, rec []byte) error {
		n, _, err := blockRecKey(rec)
		if err != nil {
			return fmt.Errorf("%s record %d: %w", st.blockLog.path, r, err)
		}
		h.add(n)
		return nil
	}); err != nil {
		return nil, err
	}
	st.heights = h
	return h, nil
}
