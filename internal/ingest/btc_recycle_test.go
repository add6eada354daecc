package ingest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/spoor-dev/spoor/internal/chain/btc"
	"github.com/spoor-dev/spoor/internal/chain/btc/btctestdata"
)

// A Bitcoin ingest whose decoders build blocks into the memory of applied
// ones (check mode: returned blocks are poisoned and their memory checked
// when lent again) stores exactly what an ingest into fresh memory
// stores, with the same result; no block changes while the store applies
// it; and memory was in fact reused. Two chains: the real mainnet blocks
// 0–14,131 (one-tx blocks) and the synthetic chain of real block shapes
// (100,000 transfers: many inputs and outputs a block), in small batches so that many
// Applies return blocks.
func TestBTCRecycledSameStore(t *testing.T) {
	paths := []string{btctestdata.Path(t, "blockchain/testdata/blk_0_to_14131.dat")}
	if !testing.Short() {
		paths = append(paths, synthChain(t, 100_000))
	}
	// A small pipeline budget: blocks are applied and returned while later
	// ones are decoded, so that the synthetic chain's few large blocks
	// reuse memory too.
	inflightBudget = 256 << 10
	defer func() { inflightBudget = maxInflight }()
	for _, path := range paths {
		noRecycle = true
		fresh := openStore(t)
		wres, err := BTCFiles(fresh, path, Options{BatchTxs: 997})
		noRecycle = false
		if err != nil {
			t.Fatal(err)
		}
		var rc *btc.Recycler
		recycledBTC = func(r *btc.Recycler) { rc = r }
		real := openStore(t)
		ws := &watchStore{Store: real, t: t}
		res, err := BTCFiles(ws, path, Options{BatchTxs: 997})
		recycledBTC = nil
		if err != nil {
			t.Fatal(err)
		}
		if digest(t, real) != digest(t, fresh) {
			t.Fatalf("%s: the recycled ingest stored something else", path)
		}
		res.Elapsed, wres.Elapsed = 0, 0
		if !reflect.DeepEqual(res, wres) {
			t.Fatalf("%s: result %+v, want %+v", path, res, wres)
		}
		// Each block takes three or four arrays; at least half the blocks
		// are built in memory of blocks applied before.
		if rc == nil || rc.Reused() < int(res.Applied)/2 || ws.applies < 10 {
			t.Fatalf("%s: %d applies, %d arrays reused for %d blocks", path, ws.applies, rc.Reused(), res.Applied)
		}
		t.Logf("%s: %d blocks in %d applies, %d arrays reused", filepath.Base(path), res.Applied, ws.applies, rc.Reused())
	}
}

// A driver that returns Bitcoin blocks before it applies them fails with
// an error before anything is applied wrong, and the store is as before.
func TestBTCReturnEarlyIsCaught(t *testing.T) {
	path, data := btctestdata.Blocks1To255(t)
	recs := btctestdata.SplitRecords(data)
	first := filepath.Join(t.TempDir(), "first.dat")
	if err := os.WriteFile(first, bytes.Join(recs[:100], nil), 0o600); err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	if _, err := BTCFiles(st, first, Options{}); err != nil {
		t.Fatal(err)
	}
	before := digest(t, st)
	returnEarly = true
	_, err := BTCFiles(st, path, Options{BatchTxs: 50})
	returnEarly = false
	if err == nil || !strings.Contains(err.Error(), "returned to the recycler before it was applied") {
		t.Fatalf("error %v, want the block returned before it was applied", err)
	}
	if digest(t, st) != before {
		t.Fatal("store changed by the failed ingest")
	}
}

// A blk file that shrinks while the decoders read its mapping: the decode
// of a block past the new end is an error naming the file and the block's
// byte offset, not a crash.
func TestBTCDecodeOfShrunkFileIsError(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("blk files are mapped on Linux only")
	}
	_, data := btctestdata.Blocks1To255(t)
	recs := btctestdata.SplitRecords(data)
	path := filepath.Join(t.TempDir(), "blk00000.dat")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	bf, err := btc.OpenBlockFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := bf.BestChain(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	rd := bf.NewReader()
	defer rd.Close()
	// The record wholly past the first page after the cut, and its offset.
	k, pos := 0, 0
	for pos < 8192+4096 {
		pos += len(recs[k])
		k++
	}
	rb, err := rd.Read(plan[k+1]) // plan[0] is the genesis block from parameters
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 8192); err != nil {
		t.Fatal(err)
	}
	j := &job{raw: rb.Bytes, rd: rd, rb: rb, height: plan[k+1].Height, want: plan[k+1].Hash, where: rb.Where()}
	it := decodeOne(j, btc.NewRecycler(true))
	want := path + " at byte offset " + strconv.Itoa(pos)
	if it.err == nil || !errors.Is(it.err, btc.ErrBadBlockFile) || !strings.Contains(it.err.Error(), "shrank while it was mapped") || !strings.Contains(it.err.Error(), want) {
		t.Fatalf("decode of a block past the new end: %v, want an error naming %q", it.err, want)
	}
	if it.blk != nil {
		t.Fatal("a block came with the error")
	}
	t.Log(it.err)
}
