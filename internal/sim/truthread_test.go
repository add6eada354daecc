package sim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ReadTruth reads what the generator wrote (compared with the independent
// parse the other tests use) and names file and line on bad input.
func TestReadTruth(t *testing.T) {
	dir, _, tf := smallWorld(t)
	path := filepath.Join(dir, "truth.json")
	tr, err := ReadTruth(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Actors) != len(tf.Actors) || len(tr.Balances) != len(tf.Balances) || len(tr.Typologies) != len(tf.Typologies) ||
		len(tr.Flows) != len(tf.Flows) || tr.Seed != 1 || len(tr.Assets) != 5 {
		t.Fatalf("read %d actors %d balances %d typologies %d flows", len(tr.Actors), len(tr.Balances), len(tr.Typologies), len(tr.Flows))
	}
	f := tr.Flows[0]
	if a, ok := tr.Owner(f.Chain, f.To); !ok || a.ID != f.Cashout {
		t.Errorf("owner of %s: %v %v, want %s", f.To, a, ok, f.Cashout)
	}
	if a, ok := tr.Actor(f.Campaign); !ok || a.Kind != "campaign" {
		t.Errorf("actor %s: %v", f.Campaign, a)
	}
	if _, ok := tr.Owner("btc", "bcrt1qnotanaddress"); ok {
		t.Error("unknown address has an owner")
	}

	b, _ := os.ReadFile(path)
	bad := filepath.Join(t.TempDir(), "truth.json")
	for _, c := range []struct {
		content, want string
	}{
		{string(b[:len(b)/2]), "truth.json"},
		{strings.Replace(string(b), `"version":1`, `"version":2`, 1), "version 2"},
		{strings.Replace(string(b), `"seed":1`, `"seed":"x"`, 1), "truth.json:1: field seed"},
		{"{\n\"version\": 1,\n\"actors\": [\n{\"id\": }]}", "truth.json:4"},
	} {
		os.WriteFile(bad, []byte(c.content), 0o644)
		if _, err := ReadTruth(bad); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error with %q, got %v", c.want, err)
		}
	}
	if _, err := ReadTruth(filepath.Join(t.TempDir(), "none.json")); err == nil {
		t.Error("missing file: no error")
	}
}

// FuzzParseTruth: any input gives a Truth or an error, never a panic, and an
// accepted Truth answers Owner for every address it lists.
func FuzzParseTruth(f *testing.F) {
	f.Add([]byte(`{"version":1,"seed":3,"actors":[{"id":"user-1","kind":"user","addresses":[{"chain":"btc","address":"bcrt1q"}]}],"balances":[]}`))
	f.Add([]byte(`{"version":1,"actors":[{"addresses":null}],"flows":[{"path":["x"]}]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"version":1,"typologies":[{"params":{"a":"b"},"transfers":[{"vout":-1}]}]}`))
	f.Add([]byte("{\n\"version\": 1,\n\"actors\": [\n{\"id\": }]}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := parseTruth(b, "fuzz.json")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.json") {
				t.Fatalf("error does not name the input: %v", err)
			}
			return
		}
		for _, a := range tr.Actors {
			for _, ad := range a.Addresses {
				if _, ok := tr.Owner(ad.Chain, ad.Address); !ok {
					t.Fatalf("listed address %s %s has no owner", ad.Chain, ad.Address)
				}
			}
		}
	})
}
