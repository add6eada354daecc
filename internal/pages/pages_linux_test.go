package pages

import (
	"syscall"
	"testing"
	"unsafe"
)

// Populate makes exactly the whole pages inside its range resident (not
// the partial pages at either end, nothing outside) and changes no byte.
// Fresh memory is an anonymous mapping of its own: a Go heap array may
// reuse resident pages, and could not fail the test.
func TestPopulate(t *testing.T) {
	const n = 16
	m, err := syscall.Mmap(-1, 0, n*Size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS)
	if err != nil {
		t.Skipf("no anonymous mapping: %v", err)
	}
	defer syscall.Munmap(m)
	m[12*Size+7] = 9 // a page present already, with a byte set
	r, err := Resident(m)
	if err != nil {
		t.Fatal(err)
	}
	for p, in := range r {
		if in != (p == 12) {
			t.Fatalf("fresh: page %d resident %v", p, in)
		}
	}
	// From inside page 2 to inside page 13: pages 3–12 are whole.
	if !Populate(unsafe.Pointer(&m[2*Size+100]), 11*Size-200) {
		t.Skip("this kernel has no MADV_POPULATE_WRITE")
	}
	if r, err = Resident(m); err != nil {
		t.Fatal(err)
	}
	for p, in := range r {
		if want := p >= 3 && p <= 12; in != want {
			t.Fatalf("page %d resident %v, want %v", p, in, want)
		}
	}
	// Less than a whole page: nothing.
	if !Populate(unsafe.Pointer(&m[14*Size+1]), Size) {
		t.Fatal("an empty range was refused")
	}
	if r, _ = Resident(m); r[14] || r[15] {
		t.Fatal("a range without a whole page populated one")
	}
	// Last, as reading maps the zero page into every page read.
	for i, b := range m {
		if b != 0 && !(i == 12*Size+7 && b == 9) {
			t.Fatalf("byte %d is %d after Populate", i, b)
		}
	}
}
