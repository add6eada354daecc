// Package sharedtest locates the project's read-only shared input (the real
// attribution lists under shared/data/lists) for tests. The folder sits
// beside the repository's checkout (../shared from the module root) or where
// SPOOR_SHARED points. Where it is absent, a test is skipped with a message
// saying so: never failed, never passed vacuously.
package sharedtest

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the shared folder, or skips t when it cannot be found.
func Dir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("SPOOR_SHARED"); d != "" {
		if _, err := os.Stat(d); err == nil {
			return d
		}
		t.Skipf("SPOOR_SHARED=%s does not exist: skipping a test on the real shared data", d)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Skipf("shared data: %v", err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			s := filepath.Join(filepath.Dir(d), "shared")
			if _, err := os.Stat(s); err == nil {
				return s
			}
			break
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	t.Skip("shared/ (real attribution lists) not found beside the checkout and SPOOR_SHARED unset: skipping a test on real data")
	return ""
}

// Lists returns the path of a file or folder under shared/data/lists, or
// skips t when it is absent.
func Lists(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(Dir(t), "data", "lists", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared list %s absent (%v): skipping a test on real data", rel, err)
	}
	return p
}
