package pebblestore

import "testing"

// layoutGolden is the digest (every Pebble key and value, then the derived
// segment indexes and the UTXO set in canonical order) of goldenWorld. A
// change that alters any stored byte fails here; a deliberate layout change
// updates the constant. Set at the move of the derived indexes into
// segments (the reads it answers are pinned by TestReadsGolden, unchanged
// from the Pebble-only layout). Changed at layout 4 (tx records in the tx
// log): only the meta changed, by its version byte and the log's end; with
// the layout-3 meta encoding the digest was still 586fdc13…ea7a, so the
// log holds byte for byte the records Pebble held.
const layoutGolden = "3b09b3b582ac4696c8de2a46e94d4b858b3eb7166c12e3a83c561108928c4e00"

func TestLayoutGolden(t *testing.T) {
	s := openTestStore(t)
	goldenWorld(t, s)
	if got := digest(t, s); got != layoutGolden {
		t.Fatalf("store digest %s, want %s", got, layoutGolden)
	}
}
