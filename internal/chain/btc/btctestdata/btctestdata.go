// Package btctestdata finds the real mainnet Bitcoin blocks that ship in
// btcd's module (database/testdata, wire/testdata, blockchain/testdata) for
// spoor's tests, skipping a test with a clear message when they are absent.
package btctestdata

import (
	"bytes"
	"compress/bzip2"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Path returns the path of a file in btcd's module directory.
func Path(t testing.TB, rel string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/btcsuite/btcd").Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		t.Skipf("btcd module test data not available (go list -m github.com/btcsuite/btcd: %v)", err)
	}
	p := filepath.Join(dir, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("btcd test data %s missing: %v", rel, err)
	}
	return p
}

// Bunzip returns the decompressed contents of a .bz2 file.
func Bunzip(t testing.TB, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(bzip2.NewReader(f))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

// Blocks1To255 writes the real mainnet blocks 1-255 (blk records, as
// database/testdata/blocks1-256.bz2 holds them) to a temp file and returns
// its path and contents.
func Blocks1To255(t testing.TB) (string, []byte) {
	t.Helper()
	data := Bunzip(t, Path(t, "database/testdata/blocks1-256.bz2"))
	p := filepath.Join(t.TempDir(), "blocks1-255.dat")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, data
}

// SplitRecords cuts blk-record data into records (magic, length, block).
func SplitRecords(data []byte) [][]byte {
	var recs [][]byte
	for len(data) >= 8 && !bytes.Equal(data[:4], []byte{0, 0, 0, 0}) {
		n := int(binary.LittleEndian.Uint32(data[4:8]))
		if 8+n > len(data) {
			break
		}
		recs = append(recs, data[:8+n])
		data = data[8+n:]
	}
	return recs
}
