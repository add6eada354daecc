package value

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/address"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
	"github.com/spoor-dev/spoor/internal/store/pebblestore"
)

func TestReadPrices(t *testing.T) {
	in := "\ufeffAsset,Date,USD,comment\n" +
		"btc,2022-01-31,38483.13,daily\n" +
		"TRX,2023-05-01T10:00:00Z,0.0689,finer\n" +
		"tron:TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t,2023-05-01,1.0002,pinned base58\n" +
		"eth:0xdac17f958d2ee523a2206206994597c13d831ec7,2023-05-01 00:00:00 UTC,0.9999,pinned lower-case\n" +
		"USDT,1682899200,1,unix\n" +
		"btc,2022-01-31,38483.13,same point again\n" +
		"\n"
	pts, err := ReadPrices(strings.NewReader(in), "/x/prices.csv")
	if err != nil {
		t.Fatal(err)
	}
	want := []store.PricePoint{
		{Asset: "BTC", Time: 1643587200, USD: "38483.13", Source: "prices.csv"},
		{Asset: "TRX", Time: 1682935200, USD: "0.0689", Source: "prices.csv"},
		{Asset: "tron:TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", Time: 1682899200, USD: "1.0002", Source: "prices.csv"},
		{Asset: "eth:0xdAC17F958D2ee523a2206206994597C13D831ec7", Time: 1682899200, USD: "0.9999", Source: "prices.csv"},
		{Asset: "USDT", Time: 1682899200, USD: "1", Source: "prices.csv"},
	}
	if len(pts) != len(want) {
		t.Fatalf("%d points: %+v", len(pts), pts)
	}
	for i := range want {
		if pts[i] != want[i] {
			t.Errorf("point %d: %+v, want %+v", i, pts[i], want[i])
		}
	}
}

func TestReadPricesErrors(t *testing.T) {
	const h = "date,asset,usd\n"
	for _, tc := range []struct {
		name, in string
		line     int
		field    string
	}{
		{"empty", "", 1, ""},
		{"missing column", "date,symbol,usd\n2022-01-01,BTC,1\n", 1, "asset"},
		{"bad date", h + "2022-01-01,BTC,1\n2022-13-01,BTC,1\n", 3, "date"},
		{"day-month swapped", h + "31/01/2022,BTC,1\n", 2, "date"},
		{"negative", h + "2022-01-01,BTC,-1\n", 2, "usd"},
		{"exponent", h + "2022-01-01,BTC,1e3\n", 2, "usd"},
		{"thousands separator", h + "2022-01-01,BTC,\"38,483.13\"\n", 2, "usd"},
		{"empty usd", h + "2022-01-01,BTC,\n", 2, "usd"},
		{"bad symbol", h + "2022-01-01,B TC,1\n", 2, "asset"},
		{"bad pinned checksum", h + "2022-01-01,tron:TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u,1\n", 2, "asset"},
		{"pinned btc", h + "2022-01-01,btc:1BitcoinEaterAddressDontSendf59kuE,1\n", 2, "asset"},
		{"wrong field count", h + "2022-01-01,BTC\n", 2, ""},
		{"conflicting duplicate", h + "2022-01-01,BTC,1\n2022-01-01,btc,2\n", 3, "usd"},
		{"unclosed quote", h + "2022-01-01,BTC,\"1\n", 2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadPrices(strings.NewReader(tc.in), "p.csv")
			var e *InputError
			if !errors.Is(err, ErrInput) || !errors.As(err, &e) {
				t.Fatalf("error %v, want an input error", err)
			}
			if e.File != "p.csv" || e.Line != tc.line || e.Field != tc.field {
				t.Fatalf("error %q at line %d field %q, want line %d field %q", err, e.Line, e.Field, tc.line, tc.field)
			}
		})
	}
}

