package btc

import (
	"bytes"
	"compress/bzip2"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// btcdTestdata returns the path of a file in btcd's module (real mainnet
// blocks ship there), skipping the test when the module is not available.
func btcdTestdata(t testing.TB, rel string) string {
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

// bunzip returns the decompressed contents of a .bz2 test file.
func bunzip(t testing.TB, path string) []byte {
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

// Blocks1To255 writes the real mainnet blocks 1-255 (blk records) to a temp
// file and returns its path.
func blocks1To255(t testing.TB) (string, []byte) {
	t.Helper()
	data := bunzip(t, btcdTestdata(t, "database/testdata/blocks1-256.bz2"))
	p := filepath.Join(t.TempDir(), "blocks1-255.dat")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, data
}

// splitRecords cuts blk-record data into records (magic+len+block).
func splitRecords(t testing.TB, data []byte) [][]byte {
	t.Helper()
	var recs [][]byte
	for len(data) >= 8 && !bytes.Equal(data[:4], []byte{0, 0, 0, 0}) {
		n := int(uint32(data[4]) | uint32(data[5])<<8 | uint32(data[6])<<16 | uint32(data[7])<<24)
		recs = append(recs, data[:8+n])
		data = data[8+n:]
	}
	return recs
}
