package cli

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
	"github.com/spoor-dev/spoor/internal/value"
)

func init() {
	register("prices", "USD prices: spoor prices import FILE | spoor prices list", cmdPrices)
	addressHooks = append(addressHooks, addressUSD)
	txHooks = append(txHooks, txUSD)
}

func cmdPrices(env *Env, args []string) error {
	fs := newFlags(env, "prices")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageErr("spoor prices import FILE | spoor prices list")
	}
	switch pos[0] {
	case "import":
		if err := requireArgs(pos[1:], 1, "spoor prices import FILE"); err != nil {
			return err
		}
		return pricesImport(env, pos[1])
	case "list":
		if err := requireArgs(pos[1:], 0, "spoor prices list"); err != nil {
			return err
		}
		return pricesList(env)
	}
	return usageErr("unknown prices command %q: want import or list", pos[0])
}

// pricesImport validates the whole file, then stores it in one batch:
// a bad file stores nothing; re-importing replaces the same points.
func pricesImport(env *Env, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	pts, err := value.ReadPrices(f, path)
	if err != nil {
		return err
	}
	st, err := openStore(env)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.PutPrices(pts); err != nil {
		return err
	}
	assets := map[string]bool{}
	for _, p := range pts {
		assets[p.Asset] = true
	}
	if env.JSON {
		return writeJSON(env.Stdout, map[string]any{"file": path, "points": len(pts), "assets": len(assets)})
	}
	fmt.Fprintf(env.Stdout, "%s: %d price points of %d assets\n", path, len(pts), len(assets))
	return nil
}

// PriceSeriesJSON is one asset of `spoor prices list --json`.
type PriceSeriesJSON struct {
	Asset  string `json:"asset"`
	Points int    `json:"points"`
	First  string `json:"first"`
	Last   string `json:"last"`
	USD    string `json:"last_usd"`
	Source string `json:"last_source"`
}

func pricesList(env *Env) error {
	st, err := openStore(env)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := st.PriceAssets()
	if err != nil {
		return err
	}
	out := struct {
		Assets []PriceSeriesJSON `json:"assets"`
	}{Assets: []PriceSeriesJSON{}}
	for _, k := range keys {
		pts, err := st.Prices(k)
		if err != nil {
			return err
		}
		if len(pts) == 0 {
			continue
		}
		l := pts[len(pts)-1]
		out.Assets = append(out.Assets, PriceSeriesJSON{k, len(pts), timeString(pts[0].Time), timeString(l.Time), l.USD, l.Source})
	}
	if env.JSON {
		return writeJSON(env.Stdout, out)
	}
	tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "asset\tpoints\tfirst\tlast\tlast usd\tsource\t")
	for _, a := range out.Assets {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t\n", a.Asset, a.Points, a.First, a.Last, a.USD, a.Source)
	}
	return tw.Flush()
}

// hasPrices reports whether any price is stored (no prices: no USD fields,
// so outputs stay as they were before valuation existed).
func hasPrices(st store.PriceStore) (bool, error) {
	keys, err := st.PriceAssets()
	return len(keys) > 0, err
}

// addressUSD fills received_usd / sent_usd of every asset line.
func addressUSD(env *Env, st store.Store, sum *store.AddressSummary, rep *AddressReport) error {
	if ok, err := hasPrices(st); err != nil || !ok {
		return err
	}
	assets := map[model.AssetID]model.Asset{}
	for _, a := range sum.Assets {
		assets[a.Asset.ID] = a.Asset
	}
	book := value.NewBook(st)
	flows, err := book.AddressFlows(st, sum.Chain, sum.Address, assets)
	if err != nil {
		return err
	}
	var in, out value.Total
	for i := range sum.Assets {
		f := flows[sum.Assets[i].Asset.ID]
		if f == nil {
			f = &value.Flow{}
		}
		aa := &rep.Assets[i]
		if f.In.Complete() {
			aa.ReceivedUSD = value.USDString(&f.In.Sum)
		} else {
			aa.ReceivedUSDKnown, aa.UnpricedIn = value.USDString(&f.In.Sum), f.In.Unpriced
		}
		if f.Out.Complete() {
			aa.SentUSD = value.USDString(&f.Out.Sum)
		} else {
			aa.SentUSDKnown, aa.UnpricedOut = value.USDString(&f.Out.Sum), f.Out.Unpriced
		}
		in.Merge(&f.In)
		out.Merge(&f.Out)
		var all value.Total
		all.Merge(&f.In)
		all.Merge(&f.Out)
		aa.PriceSource = all.Sources()
		if !all.Complete() {
			aa.USDNote = fmt.Sprintf("USD unknown for %d of %d amounts: %s", all.Unpriced, all.Unpriced+all.Priced, all.Reason)
		}
	}
	// Totals over assets only when nothing is unpriced: a partial total
	// would read as the whole.
	if in.Complete() && out.Complete() {
		rep.ReceivedUSD, rep.SentUSD = value.USDString(&in.Sum), value.USDString(&out.Sum)
	}
	return nil
}

// txUSD values each transfer and the fee at the transaction's time.
func txUSD(env *Env, st store.Store, tv *store.TxView, rep *TxReport) error {
	if ok, err := hasPrices(st); err != nil || !ok {
		return err
	}
	book := value.NewBook(st)
	for i := range tv.Transfers {
		x := &tv.Transfers[i]
		v, err := book.Value(tv.Chain, x.Asset, &x.Value, tv.Time)
		if err != nil {
			return err
		}
		tj := &rep.Transfers[i]
		if v.Known {
			tj.ValueUSD = value.USDExact(&v.USD)
			tj.Price = &PriceJSON{Asset: v.Price.Asset, Time: time.Unix(v.Price.Time, 0).UTC().Format(time.RFC3339), USD: v.Price.USD, Source: v.Price.Source}
		} else {
			tj.USDNote = v.Reason
		}
	}
	if !tv.Fee.IsZero() {
		native := model.Asset{Chain: tv.Chain, Symbol: tv.Chain.NativeSymbol(), Decimals: tv.Chain.NativeDecimals()}
		v, err := book.Value(tv.Chain, native, &tv.Fee, tv.Time)
		if err != nil {
			return err
		}
		if v.Known {
			rep.FeeUSD = value.USDExact(&v.USD)
		}
	}
	return nil
}
