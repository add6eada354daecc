package value

import (
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// Book answers "what was this asset worth then" from a PriceStore, loading
// each asset's series once.
type Book struct {
	ps     store.PriceStore
	series map[string][]point
}

type point struct {
	p   store.PricePoint
	usd *big.Rat
}

// NewBook returns a book over the store's price series.
func NewBook(ps store.PriceStore) *Book {
	return &Book{ps: ps, series: map[string][]point{}}
}

func (b *Book) load(key string) ([]point, error) {
	if s, ok := b.series[key]; ok {
		return s, nil
	}
	pts, err := b.ps.Prices(key)
	if err != nil {
		return nil, err
	}
	s := make([]point, len(pts))
	for i, p := range pts {
		r, err := ParseUSD(p.USD)
		if err != nil {
			return nil, fmt.Errorf("value: stored price of %s at %d: %v", key, p.Time, err)
		}
		s[i] = point{p, r}
	}
	sort.SliceStable(s, func(i, j int) bool { return s[i].p.Time < s[j].p.Time })
	b.series[key] = s
	return s, nil
}

// at returns the latest point of key at or before t.
func (b *Book) at(key string, t int64) (*point, bool, error) {
	s, err := b.load(key)
	if err != nil || len(s) == 0 {
		return nil, false, err
	}
	i := sort.Search(len(s), func(i int) bool { return s[i].p.Time > t })
	if i == 0 {
		return nil, true, nil // series exists but starts later
	}
	return &s[i-1], true, nil
}

// Keys are the price keys tried for an asset, in order: the native coin's
// symbol; for a token its pinned contract key ("tron:T…", "eth:0x…"), then
// its symbol. Matching by symbol trusts the token's own name: pin the
// contract where a look-alike token could be involved.
func Keys(c model.Chain, a model.Asset) []string {
	if len(a.Contract) == 0 {
		return []string{c.NativeSymbol()}
	}
	keys := []string{TokenKey(c, a.Contract)}
	if s := strings.ToUpper(strings.TrimSpace(a.Symbol)); s != "" && symbolRe.MatchString(s) {
		keys = append(keys, s)
	}
	return keys
}

// Valuation is one amount valued at one time.
type Valuation struct {
	Known bool
	USD   big.Rat // exact; valid when Known
	// Price is the point used (its Asset is the key that matched).
	Price store.PricePoint
	// Reason says why the value is unknown.
	Reason string
}

// Value values amount (base units of asset a on chain c) at unix time t.
func (b *Book) Value(c model.Chain, a model.Asset, amount *uint256.Int, t int64) (Valuation, error) {
	var v Valuation
	dec := a.Decimals
	if len(a.Contract) == 0 {
		dec = c.NativeDecimals()
	}
	if dec < 0 {
		v.Reason = "token decimals unknown"
		return v, nil
	}
	if t <= 0 {
		v.Reason = "block time unknown"
		return v, nil
	}
	keys := Keys(c, a)
	var later []string
	for _, k := range keys {
		p, exists, err := b.at(k, t)
		if err != nil {
			return v, err
		}
		if p == nil {
			if exists {
				later = append(later, k)
			}
			continue
		}
		v.Known, v.Price = true, p.p
		num := new(big.Int).Mul(amount.ToBig(), p.usd.Num())
		den := new(big.Int).Mul(p.usd.Denom(), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(dec)), nil))
		v.USD.SetFrac(num, den)
		return v, nil
	}
	when := time.Unix(t, 0).UTC().Format(time.RFC3339)
	if len(later) > 0 {
		v.Reason = fmt.Sprintf("no price of %s at or before %s (its series starts later)", strings.Join(later, "/"), when)
	} else {
		v.Reason = fmt.Sprintf("no price for %s", strings.Join(keys, " or "))
	}
	return v, nil
}

// USDString renders an exact amount of dollars with cents, rounding half
// away from zero at the cent ("1234.57"); use USDExact for every digit.
func USDString(r *big.Rat) string { return r.FloatString(2) }

