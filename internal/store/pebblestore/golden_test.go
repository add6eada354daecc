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
// log holds byte for byte the records Pebble held. Changed at layout 5
// (address bytes and block records in logs): only the meta changed, by its
// version byte and the logs' ends; with the layout-4 meta encoding the
// digest was still 3b09b3b5…4e00, so the logs hold byte for byte the `i`,
// `b` and `o` records Pebble held.
const layoutGolden = "ee81c5513e7d111f44a8c60b127fb692a34a64f7ec85dd33ebe059851b7d3a19"

func TestLayoutGolden(t *testing.T) {
	s := openTestStore(t)
	goldenWorld(t, s)
	if got := digest(t, s); got != layoutGolden {
		t.Fatalf("store digest %s, want %s", got, layoutGolden)
	}
}
