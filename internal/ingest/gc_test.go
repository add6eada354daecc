package ingest

import (
	"runtime/debug"
	"testing"
)

// gcPercent reads the collector's current target.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// TestBigInputGC: a big input runs at GCPercent and the setting comes back
// afterwards; a small input, or one with GOGC set, leaves it alone.
func TestBigInputGC(t *testing.T) {
	before := gcPercent()
	if before == GCPercent {
		t.Fatalf("the test needs a starting GC percent other than %d", GCPercent)
	}
	restore := GCForInput(bigInput)
	if got := gcPercent(); got != GCPercent {
		t.Fatalf("big input: GC percent %d, want %d", got, GCPercent)
	}
	restore()
	if got := gcPercent(); got != before {
		t.Fatalf("after: GC percent %d, want %d back", got, before)
	}
	r := GCForInput(bigInput - 1)
	if got := gcPercent(); got != before {
		t.Fatalf("small input: GC percent %d, want %d untouched", got, before)
	}
	r()
	t.Setenv("GOGC", "200")
	r = GCForInput(1 << 40)
	if got := gcPercent(); got != before {
		t.Fatalf("GOGC set: GC percent %d, want %d untouched", got, before)
	}
	r()
}
