package sim

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/spoor-dev/spoor/internal/ingest"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store/pebblestore"
)

// Bitcoin output rotates blk files at the size cap (128 MiB; 256 KiB here)
// and spoor's BTC ingest reads the set back to the same tip.
func TestBlkFileRotation(t *testing.T) {
	saved := maxBlkFile
	maxBlkFile = 256 << 10
	defer func() { maxBlkFile = saved }()
	cfg, err := TransfersConfig(8_000, 11)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "w")
	m, err := Generate(cfg, out)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(out, "btc", "blk*.dat"))
	if len(files) < 3 || len(files) != m.Chains["btc"].Files {
		t.Fatalf("%d blk files, manifest says %d", len(files), m.Chains["btc"].Files)
	}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil || st.Size() > maxBlkFile || st.Size() == 0 {
			t.Errorf("%s: %d bytes (cap %d), %v", f, st.Size(), maxBlkFile, err)
		}
	}
	st, err := pebblestore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	res, err := ingest.BTCFiles(st, filepath.Join(out, "btc"), ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Height != m.Chains["btc"].LastBlock {
		t.Errorf("ingested to height %d, manifest says %d", res.Height, m.Chains["btc"].LastBlock)
	}
	stats, _ := st.Stats()
	for _, s := range stats {
		if s.Chain == model.BTC && int64(s.Transfers) != m.Chains["btc"].Transfers+1 { // + the genesis output
			t.Errorf("store counts %d btc transfers, manifest %d (+1 genesis)", s.Transfers, m.Chains["btc"].Transfers)
		}
	}
}
