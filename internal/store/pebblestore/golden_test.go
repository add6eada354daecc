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
// on two branches: address bytes and block records in logs (ee81c551…3a19;
// with the layout-4 meta encoding still 3b09b3b5…4e00, so the logs hold
// byte for byte the `i`, `b` and `o` records Pebble held), and compact
// log records (bb08ceed…14ef; hashing every key but the metas, layouts 4
// and 5 both gave 0f26191d…9155). Changed at layout 6, both at once: only
// the meta again. Changed at layout 7 (UTXO snapshots by tx number,
// compact records for every script type, bit-packed hash sections, record
// frames without the length a Bitcoin address's kind implies): only the
// meta, by its version byte (with 6 there and the old frames, still
// ca2e4c0b…c596) and the address and block logs' ends (with both ends
// written as 0, the old and the new frames give 13dbc3c6…c16e alike): the
// digest hashes the logical records, the derived indexes and the UTXO set,
// not their files' bytes.
const layoutGolden = "b37a0e68060108694b64e666f16ecae966f0ff3f5f75b087ad2b22bc84fa65d8"

func TestLayoutGolden(t *testing.T) {
	s := openTestStore(t)
	goldenWorld(t, s)
	if got := digest(t, s); got != layoutGolden {
		t.Fatalf("store digest %s, want %s", got, layoutGolden)
	}
}
