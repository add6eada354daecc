package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/spoor-dev/spoor/"

// layer gives each internal package prefix the packages it may import (by
// prefix). A package matches the longest prefix listed.
var allowed = map[string][]string{
	"internal/model":             {},
	"internal/address":           {"internal/model"},
	"internal/attrib":            {"internal/model", "internal/address"},
	"internal/store":             {"internal/model", "internal/attrib"},
	"internal/store/pebblestore": {"internal/store", "internal/model", "internal/attrib", "internal/pages", "internal/prefetch"},
	"internal/chain":             {"internal/chain", "internal/model", "internal/address", "internal/store", "internal/pages"},
	"internal/pages":             {},
	"internal/prefetch":          {},
	"internal/ingest":            {"internal/chain", "internal/model", "internal/address", "internal/store"},
	"internal/sharedtest":        {},
	"internal/archtest":          {},
	"cmd/spoor":                  {"internal/cli"},
	"internal/cli":               {"internal"},
}

// analytics and other domain packages (anything not listed) may use model,
// address, store and each other, never the engine, the cli or the adapters'
// internals of ingest.
var defaultAllowed = []string{"internal/model", "internal/address", "internal/store", "internal/chain", "internal/attrib", "internal/value", "internal/sim", "internal/cluster", "internal/trace", "internal/risk", "internal/detect", "internal/xmr"}

// forbiddenEverywhere are modules that must not be linked into the binary.
var forbiddenEverywhere = []string{"github.com/ethereum/go-ethereum"}

func rule(pkg string) []string {
	best := ""
	for p := range allowed {
		if (pkg == p || strings.HasPrefix(pkg, p+"/")) && len(p) > len(best) {
			best = p
		}
	}
	if best == "" {
		return defaultAllowed
	}
	return allowed[best]
}

func TestImportsFlowOneWay(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 5 {
		t.Fatalf("go list listed %d packages", len(lines))
	}
	for _, line := range lines {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], mod)
		ok := rule(pkg)
		for _, imp := range f[1:] {
			for _, bad := range forbiddenEverywhere {
				if strings.HasPrefix(imp, bad) {
					t.Errorf("%s imports %s: GPL code must stay in tests", pkg, imp)
				}
			}
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			dep := strings.TrimPrefix(imp, mod)
			if dep == "internal/store/pebblestore" && !strings.HasPrefix(pkg, "internal/cli") && !strings.HasPrefix(pkg, "internal/store") {
				t.Errorf("%s imports the storage engine %s: only the cli opens it; everything else takes store.Store", pkg, dep)
				continue
			}
			if dep == "internal/cli" && pkg != "cmd/spoor" {
				t.Errorf("%s imports internal/cli", pkg)
				continue
			}
			good := false
			for _, p := range ok {
				if dep == p || strings.HasPrefix(dep, p+"/") {
					good = true
				}
			}
			if !good {
				t.Errorf("%s may not import %s (allowed: %v); see ARCHITECTURE.md", pkg, dep, ok)
			}
		}
	}
}

// TestBinaryDeps checks the linked binary's full dependency closure (not
// just direct imports) for GPL modules.
func TestBinaryDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", mod+"cmd/spoor").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	n := 0
	for _, dep := range strings.Split(string(out), "\n") {
		n++
		for _, bad := range forbiddenEverywhere {
			if strings.HasPrefix(dep, bad) {
				t.Errorf("the spoor binary links %s", dep)
			}
		}
	}
	if n < 50 {
		t.Fatalf("only %d dependencies listed: go list is not seeing the binary", n)
	}
}
