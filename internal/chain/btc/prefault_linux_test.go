package btc

import (
	"syscall"
	"testing"

	"github.com/spoor-dev/spoor/internal/pages"
)

// resident reports, page by page, whether b's pages are in memory.
func resident(t *testing.T, b []byte) []bool {
	t.Helper()
	r, err := pages.Resident(b)
	if err != nil {
		t.Fatalf("mincore: %v", err)
	}
	return r
}

// TestPrefault: prefault makes every whole page of fresh memory resident
// and leaves its content zero; the pages around a range that does not
// start or end on a page boundary are not touched. Fresh memory here is an
// anonymous mapping of its own (a Go heap array may reuse pages that are
// resident already, and could not fail the test).
func TestPrefault(t *testing.T) {
	const npages = 16
	m, err := syscall.Mmap(-1, 0, npages*pageSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS)
	if err != nil {
		t.Skipf("no anonymous mapping: %v", err)
	}
	defer syscall.Munmap(m)
	for i, r := range resident(t, m) {
		if r {
			t.Fatalf("page %d of a fresh mapping is resident before prefault", i)
		}
	}
	// From the middle of page 1 to the middle of page 13: pages 2–12 whole.
	prefault(m[pageSize+100 : 13*pageSize+100])
	for i, r := range resident(t, m) {
		if want := i >= 2 && i <= 12; r != want {
			t.Errorf("page %d resident %v after prefault, want %v", i, r, want)
		}
	}
	for i, c := range m {
		if c != 0 {
			t.Fatalf("byte %d is %#x after prefault, want 0", i, c)
		}
	}
	// The pages are writable without a copy: written, they read back.
	m[2*pageSize] = 7
	if m[2*pageSize] != 7 {
		t.Fatal("prefaulted page not writable")
	}
	prefault(m[:10]) // less than a page: nothing, no error
	prefault(nil)
}

// TestTouchPages: the fallback writes a byte a page, so every page of the
// range becomes resident, zero.
func TestTouchPages(t *testing.T) {
	m, err := syscall.Mmap(-1, 0, 8*pageSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS)
	if err != nil {
		t.Skipf("no anonymous mapping: %v", err)
	}
	defer syscall.Munmap(m)
	touchPages(m[:5*pageSize])
	for i, r := range resident(t, m) {
		if want := i < 5; r != want {
			t.Errorf("page %d resident %v, want %v", i, r, want)
		}
	}
	for i, c := range m {
		if c != 0 {
			t.Fatalf("byte %d is %#x, want 0", i, c)
		}
	}
}
