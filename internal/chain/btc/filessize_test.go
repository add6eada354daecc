package btc

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFilesSize: a file's size, a folder's blk*.dat files only, 0 for a
// path that is not there.
func TestFilesSize(t *testing.T) {
	dir := t.TempDir()
	for name, n := range map[string]int{"blk00000.dat": 1000, "blk00001.dat": 24, "rev00000.dat": 500, "xor.dat": 8} {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := FilesSize(dir); got != 1024 {
		t.Fatalf("folder: %d bytes, want 1024 (the blk files)", got)
	}
	if got := FilesSize(filepath.Join(dir, "rev00000.dat")); got != 500 {
		t.Fatalf("file: %d bytes, want 500", got)
	}
	if got := FilesSize(filepath.Join(dir, "missing")); got != 0 {
		t.Fatalf("missing: %d bytes", got)
	}
}
