package sim

import (
	"bytes"
	"encoding/hex"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// located is a truth transfer found in the ingested store.
type located struct {
	tx    *store.TxView
	value uint256.Int
	usd   *big.Rat
}

// locate finds a truth transfer in the store: the transaction exists and
// holds that movement (BTC: output vout to `to` with the value, first input
// from `from`; account chains: a transfer from → to of the asset).
func locate(t *testing.T, st store.Reader, dir string, x tTransferJSON) located {
	t.Helper()
	c := mustChain(t, x.Chain)
	raw, err := hex.DecodeString(strings.TrimPrefix(x.TxID, "0x"))
	if err != nil || len(raw) != 32 {
		t.Fatalf("txid %q", x.TxID)
	}
	var id [32]byte
	copy(id[:], raw)
	tx, err := st.Tx(c, id)
	if err != nil {
		t.Fatalf("%s tx %s: %v", c, x.TxID, err)
	}
	v := dec(t, x.Value)
	to, from := decodeAddr(t, c, x.To), decodeAddr(t, c, x.From)
	if c == model.BTC {
		if int(x.Vout) >= len(tx.Outputs) {
			t.Fatalf("btc tx %s has no output %d", x.TxID, x.Vout)
		}
		o := tx.Outputs[x.Vout]
		if !bytes.Equal(o.Address, to) || o.Value != v.Uint64() {
			t.Fatalf("btc tx %s output %d: %x %d, truth %s %s", x.TxID, x.Vout, o.Address, o.Value, x.To, x.Value)
		}
		if len(tx.Inputs) == 0 || !bytes.Equal(tx.Inputs[0].Address, from) {
			t.Fatalf("btc tx %s: first input is not from %s", x.TxID, x.From)
		}
	} else {
		found := false
		for _, tr := range tx.Transfers {
			if bytes.Equal(tr.From, from) && bytes.Equal(tr.To, to) && bytes.Equal(tr.Asset.Contract, contractOf(c, x.Asset)) && tr.Value.Eq(&v) {
				found = true
			}
		}
		if !found || tx.Failed {
			t.Fatalf("%s tx %s: no transfer %s -> %s %s %s (failed %t)", c, x.TxID, x.From, x.To, x.Value, x.Asset, tx.Failed)
		}
	}
	return located{tx: tx, value: v, usd: usdOf(t, dir, x.Asset, v, tx.Time)}
}

// Every planted typology is in the data as truth describes it, and each
// kind has the shape its detection rule looks for.
func TestTypologiesPresent(t *testing.T) {
	dir, st, tr := smallWorld(t)
	owners, kinds := tr.owners(), tr.kinds()
	cfg, _ := ScaleConfig(testScale(), 1)
	byKind := map[string]int{}
	for _, ty := range tr.Typologies {
		byKind[ty.Kind]++
		var locs []located
		for _, x := range ty.Transfers {
			if x.Chain == "xmr" {
				continue
			}
			locs = append(locs, locate(t, st, dir, x))
		}
		span := func() int64 {
			lo, hi := locs[0].tx.Time, locs[0].tx.Time
			for _, l := range locs {
				lo, hi = min(lo, l.tx.Time), max(hi, l.tx.Time)
			}
			return hi - lo
		}
		switch ty.Kind {
		case "fixed_increments":
			if len(locs) < 3 || len(locs) != cfg.TF.FixedIncrements {
				t.Errorf("%s: %d transfers, want %d (>= 3)", ty.ID, len(locs), cfg.TF.FixedIncrements)
			}
			for i, l := range locs {
				if l.value.Dec() != "10000000000" || ty.Transfers[i].Asset != "USDT" || ty.Transfers[i].From != ty.Transfers[0].From {
					t.Errorf("%s: transfer %d is %s %s from %s", ty.ID, i, l.value.Dec(), ty.Transfers[i].Asset, ty.Transfers[i].From)
				}
			}
			if span() > 90*86400 {
				t.Errorf("%s: spread over %d days", ty.ID, span()/86400)
			}
			if k := kinds[owners["tron:"+ty.Transfers[0].From]]; k != "exchange" {
				t.Errorf("%s: source is a %s, want an exchange", ty.ID, k)
			}
		case "structuring":
			if len(locs) < 3 || len(locs) != cfg.TF.Structuring {
				t.Errorf("%s: %d transfers", ty.ID, len(locs))
			}
			lo, hi := big.NewRat(900, 1), big.NewRat(1000, 1)
			for _, l := range locs {
				if l.usd.Cmp(lo) < 0 || l.usd.Cmp(hi) >= 0 {
					t.Errorf("%s: %s USD is not in [900, 1000)", ty.ID, l.usd.FloatString(2))
				}
			}
			if span() > 24*3600 {
				t.Errorf("%s: spread over %d s, want within 24 h", ty.ID, span())
			}
		case "peel_chain":
			hops, _ := strconv.Atoi(ty.Params["hops"])
			if len(locs) != hops || hops < 5 {
				t.Errorf("%s: %d hops recorded, params say %d (want >= 5)", ty.ID, len(locs), hops)
			}
			for i, l := range locs {
				if len(l.tx.Inputs) != 1 || len(l.tx.Outputs) != 2 {
					t.Errorf("%s hop %d: %d in / %d out, want 1/2", ty.ID, i, len(l.tx.Inputs), len(l.tx.Outputs))
				}
				if l.value.Uint64()*100 < l.tx.Inputs[0].Value*90 {
					t.Errorf("%s hop %d: forwards %d of %d (< 90%%)", ty.ID, i, l.value.Uint64(), l.tx.Inputs[0].Value)
				}
				if i > 0 {
					prev := ty.Transfers[i-1]
					in := l.tx.Inputs[0]
					if hex.EncodeToString(in.PrevTxID[:]) != prev.TxID || in.PrevIndex != uint32(prev.Vout) {
						t.Errorf("%s hop %d does not spend hop %d's forward output", ty.ID, i, i-1)
					}
				}
			}
			last := ty.Transfers[len(ty.Transfers)-1]
			if kinds[owners["btc:"+last.To]] != "exchange" {
				t.Errorf("%s: ends at %s of %s, want an exchange deposit address", ty.ID, last.To, owners["btc:"+last.To])
			}
		case "per_donor_addresses":
			// Donations to fresh addresses, then one consolidation spending them all.
			n := len(locs) - 1
			cons := locs[n].tx
			donors := map[string]int{}
			for _, x := range ty.Transfers[:n] {
				donors[x.To]++
			}
			if len(donors) != n || n < 10 {
				t.Errorf("%s: %d donations to %d distinct addresses", ty.ID, n, len(donors))
			}
			if len(cons.Inputs) != n || ty.Params["consolidation_inputs"] != strconv.Itoa(n) {
				t.Errorf("%s: consolidation has %d inputs, want %d", ty.ID, len(cons.Inputs), n)
			}
			for _, x := range ty.Transfers[:n] {
				raw := decodeAddr(t, model.BTC, x.To)
				sum, err := st.Address(model.BTC, raw)
				if err != nil || sum.TxCount != 2 {
					t.Errorf("%s: donor address %s used in %v txs, want 2 (in, consolidation)", ty.ID, x.To, sum)
				}
			}
		case "crowdfunding":
			senders := map[string]bool{}
			var usd []*big.Rat
			for i, l := range locs {
				senders[ty.Transfers[i].From] = true
				usd = append(usd, l.usd)
			}
			sort.Slice(usd, func(i, j int) bool { return usd[i].Cmp(usd[j]) < 0 })
			if len(senders) < 10 || usd[len(usd)/2].Cmp(big.NewRat(500, 1)) >= 0 {
				t.Errorf("%s: %d senders, median %s USD", ty.ID, len(senders), usd[len(usd)/2].FloatString(2))
			}
		case "exchange_donors":
			ex := ty.Params["exchange"]
			for _, x := range ty.Transfers {
				if owners[x.Chain+":"+x.From] != ex {
					t.Errorf("%s: donation from %s (%s), not exchange %s", ty.ID, x.From, owners[x.Chain+":"+x.From], ex)
				}
			}
			if len(locs) < 5 {
				t.Errorf("%s: %d donations", ty.ID, len(locs))
			}
		case "pass_through":
			in := locs[0]
			var out uint256.Int
			for i, l := range locs[1:] {
				if l.tx.Time-in.tx.Time > 24*3600 {
					t.Errorf("%s: outflow %d after %d s", ty.ID, i, l.tx.Time-in.tx.Time)
				}
				out.Add(&out, &l.value)
			}
			var ninety uint256.Int
			ninety.Mul(&in.value, uint256.NewInt(9))
			ninety.Div(&ninety, uint256.NewInt(10))
			if out.Lt(&ninety) {
				t.Errorf("%s: in %s, out %s within 24 h (< 90%%)", ty.ID, in.value.Dec(), out.Dec())
			}
			if kinds[owners["tron:"+ty.Transfers[0].To]] != "money_changer" {
				t.Errorf("%s: passes through %s", ty.ID, owners["tron:"+ty.Transfers[0].To])
			}
		case "chain_hop":
			if kinds[owners[ty.Transfers[0].Chain+":"+ty.Transfers[0].To]] != "swap_service" {
				t.Errorf("%s: first hop is not into the swap service", ty.ID)
			}
			switch ty.Params["into"] {
			case "xmr":
				last := ty.Transfers[len(ty.Transfers)-1]
				if last.Chain != "xmr" || last.To != ty.Params["xmr_address"] || len(last.To) != 95 || last.To[0] != '4' || last.TxID != "" {
					t.Errorf("%s: monero exit %+v", ty.ID, last)
				}
				if _, ok := owners["xmr:"+last.To]; ok {
					t.Errorf("%s: the monero label is an address of an actor", ty.ID)
				}
			case "btc":
				chains := map[string]bool{}
				for _, x := range ty.Transfers {
					chains[x.Chain] = true
				}
				if !chains["tron"] || !chains["btc"] {
					t.Errorf("%s: does not hop from tron to btc: %v", ty.ID, chains)
				}
			}
		case "recruiting":
			stipends := 0
			for _, x := range ty.Transfers {
				if kinds[owners["eth:"+x.From]] == "campaign" {
					stipends++
					if x.Value != ty.Params["stipend"] {
						t.Errorf("%s: stipend %s", ty.ID, x.Value)
					}
				}
			}
			if stipends != cfg.TF.Recruits {
				t.Errorf("%s: %d stipends, want %d", ty.ID, stipends, cfg.TF.Recruits)
			}
		case "payroll":
			for _, x := range ty.Transfers {
				v := dec(t, x.Value)
				var r uint256.Int
				if r.Mod(&v, uint256.NewInt(100_000_000)); !r.IsZero() || x.From != ty.Transfers[0].From {
					t.Errorf("%s: salary %s from %s is not a round amount from the employer", ty.ID, x.Value, x.From)
				}
			}
			if len(ty.Transfers) != cfg.TF.Employees {
				t.Errorf("%s: %d salaries, want %d", ty.ID, len(ty.Transfers), cfg.TF.Employees)
			}
		case "tron_topup", "gas_topup":
			// The exchange's feeder pays the deposit address the fee, and the
			// token sweep to the exchange's hot wallet follows in a later block.
			if len(locs) != 2 {
				t.Errorf("%s: %d transfers", ty.ID, len(locs))
				continue
			}
			top, sweep := ty.Transfers[0], ty.Transfers[1]
			ex := owners[top.Chain+":"+top.From]
			if kinds[ex] != "exchange" && kinds[ex] != "payment_processor" && kinds[ex] != "swap_service" && kinds[ex] != "mixer" {
				t.Errorf("%s: top-up from %s", ty.ID, ex)
			}
			if owners[top.Chain+":"+top.To] != ex || owners[sweep.Chain+":"+sweep.To] != ex || sweep.From != top.To {
				t.Errorf("%s: top-up %s -> %s, sweep %s -> %s are not one service's", ty.ID, top.From, top.To, sweep.From, sweep.To)
			}
			if top.Asset != map[string]string{"tron": "TRX", "eth": "ETH"}[top.Chain] || sweep.Asset == top.Asset {
				t.Errorf("%s: top-up in %s, sweep in %s", ty.ID, top.Asset, sweep.Asset)
			}
			if locs[1].tx.BlockHeight <= locs[0].tx.BlockHeight {
				t.Errorf("%s: sweep in block %d, top-up in block %d", ty.ID, locs[1].tx.BlockHeight, locs[0].tx.BlockHeight)
			}
		case "mixer":
			// A deposit to the mixer, then payouts from the mixer that add up
			// to the deposit minus the 2.5% fee.
			if kinds[owners["btc:"+ty.Transfers[0].To]] != "mixer" || len(locs) != 3 {
				t.Errorf("%s: %d transfers, first to %s", ty.ID, len(locs), owners["btc:"+ty.Transfers[0].To])
				continue
			}
			var paid uint64
			for _, x := range ty.Transfers[1:] {
				if kinds[owners["btc:"+x.From]] != "mixer" {
					t.Errorf("%s: payout from %s", ty.ID, owners["btc:"+x.From])
				}
				v := dec(t, x.Value)
				paid += v.Uint64()
			}
			if in := locs[0].value.Uint64(); paid != in*975/1000 {
				t.Errorf("%s: paid out %d of %d (want 97.5%%)", ty.ID, paid, in)
			}
		case "charity_fan_in":
			ch := ty.Actors[0]
			donors := map[string]bool{}
			for _, x := range ty.Transfers {
				switch {
				case owners[x.Chain+":"+x.To] == ch:
					donors[x.From] = true
				case owners[x.Chain+":"+x.From] == ch && kinds[owners[x.Chain+":"+x.To]] == "merchant":
				default:
					t.Errorf("%s: transfer %s -> %s is neither a donation nor a supplier payment", ty.ID, x.From, x.To)
				}
			}
			if len(donors) < 10 {
				t.Errorf("%s: %d donors", ty.ID, len(donors))
			}
		case "internal_transfers", "cold_move", "exchange_sweep":
			// Both ends belong to the one service.
			for _, x := range ty.Transfers {
				a, b := owners[x.Chain+":"+x.From], owners[x.Chain+":"+x.To]
				if a != ty.Actors[0] || b != ty.Actors[0] {
					t.Errorf("%s: %s (%s) -> %s (%s), want both %s", ty.ID, x.From, a, x.To, b, ty.Actors[0])
				}
			}
		case "utxo_consolidation":
			tx := locs[0].tx
			if len(tx.Inputs) < 20 || len(tx.Outputs) != 1 {
				t.Errorf("%s: %d in / %d out", ty.ID, len(tx.Inputs), len(tx.Outputs))
			}
			for _, in := range tx.Inputs {
				if owners["btc:"+codec(model.BTC).MustEncode(in.Address)] != ty.Actors[0] {
					t.Errorf("%s: spends an output of someone else", ty.ID)
				}
			}
		case "coinjoin":
			d := ty.Params["denomination"]
			tx := locs[0].tx
			for i, l := range locs {
				if l.tx.TxID != tx.TxID || ty.Transfers[i].Value != d {
					t.Errorf("%s: transfer %d is not an equal output of one tx", ty.ID, i)
				}
			}
			if len(locs) < 2 || len(tx.Inputs) < len(locs) {
				t.Errorf("%s: %d equal outputs, %d inputs", ty.ID, len(locs), len(tx.Inputs))
			}
		}
	}
	for _, k := range []string{"crowdfunding", "fixed_increments", "exchange_donors", "per_donor_addresses", "peel_chain", "pass_through",
		"structuring", "chain_hop", "recruiting", "payroll", "charity_fan_in", "coinjoin", "mixer", "internal_transfers",
		"exchange_sweep", "tron_topup", "gas_topup", "cold_move", "utxo_consolidation"} {
		if byKind[k] == 0 {
			t.Errorf("no %s typology planted", k)
		}
	}
	if byKind["chain_hop"] < 2 || byKind["coinjoin"] < cfg.TF.CoinJoins {
		t.Errorf("chain hops %d, coinjoins %d", byKind["chain_hop"], byKind["coinjoin"])
	}
}

// Every TF flow runs from a campaign to a deposit address of an exchange,
// along transactions that exist, and its value arrives there.
func TestFlows(t *testing.T) {
	_, st, tr := smallWorld(t)
	owners, kinds := tr.owners(), tr.kinds()
	perChain := map[string]int{}
	for i, f := range tr.Flows {
		perChain[f.Chain]++
		if kinds[f.Campaign] != "campaign" || kinds[f.Cashout] != "exchange" {
			t.Errorf("flow %d: from %s (%s) to %s (%s)", i, f.Campaign, kinds[f.Campaign], f.Cashout, kinds[f.Cashout])
		}
		if owners[f.Chain+":"+f.To] != f.Cashout {
			t.Errorf("flow %d: %s is not an address of %s", i, f.To, f.Cashout)
		}
		if len(f.Path) < 2 {
			t.Errorf("flow %d: path %v", i, f.Path)
			continue
		}
		// The last transaction pays the deposit address the flow's value.
		last := f.Path[len(f.Path)-1]
		c := mustChain(t, f.Chain)
		to := decodeAddr(t, c, f.To)
		raw, _ := hex.DecodeString(strings.TrimPrefix(last, "0x"))
		var id [32]byte
		copy(id[:], raw)
		tx, err := st.Tx(c, id)
		if err != nil {
			t.Fatalf("flow %d: last tx %s: %v", i, last, err)
		}
		v := dec(t, f.Value)
		paid := false
		for _, o := range tx.Outputs {
			paid = paid || (bytes.Equal(o.Address, to) && o.Value == v.Uint64())
		}
		for _, x := range tx.Transfers {
			paid = paid || (bytes.Equal(x.To, to) && x.Value.Eq(&v))
		}
		if !paid {
			t.Errorf("flow %d: tx %s does not pay %s %s", i, last, f.Value, f.To)
		}
	}
	if perChain["btc"] < 2 || perChain["tron"] < 3 || perChain["eth"] < 3 {
		t.Errorf("flows per chain: %v", perChain)
	}
}

// Every address belongs to exactly one actor, and every address that moved
// funds is listed by its actor.
func TestActorsOwnAddresses(t *testing.T) {
	_, _, tr := smallWorld(t)
	seen := map[string]string{}
	for _, a := range tr.Actors {
		for _, ad := range a.Addresses {
			k := ad.Chain + ":" + ad.Address
			if prev, dup := seen[k]; dup {
				t.Errorf("%s belongs to %s and %s", k, prev, a.ID)
			}
			seen[k] = a.ID
			decodeAddr(t, mustChain(t, ad.Chain), ad.Address)
		}
	}
	for _, b := range tr.Balances {
		if _, ok := seen[b.Chain+":"+b.Address]; !ok {
			t.Errorf("balance of %s %s: no actor controls it", b.Chain, b.Address)
		}
	}
}
