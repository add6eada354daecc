package ingest

import (
	"testing"
	"time"
)

func TestLeadProbe(t *testing.T) {
	miner := newRegKey(t, 1)
	n := startBtcd(t, "probe", miner.addr, false)
	tip, _ := rpcBenchChain(t, n, 200, 8, 6000)
	hashes, err := n.rpc.BlockHashes(tip-7, 8)
	if err != nil {
		t.Fatal(err)
	}
	for r := 0; r < 3; r++ {
		for _, k := range []int{1, 2, 4, 8} {
			start := time.Now()
			var body []byte
			for i := 0; i < 8; i += k {
				if _, body, err = n.rpc.RawBlocks(hashes[i:i+k], body); err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("batches of %d: %v for 8 blocks", k, time.Since(start))
		}
		start := time.Now()
		for i := 0; i < 8; i++ {
			if _, err := n.rpc.RawBlock(hashes[i]); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("singles: %v for 8 blocks", time.Since(start))
	}
}
