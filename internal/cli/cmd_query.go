package cli

import (
	"encoding/hex"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/address"
	"github.com/spoor-dev/spoor/internal/store"
)

func init() {
	register("address", "show an address: spoor address CHAIN ADDR [--json]", cmdAddress)
	register("tx", "show a transaction: spoor tx CHAIN TXID [--json]", cmdTx)
	register("stats", "show what the store holds [--json]", cmdStats)
}

// AddressAsset is one asset line of `spoor address --json`.
type AddressAsset struct {
	Asset    string `json:"asset"`
	Token    string `json:"token,omitempty"`
	Decimals *int   `json:"decimals,omitempty"`
	Received string `json:"received"`
	Sent     string `json:"sent"`
	Balance  string `json:"balance"`
	// BalanceNote is set when the address sent more than the store saw it
	// receive: the balance is then negative (received − sent), and says
	// that part of its history is missing, never a silent 0.
	BalanceNote  string `json:"balance_note,omitempty"`
	TransfersIn  uint64 `json:"transfers_in"`
	TransfersOut uint64 `json:"transfers_out"`
	ReceivedUSD  string `json:"received_usd,omitempty"`
	SentUSD      string `json:"sent_usd,omitempty"`
	PriceSource  string `json:"price_source,omitempty"`
	// When some transfers have no price: the USD of the priced ones, how
	// many are unpriced, and why (received_usd/sent_usd are then absent).
	ReceivedUSDKnown string `json:"received_usd_known,omitempty"`
	SentUSDKnown     string `json:"sent_usd_known,omitempty"`
	UnpricedIn       uint64 `json:"unpriced_in,omitempty"`
	UnpricedOut      uint64 `json:"unpriced_out,omitempty"`
	USDNote          string `json:"usd_note,omitempty"`
}

// AddressReport is the JSON of `spoor address`.
type AddressReport struct {
	Chain     string         `json:"chain"`
	Address   string         `json:"address"`
	TxCount   uint64         `json:"tx_count"`
	FirstSeen string         `json:"first_seen"`
	LastSeen  string         `json:"last_seen"`
	Assets    []AddressAsset `json:"assets"`
	// USD totals over all assets, present when every amount was valued.
	ReceivedUSD string `json:"received_usd,omitempty"`
	SentUSD     string `json:"sent_usd,omitempty"`
}

// addressHooks may enrich an address report (e.g. USD valuation); each gets
// the store and the summary the report was built from.
var addressHooks []func(env *Env, st store.Store, sum *store.AddressSummary, rep *AddressReport) error

func cmdAddress(env *Env, args []string) error {
	fs := newFlags(env, "address")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := requireArgs(pos, 2, "spoor address CHAIN ADDR"); err != nil {
		return err
	}
	aa, err := openAddress(env, pos[0], pos[1])
	if err != nil {
		return err
	}
	defer closeStore(aa.st)
	st, c, cd, ab, sum := aa.st, aa.chain, aa.cd, aa.addr, aa.sum
	rep := &AddressReport{Chain: c.String(), Address: cd.MustEncode(ab), TxCount: sum.TxCount,
		FirstSeen: timeString(sum.FirstSeen), LastSeen: timeString(sum.LastSeen), Assets: []AddressAsset{}}
	for i := range sum.Assets {
		t := &sum.Assets[i]
		bal := t.Balance()
		aa := AddressAsset{Asset: t.Asset.Symbol, Received: t.Received.Dec(), Sent: t.Sent.Dec(), Balance: bal.Dec(),
			TransfersIn: t.TransfersIn, TransfersOut: t.TransfersOut}
		if t.Sent.Gt(&t.Received) {
			var short uint256.Int
			short.Sub(&t.Sent, &t.Received)
			aa.Balance = "-" + short.Dec()
			aa.BalanceNote = "sent exceeds received: the store lacks part of this address's history (an import that starts after its first transfers, or credits the source does not carry, such as block rewards, fee tips and withdrawals in ETL exports); the balance shown is received − sent over what was ingested"
		}
		if len(t.Asset.Contract) > 0 {
			aa.Token = cd.MustEncode(t.Asset.Contract)
			d := t.Asset.Decimals
			aa.Decimals = &d
			if aa.Asset == "" {
				aa.Asset = "unknown token"
			}
		}
		rep.Assets = append(rep.Assets, aa)
	}
	for _, h := range addressHooks {
		if err := h(env, st, sum, rep); err != nil {
			return err
		}
	}
	if env.JSON {
		return writeJSON(env.Stdout, rep)
	}
	fmt.Fprintf(env.Stdout, "%s %s\n  transactions %d, first seen %s, last seen %s\n", rep.Chain, rep.Address, rep.TxCount, rep.FirstSeen, rep.LastSeen)
	// People read coins, not base units: the table shows amounts with the
	// asset's decimals (JSON keeps exact base units).
	for i := range rep.Assets {
		a := &rep.Assets[i]
		dec := c.NativeDecimals()
		if a.Token != "" {
			dec = -1
			if a.Decimals != nil {
				dec = *a.Decimals
			}
		}
		a.Received, a.Sent, a.Balance = coinUnits(a.Received, dec), coinUnits(a.Sent, dec), coinUnits(a.Balance, dec)
	}
	tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
	hasUSD := false
	for _, a := range rep.Assets {
		hasUSD = hasUSD || a.ReceivedUSD != "" || a.SentUSD != "" || a.UnpricedIn+a.UnpricedOut > 0
	}
	if !hasUSD {
		fmt.Fprintln(tw, "  asset\treceived\tsent\tbalance\tin\tout\t")
		for _, a := range rep.Assets {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%d\t\n", a.Asset, a.Received, a.Sent, a.Balance, a.TransfersIn, a.TransfersOut)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, a := range rep.Assets {
			if a.BalanceNote != "" {
				fmt.Fprintf(env.Stdout, "  %s balance: %s\n", a.Asset, a.BalanceNote)
			}
		}
		return nil
	}
	fmt.Fprintln(tw, "  asset\treceived\tsent\tbalance\tin\tout\treceived USD\tsent USD\t")
	for _, a := range rep.Assets {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t\n", a.Asset, a.Received, a.Sent, a.Balance, a.TransfersIn, a.TransfersOut,
			usdCell(a.ReceivedUSD, a.ReceivedUSDKnown, a.UnpricedIn), usdCell(a.SentUSD, a.SentUSDKnown, a.UnpricedOut))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, a := range rep.Assets {
		if a.BalanceNote != "" {
			fmt.Fprintf(env.Stdout, "  %s balance: %s\n", a.Asset, a.BalanceNote)
		}
		if a.PriceSource != "" {
			fmt.Fprintf(env.Stdout, "  %s prices: %s\n", a.Asset, a.PriceSource)
		}
		if a.USDNote != "" {
			fmt.Fprintf(env.Stdout, "  %s: %s\n", a.Asset, a.USDNote)
		}
	}
	return nil
}

