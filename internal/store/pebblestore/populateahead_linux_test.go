package pebblestore

import (
	"syscall"
	"testing"
	"unsafe"

	"github.com/spoor-dev/spoor/internal/pages"
)

// residentPages reports which pages of the mapping m are in memory.
func residentPages(t *testing.T, m []byte) []bool {
	t.Helper()
	r, err := pages.Resident(m)
	if err != nil {
		t.Fatalf("mincore: %v", err)
	}
	return r
}

// TestPopulateAhead: over an array in a fresh anonymous mapping (a Go heap
// array may reuse resident pages, and could not fail the test),
// extendSlow at an empty array populates the first 2·populateEntries
// entries, at the k-th multiple of populateEntries the entries from
// (k+1)·populateEntries to (k+2)·populateEntries, clipped to the
// capacity, and nothing else; the entries stay zero.
func TestPopulateAhead(t *testing.T) {
	const entries = 5 * populateEntries
	const size = int(unsafe.Sizeof(adjEnt{}))
	m, err := syscall.Mmap(-1, 0, entries*size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS)
	if err != nil {
		t.Skipf("no anonymous mapping: %v", err)
	}
	defer syscall.Munmap(m)
	arr := unsafe.Slice((*adjEnt)(unsafe.Pointer(&m[0])), entries)
	pagesOf := func(from, to int) (int, int) { return from * size / 4096, (to*size + 4095) / 4096 }
	want := make([]bool, len(m)/4096)
	mark := func(from, to int) {
		a, b := pagesOf(from, to)
		for p := a; p < b; p++ {
			want[p] = true
		}
	}
	check := func(when string) {
		t.Helper()
		for p, r := range residentPages(t, m) {
			if r != want[p] {
				t.Fatalf("%s: page %d resident %v, want %v", when, p, r, want[p])
			}
		}
	}
	check("fresh")
	s := extendSlow(arr[:0])
	if &s[:1][0] != &arr[0] || cap(s) != entries {
		t.Fatal("extendSlow moved an array with room")
	}
	mark(0, 2*populateEntries)
	check("at 0")
	extendSlow(arr[:populateEntries])
	mark(2*populateEntries, 3*populateEntries)
	check("at populateEntries")
	extendSlow(arr[:2*populateEntries])
	mark(3*populateEntries, 4*populateEntries)
	check("at 2·populateEntries")
	extendSlow(arr[:2*populateEntries+1]) // not a step's first entry: nothing
	check("inside a step")
	extendSlow(arr[:4*populateEntries]) // the next step is past the capacity
	check("at the last step")
	for i := range arr {
		if arr[i] != (adjEnt{}) {
			t.Fatalf("entry %d changed: %+v", i, arr[i])
		}
	}
	// A full array grows, keeping its entries.
	full := make([]adjEnt, 3, 3)
	full[2].addr = 7
	g := extendSlow(full)
	if len(g) != 3 || cap(g) < 3+1024 || g[2].addr != 7 {
		t.Fatalf("grown: len %d cap %d last %+v", len(g), cap(g), g[2])
	}
}
