package trace

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/address"
	"github.com/spoor-dev/spoor/internal/ingest"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/sim"
	"github.com/spoor-dev/spoor/internal/store"
	"github.com/spoor-dev/spoor/internal/store/pebblestore"
)

type truthTransfer struct {
	Chain, Txid, From, To, Asset, Value string
	Vout                                int
}

type truth struct {
	Typologies []struct {
		Kind      string
		Transfers []truthTransfer
	}
}

// world generates a small simulated world and ingests it.
func world(t *testing.T, seed uint64) (store.Store, *truth) {
	t.Helper()
	dir := t.TempDir()
	cfg, err := sim.ScaleConfig("small", seed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Generate(cfg, dir); err != nil {
		t.Fatal(err)
	}
	st, err := pebblestore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := ingest.BTCFiles(st, filepath.Join(dir, "btc"), ingest.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []model.Chain{model.Tron, model.ETH} {
		if _, err := ingest.ETL(st, c, filepath.Join(dir, c.String(), "etl"), ingest.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tr truth
	if err := json.Unmarshal(raw, &tr); err != nil {
		t.Fatal(err)
	}
	return st, &tr
}

func decode(t *testing.T, st store.Reader, c model.Chain, s string) []byte {
	t.Helper()
	cd := address.For(c)
	if c == model.BTC {
		net, _ := st.Network(c)
		cd.Params = address.BTCParams(net)
	}
	b, err := cd.Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCounterpartiesAgainstTruth checks, on a world whose truth is known,
// that every planted transfer shows up as a counterparty of its receiver
// (backward) and of its sender (forward) with at least its value, and that on
// account chains the counterparties of an address add up exactly to what it
// received.
func TestCounterpartiesAgainstTruth(t *testing.T) {
	st, tr := world(t, 3)
	checked := map[string]int{}
	sums := map[[3]string]*uint256.Int{} // (chain, to, from) → value, per direction
	seen := map[truthTransfer]bool{}     // a transfer may belong to several typologies
	for _, ty := range tr.Typologies {
		for _, x := range ty.Transfers {
			if x.From == "" || x.To == "" || x.From == x.To || seen[x] {
				continue
			}
			seen[x] = true
			k := [3]string{x.Chain, x.To, x.From + "|" + x.Asset}
			if sums[k] == nil {
				sums[k] = new(uint256.Int)
			}
			v, err := uint256.FromDecimal(x.Value)
			if err != nil {
				t.Fatal(err)
			}
			sums[k].Add(sums[k], v)
		}
	}
	if len(sums) < 50 {
		t.Fatalf("truth has only %d planted sender/receiver pairs", len(sums))
	}
	cache := map[[2]string][]Counterparty{}
	for k, want := range sums {
		c, err := model.ParseChain(k[0])
		if err != nil {
			t.Fatal(err)
		}
		to := decode(t, st, c, k[1])
		var from, asset string
		for i := range k[2] {
			if k[2][i] == '|' {
				from, asset = k[2][:i], k[2][i+1:]
			}
		}
		ck := [2]string{k[0], k[1]}
		cps, ok := cache[ck]
		if !ok {
			if cps, err = Counterparties(st, c, to, In, Options{}); err != nil {
				t.Fatal(err)
			}
			cache[ck] = cps
		}
		fb := decode(t, st, c, from)
		found := false
		for _, cp := range cps {
			if string(cp.Address) == string(fb) && cp.Asset.Symbol == asset || string(cp.Address) == string(fb) && c.IsUTXO() {
				found = true
				if !cp.Estimated && cp.Value.Lt(want) {
					t.Errorf("%s %s ← %s: counterparty value %s < planted %s", k[0], k[1], from, cp.Value.Dec(), want.Dec())
				}
			}
		}
		if !found {
			t.Errorf("%s %s: planted sender %s (%s %s) is not among its %d counterparties", k[0], k[1], from, want.Dec(), asset, len(cps))
		}
		checked[k[0]]++
	}
	if len(checked) < 3 {
		t.Fatalf("checked pairs per chain %v: want all three chains", checked)
	}
	t.Logf("planted sender→receiver pairs found as counterparties: %v", checked)

	// Account chains: inbound counterparties sum exactly to the received
	// total of each asset (nothing lost, nothing counted twice; self
	// transfers are neither).
	for ck, cps := range cache {
		c, _ := model.ParseChain(ck[0])
		if c.IsUTXO() {
			continue
		}
		sum, err := st.Address(c, decode(t, st, c, ck[1]))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range sum.Assets {
			var got uint256.Int
			for _, cp := range cps {
				if cp.Asset.ID == a.Asset.ID {
					got.Add(&got, &cp.Value)
				}
			}
			if !got.Eq(&a.Received) {
				t.Errorf("%s %s %s: counterparties sum to %s, received %s", ck[0], ck[1], a.Asset.Symbol, got.Dec(), a.Received.Dec())
			}
		}
	}
}

// TestUTXOShares pins the proportional split on UTXO transactions.
func TestUTXOShares(t *testing.T) {
	a, b, x, y := []byte{1}, []byte{2}, []byte{3}, []byte{4}
	tv := &store.TxView{TxID: [32]byte{9}, Time: 100,
		Inputs:  []store.TxInput{{Address: a, Value: 300}, {Address: b, Value: 100}},
		Outputs: []store.TxOutput{{Address: x, Value: 250}, {Address: y, Value: 140}}, // fee 10
	}
	got := map[string]string{}
	est := map[string]bool{}
	rec := func(tv *store.TxView, other []byte, asset model.AssetID, v *uint256.Int, e bool) error {
		got[string(other)] = v.Dec()
		est[string(other)] = e
		return nil
	}
	if err := utxoShares(tv, x, In, rec); err != nil {
		t.Fatal(err)
	}
	if got[string(a)] != "187" || got[string(b)] != "62" || !est[string(a)] {
		t.Fatalf("x received from a, b: %v (est %v); want 187 and 62 (250×300/400, 250×100/400 rounded down), estimated", got, est)
	}
	got = map[string]string{}
	if err := utxoShares(tv, a, Out, rec); err != nil {
		t.Fatal(err)
	}
	if got[string(x)] != "187" || got[string(y)] != "105" {
		t.Fatalf("a sent to x, y: %v; want 187 and 105", got)
	}
	// A single sender pays every output exactly.
	one := &store.TxView{Inputs: []store.TxInput{{Address: a, Value: 500}}, Outputs: []store.TxOutput{{Address: x, Value: 200}, {Address: a, Value: 290}}}
	got, est = map[string]string{}, map[string]bool{}
	if err := utxoShares(one, a, Out, rec); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[string(x)] != "200" || est[string(x)] {
		t.Fatalf("single sender: %v %v; want x 200 exact, change to a excluded", got, est)
	}
}