// TxInputJSON is an input line of `spoor tx --json`.
type TxInputJSON struct {
	Address   string `json:"address"`
	Value     string `json:"value"`
	PrevTxID  string `json:"prev_txid"`
	PrevIndex uint32 `json:"prev_index"`
}

// TxOutputJSON is an output line of `spoor tx --json`.
type TxOutputJSON struct {
	Index      uint32  `json:"index"`
	Address    string  `json:"address"`
	Value      string  `json:"value"`
	ScriptType string  `json:"script_type"`
	SpentBy    *string `json:"spent_by"`
}

// TxTransferJSON is a transfer line of `spoor tx --json` (account chains).
type TxTransferJSON struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Asset    string `json:"asset"`
	Token    string `json:"token,omitempty"`
	Value    string `json:"value"`
	LogIndex int32  `json:"log_index"`
	// ValueUSD is the transfer's value at the tx's time, with the price
	// point used; USDNote says why it is unknown when it is.
	ValueUSD string     `json:"value_usd,omitempty"`
	Price    *PriceJSON `json:"price,omitempty"`
	USDNote  string     `json:"usd_note,omitempty"`
}

// PriceJSON is the price point a USD figure used.
type PriceJSON struct {
	Asset  string `json:"asset"`
	Time   string `json:"time"`
	USD    string `json:"usd"`
	Source string `json:"source"`
}

// TxReport is the JSON of `spoor tx`.
type TxReport struct {
	Chain       string           `json:"chain"`
	TxID        string           `json:"txid"`
	BlockHeight uint64           `json:"block_height"`
	Time        string           `json:"time"`
	Fee         string           `json:"fee"`
	FeeUSD      string           `json:"fee_usd,omitempty"`
	FeePayer    string           `json:"fee_payer,omitempty"`
	Coinbase    bool             `json:"coinbase,omitempty"`
	Failed      bool             `json:"failed,omitempty"`
	Inputs      []TxInputJSON    `json:"inputs,omitempty"`
	Outputs     []TxOutputJSON   `json:"outputs,omitempty"`
	Transfers   []TxTransferJSON `json:"transfers,omitempty"`
}

// txHooks may enrich a tx report (e.g. USD valuation); rep.Transfers[i] is
// tv.Transfers[i].
var txHooks []func(env *Env, st store.Store, tv *store.TxView, rep *TxReport) error