// USDExact renders up to 18 decimals, trailing zeros trimmed (at least
// cents): "0.000001", "12.50".
func USDExact(r *big.Rat) string {
	s := r.FloatString(18)
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s = strings.TrimRight(s, "0")
		for len(s)-i-1 < 2 {
			s += "0"
		}
	}
	return s
}

// Total sums valuations; it stays exact and remembers what it used.
type Total struct {
	Sum      big.Rat // of the known values
	Priced   uint64  // amounts valued
	Unpriced uint64  // amounts whose value is unknown
	Reason   string  // first reason a value was unknown
	used     map[string]*span
}

type span struct{ first, last int64 }

// Add adds one valuation (an unknown one is counted, never as zero).
func (t *Total) Add(v Valuation) {
	if !v.Known {
		t.Unpriced++
		if t.Reason == "" {
			t.Reason = v.Reason
		}
		return
	}
	t.Priced++
	t.Sum.Add(&t.Sum, &v.USD)
	if t.used == nil {
		t.used = map[string]*span{}
	}
	k := v.Price.Asset + " from " + v.Price.Source
	if s, ok := t.used[k]; ok {
		s.first, s.last = min(s.first, v.Price.Time), max(s.last, v.Price.Time)
	} else {
		t.used[k] = &span{v.Price.Time, v.Price.Time}
	}
}

// Complete reports whether every amount added was valued.
func (t *Total) Complete() bool { return t.Unpriced == 0 }

// Sources describes the price points used: "USDT from prices.csv (points
// 2023-05-01 … 2023-05-03)", joined by "; ".
func (t *Total) Sources() string {
	var parts []string
	for k, s := range t.used {
		f, l := day(s.first), day(s.last)
		if f == l {
			parts = append(parts, fmt.Sprintf("%s (point of %s)", k, f))
		} else {
			parts = append(parts, fmt.Sprintf("%s (points %s … %s)", k, f, l))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

func day(t int64) string {
	tm := time.Unix(t, 0).UTC()
	if tm.Hour() == 0 && tm.Minute() == 0 && tm.Second() == 0 {
		return tm.Format("2006-01-02")
	}
	return tm.Format(time.RFC3339)
}

// Flow is an address's USD in and out in one asset.
type Flow struct {
	In, Out Total
}

// AddressFlows values everything an address received and sent, per asset
// id, at the time of each transaction: one pass over its adjacency (one
// entry per transaction and asset, with the tx's block time), so linear in
// its transaction count and without reading any transaction.
// assets maps the chain's asset ids to their metadata (native included).
func (b *Book) AddressFlows(r store.Reader, c model.Chain, addr []byte, assets map[model.AssetID]model.Asset) (map[model.AssetID]*Flow, error) {
	adj, err := r.AddressTxs(c, addr, 0, 0)
	if err != nil {
		return nil, err
	}
	out := map[model.AssetID]*Flow{}
	for i := range adj {
		e := &adj[i]
		a, ok := assets[e.Asset]
		if !ok {
			a = model.Asset{Chain: c, ID: e.Asset, Decimals: -1}
			if e.Asset == model.Native {
				a.Symbol, a.Decimals = c.NativeSymbol(), c.NativeDecimals()
			}
		}
		f := out[e.Asset]
		if f == nil {
			f = &Flow{}
			out[e.Asset] = f
		}
		if !e.In.IsZero() {
			v, err := b.Value(c, a, &e.In, e.Time)
			if err != nil {
				return nil, err
			}
			f.In.Add(v)
		}
		if !e.Out.IsZero() {
			v, err := b.Value(c, a, &e.Out, e.Time)
			if err != nil {
				return nil, err
			}
			f.Out.Add(v)
		}
	}
	return out, nil
}

// Merge adds another total into t.
func (t *Total) Merge(o *Total) {
	t.Sum.Add(&t.Sum, &o.Sum)
	t.Priced += o.Priced
	t.Unpriced += o.Unpriced
	if t.Reason == "" {
		t.Reason = o.Reason
	}
	for k, s := range o.used {
		if t.used == nil {
			t.used = map[string]*span{}
		}
		if m, ok := t.used[k]; ok {
			m.first, m.last = min(m.first, s.first), max(m.last, s.last)
		} else {
			t.used[k] = &span{s.first, s.last}
		}
	}
}
