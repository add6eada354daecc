// Package trace follows value between addresses. Counterparties gives an
// address's direct counterparties (one hop, either direction) with exact
// amounts on account chains and, on UTXO chains, the proportional estimate
// GraphSense uses (an input's share of the transaction's value), marked as an
// estimate. Every figure keeps the transactions it came from, so a reader can
// check it on the chain.
package trace

import (
	"bytes"
	"math/big"
	"sort"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
	"github.com/spoor-dev/spoor/internal/value"
)

// Direction says which way value moves relative to the address asked about.
type Direction int

const (
	In  Direction = iota // value the address received: counterparties are senders
	Out                  // value the address sent: counterparties are receivers
)

func (d Direction) String() string {
	if d == Out {
		return "out"
	}
	return "in"
}

// MaxExampleTxs bounds how many transaction ids a counterparty keeps as
// evidence (the count of all is in Txs).
const MaxExampleTxs = 20

// Counterparty is what moved between the address and one other address in
// one asset.
type Counterparty struct {
	// Address is the counterparty's canonical bytes; nil for newly created
	// value (a coinbase, a token mint) or burnt value.
	Address []byte
	Asset   model.Asset
	Value   uint256.Int
	// Estimated is true when Value is a proportional share of UTXO
	// transactions (inputs are pooled: who paid which output is not on the
	// chain); false when every unit is an explicit transfer.
	Estimated   bool
	Txs         int
	First, Last int64 // unix seconds
	ExampleTxs  [][32]byte
	USD         value.Total
}

// Options tune Counterparties.
type Options struct {
	// Prices values each transaction's share at its time; nil skips USD.
	Prices *value.Book
}

type cpKey struct {
	addr  string
	asset model.AssetID
}

