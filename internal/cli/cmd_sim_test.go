package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// spoor sim writes a world folder in the documented layout and reports it;
// wrong calls are usage errors (exit 2), a full folder a plain error (1).
func TestSimCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "world")
	var stdout, stderr bytes.Buffer
	code := Main([]string{"--json", "sim", "--seed", "5", "--transfers", "6000", "--out", out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var res struct {
		Manifest struct {
			Seed      uint64 `json:"seed"`
			Transfers int64  `json:"transfers"`
			Chains    map[string]struct {
				Blocks int64 `json:"blocks"`
			} `json:"chains"`
		} `json:"manifest"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	if res.Manifest.Seed != 5 || res.Manifest.Transfers < 5000 || len(res.Manifest.Chains) != 3 {
		t.Errorf("manifest %+v", res.Manifest)
	}
	for _, f := range []string{"manifest.json", "truth.json", "tagpack.yaml", "prices.csv", "btc/blk00000.dat",
		"tron/etl/tokens.csv", "tron/api/blocks.jsonl", "eth/etl/tokens.csv"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	// ETL exports come in ethereum-etl block-range partitions.
	for _, pat := range []string{"tron/etl/blocks/start_block=*/end_block=*/blocks_*_*.csv", "tron/etl/transactions/start_block=*/end_block=*/transactions_*_*.csv",
		"tron/etl/token_transfers/start_block=*/end_block=*/token_transfers_*_*.csv", "eth/etl/blocks/start_block=*/end_block=*/blocks_*_*.csv",
		"eth/etl/transactions/start_block=*/end_block=*/transactions_*_*.csv", "eth/etl/token_transfers/start_block=*/end_block=*/token_transfers_*_*.csv"} {
		if m, _ := filepath.Glob(filepath.Join(out, pat)); len(m) == 0 {
			t.Errorf("no partition file %s", pat)
		}
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"sim", "--seed", "1"}, 2, "--out"},
		{[]string{"sim", "--out", t.TempDir() + "/x", "--scale", "small", "--transfers", "9000"}, 2, "not both"},
		{[]string{"sim", "--out", t.TempDir() + "/x", "--scale", "huge"}, 2, "unknown scale"},
		{[]string{"sim", "--out", t.TempDir() + "/x", "--transfers", "10"}, 2, "too few"},
		{[]string{"sim", "--out", t.TempDir() + "/x", "--transfers", "99999999999999"}, 2, "too many"},
		{[]string{"sim", "--out", out, "--transfers", "6000"}, 1, "not empty"},
	} {
		stdout.Reset()
		stderr.Reset()
		if code := Main(c.args, &stdout, &stderr); code != c.code || !strings.Contains(stderr.String(), c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr.String(), c.code, c.msg)
		}
	}
}
