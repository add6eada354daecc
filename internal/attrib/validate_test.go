package attrib

import (
	"encoding/csv"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/sharedtest"
)

func TestParseAddress(t *testing.T) {
	for _, tc := range []struct {
		name   string
		chain  model.Chain
		in     string
		text   string // "" = reject
		hexb   string // canonical bytes, when checked
		repair bool
	}{
		{"btc p2pkh", model.BTC, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "0162e907b15cbf27d5425399ebf6f0fb50ebb88f18", false},
		{"btc p2pkh bad checksum", model.BTC, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", "", "", false},
		{"btc bech32 p2wpkh", model.BTC, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "", false},
		{"btc bech32m taproot (BIP-350 vector)", model.BTC, "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", "", false},
		{"btc taproot with bech32 (not m) checksum", model.BTC, "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", "", "", false},
		{"tron", model.Tron, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "41a614f803b6fd780986a42c78ec9c7f77e6ded13c", false},
		{"tron with a Cyrillic Т", model.Tron, "ТR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "41a614f803b6fd780986a42c78ec9c7f77e6ded13c", true},
		{"tron with a Greek Τ", model.Tron, "ΤR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "", true},
		{"tron look-alike whose repair fails checksum", model.Tron, "ТR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u", "", "", false},
		{"tron with a Chinese character", model.Tron, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6中", "", "", false},
		{"eth lower", model.ETH, "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", false},
		{"eth EIP-55", model.ETH, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "", false},
		{"eth bad EIP-55", model.ETH, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", "", "", false},
		{"xmr", model.XMR, "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A", "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A", "", false},
		{"xmr tx hash", model.XMR, "5be5543ff73456ab9f2d207887e2af87322c651ea1a873c5b25b7ffae456c320", "", "", false},
		{"empty", model.BTC, "  ", "", "", false},
		{"zero-width space", model.Tron, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t\u200b", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseAddress(tc.chain, tc.in)
			if tc.text == "" {
				if err == nil {
					t.Fatalf("accepted %q as %q", tc.in, a.Text)
				}
				return
			}
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if a.Text != tc.text {
				t.Fatalf("text %q, want %q", a.Text, tc.text)
			}
			if tc.hexb != "" && hex.EncodeToString(a.Bytes) != tc.hexb {
				t.Fatalf("bytes %x, want %s", a.Bytes, tc.hexb)
			}
			if (a.Repair != "") != tc.repair {
				t.Fatalf("repair note %q, want one: %v", a.Repair, tc.repair)
			}
		})
	}
}

func TestChainFor(t *testing.T) {
	for _, tc := range []struct {
		cur, addr string
		want      model.Chain
	}{
		{"XBT", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", model.BTC},
		{"USDT", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", model.Tron},
		{"USDT", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", model.ETH},
		{"USDT", "3E6ZCKRrsdPc35chA9Eftp1h3DLW18NFNV", model.BTC}, // Omni
		{"TRX", "x", model.Tron},
		{"LTC", "LaizKtS5DUhPuP1nTQcc83MS7HwK6vk85z", model.ChainUnknown},
		{"ARB", "0x4f47bc496083c727c5fbe3ce9cdf2b0f6496270c", model.ChainUnknown},
	} {
		if got, why := ChainFor(tc.cur, tc.addr); got != tc.want || (got == model.ChainUnknown) != (why != "") {
			t.Errorf("ChainFor(%s, %s) = %v %q, want %v", tc.cur, tc.addr, got, why, tc.want)
		}
	}
}

// TestNBCTF reads the real seizure list: every Tron address validates after
// look-alike repair, the repair equals the file's own normalised column, and
// the repaired rows are exactly those the file marks.
func TestNBCTF(t *testing.T) {
	path := sharedtest.Lists(t, "nbctf_il_mod_crypto_wallets_nopii.csv")
	b, err := ReadFile(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Format != FormatNBCTF {
		t.Fatalf("detected %s", b.Format)
	}
	// Independent reading of the file's own columns.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	type want struct{ norm, pub, marked string }
	tron := map[int]want{} // line → row
	marked := 0
	for i, r := range rows[1:] {
		if r[col["chain_guess"]] == "tron" {
			tron[i+2] = want{r[col["wallet_address"]], r[col["wallet_address_as_published"]], r[col["homoglyphs_replaced"]]}
			if r[col["homoglyphs_replaced"]] == "yes" {
				marked++
			}
		}
	}
	if len(tron) != 686 {
		t.Fatalf("file has %d tron rows, README says 686", len(tron))
	}
	if b.Read != len(rows)-1 {
		t.Fatalf("read %d rows, file has %d", b.Read, len(rows)-1)
	}
	got := map[int]Tag{}
	for i, tg := range b.Tags {
		if tg.Subject.Chain == model.Tron {
			got[b.Lines[i]] = tg
		}
	}
	repaired := map[int]bool{}
	for _, p := range b.Problems {
		if p.Kind == Repaired {
			repaired[p.Line] = true
		}
		if _, isTron := tron[p.Line]; isTron && (p.Kind == Rejected || p.Kind == Skipped) {
			t.Errorf("tron row %s", p)
		}
	}
	dups := 0
	for line, w := range tron {
		tg, ok := got[line]
		if !ok {
			// the only excuse: a duplicate row of the same order
			dup := false
			for _, p := range b.Problems {
				dup = dup || (p.Line == line && p.Kind == Duplicate)
			}
			if !dup {
				t.Errorf("line %d: tron %q not imported", line, w.pub)
			}
			dups++
			continue
		}
		if tg.Address != w.norm {
			t.Errorf("line %d: repaired %q to %q, the file's normalised form is %q", line, w.pub, tg.Address, w.norm)
		}
		if repaired[line] != (w.marked == "yes") {
			t.Errorf("line %d: repair reported %v, file marks homoglyphs_replaced=%s", line, repaired[line], w.marked)
		}
		if repaired[line] == (w.pub == w.norm) {
			t.Errorf("line %d: repair reported %v but published %q vs normalised %q", line, repaired[line], w.pub, w.norm)
		}
	}
	nRep := 0
	for line := range repaired {
		if _, ok := tron[line]; ok {
			nRep++
		}
	}
	t.Logf("NBCTF: %d rows, %d tron (%d marked look-alike, %d repaired, %d duplicate rows), %d tags; rejected %d, skipped %d",
		b.Read, len(tron), marked, nRep, dups, len(b.Tags), b.Count(Rejected), b.Count(Skipped))
	if nRep != marked {
		t.Fatalf("repaired %d tron addresses, file marks %d", nRep, marked)
	}
	// Exchange accounts are never imported as addresses.
	for _, p := range b.Problems {
		if strings.Contains(p.Reason, "NOBITEX") && p.Kind != Skipped {
			t.Errorf("exchange account not skipped: %s", p)
		}
	}
	for _, tg := range b.Tags {
		if tg.Category != "terrorism_financing" || tg.Confidence != "authority_data" || !strings.HasPrefix(tg.Source, "https://nbctf.mod.gov.il/") {
			t.Fatalf("tag fields: %+v", tg)
		}
	}
}

// A Bitcoin address valid on another network than the one in force says
// which (QA: every mainnet OFAC address imported into a regtest store was
// rejected as "unknown address type").
func TestParseAddressOtherNetwork(t *testing.T) {
	for _, tc := range []struct {
		in, net, want string // want "" = accepted
	}{
		{"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "", ""},
		{"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "regtest", "is a Bitcoin mainnet address, but the Bitcoin network here is regtest"},
		{"bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "testnet3", "is a Bitcoin mainnet address, but the Bitcoin network here is testnet3"},
		{"bcrt1q9v6yrmhmnxsjrrpgegrhkda4gulqncthcr3y28", "", "is a Bitcoin regtest address, but the Bitcoin network here is mainnet"},
		{"bcrt1q9v6yrmhmnxsjrrpgegrhkda4gulqncthcr3y28", "regtest", ""},
		{"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", "regtest", "checksum"}, // valid nowhere: the decoder's own reason
	} {
		_, err := ParseAddressOn(model.BTC, tc.in, tc.net)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s on %q: %v", tc.in, tc.net, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s on %q: %v, want %q", tc.in, tc.net, err, tc.want)
		}
	}
}
