package pebblestore

import "testing"

// layoutGolden is the digest (every Pebble key and value, then the derived
// segment indexes and the UTXO set in canonical order) of goldenWorld. A
// change that alters any stored byte fails here; a deliberate layout change
// updates the constant. Set at the move of the derived indexes into
// segments (the reads it answers are pinned by TestReadsGolden, unchanged
// from the Pebble-only layout).
const layoutGolden = "586fdc1336caef2452f69db3917af752c814ab06125d579bb1a271f3cb00ea7a"

func TestLayoutGolden(t *testing.T) {
	s := openTestStore(t)
	goldenWorld(t, s)
	if got := digest(t, s); got != layoutGolden {
		t.Fatalf("store digest %s, want %s", got, layoutGolden)
	}
}
