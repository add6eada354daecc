package attrib

import (
	"bytes"
	"compress/bzip2"
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/sharedtest"
)

// textList reads an OFAC per-asset list independently: its non-empty lines.
func textList(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func textLists(t *testing.T, dir string) map[string][]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "sanctioned_addresses_*.txt"))
	out := map[string][]string{}
	for _, f := range files {
		a := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "sanctioned_addresses_"), ".txt")
		out[a] = textList(t, f)
	}
	return out
}

// TestOFACTextLists imports both real folders and checks every line is
// accounted for: imported, rejected (with reason) or skipped (chain not
// covered), per asset, with the counts the lists' README gives.
func TestOFACTextLists(t *testing.T) {
	for _, tc := range []struct {
		dir    string
		counts map[string]int // from the README of shared/data/lists
	}{
		{"ofac_2025-11-19", map[string]int{"XBT": 517, "USDT": 93, "ETH": 77, "TRX": 29, "LTC": 10, "XMR": 8}},
		{"ofac_2024-09-27", map[string]int{"XBT": 435, "ETH": 152, "USDT": 26, "TRX": 6}},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			dir := sharedtest.Lists(t, tc.dir)
			lists := textLists(t, dir)
			for a, n := range tc.counts {
				if len(lists[a]) != n {
					t.Errorf("%s: %d lines, README says %d", a, len(lists[a]), n)
				}
			}
			b, err := ReadFile(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if b.Version != tc.dir[5:] || b.Format != FormatOFACText || b.List != "ofac-sdn-txt" {
				t.Fatalf("batch %s %s %s", b.Format, b.List, b.Version)
			}
			perAsset := map[string]int{}
			for _, tg := range b.Tags {
				perAsset[tg.Currency]++
			}
			probs := map[string]int{}
			for _, p := range b.Problems {
				a := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p.File), "sanctioned_addresses_"), ".txt")
				probs[a]++
				switch {
				case p.Kind == Rejected:
					t.Logf("%s", p)
				case p.Kind == Skipped && (a == "XBT" || a == "ETH" || a == "TRX" || a == "USDT"):
					t.Errorf("covered asset skipped: %s", p)
				}
			}
			for a, lines := range lists {
				if perAsset[a]+probs[a] != len(lines) {
					t.Errorf("%s: %d lines but %d tags + %d problems", a, len(lines), perAsset[a], probs[a])
				}
			}
			// Every address of the covered assets is imported, except the one
			// Tron address OFAC filed under XBT in 2025 (rejected, named).
			for _, a := range []string{"ETH", "TRX", "USDT"} {
				if perAsset[a] != len(lists[a]) {
					t.Errorf("%s: %d of %d imported", a, perAsset[a], len(lists[a]))
				}
			}
			for _, p := range b.Problems {
				if p.Kind == Rejected && strings.Contains(p.File, "_XBT") &&
					!(strings.Contains(p.Reason, "TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq") && strings.Contains(p.Reason, "valid tron address")) {
					t.Errorf("unexpected XBT rejection: %s", p)
				}
			}
			t.Logf("%s: per-asset tags %v; %d rejected, %d skipped", tc.dir, perAsset, b.Count(Rejected), b.Count(Skipped))
		})
	}
}

var (
	xmlOnce    sync.Once
	xmlEntries []OFACEntry
	xmlIssued  string
	xmlErr     error
)

var (
	sdnOnce sync.Once
	sdnData []byte
	sdnErr  error
)

// sdnBytes returns the real sdn_advanced.xml, decompressed once.
func sdnBytes(t testing.TB) []byte {
	t.Helper()
	path := sharedtest.Lists(t, "ofac_2025-11-19/sdn_advanced.xml.bz2")
	sdnOnce.Do(func() {
		f, err := os.Open(path)
		if err != nil {
			sdnErr = err
			return
		}
		defer f.Close()
		sdnData, sdnErr = io.ReadAll(bzip2.NewReader(f))
	})
	if sdnErr != nil {
		t.Fatal(sdnErr)
	}
	return sdnData
}

func ofacXML(t testing.TB) ([]OFACEntry, string) {
	t.Helper()
	data := sdnBytes(t)
	xmlOnce.Do(func() {
		xmlEntries, xmlIssued, xmlErr = ReadOFACXML(bytes.NewReader(data), "sdn_advanced.xml")
	})
	if xmlErr != nil {
		t.Fatal(xmlErr)
	}
	return xmlEntries, xmlIssued
}