// Counterparties lists the direct counterparties of addr on chain c in one
// direction, largest value first within each asset. Transfers from an
// address to itself (UTXO change) are not counterparties.
func Counterparties(r store.Reader, c model.Chain, addr []byte, dir Direction, o Options) ([]Counterparty, error) {
	adj, err := r.AddressTxs(c, addr, 0, 0)
	if err != nil {
		return nil, err
	}
	assets := map[model.AssetID]model.Asset{model.Native: {Chain: c, ID: model.Native, Symbol: c.NativeSymbol(), Decimals: c.NativeDecimals()}}
	if as, err := r.Assets(c); err == nil {
		for _, a := range as {
			assets[a.ID] = a
		}
	} else {
		return nil, err
	}
	byKey := map[cpKey]*Counterparty{}
	var order []cpKey
	add := func(tv *store.TxView, other []byte, asset model.AssetID, v *uint256.Int, est bool) error {
		if v.IsZero() {
			return nil
		}
		k := cpKey{string(other), asset}
		cp := byKey[k]
		if cp == nil {
			cp = &Counterparty{Address: other, Asset: assets[asset], First: tv.Time}
			byKey[k] = cp
			order = append(order, k)
		}
		cp.Value.Add(&cp.Value, v)
		cp.Estimated = cp.Estimated || est
		if len(cp.ExampleTxs) == 0 || cp.ExampleTxs[len(cp.ExampleTxs)-1] != tv.TxID {
			cp.Txs++
			if len(cp.ExampleTxs) < MaxExampleTxs {
				cp.ExampleTxs = append(cp.ExampleTxs, tv.TxID)
			}
		}
		if tv.Time < cp.First {
			cp.First = tv.Time
		}
		if tv.Time > cp.Last {
			cp.Last = tv.Time
		}
		if o.Prices != nil {
			val, err := o.Prices.Value(c, cp.Asset, v, tv.Time)
			if err != nil {
				return err
			}
			cp.USD.Add(val)
		}
		return nil
	}
	take := func(_ int, tv *store.TxView) error {
		if c.IsUTXO() {
			return utxoShares(tv, addr, dir, add)
		}
		return accountTransfers(tv, addr, dir, add)
	}
	// The address's txs, each once (an entry per asset), in adjacency order,
	// read in batches.
	nums := make([]uint64, 0, min(len(adj), txBatch))
	flush := func() error {
		defer func() { nums = nums[:0] }()
		return r.TxsByNum(c, nums, take)
	}
	for i := range adj {
		if i > 0 && adj[i].TxNum == adj[i-1].TxNum {
			continue
		}
		nums = append(nums, adj[i].TxNum)
		if len(nums) == txBatch {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	out := make([]Counterparty, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Asset.ID != out[j].Asset.ID {
			return out[i].Asset.ID < out[j].Asset.ID
		}
		return out[i].Value.Gt(&out[j].Value)
	})
	return out, nil
}

// txBatch is how many transactions Counterparties reads at once.
const txBatch = 4096

type adder func(tv *store.TxView, other []byte, asset model.AssetID, v *uint256.Int, est bool) error

// accountTransfers takes the explicit transfers of an account-chain
// transaction: exact, one counterparty per transfer.
func accountTransfers(tv *store.TxView, addr []byte, dir Direction, add adder) error {
	if tv.Failed {
		return nil
	}
	for i := range tv.Transfers {
		t := &tv.Transfers[i]
		var other []byte
		switch {
		case dir == In && bytes.Equal(t.To, addr) && !bytes.Equal(t.From, addr):
			other = t.From
		case dir == Out && bytes.Equal(t.From, addr) && !bytes.Equal(t.To, addr):
			other = t.To
		default:
			continue
		}
		if err := add(tv, other, t.Asset.ID, &t.Value, false); err != nil {
			return err
		}
	}
	return nil
}

// utxoShares splits a UTXO transaction's value between the address and its
// counterparties in proportion to the inputs: what input s paid to output o
// is value(o) × value(s) / total inputs (rounded down).
func utxoShares(tv *store.TxView, addr []byte, dir Direction, add adder) error {
	var totalIn uint64
	for _, in := range tv.Inputs {
		totalIn += in.Value
	}
	if dir == In {
		var got uint64
		for _, o := range tv.Outputs {
			if bytes.Equal(o.Address, addr) {
				got += o.Value
			}
		}
		if got == 0 {
			return nil
		}
		if tv.Coinbase || totalIn == 0 {
			v := uint256.NewInt(got)
			return add(tv, nil, model.Native, v, false)
		}
		// One sender: exact. Several: proportional, an estimate.
		senders := map[string]uint64{}
		var order []string
		for _, in := range tv.Inputs {
			k := string(in.Address)
			if _, ok := senders[k]; !ok {
				order = append(order, k)
			}
			senders[k] += in.Value
		}
		est := len(senders) > 1
		for _, k := range order {
			if k == string(addr) {
				continue
			}
			v := share(got, senders[k], totalIn)
			if err := add(tv, []byte(k), model.Native, v, est); err != nil {
				return err
			}
		}
		return nil
	}
	var mine uint64
	for _, in := range tv.Inputs {
		if bytes.Equal(in.Address, addr) {
			mine += in.Value
		}
	}
	if mine == 0 {
		return nil
	}
	est := mine != totalIn
	for _, o := range tv.Outputs {
		if bytes.Equal(o.Address, addr) {
			continue // change back to the address itself
		}
		v := share(o.Value, mine, totalIn)
		if err := add(tv, o.Address, model.Native, v, est); err != nil {
			return err
		}
	}
	return nil
}

// share is a × b / c in exact integer arithmetic, rounded down.
func share(a, b, c uint64) *uint256.Int {
	if b == c {
		return uint256.NewInt(a)
	}
	x := new(big.Int).Mul(new(big.Int).SetUint64(a), new(big.Int).SetUint64(b))
	x.Quo(x, new(big.Int).SetUint64(c))
	v, _ := uint256.FromBig(x)
	return v
}
