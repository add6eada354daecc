package pebblestore

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRadixSort: radixSort orders by the chosen bits exactly as a stable
// comparison sort does, for small and large inputs and narrow and wide
// ranges of bits.
func TestRadixSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		n      int
		lo, hi uint
		mask   uint64
	}{{10, 24, 30, 1<<30 - 1}, {5000, 24, 41, 1<<41 - 1}, {100000, 24, 64, ^uint64(0)}, {70000, 32, 64, ^uint64(0)}, {3000, 24, 25, 1<<25 - 1}, {40000, 24, 41, 1<<41 - 1}, {40000, 5, 16, 1<<16 - 1}, {40000, 3, 26, 1<<26 - 1}, {300, 10, 10, 1<<20 - 1}} {
		keys := make([]uint64, c.n)
		for i := range keys {
			keys[i] = rng.Uint64()&c.mask&^(1<<c.lo-1) | uint64(i) // low bits: the position
		}
		want := slices.Clone(keys)
		slices.SortStableFunc(want, func(a, b uint64) int {
			w := c.hi - c.lo
			m := uint64(1)<<w - 1
			if w == 64 {
				m = ^uint64(0)
			}
			return cmp.Compare(a>>c.lo&m, b>>c.lo&m)
		})
		radixSort(keys, c.lo, c.hi)
		if !slices.Equal(keys, want) {
			t.Fatalf("n=%d bits [%d,%d): radix order differs from a stable sort", c.n, c.lo, c.hi)
		}
	}
}
