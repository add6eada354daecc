package evmrpc

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoGoEthereumInBinary: go-ethereum (GPL/LGPL) is a test-only
// dependency. No package of the spoor binary may import it, directly or
// through another package.
func TestNoGoEthereumInBinary(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH: cannot list the binary's dependencies")
	}
	out, err := exec.Command(goBin, "list", "-deps", "github.com/spoor-dev/spoor/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	n := 0
	for _, p := range strings.Fields(string(out)) {
		n++
		if strings.HasPrefix(p, "github.com/ethereum/go-ethereum") {
			t.Errorf("non-test code depends on %s", p)
		}
	}
	if n < 10 {
		t.Fatalf("go list returned %d packages: not a real listing", n)
	}
}
