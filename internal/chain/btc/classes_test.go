package btc

import "testing"

// Every request gets a slice of its length with at most an eighth more
// capacity (beyond 16), from its own class or one of the next few, and
// freed slices are lent again.
func TestSizeClasses(t *testing.T) {
	prevK, prevCap := 0, 0
	for n := 1; n < 1<<20; n++ {
		k, c := sizeClass(n)
		if c < n || n > 16 && c > n+n/8 || k < prevK || k > prevK+1 || (k == prevK) != (c == prevCap) {
			t.Fatalf("n=%d: class %d capacity %d (previous %d, %d)", n, k, c, prevK, prevCap)
		}
		if k2, c2 := sizeClass(c); k2 != k || c2 != c {
			t.Fatalf("capacity %d of class %d is in class %d (%d)", c, k, k2, c2)
		}
		prevK, prevCap = k, c
	}
	var cl classes[int]
	s, reused := cl.get(1000)
	if reused || len(s) != 1000 || cap(s) != 1024 {
		t.Fatalf("fresh: len %d cap %d reused %v", len(s), cap(s), reused)
	}
	cl.put(s)
	if s2, reused := cl.get(950); !reused || &s2[0] != &s[0] || len(s2) != 950 {
		t.Fatalf("a request of a smaller class: reused %v", reused)
	}
	cl.put(s)
	if _, reused := cl.get(1100); reused {
		t.Fatal("a slice too small was lent")
	}
	if _, reused := cl.get(0); reused {
		t.Fatal("an empty request got memory")
	}
	cl.put(make([]int, 1000)) // not a class capacity: dropped
	if _, reused := cl.get(1000); !reused {
		// the 1024 one put back above is still there
		t.Fatal("the freed slice was not lent again")
	}
	if _, reused := cl.get(1000); reused {
		t.Fatal("a slice of a capacity no class has was kept")
	}
}
