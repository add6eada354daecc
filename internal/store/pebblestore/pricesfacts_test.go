package pebblestore

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPricesRoundTrip(t *testing.T) {
	s := openTemp(t)
	in := []store.PricePoint{
		{Asset: "TRX", Time: 1640995200, USD: "0.0712", Source: "a.csv"},
		{Asset: "TRX", Time: -86400, USD: "1", Source: "a.csv"}, // before 1970 sorts first
		{Asset: "USDT", Time: 1640995200, USD: "1.0001", Source: "a.csv"},
		{Asset: "TRX", Time: 1641081600, USD: "0.0699", Source: "a.csv"},
		{Asset: "TR", Time: 5, USD: "9", Source: "x"}, // a prefix of another asset stays apart
	}
	if err := s.PutPrices(in); err != nil {
		t.Fatal(err)
	}
	// Re-import with a changed point replaces it (idempotent by asset+time).
	if err := s.PutPrices([]store.PricePoint{{Asset: "TRX", Time: 1641081600, USD: "0.07", Source: "b.csv"}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Prices("TRX")
	if err != nil {
		t.Fatal(err)
	}
	want := []store.PricePoint{
		{Asset: "TRX", Time: -86400, USD: "1", Source: "a.csv"},
		{Asset: "TRX", Time: 1640995200, USD: "0.0712", Source: "a.csv"},
		{Asset: "TRX", Time: 1641081600, USD: "0.07", Source: "b.csv"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Prices(TRX) = %+v\nwant %+v", got, want)
	}
	assets, err := s.PriceAssets()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(assets, []string{"TR", "TRX", "USDT"}) {
		t.Fatalf("PriceAssets = %v", assets)
	}
	if none, _ := s.Prices("BTC"); len(none) != 0 {
		t.Fatalf("Prices(BTC) = %v, want none", none)
	}
	if err := s.PutPrices([]store.PricePoint{{Asset: "", USD: "1"}}); err == nil {
		t.Fatal("empty asset accepted")
	}
}

func TestFactsRoundTrip(t *testing.T) {
	s := openTemp(t)
	usdt := append([]byte{0x41}, bytes.Repeat([]byte{0xa6}, 20)...)
	bad := append([]byte{0x41}, bytes.Repeat([]byte{0x01}, 20)...)
	other := append([]byte{0x41}, bytes.Repeat([]byte{0x02}, 20)...)
	f1 := store.Fact{Kind: store.FactAddedBlackList, Contract: usdt, Subject: bad, TxID: [32]byte{1}, LogIndex: 0, Height: 10, Time: 1000}
	f2 := store.Fact{Kind: store.FactDestroyedBlackFunds, Contract: usdt, Subject: bad, TxID: [32]byte{2}, LogIndex: 3, Height: 20, Time: 2000}
	f2.Amount.SetFromDecimal("123456789012345678901234567890")
	f3 := store.Fact{Kind: store.FactAddedBlackList, Contract: usdt, Subject: other, TxID: [32]byte{3}, LogIndex: 1, Height: 15, Time: 1500}
	if err := s.PutFacts(model.Tron, []store.Fact{f2, f1, f3}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutFacts(model.Tron, []store.Fact{f1}); err != nil { // again: no duplicate
		t.Fatal(err)
	}
	got, err := s.Facts(model.Tron, bad)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []store.Fact{f1, f2}) {
		t.Fatalf("Facts = %+v", got)
	}
	if eth, _ := s.Facts(model.ETH, bad[1:]); len(eth) != 0 {
		t.Fatalf("facts leak across chains: %v", eth)
	}
	kind, err := s.FactsOfKind(model.Tron, store.FactAddedBlackList)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(kind, []store.Fact{f1, f3}) {
		t.Fatalf("FactsOfKind = %+v", kind)
	}
	if err := s.DeleteFactsAbove(model.Tron, 15); err != nil {
		t.Fatal(err)
	}
	all, _ := s.FactsOfKind(model.Tron, "")
	if !reflect.DeepEqual(all, []store.Fact{f1, f3}) {
		t.Fatalf("after DeleteFactsAbove(15): %+v", all)
	}
	var zero uint256.Int
	if !all[0].Amount.Eq(&zero) {
		t.Fatal("amount of AddedBlackList not zero")
	}
}
