package ingest

import (
	"os"
	"path/filepath"
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

// TestBlocksSize: a file's size, a folder's blk*.dat files only, 0 for a
// path that is not there.
func TestBlocksSize(t *testing.T) {
	dir := t.TempDir()
	for name, n := range map[string]int{"blk00000.dat": 1000, "blk00001.dat": 24, "rev00000.dat": 500, "xor.dat": 8} {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := BlocksSize(dir); got != 1024 {
		t.Fatalf("folder: %d bytes, want 1024 (the blk files)", got)
	}
	if got := BlocksSize(filepath.Join(dir, "rev00000.dat")); got != 500 {
		t.Fatalf("file: %d bytes, want 500", got)
	}
	if got := BlocksSize(filepath.Join(dir, "missing")); got != 0 {
		t.Fatalf("missing: %d bytes", got)
	}
}
