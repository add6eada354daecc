package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/spoor-dev/spoor/internal/ingest"
)

func init() {
	register("demo", "build a demo world, ingest it and walk through a case: spoor demo [--seed N] [--keep] [--mainnet]", cmdDemo)
}

// demoBlocksModule is the Go module whose test data holds real mainnet blocks
// 0-14,131 (Bitcoin Core blk records).
const (
	demoBlocksModule = "github.com/btcsuite/btcd@v0.24.2"
	demoBlocksFile   = "blockchain/testdata/blk_0_to_14131.dat"
)

// findDemoBlocks locates the real blocks in the Go module cache, downloading
// the module through the Go toolchain when it is not there yet.
func findDemoBlocks() (string, error) {
	out, err := exec.Command("go", "mod", "download", "-json", demoBlocksModule).Output()
	if err != nil {
		return "", fmt.Errorf("demo needs the Go toolchain to fetch %s (real mainnet blocks): %v", demoBlocksModule, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return "", fmt.Errorf("go mod download %s: no module folder in its answer (%v)", demoBlocksModule, err)
	}
	dir := mod.Dir
	p := filepath.Join(dir, filepath.FromSlash(demoBlocksFile))
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("real blocks for the demo: %w", err)
	}
	return p, nil
}

// demoMainnet ingests real mainnet blocks 0-14,131 into a store and walks through
// what spoor answers about them: the first person-to-person payment
// (block 170, Satoshi to Hal Finney) and both parties' address reports.
// Without --data the store goes to a fresh temporary folder.
func demoMainnet(env *Env, keep *bool) error {
	blocks, err := findDemoBlocks()
	if err != nil {
		return err
	}
	if !dataDirGiven(env) {
		tmp, err := os.MkdirTemp("", "spoor-demo-")
		if err != nil {
			return err
		}
		if !*keep {
			defer os.RemoveAll(tmp)
		}
		env.DataDir = tmp
	}
	w := env.Stdout
	fmt.Fprintf(w, "spoor demo: real Bitcoin mainnet blocks 0-14,131 from %s\n", filepath.Base(blocks))
	fmt.Fprintf(w, "store: %s\n\n", env.DataDir)
	st, err := openStore(env)
	if err != nil {
		return err
	}
	res, err := ingest.BTCFiles(st, blocks, progressOpts(env))
	st.Close()
	if err != nil {
		return err
	}
	if err := printIngest(env, res); err != nil {
		return err
	}
	steps := []struct {
		title string
		args  []string
	}{
		{"What the store holds", nil},
		{"Block 170: the first person-to-person payment (Satoshi to Hal Finney), inputs linked to the coinbase they spend",
			[]string{"btc", "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"}},
		{"The payer: the block-9 coinbase address", []string{"btc", "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S"}},
		{"The payee: Hal Finney's key, paid as P2PK and shown as its P2PKH address", []string{"btc", "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3"}},
	}
	for i, s := range steps {
		fmt.Fprintf(w, "\n== %d. %s\n", i+1, s.title)
		switch {
		case s.args == nil:
			err = cmdStats(env, nil)
		case len(s.args[1]) == 64:
			err = cmdTx(env, s.args)
		default:
			err = cmdAddress(env, s.args)
		}
		if err != nil {
			return err
		}
	}
	if *keep {
		fmt.Fprintf(w, "\nThe store is kept: spoor --data %s address btc ADDR\n", env.DataDir)
	}
	return nil
}

// dataDirGiven reports whether the user chose a data folder (--data or
// SPOOR_DATA) rather than taking the default.
func dataDirGiven(env *Env) bool {
	return env.DataDir != "./spoor-data" || os.Getenv("SPOOR_DATA") != ""
}
