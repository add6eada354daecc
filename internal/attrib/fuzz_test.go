package attrib

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/sharedtest"
)

// A minimal sdn_advanced.xml in the real file's shape (elements copied from
// the 2025-11-19 list, trimmed).
const sdnSeed = `<?xml version="1.0" encoding="utf-8"?>
<Sanctions xmlns="https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/ADVANCED_XML">
  <DateOfIssue CalendarTypeID="1"><Year>2025</Year><Month>11</Month><Day>19</Day></DateOfIssue>
  <ReferenceValueSets>
    <FeatureTypeValues>
      <FeatureType ID="344" FeatureTypeGroupID="1">Digital Currency Address - XBT</FeatureType>
      <FeatureType ID="992" FeatureTypeGroupID="1">Digital Currency Address - TRX</FeatureType>
      <FeatureType ID="14" FeatureTypeGroupID="1">Website</FeatureType>
    </FeatureTypeValues>
    <PartySubTypeValues><PartySubType ID="3" PartyTypeID="2">Unknown</PartySubType></PartySubTypeValues>
    <PartyTypeValues><PartyType ID="2">Entity</PartyType></PartyTypeValues>
  </ReferenceValueSets>
  <DistinctParties>
    <DistinctParty FixedRef="36025">
      <Profile ID="36025" PartySubTypeID="3">
        <Identity ID="27649" FixedRef="36025" Primary="true" False="false">
          <Alias FixedRef="36025" AliasTypeID="1403" Primary="true" LowQuality="false">
            <DocumentedName ID="52396" FixedRef="36025" DocNameStatusID="1">
              <DocumentedNamePart><NamePartValue NamePartGroupID="97130">GARANTEX EUROPE OU</NamePartValue></DocumentedNamePart>
            </DocumentedName>
          </Alias>
        </Identity>
        <Feature ID="49348" FeatureTypeID="344">
          <FeatureVersion ID="47047" ReliabilityID="1"><VersionDetail DetailTypeID="1432">3Lpoy53K625zVeE47ZasiG5jGkAxJ27kh1</VersionDetail></FeatureVersion>
        </Feature>
        <Feature ID="89504" FeatureTypeID="992">
          <FeatureVersion ID="87123" ReliabilityID="1"><VersionDetail DetailTypeID="1432">TFwjPScaJRCbSWVAywE1S1WgaUgSnyYUbD</VersionDetail></FeatureVersion>
        </Feature>
        <Feature ID="49355" FeatureTypeID="14">
          <FeatureVersion ID="47054" ReliabilityID="1"><VersionDetail DetailTypeID="1432">garantex.io</VersionDetail></FeatureVersion>
        </Feature>
      </Profile>
    </DistinctParty>
  </DistinctParties>
  <SanctionsEntries>
    <SanctionsEntry ID="36025" ProfileID="36025" ListID="1550">
      <EntryEvent ID="36025" EntryEventTypeID="1" LegalBasisID="92049"><Date CalendarTypeID="1"><Year>2022</Year><Month>4</Month><Day>5</Day></Date></EntryEvent>
      <SanctionsMeasure ID="183817" SanctionsTypeID="1"><Comment>CYBER4</Comment></SanctionsMeasure>
      <SanctionsMeasure ID="184410" SanctionsTypeID="1"><Comment>RUSSIA-EO14024</Comment></SanctionsMeasure>
    </SanctionsEntry>
  </SanctionsEntries>
</Sanctions>`

func TestOFACXMLSeed(t *testing.T) {
	es, issued, err := ReadOFACXML(strings.NewReader(sdnSeed), "seed.xml")
	if err != nil {
		t.Fatal(err)
	}
	want := []OFACEntry{
		{Asset: "XBT", Address: "3Lpoy53K625zVeE47ZasiG5jGkAxJ27kh1", UID: "36025", Name: "GARANTEX EUROPE OU", PartyType: "Entity", Programs: []string{"CYBER4", "RUSSIA-EO14024"}, ListedOn: "2022-04-05", FeatureID: "49348"},
		{Asset: "TRX", Address: "TFwjPScaJRCbSWVAywE1S1WgaUgSnyYUbD", UID: "36025", Name: "GARANTEX EUROPE OU", PartyType: "Entity", Programs: []string{"CYBER4", "RUSSIA-EO14024"}, ListedOn: "2022-04-05", FeatureID: "89504"},
	}
	for i := range es {
		es[i].Line = 0
	}
	if issued != "2025-11-19" || !reflect.DeepEqual(es, want) {
		t.Fatalf("issued %s\n%+v", issued, es)
	}
	// Broken XML names the file and line.
	_, _, err = ReadOFACXML(strings.NewReader(sdnSeed[:len(sdnSeed)/2]+"<<"), "cut.xml")
	if err == nil || !strings.Contains(err.Error(), "cut.xml:") {
		t.Fatalf("truncated XML: %v", err)
	}
}

func FuzzOFACXML(f *testing.F) {
	f.Add([]byte(sdnSeed))
	f.Add([]byte(`<Sanctions><DistinctParty><Profile ID="1"><Feature FeatureTypeID="1"/></Profile></DistinctParty></Sanctions>`))
	if p := os.Getenv("SPOOR_SHARED"); p != "" {
		if b, err := os.ReadFile(p + "/data/lists/ofac_sdn_advanced_feature_sample.xml"); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		es, _, err := ReadOFACXML(bytes.NewReader(data), "fuzz.xml")
		if err != nil {
			return
		}
		b := &Batch{File: "fuzz.xml", List: "f"}
		if err := importOFACEntries(es, b); err != nil {
			t.Fatal(err)
		}
		checkBatch(t, b)
	})
}

