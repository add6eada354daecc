package pebblestore

import "testing"

// layoutGolden is the digest (every Pebble key and value, then the derived
// segment indexes and the UTXO set in canonical order) of goldenWorld. A
// change that alters any stored byte fails here; a deliberate layout change
// updates the constant. Set at the move of the derived indexes into
// segments (the reads it answers are pinned by TestReadsGolden, unchanged
// from the Pebble-only layout).
const layoutGolden = "0d58abdee872438658870e634376af8285a620b3bd267bddd89c65a12b063789"

func TestLayoutGolden(t *testing.T) {
	s := openTestStore(t)
	goldenWorld(t, s)
	if got := digest(t, s); got != layoutGolden {
		t.Fatalf("store digest %s, want %s", got, layoutGolden)
	}
}
