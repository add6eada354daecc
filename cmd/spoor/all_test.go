package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestSimIngestAll takes the path a user with real exports takes: a simulated
// world (every chain in its own format, prices, a starting TagPack) through
// `spoor ingest all`, then checks balances spoor reports against the world's
// truth, address by address, across all three chains.
func TestSimIngestAll(t *testing.T) {
	world := filepath.Join(t.TempDir(), "world")
	data := t.TempDir()
	if _, e, code := run(t, nil, "sim", "--seed", "7", "--out", world, "--scale", "small"); code != 0 {
		t.Fatalf("sim: exit %d: %s", code, e)
	}
	out, e, code := run(t, nil, "--data", data, "--json", "ingest", "all", world)
	if code != 0 {
		t.Fatalf("ingest all: exit %d: %s", code, e)
	}
	var res struct {
		Steps []struct {
			Step   string
			Result map[string]any
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("ingest all --json printed %q: %v", out, err)
	}
	steps := map[string]map[string]any{}
	for _, s := range res.Steps {
		steps[s.Step] = s.Result
	}
	for _, want := range []string{"btc blk files", "tron ETL export", "eth ETL export", "USD prices", "attribution TagPack"} {
		if steps[want] == nil {
			t.Fatalf("ingest all did no %q step: %s", want, out)
		}
	}
	if tp := steps["attribution TagPack"]; tp["rejected"] != float64(0) || tp["added"] == float64(0) {
		t.Fatalf("TagPack of the simulated world: %v", tp)
	}

	raw, err := os.ReadFile(filepath.Join(world, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var truth struct {
		Balances   []struct{ Chain, Address, Asset, Balance string }
		Openings   []struct{ Chain, Address, Asset, Balance string }
		Typologies []struct {
			Kind      string
			Params    map[string]string
			Transfers []struct{ Chain, From, To, Asset, Value string }
		}
	}
	if err := json.Unmarshal(raw, &truth); err != nil {
		t.Fatal(err)
	}
	if len(truth.Balances) < 100 {
		t.Fatalf("truth lists %d balances", len(truth.Balances))
	}
	// Issuers held balances before the exported range (truth's openings): the
	// export alone cannot show them, so they are not compared.
	opened := map[string]bool{}
	for _, o := range truth.Openings {
		opened[o.Chain+" "+o.Address] = true
	}
	chains := map[string]int{}
	step := len(truth.Balances) / 40
	for i := 0; i < len(truth.Balances); i += step {
		b := truth.Balances[i]
		if opened[b.Chain+" "+b.Address] {
			continue
		}
		out, e, code := run(t, nil, "--data", data, "address", b.Chain, b.Address, "--json")
		if code != 0 {
			t.Fatalf("address %s %s: exit %d: %s", b.Chain, b.Address, code, e)
		}
		var rep struct {
			Address string
			Assets  []struct{ Asset, Balance string }
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Address != b.Address {
			t.Fatalf("spoor prints %s as %s", b.Address, rep.Address)
		}
		got := "0"
		for _, a := range rep.Assets {
			if a.Asset == b.Asset {
				got = a.Balance
			}
		}
		if got != b.Balance {
			t.Fatalf("%s %s %s: spoor says balance %s, truth %s", b.Chain, b.Address, b.Asset, got, b.Balance)
		}
		chains[b.Chain]++
	}
	if len(chains) != 3 {
		t.Fatalf("sampled balances cover chains %v, want btc, eth and tron", chains)
	}

	// The campaign's donors, as `spoor counterparties` reports them, include
	// every planted crowdfunding donation's sender, with exact totals on Tron.
	checkedDonors := 0
	for _, ty := range truth.Typologies {
		addr := ty.Params["address"]
		if ty.Kind != "crowdfunding" || addr == "" {
			continue
		}
		out, e, code := run(t, nil, "--data", data, "counterparties", "tron", addr, "--limit", "0", "--json")
		if code != 0 {
			t.Fatalf("counterparties: exit %d: %s", code, e)
		}
		var rep struct {
			Direction      string
			Total          int `json:"total_counterparties"`
			Counterparties []struct {
				Address, Asset, Value string
				Estimated             bool
				Txs                   int
				ExampleTxids          []string `json:"example_txids"`
			}
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Direction != "in" || rep.Total != len(rep.Counterparties) {
			t.Fatalf("counterparties report: %+v", rep)
		}
		for _, x := range ty.Transfers {
			if x.To != addr || x.Chain != "tron" {
				continue
			}
			found := false
			for _, cp := range rep.Counterparties {
				if cp.Address == x.From && cp.Asset == x.Asset && !cp.Estimated && cp.Txs >= 1 && len(cp.ExampleTxids) >= 1 {
					found = true
				}
			}
			if !found {
				t.Fatalf("planted donation %s %s from %s is not among the counterparties of %s", x.Value, x.Asset, x.From, addr)
			}
			checkedDonors++
		}
	}
	if checkedDonors == 0 {
		t.Fatal("the world planted no Tron crowdfunding donations to check")
	}
	for _, args := range [][]string{
		{"counterparties", "tron", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"}, // valid, never seen here
		{"counterparties", "tron", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u"}, // bad checksum
		{"counterparties", "tron", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "--limit", "-1"},
	} {
		out, e, code := run(t, nil, append([]string{"--data", data}, args...)...)
		if code == 0 || out != "" || e == "" {
			t.Fatalf("%v: exit %d, stdout %q, stderr %q", args, code, out, e)
		}
	}
}
