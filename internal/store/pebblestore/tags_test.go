package pebblestore

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spoor-dev/spoor/internal/address"
	"github.com/spoor-dev/spoor/internal/attrib"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/sharedtest"
	"github.com/spoor-dev/spoor/internal/store"
)

var tagImportTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func tagImportFile(t *testing.T, s *Store, path string, o attrib.Options) attrib.Result {
	t.Helper()
	b, err := attrib.ReadFile(path, o)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.ImportTags(b, tagImportTime)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// ethSet reads an OFAC ETH list independently: canonical hex of each line.
func tagETHSet(t *testing.T, path string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out[strings.ToLower(strings.TrimPrefix(l, "0x"))] = true
		}
	}
	return out
}

// TestTagsOFACDelistings imports the real OFAC lists of 2024-09-27 and then
// 2025-11-19: the ETH list shrinks from 152 to 77 (Tornado Cash delisted);
// every removed address is retired with its dates and answers "was it
// listed on D?" correctly.
func TestTagsOFACDelistings(t *testing.T) {
	d24, d25 := sharedtest.Lists(t, "ofac_2024-09-27"), sharedtest.Lists(t, "ofac_2025-11-19")
	old, cur := tagETHSet(t, filepath.Join(d24, "sanctioned_addresses_ETH.txt")), tagETHSet(t, filepath.Join(d25, "sanctioned_addresses_ETH.txt"))
	if len(old) != 152 || len(cur) != 77 {
		t.Fatalf("ETH lists: %d and %d addresses, README says 152 and 77", len(old), len(cur))
	}
	s := openTestStore(t)
	r1 := tagImportFile(t, s, d24, attrib.Options{})
	r2 := tagImportFile(t, s, d25, attrib.Options{})
	t.Logf("2024: %+v", tagSummary(r1))
	t.Logf("2025: %+v", tagSummary(r2))
	eth := map[string]attrib.Tag{}
	if err := s.ListTags("ofac-sdn-txt", func(tg *attrib.Tag) error {
		if tg.Currency == "ETH" {
			eth[hex.EncodeToString(tg.Subject.Bytes)] = *tg
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(eth) != len(tagUnion(old, cur)) {
		t.Fatalf("%d ETH tags stored, %d distinct addresses in the two lists", len(eth), len(tagUnion(old, cur)))
	}
	retired, added := 0, 0
	for a, tg := range eth {
		switch {
		case old[a] && !cur[a]:
			retired++
			if tg.Active() || tg.ListedOn != "2024-09-27" || tg.DelistedOn != "2025-11-19" ||
				!tg.ListedAt("2025-01-01") || tg.ListedAt("2025-11-19") || tg.ListedAt("2024-09-26") {
				t.Fatalf("delisted %s: %+v", a, tg)
			}
		case cur[a] && !old[a]:
			added++
			if !tg.Active() || tg.ListedOn != "2025-11-19" || tg.ListedAt("2025-01-01") {
				t.Fatalf("new %s: %+v", a, tg)
			}
		default:
			if !tg.Active() || tg.ListedOn != "2024-09-27" || !tg.ListedAt("2025-01-01") {
				t.Fatalf("kept %s: %+v", a, tg)
			}
		}
	}
	active := 0
	for _, tg := range eth {
		if tg.Active() {
			active++
		}
	}
	if active != 77 || retired != len(old)-len(tagIntersect(old, cur)) {
		t.Fatalf("ETH active %d (want 77), retired %d", active, retired)
	}
	t.Logf("ETH: %d retired, %d added, %d active", retired, added, active)
	// One of the Tornado Cash addresses answers through the subject index too.
	for a := range old {
		if cur[a] {
			continue
		}
		b, _ := hex.DecodeString(a)
		tags, err := s.Tags(attrib.Subject{Chain: model.ETH, Kind: attrib.SubjectAddress, Bytes: b})
		if err != nil || len(tags) != 1 || tags[0].DelistedOn != "2025-11-19" {
			t.Fatalf("Tags(%s) = %+v, %v", a, tags, err)
		}
		break
	}
	info, err := s.TagList("ofac-sdn-txt")
	if err != nil || len(info.Versions) != 2 || info.Versions[1].Retired != r2.Retired || info.Versions[0].Version != "2024-09-27" {
		t.Fatalf("list info %+v, %v", info, err)
	}
	// Importing the older list again is refused and changes nothing.
	before := tagSnap(t, s)
	b, err := attrib.ReadFile(d24, attrib.Options{List: "ofac-sdn-txt", AsOf: "2024-09-28"})
	if err != nil {
		t.Fatal(err)
	}
	b.Version = "2024-09-27"
	if _, err := s.ImportTags(b, tagImportTime); !errors.Is(err, attrib.ErrOlderVersion) {
		t.Fatalf("older version: %v", err)
	}
	if !reflect.DeepEqual(before, tagSnap(t, s)) {
		t.Fatal("refused import changed the store")
	}
}

func tagSummary(r attrib.Result) attrib.Result { r.Problems = nil; return r }

func tagUnion(a, b map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func tagIntersect(a, b map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		if b[k] {
			out[k] = true
		}
	}
	return out
}

func tagSnap(t *testing.T, s *Store) map[string]string {
	t.Helper()
	m, err := s.tagSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTagsIdempotentAndAtomic: importing the same real file twice changes
// no byte; a batch that fails leaves the store as it was.
func TestTagsIdempotentAndAtomic(t *testing.T) {
	s := openTestStore(t)
	nb := sharedtest.Lists(t, "nbctf_il_mod_crypto_wallets_nopii.csv")
	r := tagImportFile(t, s, nb, attrib.Options{})
	if r.Added == 0 || r.Added+r.Duplicates+r.Rejected+r.Skipped != r.Read {
		t.Fatalf("first import %+v", tagSummary(r))
	}
	before := tagSnap(t, s)
	if len(before) != 2*r.Added+1 { // T and R per tag, one L
		t.Fatalf("%d keys after %d tags", len(before), r.Added)
	}
	r2 := tagImportFile(t, s, nb, attrib.Options{})
	if !r2.NoOp || r2.Added+r2.Changed+r2.Retired != 0 || !reflect.DeepEqual(before, tagSnap(t, s)) {
		t.Fatalf("second import changed the store: %+v", tagSummary(r2))
	}
	// A batch with one tag the store cannot hold (NUL in its label) fails
	// as a whole: none of the valid tags before it is written.
	b, err := attrib.ReadFile(sharedtest.Lists(t, "graphsense_tagpacks/aft-alqaeda-forfeit_vc.yaml"), attrib.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b.Tags[len(b.Tags)-1].Label = "bad\x00label"
	if _, err := s.ImportTags(b, tagImportTime); err == nil {
		t.Fatal("tag with NUL label accepted")
	}
	if !reflect.DeepEqual(before, tagSnap(t, s)) {
		t.Fatal("failed import changed the store")
	}
	// A version with one row changed: exactly one tag rewritten.
	b, err = attrib.ReadFile(nb, attrib.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b.Tags[0].Source = "https://example.org/corrected"
	b.Digest = "corrected"
	r3, err := s.ImportTags(b, tagImportTime)
	if err != nil || r3.Changed != 1 || r3.Added != 0 || r3.Retired != 0 {
		t.Fatalf("correction: %+v %v", tagSummary(r3), err)
	}
	after := tagSnap(t, s)
	changed := 0
	for k, v := range after {
		if before[k] != v {
			changed++
		}
	}
	if changed != 2 { // the tag and the list record
		t.Fatalf("%d keys changed by a one-tag correction", changed)
	}
}

// TestTagsBadRowsReported: rejected rows are reported with file and line
// and the rest is imported.
func TestTagsBadRowsReported(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mine.csv")
	csv := "chain,address,label,category,source,confidence\n" +
		"btc,1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa,genesis,user,https://x,ownership\n" +
		"eth,0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD,bad checksum,exchange,,service_data\n" +
		"tron,ТR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t,usdt,defi,,\n" +
		"ltc,LaizKtS5DUhPuP1nTQcc83MS7HwK6vk85z,x,scam,,\n" +
		"eth,0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed,x,not_a_category,,\n"
	if err := os.WriteFile(p, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	s := openTestStore(t)
	r := tagImportFile(t, s, p, attrib.Options{})
	if r.Added != 2 || r.Rejected != 2 || r.Skipped != 1 || r.Repaired != 1 || r.List != "mine" {
		t.Fatalf("%+v", r)
	}
	lines := map[int]string{}
	for _, pr := range r.Problems {
		if pr.File != p {
			t.Fatalf("problem names %s", pr.File)
		}
		lines[pr.Line] += pr.Kind + " "
	}
	want := map[int]string{3: "rejected ", 4: "repaired ", 5: "skipped ", 6: "rejected "}
	if !reflect.DeepEqual(lines, want) {
		t.Fatalf("problem lines %v", lines)
	}
	tron, _ := address.TronDecode("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t")
	tags, err := s.Tags(attrib.Subject{Chain: model.Tron, Kind: attrib.SubjectAddress, Bytes: tron})
	if err != nil || len(tags) != 1 || tags[0].Address != "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t" || tags[0].Confidence != "unknown" {
		t.Fatalf("repaired tag %+v %v", tags, err)
	}
}

// TestTagsEntityAttribution: tags of real exchange packs combined for a set
// of addresses; one exchange gives an owner, two give a conflict.
func TestTagsEntityAttribution(t *testing.T) {
	s := openTestStore(t)
	dir := sharedtest.Lists(t, "graphsense_tagpacks")
	byActor := map[string][][]byte{}
	seen := map[string]bool{}
	for _, f := range []string{"exchange-wallets-binance.yaml", "exchange-wallets-huobi.yaml"} {
		tagImportFile(t, s, filepath.Join(dir, f), attrib.Options{})
	}
	if err := s.ListTags("", func(tg *attrib.Tag) error {
		k := tg.Actor + string(tg.Subject.Bytes)
		if tg.Subject.Chain == model.ETH && !seen[k] { // one address carries several token tags
			seen[k] = true
			byActor[tg.Actor] = append(byActor[tg.Actor], append([]byte(nil), tg.Subject.Bytes...))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(byActor["binance"]) < 2 || len(byActor["huobi"]) < 1 {
		t.Fatalf("eth addresses by actor: %d binance, %d huobi", len(byActor["binance"]), len(byActor["huobi"]))
	}
	tags, err := s.TagsOf(model.ETH, byActor["binance"][:2])
	if err != nil {
		t.Fatal(err)
	}
	att := attrib.Combine(tags, "")
	if att.Owner != "binance" || att.OwnerClass != "exchange" || len(att.Conflicts) != 0 || att.Addresses != 2 {
		t.Fatalf("binance pair: %+v", att)
	}
	tags, err = s.TagsOf(model.ETH, [][]byte{byActor["binance"][0], byActor["huobi"][0]})
	if err != nil {
		t.Fatal(err)
	}
	att = attrib.Combine(tags, "")
	if att.Owner != "" || len(att.Conflicts) != 1 || att.Conflicts[0].Kind != "owner" {
		t.Fatalf("binance+huobi: %+v", att)
	}
	if _, err := s.TagList("nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing list: %v", err)
	}
}

// BenchmarkImportOFACXML is the whole import of the real OFAC list: read
// the .bz2 (decompress, frame, decode the parties with addresses, validate)
// and write the version into a fresh store, synced.
func BenchmarkImportOFACXML(b *testing.B) {
	path := sharedtest.Lists(b, "ofac_2025-11-19/sdn_advanced.xml.bz2")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, err := Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		bt, err := attrib.ReadFile(path, attrib.Options{})
		if err != nil {
			b.Fatal(err)
		}
		res, err := s.ImportTags(bt, tagImportTime)
		if err != nil || res.Added != 725 {
			b.Fatalf("%+v %v", tagSummary(res), err)
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
}

// TestTagsScreenFixture imports the three counter-terrorist-financing
// sources (NBCTF seizures, the DOJ al-Qaeda TagPack, the OFAC XML) and
// screens every address of the merged fixture table against the store:
// each must be found, active, in the list of its source, with a terrorism
// class — except exchange accounts, which are not on-chain addresses.
func TestTagsScreenFixture(t *testing.T) {
	if testing.Short() {
		t.Skip("imports the 121 MB OFAC XML")
	}
	s := openTestStore(t)
	tagImportFile(t, s, sharedtest.Lists(t, "nbctf_il_mod_crypto_wallets_nopii.csv"), attrib.Options{})
	tagImportFile(t, s, sharedtest.Lists(t, "graphsense_tagpacks/aft-alqaeda-forfeit_vc.yaml"), attrib.Options{})
	tagImportFile(t, s, sharedtest.Lists(t, "ofac_2025-11-19/sdn_advanced.xml.bz2"), attrib.Options{})
	data, err := os.ReadFile(sharedtest.Lists(t, "ctf_test_fixture_addresses.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(string(data)), "\n")[1:]
	nbctf, err := os.ReadFile(sharedtest.Lists(t, "nbctf_il_mod_crypto_wallets_nopii.csv"))
	if err != nil {
		t.Fatal(err)
	}
	found, accounts := 0, 0
	for _, row := range rows {
		f := strings.SplitN(row, ",", 4)
		addr, chainName, src := f[0], f[1], f[3]
		c, err := model.ParseChain(chainName)
		if err != nil {
			t.Fatalf("fixture chain %q", chainName)
		}
		a, err := attrib.ParseAddress(c, addr)
		if err != nil {
			t.Errorf("fixture %s %s does not validate: %v", chainName, addr, err)
			continue
		}
		tags, err := s.Tags(attrib.Subject{Chain: c, Kind: attrib.SubjectAddress, Bytes: a.Bytes})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"OFAC": "ofac-sdn", "US DOJ": "graphsense/aft-alqaeda-forfeit_vc", "Israel": "nbctf-il-seizures"}
		list := ""
		for p, l := range want {
			if strings.HasPrefix(src, p) {
				list = l
			}
		}
		ok := false
		for _, tg := range tags {
			cl := tg.Class() + " " + tg.Abuse
			ok = ok || (tg.List == list && tg.Active() && strings.Contains(cl, "terror"))
		}
		switch {
		case ok:
			found++
		case list == "nbctf-il-seizures" && strings.Contains(string(nbctf), addr+",no,evm,,NOBITEX"):
			accounts++ // an exchange account: skipped by the importer, by design
		default:
			t.Errorf("fixture %s %s (%s): tags %+v", chainName, addr, src, tags)
		}
	}
	t.Logf("fixture: %d rows, %d found with a terrorism tag of their source, %d exchange accounts not imported", len(rows), found, accounts)
}
