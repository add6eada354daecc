package cli

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestMemProfile: SPOOR_MEMPROFILE writes a heap profile of the command
// that parses and holds allocation samples; an unwritable path is an error
// on stderr that leaves the command's own result alone.
func TestMemProfile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mem.prof")
	t.Setenv("SPOOR_MEMPROFILE", p)
	var out, errb bytes.Buffer
	if code := Main([]string{"--json", "sim", "--seed", "5", "--transfers", "6000", "--out", filepath.Join(dir, "w1")}, &out, &errb); code != 0 {
		t.Fatalf("sim: exit %d: %s", code, errb.String())
	}
	// A pprof profile is a gzipped protocol buffer whose string table
	// names its sample types.
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("the profile is not gzipped: %v", err)
	}
	raw, err := io.ReadAll(z)
	if err != nil {
		t.Fatalf("the profile does not unzip: %v", err)
	}
	for _, want := range []string{"alloc_space", "inuse_space"} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Fatalf("the profile (%d bytes) names no %s samples", len(raw), want)
		}
	}

	t.Setenv("SPOOR_MEMPROFILE", filepath.Join(dir, "no-such-dir", "mem.prof"))
	out.Reset()
	errb.Reset()
	if code := Main([]string{"--json", "sim", "--seed", "5", "--transfers", "6000", "--out", filepath.Join(dir, "w2")}, &out, &errb); code != 0 || out.Len() == 0 {
		t.Fatalf("sim with an unwritable profile: exit %d, out %q", code, out.String())
	}
	if !bytes.Contains(errb.Bytes(), []byte("SPOOR_MEMPROFILE")) {
		t.Fatalf("no error names SPOOR_MEMPROFILE: %q", errb.String())
	}
}
