package pebblestore

import "testing"

// layoutGolden is the digest (every Pebble key and value, then the derived
// segment indexes and the UTXO set in canonical order) of goldenWorld. A
// change that alters any stored byte fails here; a deliberate layout change
// updates the constant. Set at the move of the derived indexes into
// segments (the reads it answers are pinned by TestReadsGolden, unchanged
// from the Pebble-only layout).
const layoutGolden = "2e63cf7504c11ea76ece4692ce78f5cd3e842b159cf12f8e87ffec282b38f0b1"

func TestLayoutGolden(t *testing.T) {
	s := openTestStore(t)
	goldenWorld(t, s)
	if got := digest(t, s); got != layoutGolden {
		t.Fatalf("store digest %s, want %s", got, layoutGolden)
	}
}