// TestOFACXMLAgainstTextLists decodes the real 121 MB sdn_advanced.xml and
// compares its digital currency addresses, per asset, with the per-asset
// text lists of the same date, and each entry with the joined CSV.
func TestOFACXMLAgainstTextLists(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 121 MB of XML")
	}
	entries, issued := ofacXML(t)
	if issued != "2025-11-19" {
		t.Fatalf("date of issue %s", issued)
	}
	lists := textLists(t, sharedtest.Lists(t, "ofac_2025-11-19"))
	xml := OFACAssets(entries)
	assets := map[string]bool{}
	for a := range xml {
		assets[a] = true
	}
	for a := range lists {
		assets[a] = true
	}
	for a := range assets {
		txt := append([]string(nil), lists[a]...)
		sort.Strings(txt)
		x := xml[a]
		onlyX, onlyT := diffSets(x, txt)
		if len(onlyX)+len(onlyT) > 0 {
			t.Errorf("%s: XML has %d, text list %d; only in XML %v; only in text %v", a, len(x), len(txt), onlyX, onlyT)
		}
	}
	// The joined CSV (address, asset, sdn_uid, name, party_type, programs,
	// listed_on) derived from the same XML.
	f, err := os.Open(sharedtest.Lists(t, "ofac_sdn_digital_currency_addresses_2025-11-19.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(rows)-1 {
		t.Errorf("%d address features, the joined CSV has %d rows", len(entries), len(rows)-1)
	}
	byKey := map[string]OFACEntry{}
	for _, e := range entries {
		byKey[e.Address+"|"+e.Asset+"|"+e.UID] = e
	}
	terror := 0
	for _, r := range rows[1:] {
		e, ok := byKey[r[0]+"|"+r[1]+"|"+r[2]]
		if !ok {
			t.Errorf("CSV row %v not in the XML decode", r)
			continue
		}
		progs := append([]string(nil), e.Programs...)
		sort.Strings(progs) // the CSV sorts them; the XML gives them in entry order
		if strings.Join(progs, ";") != r[5] || e.ListedOn != r[6] || e.PartyType != r[4] || !strings.HasPrefix(r[3], e.Name) || e.Name == "" {
			t.Errorf("entry %s %s: programs %v listed %s party %s name %q; CSV %v", e.UID, e.Address, e.Programs, e.ListedOn, e.PartyType, e.Name, r)
		}
		for _, p := range e.Programs {
			if p == "SDGT" || p == "FTO" {
				terror++
				break
			}
		}
	}
	if terror != 32 {
		t.Errorf("%d addresses with SDGT/FTO programs, README says 32", terror)
	}
}

func diffSets(a, b []string) (onlyA, onlyB []string) {
	in := func(s []string) map[string]bool {
		m := map[string]bool{}
		for _, x := range s {
			m[x] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	for x := range ma {
		if !mb[x] {
			onlyA = append(onlyA, x)
		}
	}
	for x := range mb {
		if !ma[x] {
			onlyB = append(onlyB, x)
		}
	}
	sort.Strings(onlyA)
	sort.Strings(onlyB)
	return
}

// TestOFACXMLImport checks what the XML import turns into tags.
func TestOFACXMLImport(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 121 MB of XML")
	}
	entries, _ := ofacXML(t)
	b := &Batch{File: "sdn_advanced.xml", List: "ofac-sdn"}
	if err := importOFACEntries(entries, b); err != nil {
		t.Fatal(err)
	}
	if b.Read != len(entries) {
		t.Fatalf("read %d of %d", b.Read, len(entries))
	}
	accounted := len(b.Tags) + b.Count(Rejected) + b.Count(Skipped) + b.Count(Duplicate)
	if accounted != len(entries) {
		t.Fatalf("%d entries, %d accounted for", len(entries), accounted)
	}
	byChain := map[model.Chain]int{}
	terror := 0
	for _, tg := range b.Tags {
		byChain[tg.Subject.Chain]++
		if tg.Category != "sanctions" || tg.Confidence != "authority_data" || tg.Ref == "" || tg.Label == "" || tg.SourceDate == "" {
			t.Fatalf("tag %+v", tg)
		}
		if tg.Abuse == "terrorism_financing" {
			terror++
		}
	}
	for _, p := range b.Problems {
		if p.Kind != Skipped {
			t.Logf("%s", p)
		}
	}
	t.Logf("XML: %d features → %d tags %v, %d terrorism-financing; rejected %d, skipped %d, duplicates %d",
		len(entries), len(b.Tags), byChain, terror, b.Count(Rejected), b.Count(Skipped), b.Count(Duplicate))
	if terror == 0 {
		t.Fatal("no SDGT/FTO address marked terrorism_financing")
	}
}