func cmdTx(env *Env, args []string) error {
	fs := newFlags(env, "tx")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := requireArgs(pos, 2, "spoor tx CHAIN TXID"); err != nil {
		return err
	}
	c, err := parseChainArg(pos[0])
	if err != nil {
		return err
	}
	id, err := parseTxID(pos[1])
	if err != nil {
		return err
	}
	st, err := openExisting(env)
	if err != nil {
		return err
	}
	defer closeStore(st)
	cd, err := codecFor(st, c)
	if err != nil {
		return err
	}
	tv, err := st.Tx(c, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%s transaction %s: not in the ingested data", c, pos[1])
	}
	if err != nil {
		return err
	}
	rep := TxReport{Chain: c.String(), TxID: txidString(c, tv.TxID), BlockHeight: tv.BlockHeight, Time: timeString(tv.Time),
		Fee: tv.Fee.Dec(), Coinbase: tv.Coinbase, Failed: tv.Failed}
	if len(tv.FeePayer) > 0 {
		rep.FeePayer = cd.MustEncode(tv.FeePayer)
	}
	for _, in := range tv.Inputs {
		rep.Inputs = append(rep.Inputs, TxInputJSON{Address: cd.MustEncode(in.Address), Value: fmt.Sprint(in.Value),
			PrevTxID: hex.EncodeToString(in.PrevTxID[:]), PrevIndex: in.PrevIndex})
	}
	for _, o := range tv.Outputs {
		oj := TxOutputJSON{Index: o.Index, Address: cd.MustEncode(o.Address), Value: fmt.Sprint(o.Value), ScriptType: o.ScriptType.String()}
		if o.SpentBy != nil {
			s := txidString(c, *o.SpentBy)
			oj.SpentBy = &s
		}
		rep.Outputs = append(rep.Outputs, oj)
	}
	for _, x := range tv.Transfers {
		tj := TxTransferJSON{From: encodeOrEmpty(cd, x.From), To: encodeOrEmpty(cd, x.To), Asset: x.Asset.Symbol,
			Value: x.Value.Dec(), LogIndex: x.LogIndex}
		if len(x.Asset.Contract) > 0 {
			tj.Token = cd.MustEncode(x.Asset.Contract)
		}
		rep.Transfers = append(rep.Transfers, tj)
	}
	for _, h := range txHooks {
		if err := h(env, st, tv, &rep); err != nil {
			return err
		}
	}
	if env.JSON {
		return writeJSON(env.Stdout, rep)
	}
	fmt.Fprintf(env.Stdout, "%s tx %s\n  block %d at %s, fee %s\n", rep.Chain, rep.TxID, rep.BlockHeight, rep.Time, rep.Fee)
	for _, in := range rep.Inputs {
		fmt.Fprintf(env.Stdout, "  in   %-62s %16s  ← %s:%d\n", in.Address, in.Value, in.PrevTxID, in.PrevIndex)
	}
	for _, o := range rep.Outputs {
		spent := "unspent"
		if o.SpentBy != nil {
			spent = "spent by " + *o.SpentBy
		}
		fmt.Fprintf(env.Stdout, "  out %d %-62s %16s  %s, %s\n", o.Index, o.Address, o.Value, o.ScriptType, spent)
	}
	for _, t := range rep.Transfers {
		usd := ""
		if t.ValueUSD != "" {
			usd = "  $" + t.ValueUSD + " (" + t.Price.Asset + " " + t.Price.USD + " at " + t.Price.Time + ", " + t.Price.Source + ")"
		} else if t.USDNote != "" {
			usd = "  USD unknown: " + t.USDNote
		}
		fmt.Fprintf(env.Stdout, "  %s → %s  %s %s%s\n", t.From, t.To, t.Value, t.Asset, usd)
	}
	return nil
}

// usdCell shows a USD total, a partial one ("≥ 12.00, 3 unpriced"), or "".
func usdCell(full, known string, unpriced uint64) string {
	switch {
	case full != "":
		return "$" + full
	case unpriced > 0:
		return fmt.Sprintf("≥ $%s (%d unpriced)", known, unpriced)
	}
	return ""
}

func encodeOrEmpty(cd address.Codec, b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return cd.MustEncode(b)
}

// ChainStatsJSON is one chain of `spoor stats --json`.
type ChainStatsJSON struct {
	Chain     string `json:"chain"`
	Network   string `json:"network,omitempty"`
	Height    uint64 `json:"height"`
	Blocks    uint64 `json:"blocks"`
	Txs       uint64 `json:"txs"`
	Addresses uint64 `json:"addresses"`
	Transfers uint64 `json:"transfers"`
}

func cmdStats(env *Env, args []string) error {
	fs := newFlags(env, "stats")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := requireArgs(pos, 0, "spoor stats [--json]"); err != nil {
		return err
	}
	st, err := openExisting(env)
	if err != nil {
		return err
	}
	defer closeStore(st)
	cs, err := st.Stats()
	if err != nil {
		return err
	}
	out := struct {
		Chains []ChainStatsJSON `json:"chains"`
	}{Chains: []ChainStatsJSON{}}
	for _, s := range cs {
		out.Chains = append(out.Chains, ChainStatsJSON{s.Chain.String(), s.Network, s.Height, s.Blocks, s.Txs, s.Addresses, s.Transfers})
	}
	if env.JSON {
		return writeJSON(env.Stdout, out)
	}
	tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "chain\tnetwork\theight\tblocks\ttxs\taddresses\ttransfers\t")
	for _, s := range out.Chains {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t\n", s.Chain, s.Network, s.Height, s.Blocks, s.Txs, s.Addresses, s.Transfers)
	}
	return tw.Flush()
}
