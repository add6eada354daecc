package sim

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/spoor-dev/spoor/internal/model"
	"gopkg.in/yaml.v3"
)

// GraphSense confidence levels (BRIEF §3) and the concepts spoor uses.
var (
	confidences = map[string]bool{"override": true, "ownership": true, "ledger_immanent": true, "manual_transaction": true,
		"service_api": true, "forensic_investigation": true, "authority_data": true, "trusted_provider": true, "service_data": true,
		"forensic": true, "untrusted_transaction": true, "web_crawl": true, "heuristic": true, "unknown": true}
	concepts = map[string]bool{"terrorism": true, "terrorism_financing": true, "sanction": true, "extremism": true,
		"mixing_service": true, "exchange": true, "defi_bridge": true}
)

// The starting TagPack is valid GraphSense YAML and a realistic subset: some
// exchange hot wallets, the campaign's advertised address, one list hit —
// and not the addresses an investigation must discover.
func TestTagPack(t *testing.T) {
	dir, _, tr := smallWorld(t)
	b, err := os.ReadFile(filepath.Join(dir, "tagpack.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tp struct {
		Title    string `yaml:"title"`
		Creator  string `yaml:"creator"`
		IsPublic *bool  `yaml:"is_public"`
		Tags     []struct {
			Address    string   `yaml:"address"`
			Currency   string   `yaml:"currency"`
			Label      string   `yaml:"label"`
			Source     string   `yaml:"source"`
			Confidence string   `yaml:"confidence"`
			Category   string   `yaml:"category"`
			Abuse      string   `yaml:"abuse"`
			Concepts   []string `yaml:"concepts"`
			Context    string   `yaml:"context"`
		} `yaml:"tags"`
	}
	if err := yaml.Unmarshal(b, &tp); err != nil {
		t.Fatal(err)
	}
	if tp.Title == "" || tp.Creator == "" || tp.IsPublic == nil {
		t.Fatalf("header: %+v", tp)
	}
	owners, kinds := tr.owners(), tr.kinds()
	byKind := map[string]int{}
	for _, tag := range tp.Tags {
		c, err := model.ParseChain(map[string]string{"BTC": "btc", "TRX": "tron", "ETH": "eth"}[tag.Currency])
		if err != nil {
			t.Fatalf("tag %s: currency %q", tag.Address, tag.Currency)
		}
		decodeAddr(t, c, tag.Address)
		owner, ok := owners[c.String()+":"+tag.Address]
		if !ok {
			t.Fatalf("tag %s: no actor controls it", tag.Address)
		}
		byKind[kinds[owner]]++
		if !confidences[tag.Confidence] || tag.Label == "" || tag.Source == "" {
			t.Errorf("tag %s: confidence %q label %q source %q", tag.Address, tag.Confidence, tag.Label, tag.Source)
		}
		for _, cpt := range tag.Concepts {
			if !concepts[strings.TrimSpace(cpt)] {
				t.Errorf("tag %s: concept %q", tag.Address, cpt)
			}
		}
		if tag.Context != "" && !json.Valid([]byte(tag.Context)) {
			t.Errorf("tag %s: context is not JSON: %s", tag.Address, tag.Context)
		}
		switch kinds[owner] {
		case "campaign", "money_changer":
			if tag.Abuse != "terrorism" {
				t.Errorf("tag %s of the %s: abuse %q", tag.Address, kinds[owner], tag.Abuse)
			}
		case "exchange":
			if tag.Category != "exchange" {
				t.Errorf("exchange tag %s: category %q", tag.Address, tag.Category)
			}
		}
	}
	if byKind["exchange"] < 3 || byKind["campaign"] != 1 || byKind["money_changer"] != 1 {
		t.Errorf("tagged kinds %v: want some exchange wallets, one campaign address, one list hit", byKind)
	}
	for _, k := range []string{"collector", "cashier", "recruit", "financier", "swap_service", "user"} {
		if byKind[k] > 0 {
			t.Errorf("the %s is tagged at the start: nothing left to discover", k)
		}
	}
	if total := len(tr.Balances); len(tp.Tags)*50 > total {
		t.Errorf("%d tags for %d balances: not a small starting subset", len(tp.Tags), total)
	}
}

var update = flag.Bool("update", false, "rewrite golden files")

// A summary of the small world's truth (seed 1) is stable: any change of the
// generator's behaviour shows here and must be accepted with -update.
func TestGoldenSummary(t *testing.T) {
	if testScale() != "small" {
		t.Skip("golden summary is of the small world")
	}
	dir, _, tr := smallWorld(t)
	var b strings.Builder
	man, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m Manifest
	if err := json.Unmarshal(man, &m); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "seed %d scale %s transfers %d actors %d addresses %d\n", m.Seed, m.Scale, m.Transfers, m.Actors, m.Addresses)
	for _, c := range sortedKeys(m.Chains) {
		cc := m.Chains[c]
		fmt.Fprintf(&b, "chain %s blocks %d txs %d transfers %d heights %d..%d\n", c, cc.Blocks, cc.Txs, cc.Transfers, cc.FirstBlock, cc.LastBlock)
	}
	actorKinds := map[string]int{}
	for _, a := range tr.Actors {
		actorKinds[a.Kind]++
	}
	for _, k := range sortedKeys(actorKinds) {
		fmt.Fprintf(&b, "actors %s %d\n", k, actorKinds[k])
	}
	var typs []string
	for _, ty := range tr.Typologies {
		if ty.TF || ty.Kind == "payroll" || ty.Kind == "coinjoin" || ty.Kind == "charity_fan_in" {
			typs = append(typs, fmt.Sprintf("typology %s tf=%t transfers %d", ty.ID, ty.TF, len(ty.Transfers)))
		}
	}
	sort.Strings(typs)
	b.WriteString(strings.Join(typs, "\n") + "\n")
	for _, f := range tr.Flows {
		fmt.Fprintf(&b, "flow %s -> %s %s %s %s hops %d\n", f.Campaign, f.Cashout, f.Chain, f.Value, f.Asset, len(f.Path))
	}
	golden := filepath.Join("testdata", "small-seed1.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if string(want) != b.String() {
		t.Errorf("summary differs from %s (run with -update if the change is intended):\n%s", golden, b.String())
	}
}
