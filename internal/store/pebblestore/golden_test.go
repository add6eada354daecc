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
// (compact log records): only the meta changed again (version byte, log
// end); hashing every key but the metas, layout 4 and 5 both give
// 0f26191d…9155, so the records decode to exactly layout 4's.
const layoutGolden = "bb08ceed9e5c3500aba7dbe1977b4f8e97b2ac518a1fdb72344bd9e5915314ef"

func TestLayoutGolden(t *testing.T) {
	s := openTestStore(t)
	goldenWorld(t, s)
	if got := digest(t, s); got != layoutGolden {
		t.Fatalf("store digest %s, want %s", got, layoutGolden)
	}
}