// checkBatch asserts what every batch guarantees: each read record is a
// tag or a problem, and every tag's subject validates on its chain.
func checkBatch(t *testing.T, b *Batch) {
	t.Helper()
	if len(b.Tags)+len(b.Problems) < b.Read && b.Format != FormatActorPack {
		t.Fatalf("read %d, %d tags + %d problems", b.Read, len(b.Tags), len(b.Problems))
	}
	for _, tg := range b.Tags {
		if tg.Label == "" || tg.Subject.Chain == model.ChainUnknown || len(tg.Subject.Bytes) == 0 {
			t.Fatalf("bad tag %+v", tg)
		}
		if tg.Subject.Kind == SubjectAddress {
			a, err := ParseAddress(tg.Subject.Chain, tg.Address)
			if err != nil || !bytes.Equal(a.Bytes, tg.Subject.Bytes) || a.Repair != "" {
				t.Fatalf("stored address %q does not re-validate: %v", tg.Address, err)
			}
		}
	}
}

func FuzzTagPack(f *testing.F) {
	f.Add([]byte("title: t\nlabel: l\ncurrency: BTC\ntags:\n- address: 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa\n  concepts: [a, b]\n"))
	f.Add([]byte("title: t\ntags:\n- address: ТR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t\n  currency: TRX\n  label: x\n  x: &a 1\n  y: *a\n"))
	f.Add([]byte("actors:\n- id: a\n  label: A\n"))
	f.Add([]byte("tags: {}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Read(bytes.NewReader(data), "fuzz.yaml", Options{Format: FormatTagPack, List: "f", AsOf: "2025-01-01"})
		if err != nil {
			return
		}
		checkBatch(t, b)
		// What was read exports and reads back the same.
		var out bytes.Buffer
		if err := WriteTagPack(&out, b.Header, b.Tags); err != nil {
			t.Fatal(err)
		}
		b2, err := Read(bytes.NewReader(out.Bytes()), "fuzz.export.yaml", Options{Format: FormatTagPack, List: "f", AsOf: "2025-01-01"})
		if err != nil {
			t.Fatalf("export does not read back: %v\n%s", err, out.Bytes())
		}
		if len(b2.Tags) != len(b.Tags) {
			t.Fatalf("round trip %d → %d tags\n%s", len(b.Tags), len(b2.Tags), out.Bytes())
		}
		for i := range b.Tags {
			if !reflect.DeepEqual(b.Tags[i], b2.Tags[i]) {
				t.Fatalf("round trip tag %d\n%+v\n%+v", i, b.Tags[i], b2.Tags[i])
			}
		}
	})
}

func FuzzCSV(f *testing.F) {
	f.Add([]byte("chain,address,label,category,source,confidence\nbtc,1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa,genesis,user,x,ownership\n"), false)
	f.Add([]byte("chain,address,label,category,source,confidence\ntron,\"ТR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t\",x,scam,,\neth,0xzz,a,b,c,d\n"), false)
	f.Add([]byte("order_id,start_date,end_date,last_updated,wallet_address_as_published,wallet_address,homoglyphs_replaced,chain_guess,currency,platform,holder_schema,order_url\n"+
		"ASO 18/26,2026-07-01,2028-07-01,2026-07-01,ТWB9xgNG9nmJuwW4etsQEb9RRnrnVnoNnJ,TWB9xgNG9nmJuwW4etsQEb9RRnrnVnoNnJ,yes,tron,,,Wallet,https://x\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, nbctf bool) {
		format := FormatCSV
		if nbctf {
			format = FormatNBCTF
		}
		b, err := Read(bytes.NewReader(data), "fuzz.csv", Options{Format: format, AsOf: "2025-01-01"})
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.csv") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		checkBatch(t, b)
	})
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "ТR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", "ᴄᴄᴄᴄᴄᴄᴄᴄᴄᴄᴄᴄ"} {
		for _, c := range model.AllChains {
			f.Add(uint8(c), s)
		}
	}
	f.Fuzz(func(t *testing.T, c uint8, s string) {
		ch := model.Chain(c%4 + 1)
		a, err := ParseAddress(ch, s)
		if err != nil {
			return
		}
		again, err := ParseAddress(ch, a.Text)
		if err != nil || !bytes.Equal(again.Bytes, a.Bytes) || again.Repair != "" {
			t.Fatalf("%q → %q does not re-validate: %v", s, a.Text, err)
		}
	})
}

// TestSharedFilesAsSeeds runs every real list through its reader with the
// same invariants the fuzzers check.
func TestSharedFilesAsSeeds(t *testing.T) {
	dir := sharedtest.Lists(t, "graphsense_tagpacks")
	for _, p := range []string{dir + "/hacks.yaml", dir + "/usdt_blacklist.yaml", dir + "/ofac.yaml", dir + "/ransomwhere.yaml",
		sharedtest.Lists(t, "nbctf_il_mod_crypto_wallets_nopii.csv")} {
		b, err := ReadFile(p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		checkBatch(t, b)
	}
}
