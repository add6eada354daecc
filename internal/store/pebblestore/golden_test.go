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
// compact records for every script type and with output address ids
// relative to the previous output's, bit-packed hash sections, record
// frames without the length a Bitcoin address's kind implies): only the
// meta, by its version byte (with 6 there and the old frames, still
// ca2e4c0b…c596) and the three logs' ends (with the ends written as 0,
// the record forms before and after each change give the same digest,
// 13dbc3c6…c16e and 43448963…b6dd): the digest hashes the logical
// records, the derived indexes and the UTXO set, not their files' bytes.
// Changed at layout 8 (compact records without the position in the block
// and without a Bitcoin tx's fee, both derived by readers, which Digest
// derives as the readers do; the output count in the height field, and
// plain records without a head byte): only
// the meta, by its version byte and the tx log's end (with 7 there and the
// three ends written as 0, still 43448963…b6dd, as at layout 7).
// Changed at layout 9 (segment format 4: amounts out that refer to the
// group's last amount in, the column codec): only the meta's version byte
// (with 8 there, still cc4e332f…6327). goldenWorld closes no segment, so
// the segments' new form is held to the old answers by TestReadsGolden
// (tiny segments, reopened) and by the 10⁶ chain's store digest (equal to
// layout 8's with the version byte 8, BENCHMARKS.md "ninth session, helper
// closepack").
// Changed at layout 10 (compact records: values by their trailing decimal
// zeros, a first output's address id relative to its group's address base):
// only the meta, by its version byte and the tx log's end (with 7 there and
// the three ends written as 0, still 43448963…b6dd, as at layouts 7 and 8).
// Changed at layout 11 (segment format 5: sweeps, and the spends they imply
// left out of the spent sections; amounts in left to the tx records): only
// the meta's version byte (with 10 there, still e9d4f3a1…3a6a; the digest
// rebuilds the implied spends and amounts from the tx records). goldenWorld
// closes no segment: the 10⁶ chain's store digest equals that of a store
// the same code writes with both off, and so do its tx views and its
// addresses' totals and entries (BENCHMARKS.md, eleventh session), and
// TestSweepsEqualStored compares whole stores likewise.
const layoutGolden = "57f5df08c1489ee09626d31423c8d27e35de79cb74ec174ec688e5b111a83ce5"

func TestLayoutGolden(t *testing.T) {
	s := openTestStore(t)
	goldenWorld(t, s)
	if got := digest(t, s); got != layoutGolden {
		t.Fatalf("store digest %s, want %s", got, layoutGolden)
	}
}
