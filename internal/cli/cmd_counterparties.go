package cli

import (
	"encoding/hex"
	"fmt"
	"text/tabwriter"

	"github.com/spoor-dev/spoor/internal/address"
	"github.com/spoor-dev/spoor/internal/attrib"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
	"github.com/spoor-dev/spoor/internal/trace"
	"github.com/spoor-dev/spoor/internal/value"
)

func init() {
	register("counterparties", "who paid an address, or whom it paid: spoor counterparties CHAIN ADDR [--out] [--limit N] [--json]", cmdCounterparties)
}

// CounterpartyTag is an active attribution of a counterparty.
type CounterpartyTag struct {
	Label      string `json:"label"`
	Category   string `json:"category"`
	List       string `json:"list"`
	Confidence string `json:"confidence"`
	Source     string `json:"source,omitempty"`
}

// CounterpartyJSON is one line of `spoor counterparties --json`.
type CounterpartyJSON struct {
	Address     string            `json:"address"` // "" for new or burnt value
	Asset       string            `json:"asset"`
	Token       string            `json:"token,omitempty"`
	Value       string            `json:"value"`
	Estimated   bool              `json:"estimated"`
	ValueUSD    string            `json:"value_usd,omitempty"`
	USDComplete bool              `json:"usd_complete"`
	PriceSource string            `json:"price_source,omitempty"`
	Txs         int               `json:"txs"`
	FirstSeen   string            `json:"first_seen"`
	LastSeen    string            `json:"last_seen"`
	ExampleTxs  []string          `json:"example_txids"`
	Tags        []CounterpartyTag `json:"tags"`
	decimals    int               // of the asset, for human output; -1 unknown
}

// CounterpartiesReport is the JSON of `spoor counterparties`.
type CounterpartiesReport struct {
	Chain          string             `json:"chain"`
	Address        string             `json:"address"`
	Direction      string             `json:"direction"`
	Total          int                `json:"total_counterparties"`
	Method         string             `json:"method"`
	Counterparties []CounterpartyJSON `json:"counterparties"`
}

func cmdCounterparties(env *Env, args []string) error {
	fs := newFlags(env, "counterparties")
	out := fs.Bool("out", false, "whom the address paid (default: who paid it)")
	limit := fs.Int("limit", 25, "show at most N counterparties (0 = all)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := requireArgs(pos, 2, "spoor counterparties CHAIN ADDR"); err != nil {
		return err
	}
	if *limit < 0 {
		return usageErr("--limit %d: want 0 or more", *limit)
	}
	aa, err := openAddress(env, pos[0], pos[1])
	if err != nil {
		return err
	}
	defer closeStore(aa.st)
	st, c, cd, ab := aa.st, aa.chain, aa.cd, aa.addr
	dir := trace.In
	if *out {
		dir = trace.Out
	}
	cps, err := trace.Counterparties(st, c, ab, dir, trace.Options{Prices: value.NewBook(st)})
	if err != nil {
		return err
	}
	rep := CounterpartiesReport{Chain: c.String(), Address: cd.MustEncode(ab), Direction: dir.String(), Total: len(cps),
		Counterparties: []CounterpartyJSON{}}
	if c.IsUTXO() {
		rep.Method = "UTXO: inputs are pooled; a transaction with several sending addresses is split in proportion to their inputs (estimated: true); one sender is exact"
	} else {
		rep.Method = "account chain: explicit transfers, exact"
	}
	if *limit > 0 && len(cps) > *limit {
		cps = cps[:*limit]
	}
	for i := range cps {
		rep.Counterparties = append(rep.Counterparties, counterpartyJSON(st, cd, c, &cps[i]))
	}
	if env.JSON {
		return writeJSON(env.Stdout, rep)
	}
	w := env.Stdout
	arrow := "←"
	if dir == trace.Out {
		arrow = "→"
	}
	fmt.Fprintf(w, "%s %s %s %d counterparties (%s)\n", c, rep.Address, arrow, rep.Total, rep.Method)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  counterparty\tasset\tvalue\tUSD\ttxs\tfirst seen\ttags\t")
	for _, cp := range rep.Counterparties {
		a := cp.Address
		if a == "" {
			a = "(newly created / burnt)"
		}
		v := coinUnits(cp.Value, cp.decimals)
		if cp.Estimated {
			v = "≈" + v
		}
		usd := "?"
		if cp.ValueUSD != "" {
			usd = "$" + cp.ValueUSD
			if !cp.USDComplete {
				usd += "+?"
			}
		}
		tags := ""
		for i, t := range cp.Tags {
			if i > 0 {
				tags += "; "
			}
			tags += fmt.Sprintf("%s [%s, %s, %s]", t.Label, t.Category, t.List, t.Confidence)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%s\t%s\t\n", a, cp.Asset, v, usd, cp.Txs, cp.FirstSeen, tags)
	}
	tw.Flush()
	if rep.Total > len(rep.Counterparties) {
		fmt.Fprintf(w, "  … %d more (--limit 0 lists all)\n", rep.Total-len(rep.Counterparties))
	}
	return nil
}

func counterpartyJSON(st store.Store, cd address.Codec, c model.Chain, cp *trace.Counterparty) CounterpartyJSON {
	j := CounterpartyJSON{Asset: cp.Asset.Symbol, Value: cp.Value.Dec(), Estimated: cp.Estimated, Txs: cp.Txs,
		FirstSeen: timeString(cp.First), LastSeen: timeString(cp.Last), ExampleTxs: []string{}, Tags: []CounterpartyTag{},
		USDComplete: cp.USD.Complete() && cp.USD.Priced > 0, decimals: cp.Asset.Decimals}
	if len(cp.Asset.Contract) == 0 {
		j.decimals = c.NativeDecimals()
	}
	if len(cp.Address) > 0 {
		j.Address = cd.MustEncode(cp.Address)
	}
	if len(cp.Asset.Contract) > 0 {
		j.Token = cd.MustEncode(cp.Asset.Contract)
		if j.Asset == "" {
			j.Asset = "unknown token"
		}
	}
	if cp.USD.Priced > 0 {
		j.ValueUSD = value.USDString(&cp.USD.Sum)
		j.PriceSource = cp.USD.Sources()
	}
	for _, id := range cp.ExampleTxs {
		j.ExampleTxs = append(j.ExampleTxs, hex.EncodeToString(id[:]))
	}
	if len(cp.Address) > 0 {
		if tags, err := st.Tags(attrib.Subject{Chain: c, Kind: attrib.SubjectAddress, Bytes: cp.Address}); err == nil {
			for _, t := range tags {
				if t.Active() {
					j.Tags = append(j.Tags, CounterpartyTag{Label: t.Label, Category: t.Class(), List: t.List, Confidence: t.Confidence, Source: t.Source})
				}
			}
		}
	}
	return j
}
