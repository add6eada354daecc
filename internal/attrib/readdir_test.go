package attrib

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A folder is read only as OFAC sanctioned_addresses_<ASSET>.txt files; any
// other folder is an error that says what it holds (QA: a folder of TagPacks
// got "no sanctioned_addresses_<ASSET>.txt files" and nothing more).
func TestReadFolderErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		files []string
		want  string
	}{
		{"empty", nil, "an empty folder (a folder is read as OFAC sanctioned_addresses_<ASSET>.txt files)"},
		{"tagpacks", []string{"a.yaml", "b.yaml", ".hidden"}, "no sanctioned_addresses_<ASSET>.txt files, the only files read from a folder; it holds 2 other file(s), e.g. a.yaml: import each on its own"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range c.files {
				if err := os.WriteFile(filepath.Join(dir, f), []byte("title: x\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := ReadFile(dir, Options{})
			if err == nil || !strings.HasPrefix(err.Error(), dir+": ") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}