func FuzzReadPrices(f *testing.F) {
	for _, s := range []string{
		"date,asset,usd\n2022-01-31,BTC,38483.13\n",
		"usd,asset,date\n0.0689,TRX,2023-05-01T10:00:00Z\n",
		"date,asset,usd\n2023-05-01,tron:TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t,1.0002\n",
		"date,asset,usd\n2023-05-01,eth:0xdAC17F958D2ee523a2206206994597C13D831ec7,1\n\"2023-05-02\",USDT,\"1.0\"\n",
		"date,asset,usd\n1682899200,usdt,1\n",
		"date,asset,usd\n2022-01-01,BTC,-1\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		pts, err := ReadPrices(strings.NewReader(in), "fuzz.csv")
		if err != nil {
			var e *InputError
			if !errors.As(err, &e) || e.File != "fuzz.csv" {
				t.Fatalf("error without location: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, p := range pts {
			if _, err := ParseUSD(p.USD); err != nil {
				t.Fatalf("accepted price %q: %v", p.USD, err)
			}
			if k, err := ParseAssetKey(p.Asset); err != nil || k != p.Asset {
				t.Fatalf("asset key %q not normal: %q %v", p.Asset, k, err)
			}
			k := p.Asset + "@" + big.NewInt(p.Time).String()
			if seen[k] {
				t.Fatalf("point %s twice", k)
			}
			seen[k] = true
		}
	})
}

func newBook(t *testing.T, csv string) (*Book, *pebblestore.Store) {
	t.Helper()
	st, err := pebblestore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pts, err := ReadPrices(strings.NewReader(csv), "prices.csv")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutPrices(pts); err != nil {
		t.Fatal(err)
	}
	return NewBook(st), st
}

func u(s string) *uint256.Int {
	v, err := uint256.FromDecimal(s)
	if err != nil {
		panic(err)
	}
	return v
}

func TestValue(t *testing.T) {
	usdtTron, _ := address.TronDecode("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t")
	fake, _ := address.TronDecode("TXka46PPwttNPWfFDPtt3GUodbPThyufaV")
	book, _ := newBook(t, "date,asset,usd\n"+
		"2023-05-01,TRX,0.0689\n"+
		"2023-05-02,TRX,0.07\n"+
		"2023-05-01,ETH,1831.2\n"+
		"2023-05-01,USDT,1\n"+
		"2023-05-01,tron:TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t,0.9995\n")
	const may1, may2 = 1682899200, 1682985600
	usdt := model.Asset{Chain: model.Tron, ID: 1, Contract: usdtTron, Symbol: "USDT", Decimals: 6}
	for _, tc := range []struct {
		name   string
		c      model.Chain
		a      model.Asset
		amount string
		t      int64
		exact  string // USDExact, or "" when unknown
		cents  string
		key    string
		reason string
	}{
		// 19944850 sun × 0.0689 / 10^6 = 1.374200165
		{"TRX on the day", model.Tron, model.Asset{Chain: model.Tron}, "19944850", may1 + 3600, "1.374200165", "1.37", "TRX", ""},
		// The next day's point applies from its time on.
		{"TRX next day", model.Tron, model.Asset{Chain: model.Tron}, "19944850", may2, "1.3961395", "1.40", "TRX", ""},
		// Pinned contract price wins over the symbol's.
		{"pinned USDT", model.Tron, usdt, "1234567", may1, "1.2339497165", "1.23", "tron:TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", ""},
		// A look-alike token named USDT falls back to the symbol price (the
		// key used says so).
		{"symbol USDT", model.Tron, model.Asset{Chain: model.Tron, ID: 2, Contract: fake, Symbol: "usdt", Decimals: 6}, "5000000", may1, "5.00", "5.00", "USDT", ""},
		// 2^256-1 wei at 1831.2 stays exact (expected value from Python's
		// fractions.Fraction, an independent exact implementation).
		{"max uint256 wei", model.ETH, model.Asset{Chain: model.ETH}, "115792089237316195423570985008687907853269984665640564039457584007913129639935", may1,
			"212038473811373417059643187747909296860907995919721000869054727.835290522996648972", "212038473811373417059643187747909296860907995919721000869054727.84", "ETH", ""},
		{"before the first point", model.Tron, model.Asset{Chain: model.Tron}, "1", may1 - 1, "", "", "", "series starts later"},
		{"no series", model.Tron, model.Asset{Chain: model.Tron, ID: 3, Contract: fake, Symbol: "FAKE", Decimals: 6}, "1", may1, "", "", "", "no price for tron:TXka46PPwttNPWfFDPtt3GUodbPThyufaV or FAKE"},
		{"decimals unknown", model.Tron, model.Asset{Chain: model.Tron, ID: 1, Contract: usdtTron, Symbol: "USDT", Decimals: -1}, "1", may1, "", "", "", "decimals unknown"},
		{"time unknown", model.Tron, model.Asset{Chain: model.Tron}, "1", 0, "", "", "", "time unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := book.Value(tc.c, tc.a, u(tc.amount), tc.t)
			if err != nil {
				t.Fatal(err)
			}
			if tc.exact == "" {
				if v.Known || !strings.Contains(v.Reason, tc.reason) {
					t.Fatalf("known=%v reason %q, want unknown: %q", v.Known, v.Reason, tc.reason)
				}
				return
			}
			if !v.Known || USDExact(&v.USD) != tc.exact || USDString(&v.USD) != tc.cents || v.Price.Asset != tc.key || v.Price.Source != "prices.csv" {
				t.Fatalf("got known=%v %s (%s) key %s src %s; want %s (%s) key %s", v.Known, USDExact(&v.USD), USDString(&v.USD), v.Price.Asset, v.Price.Source, tc.exact, tc.cents, tc.key)
			}
		})
	}
}

func TestTotal(t *testing.T) {
	book, _ := newBook(t, "date,asset,usd\n2023-05-01,TRX,0.0689\n2023-05-03,TRX,0.07\n")
	var tot Total
	trx := model.Asset{Chain: model.Tron}
	for _, c := range []struct {
		amount string
		t      int64
	}{{"1000000", 1682899200}, {"3", 1683072000}, {"1000000", 1682899199}} {
		v, err := book.Value(model.Tron, trx, u(c.amount), c.t)
		if err != nil {
			t.Fatal(err)
		}
		tot.Add(v)
	}
	// 0.0689 + 3×0.07/10^6 = 0.06890021; one amount before any price.
	if tot.Complete() || tot.Priced != 2 || tot.Unpriced != 1 || USDExact(&tot.Sum) != "0.06890021" {
		t.Fatalf("total %s priced %d unpriced %d", USDExact(&tot.Sum), tot.Priced, tot.Unpriced)
	}
	if s := tot.Sources(); s != "TRX from prices.csv (points 2023-05-01 … 2023-05-03)" {
		t.Fatalf("sources %q", s)
	}
}
