package prefetch

import (
	"math/rand/v2"
	"testing"
	"unsafe"
)

// A prefetch has no effect but on time (it never faults and changes no
// memory), so there is nothing for a test to check: BenchmarkReadAhead
// measures it.

// BenchmarkReadAhead probes a table of 2^25 slots (256 MiB: far past the
// caches) for windows of 32 random hashes, as the store's resolve step
// does, first asking for the window's slots ahead: not at all, with a
// loop of loads, or with prefetches; then, for each hash, a little work
// that depends on its slot (the "resolve").
func BenchmarkReadAhead(b *testing.B) {
	const bits, window = 25, 32
	tab := make([]uint64, 1<<bits)
	for i := range tab {
		tab[i] = uint64(i) * 0x9e3779b97f4a7c15
	}
	hs := make([]uint64, 1<<16)
	for i := range hs {
		hs[i] = rand.Uint64()
	}
	const shift = 64 - bits
	var sink uint64
	resolve := func(w []uint64) {
		for _, h := range w {
			v := tab[h>>shift]
			for k := 0; k < 20; k++ { // some work on the value
				v = v*0xbf58476d1ce4e5b9 + h
			}
			sink += v
		}
	}
	for _, mode := range []string{"none", "loads", "prefetch"} {
		b.Run(mode, func(b *testing.B) {
			n := 0
			for b.Loop() {
				for i := 0; i+window <= len(hs); i += window {
					w := hs[i : i+window]
					switch mode {
					case "loads":
						for _, h := range w {
							sink += tab[h>>shift]
						}
					case "prefetch":
						Indexed(unsafe.Pointer(&tab[0]), w, shift, 3)
					}
					resolve(w)
					n += window
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/probe")
		})
	}
	_ = sink
}
