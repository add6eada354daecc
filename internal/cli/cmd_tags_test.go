package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/spoor-dev/spoor/internal/sharedtest"
)

func tagsRun(t *testing.T, data string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(append([]string{"--data", data}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

func tagsMustRun(t *testing.T, data string, args ...string) string {
	t.Helper()
	out, errs, code := tagsRun(t, data, args...)
	if code != 0 {
		t.Fatalf("spoor %v: exit %d\n%s%s", args, code, out, errs)
	}
	return out
}

// TestTagsCLI drives the tags commands over the real lists: imports, the
// exact JSON shape of show, history with --at, stats, export → import.
func TestTagsCLI(t *testing.T) {
	d24, d25 := sharedtest.Lists(t, "ofac_2024-09-27"), sharedtest.Lists(t, "ofac_2025-11-19")
	aq := sharedtest.Lists(t, "graphsense_tagpacks/aft-alqaeda-forfeit_vc.yaml")
	data := t.TempDir()
	tagsMustRun(t, data, "tags", "import", d24)
	out := tagsMustRun(t, data, "tags", "import", d25, "--json")
	var res struct {
		Retired  int
		Problems []struct{ Kind, Reason string }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Retired == 0 || len(res.Problems) == 0 {
		t.Fatalf("import json: %v %s", err, out)
	}
	tagsMustRun(t, data, "tags", "import", aq)

	// A Tornado Cash router: on the 2024 list, not on the 2025 one.
	const tc = "0xd90e2f925DA726b50C4Ed8D0Fb90Ad053324F31b"
	if !strings.Contains(tagsReadFile(t, filepath.Join(d24, "sanctioned_addresses_ETH.txt")), tc) ||
		strings.Contains(tagsReadFile(t, filepath.Join(d25, "sanctioned_addresses_ETH.txt")), tc) {
		t.Fatalf("%s is not a 2024-only address of the lists", tc)
	}
	out = tagsMustRun(t, data, "tags", "show", "eth", strings.ToLower(tc), "--json")
	var raw map[string]any
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	if tagsKeys(raw) != "address,chain,tags" || raw["address"] != tc || raw["chain"] != "eth" {
		t.Fatalf("show shape: %s", out)
	}
	tags := raw["tags"].([]any)
	if len(tags) != 1 {
		t.Fatalf("tags: %s", out)
	}
	tag := tags[0].(map[string]any)
	if tagsKeys(tag) != "active,actor,category,confidence,delisted_on,label,list,listed_on,source" {
		t.Fatalf("tag shape: %v", tagsKeys(tag))
	}
	if tag["active"] != false || tag["delisted_on"] != "2025-11-19" || tag["listed_on"] != "2024-09-27" || tag["category"] != "sanctions" || tag["confidence"] != "authority_data" {
		t.Fatalf("tag: %v", tag)
	}
	out = tagsMustRun(t, data, "tags", "show", "eth", tc, "--at", "2025-03-01", "--json")
	if !strings.Contains(out, `"active":true`) {
		t.Fatalf("--at 2025-03-01: %s", out)
	}

	// An analyst's tag, then stats.
	out = tagsMustRun(t, data, "tags", "add", "btc", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "--label", "genesis", "--category", "user", "--by", "alice")
	if !strings.Contains(out, "added") || !strings.Contains(out, "alice") {
		t.Fatalf("add: %s", out)
	}
	out = tagsMustRun(t, data, "tags", "stats", "--json")
	var st struct {
		Total      struct{ Tags, Active, Retired int }
		ByList     map[string]struct{ Tags, Active, Retired int } `json:"by_list"`
		ByChain    map[string]struct{ Tags int }                  `json:"by_chain"`
		ByCategory map[string]struct{ Tags int }                  `json:"by_category"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	if st.ByList["graphsense/aft-alqaeda-forfeit_vc"].Tags != 155 || st.ByList["manual"].Tags != 1 || st.ByCategory["terrorism"].Tags != 155 ||
		st.Total.Retired != res.Retired || st.Total.Tags != st.Total.Active+st.Total.Retired {
		t.Fatalf("stats: %s", out)
	}

	// Export the al-Qaeda list and import it into a fresh store: the same
	// tags.
	exp := filepath.Join(t.TempDir(), "aq.yaml")
	tagsMustRun(t, data, "tags", "export", "--format", "tagpack", "--list", "graphsense/aft-alqaeda-forfeit_vc", "--out", exp)
	data2 := t.TempDir()
	tagsMustRun(t, data2, "tags", "import", exp, "--list", "graphsense/aft-alqaeda-forfeit_vc")
	out = tagsMustRun(t, data2, "tags", "show", "btc", "1421chCK32pV32Tw5MQbiUiKWKvnmj7d91", "--json")
	if !strings.Contains(out, `"label":"Al-Qaeda Campaign","category":"terrorism"`) {
		t.Fatalf("re-imported: %s", out)
	}

	// Errors: bad address, unknown format, strict mode with a bad row.
	if _, errs, code := tagsRun(t, data, "tags", "show", "eth", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"); code != 2 || !strings.Contains(errs, "EIP-55") {
		t.Fatalf("bad address: %d %s", code, errs)
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("chain,address,label,category,source,confidence\nbtc,1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb,x,scam,,\nbtc,1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa,y,scam,,\n"), 0o644)
	if out, errs, code := tagsRun(t, data, "tags", "import", bad, "--strict"); code != 1 || !strings.Contains(errs, "nothing imported") || !strings.Contains(errs, "bad.csv:2") {
		t.Fatalf("strict: %d %s %s", code, out, errs)
	}
	if out := tagsMustRun(t, data, "tags", "show", "btc", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "--json"); strings.Contains(out, `"label":"y"`) {
		t.Fatalf("strict import wrote: %s", out)
	}
	if _, _, code := tagsRun(t, data, "tags", "import", bad, "--format", "xlsx"); code != 2 {
		t.Fatalf("unknown format exit %d", code)
	}
}

func tagsKeys(m map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

func tagsReadFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
