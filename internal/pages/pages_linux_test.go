package pages

import (
	"fmt"
	"os"
	"strings"
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

// Huge: the whole huge pages inside a range are backed by transparent
// huge pages once populated, where the kernel's setting allows them
// ("madvise" or "always"); a range without a whole aligned huge page is
// refused. Fresh memory of its own, as above.
func TestHuge(t *testing.T) {
	setting, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || !strings.Contains(string(setting), "[madvise]") && !strings.Contains(string(setting), "[always]") {
		t.Skipf("transparent huge pages are off here (%q, %v)", setting, err)
	}
	const n = 4 * HugeSize
	m, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS)
	if err != nil {
		t.Skipf("no anonymous mapping: %v", err)
	}
	defer syscall.Munmap(m)
	p := unsafe.Pointer(&m[0])
	// From inside a huge page to less than one huge page later: none is
	// whole (the mapping is page aligned, not huge-page aligned: start at
	// the first aligned huge page inside it).
	off := int((HugeSize - uintptr(p)%HugeSize) % HugeSize)
	if Huge(unsafe.Pointer(&m[off+Size]), HugeSize) {
		t.Fatal("a range without a whole aligned huge page was accepted")
	}
	if !Huge(p, n) {
		t.Fatal("MADV_HUGEPAGE refused")
	}
	if !Populate(p, n) {
		t.Skip("this kernel has no MADV_POPULATE_WRITE")
	}
	// The mapping's AnonHugePages in /proc/self/smaps: at least one whole
	// huge page lies inside 8 MiB however it is aligned.
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skipf("no smaps: %v", err)
	}
	start := uintptr(p)
	in, huge := false, -1
	for _, line := range strings.Split(string(smaps), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			var lo, hi uintptr
			fmt.Sscanf(f[0], "%x-%x", &lo, &hi)
			in = lo <= start+n/2 && start+n/2 < hi
			continue
		}
		if in && strings.HasPrefix(line, "AnonHugePages:") {
			fmt.Sscanf(strings.TrimPrefix(line, "AnonHugePages:"), "%d", &huge)
		}
	}
	if huge < 0 {
		t.Fatal("the mapping was not found in /proc/self/smaps")
	}
	if huge < HugeSize>>10 {
		t.Errorf("%d kB of huge pages in the populated mapping, want at least %d (a busy machine may have none free)", huge, HugeSize>>10)
	}
	t.Logf("%d kB in huge pages", huge)
}
