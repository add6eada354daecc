package sim

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
)

// tTransfer is one transfer of a planted typology.
type tTransfer struct {
	chain model.Chain
	txid  [32]byte
	vout  int32
	from  int32
	to    int32 // -1: only a label (Monero exit)
	label string
	slot  int8
	value uint256.Int
}

// typology is one planted instance.
type typology struct {
	id        string
	kind      string
	tf        bool
	actors    []*Actor
	params    map[string]string
	transfers []tTransfer
}

// flow is one TF flow from a campaign to a cash-out deposit address.
type flow struct {
	campaign, cashout *Actor
	chain             model.Chain
	slot              int
	from, to          int32
	value             uint256.Int
	path              [][32]byte
}

type opening struct {
	addr  int32
	slot  int
	value uint256.Int
}

type truth struct {
	typs     []*typology
	flows    []*flow
	openings []opening
	perKind  map[string]int
}

// newTypology starts a planted instance. Routine exchange typologies are
// recorded up to a bound (so truth stays bounded as the world grows):
// typology returns nil past it and rec* ignore nil.
func (s *Sim) newTypology(kind string, tf bool, params map[string]string, actors ...*Actor) *typology {
	if s.truth.perKind == nil {
		s.truth.perKind = map[string]int{}
	}
	if limit, ok := routineLimit[kind]; ok && s.truth.perKind[kind] >= limit {
		return nil
	}
	s.truth.perKind[kind]++
	if params == nil {
		params = map[string]string{}
	}
	t := &typology{id: fmt.Sprintf("%s-%d", kind, s.truth.perKind[kind]), kind: kind, tf: tf, params: params, actors: actors}
	s.truth.typs = append(s.truth.typs, t)
	return t
}

// routineLimit bounds how many instances of everyday behaviour truth lists.
var routineLimit = map[string]int{
	"exchange_sweep":     25,
	"tron_topup":         25,
	"gas_topup":          25,
	"utxo_consolidation": 25,
	"cold_move":          25,
	"internal_transfers": 10,
	"mixer":              1_000,
	"coinjoin":           1_000,
}

func (s *Sim) txidString(c model.Chain, id [32]byte) string {
	switch c {
	case model.BTC:
		return chainhash.Hash(id).String()
	case model.ETH:
		return "0x" + hex.EncodeToString(id[:])
	}
	return hex.EncodeToString(id[:])
}

func (s *Sim) assetName(c model.Chain, slot int) string {
	if slot == native {
		return c.NativeSymbol()
	}
	return s.chainOf(c).tokenSymbol
}

// truth.json is written with the types ReadTruth reads back (truthread.go):
// one schema for both directions.

func (s *Sim) jTransfer(t *tTransfer) TruthTransfer {
	j := TruthTransfer{Chain: t.chain.String(), Vout: t.vout, Value: t.value.Dec()}
	if t.chain == model.XMR {
		j.Asset, j.To = "XMR", t.label
		if t.from >= 0 {
			j.From = s.display(t.from)
		}
		return j
	}
	j.From, j.Asset = s.display(t.from), s.assetName(t.chain, int(t.slot))
	j.TxID = s.txidString(t.chain, t.txid)
	j.To = s.display(t.to)
	return j
}

// writeTruth writes truth.json (one array element per line).
func (s *Sim) writeTruth(w *bufio.Writer) error {
	line := func(prefix string, v any, last bool) {
		b, err := json.Marshal(v)
		if err != nil {
			s.fail(err)
			return
		}
		w.WriteString(prefix)
		w.Write(b)
		if !last {
			w.WriteString(",\n")
		} else {
			w.WriteString("\n")
		}
	}
	head := map[string]any{"version": 1, "seed": s.cfg.Seed, "scale": s.cfg.Scale,
		"start": unixTime(s.start).Format("2006-01-02T15:04:05Z"), "end": unixTime(s.end).Format("2006-01-02T15:04:05Z"),
		"usd_threshold": "1000"}
	hb, _ := json.Marshal(head)
	w.Write(hb[:len(hb)-1])
	w.WriteString(",\n\"assets\": [\n")
	assets := []TruthAsset{{"btc", "BTC", "", 8}, {"tron", "TRX", "", 6}, {"tron", "USDT", displayRaw(model.Tron, USDTTron), 6},
		{"eth", "ETH", "", 18}, {"eth", "USDC", displayRaw(model.ETH, USDCEth), 6}}
	for i, a := range assets {
		line("", a, i == len(assets)-1)
	}
	w.WriteString("],\n\"actors\": [\n")
	for i, a := range s.actors {
		ja := TruthActor{ID: a.ID, Kind: a.Kind, Role: a.Role, Name: a.Name, Addresses: make([]TruthAddress, len(a.addrs))}
		for k, id := range a.addrs {
			ja.Addresses[k] = TruthAddress{s.addrs[id].chain.String(), s.display(id)}
		}
		line("", ja, i == len(s.actors)-1)
	}
	w.WriteString("],\n\"typologies\": [\n")
	for i, t := range s.truth.typs {
		jt := TruthTypology{ID: t.id, Kind: t.kind, TF: t.tf, Params: t.params, Actors: []string{}, Transfers: []TruthTransfer{}}
		for _, a := range t.actors {
			jt.Actors = append(jt.Actors, a.ID)
		}
		for k := range t.transfers {
			jt.Transfers = append(jt.Transfers, s.jTransfer(&t.transfers[k]))
		}
		line("", jt, i == len(s.truth.typs)-1)
	}
	w.WriteString("],\n\"flows\": [\n")
	for i, f := range s.truth.flows {
		jf := TruthFlow{ID: fmt.Sprintf("flow-%d", i+1), Campaign: f.campaign.ID, Cashout: f.cashout.ID, Chain: f.chain.String(),
			Asset: s.assetName(f.chain, f.slot), From: s.display(f.from), To: s.display(f.to), Value: f.value.Dec()}
		for _, p := range f.path {
			jf.Path = append(jf.Path, s.txidString(f.chain, p))
		}
		line("", jf, i == len(s.truth.flows)-1)
	}
	w.WriteString("],\n\"openings\": [\n")
	for i, o := range s.truth.openings {
		a := &s.addrs[o.addr]
		line("", TruthBalance{a.chain.String(), s.display(o.addr), s.assetName(a.chain, o.slot), o.value.Dec()}, i == len(s.truth.openings)-1)
	}
	w.WriteString("],\n\"balances\": [\n")
	// Count first so the last element carries no comma.
	n := 0
	for i := range s.addrs {
		for slot := 0; slot < 2; slot++ {
			if s.addrs[i].touched&(1<<slot) != 0 {
				n++
			}
		}
	}
	k := 0
	for i := range s.addrs {
		a := &s.addrs[i]
		for slot := 0; slot < 2; slot++ {
			if a.touched&(1<<slot) == 0 {
				continue
			}
			k++
			line("", TruthBalance{a.chain.String(), s.display(int32(i)), s.assetName(a.chain, slot), a.bal[slot].Dec()}, k == n)
		}
	}
	w.WriteString("]}\n")
	return w.Flush()
}
