package main

import (
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spoor-dev/spoor/internal/chain/btc/btctestdata"
)

// A Tron export in Google's BigQuery layout (EVM-hex addresses). Figures
// below are worked out by hand from these rows.
const (
	acctA    = "0xa0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0"
	acctB    = "0xb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"
	acctUSDT = "0xa614f803b6fd780986a42c78ec9c7f77e6ded13c"
	acctScam = "0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
	acctTx1  = "1111111111111111111111111111111111111111111111111111111111111111"
	acctTx2  = "2222222222222222222222222222222222222222222222222222222222222222"
)

var acctExport = map[string]string{
	"blocks.csv": "number,hash,parent_hash,timestamp\n" +
		"50000000,00000000002faf080000000000000000000000000000000000000000000000a0,,1682935200\n" +
		"50000001,00000000002faf081111111111111111111111111111111111111111111111a1,00000000002faf080000000000000000000000000000000000000000000000a0,1682935203\n",
	"transactions.csv": "hash,block_number,transaction_index,from_address,to_address,value,gas_price,receipt_gas_used,receipt_status\n" +
		acctTx1 + ",50000000,0," + acctA + "," + acctB + ",5000000,1,1100000,1\n" +
		acctTx2 + ",50000001,0," + acctA + "," + acctUSDT + ",0,1,13844850,1\n",
	"token_transfers.csv": "token_address,from_address,to_address,value,transaction_hash,log_index,block_number\n" +
		acctUSDT + "," + acctA + "," + acctB + ",100000000," + acctTx2 + ",0,50000001\n" +
		acctUSDT + "," + acctA + "," + acctB + ",2500000," + acctTx2 + ",1,50000001\n" +
		acctScam + "," + acctB + "," + acctA + ",7," + acctTx2 + ",2,50000001\n",
	"tokens.csv": "address,symbol,name,decimals\n" + acctUSDT + ",USDT,Tether USD,6\n",
}

const acctPrices = "date,asset,usd\n2023-04-30,TRX,0.07\n2023-05-01,TRX,0.0689\n2023-05-01,tron:TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t,1\n"

func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type assetJSON struct {
	Asset, Token, Received, Sent, Balance string
	ReceivedUSD                           string `json:"received_usd"`
	SentUSD                               string `json:"sent_usd"`
	PriceSource                           string `json:"price_source"`
	UnpricedIn                            uint64 `json:"unpriced_in"`
	USDNote                               string `json:"usd_note"`
	TransfersIn                           uint64 `json:"transfers_in"`
	TransfersOut                          uint64 `json:"transfers_out"`
	BalanceNote                           string `json:"balance_note"`
}

// TestCLITronETLAndUSD runs the binary: ingest a Tron export, import
// prices, and read the address and tx contract with USD figures.
func TestCLITronETLAndUSD(t *testing.T) {
	data := t.TempDir()
	dir := writeDir(t, acctExport)
	out, e, code := run(t, nil, "--data", data, "ingest", "tron", "--etl", dir, "--json")
	if code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, e)
	}
	var ing map[string]any
	if err := json.Unmarshal([]byte(out), &ing); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if ing["txs"] != 2.0 || ing["new_transfers"] != 4.0 || len(ing["unknown_decimals"].([]any)) != 1 {
		t.Fatalf("ingest result %s", out)
	}
	// Before any price: no USD fields at all.
	out, e, code = run(t, nil, "--data", data, "address", "tron", "0x"+acctA[2:], "--json")
	if code != 0 || strings.Contains(out, "usd") {
		t.Fatalf("address without prices: exit %d %s %s", code, out, e)
	}
	pf := filepath.Join(t.TempDir(), "prices.csv")
	os.WriteFile(pf, []byte(acctPrices), 0o644)
	if _, e, code := run(t, nil, "--data", data, "prices", "import", pf); code != 0 {
		t.Fatalf("prices import: exit %d: %s", code, e)
	}
	out, e, code = run(t, nil, "--data", data, "address", "tron", "41"+acctA[2:], "--json")
	if code != 0 {
		t.Fatalf("address: exit %d: %s", code, e)
	}
	var rep struct {
		Chain, Address string
		Assets         []assetJSON
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if rep.Chain != "tron" || !strings.HasPrefix(rep.Address, "T") || len(rep.Assets) != 3 {
		t.Fatalf("report %s", out)
	}
	trx, usdt, scam := rep.Assets[0], rep.Assets[1], rep.Assets[2]
	// TRX: 5 TRX + fees 1.1 and 13.84485 TRX sent, all on 2023-05-01 at
	// 0.0689: 19.94485 × 0.0689 = 1.374200165 → 1.37.
	// The export starts after A's funding: A sent what it never received
	// here. The balance says so (negative, with a note), not a silent 0.
	if trx.Balance != "-19944850" || usdt.Balance != "-102500000" || !strings.Contains(trx.BalanceNote, "lacks part of this address's history") ||
		scam.Balance != "7" || scam.BalanceNote != "" {
		t.Fatalf("balances: TRX %s (%q), USDT %s, scam token %s (%q)", trx.Balance, trx.BalanceNote, usdt.Balance, scam.Balance, scam.BalanceNote)
	}
	if trx.Asset != "TRX" || trx.Sent != "19944850" || trx.SentUSD != "1.37" || trx.ReceivedUSD != "0.00" ||
		trx.PriceSource != "TRX from prices.csv (point of 2023-05-01)" {
		t.Fatalf("TRX line %+v", trx)
	}
	if usdt.Asset != "USDT" || usdt.Token != "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t" || usdt.Sent != "102500000" || usdt.SentUSD != "102.50" ||
		!strings.Contains(usdt.PriceSource, "tron:TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t from prices.csv") {
		t.Fatalf("USDT line %+v", usdt)
	}
	// One asset unpriced: no address-wide total.
	if strings.Contains(out, `}],"received_usd"`) {
		t.Fatalf("address total given although an amount is unpriced: %s", out)
	}
	// Unknown decimals: received in base units, USD unknown, not zero.
	if scam.Received != "7" || scam.ReceivedUSD != "" || scam.UnpricedIn != 1 || !strings.Contains(scam.USDNote, "decimals unknown") ||
		!strings.Contains(out, `"received_usd_known":"0.00"`) {
		t.Fatalf("unknown token line %+v", scam)
	}
	out, e, code = run(t, nil, "--data", data, "tx", "tron", acctTx2, "--json")
	if code != 0 {
		t.Fatalf("tx: exit %d: %s", code, e)
	}
	var tx struct {
		Fee       string `json:"fee"`
		FeeUSD    string `json:"fee_usd"`
		FeePayer  string `json:"fee_payer"`
		Transfers []struct {
			From, To, Asset, Token, Value string
			LogIndex                      int32  `json:"log_index"`
			ValueUSD                      string `json:"value_usd"`
			USDNote                       string `json:"usd_note"`
			Price                         *struct{ Asset, Time, USD, Source string }
		}
	}
	if err := json.Unmarshal([]byte(out), &tx); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if tx.Fee != "13844850" || tx.FeeUSD != "0.953910165" || tx.FeePayer != rep.Address || len(tx.Transfers) != 3 {
		t.Fatalf("tx %s", out)
	}
	x0 := tx.Transfers[0]
	if x0.From != rep.Address || !strings.HasPrefix(x0.To, "T") || x0.Asset != "USDT" || x0.Token != "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t" ||
		x0.Value != "100000000" || x0.ValueUSD != "100.00" || x0.Price == nil || x0.Price.Time != "2023-05-01T00:00:00Z" || x0.Price.Source != "prices.csv" {
		t.Fatalf("transfer 0 %+v", x0)
	}
	if x2 := tx.Transfers[2]; x2.LogIndex != 2 || x2.ValueUSD != "" || !strings.Contains(x2.USDNote, "decimals unknown") {
		t.Fatalf("transfer 2 %+v", x2)
	}
	// Human output shows the USD and where it came from.
	out, _, _ = run(t, nil, "--data", data, "address", "tron", rep.Address)
	if !strings.Contains(out, "$102.50") || !strings.Contains(out, "prices.csv") {
		t.Fatalf("human address output:\n%s", out)
	}
}

// Bad input through the binary: exit 1, the error names file, line and
// column, and the store (chain data and prices) is unchanged.
func TestCLIAcctBadInput(t *testing.T) {
	data := t.TempDir()
	if _, e, code := run(t, nil, "--data", data, "ingest", "tron", "--etl", writeDir(t, acctExport)); code != 0 {
		t.Fatalf("ingest: %s", e)
	}
	pf := filepath.Join(t.TempDir(), "prices.csv")
	os.WriteFile(pf, []byte(acctPrices), 0o644)
	if _, e, code := run(t, nil, "--data", data, "prices", "import", pf); code != 0 {
		t.Fatalf("prices: %s", e)
	}
	before := storeDigest(t, data)
	bad := map[string]string{}
	for k, v := range acctExport {
		bad[k] = v
	}
	bad["token_transfers.csv"] += acctUSDT + "," + acctA + "," + acctB + ",-3," + acctTx2 + ",9,50000001\n"
	badPrices := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(badPrices, []byte("date,asset,usd\n2023-05-02,TRX,0.07\n2023-05-03,TRX,0,07\n"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"ingest", "tron", "--etl", writeDir(t, bad)}, 1, "token_transfers.csv:5: column value"},
		{[]string{"ingest", "eth", "--etl", writeDir(t, map[string]string{"token_transfers.csv": "a,b\n1,2\n"})}, 1, "token_transfers.csv:1: column token_address"},
		{[]string{"prices", "import", badPrices}, 1, "bad.csv:3"},
		{[]string{"ingest", "tron", "--rpc", "http://127.0.0.1:1"}, 1, "http://127.0.0.1:1/wallet/"}, // nothing listens on port 1
		{[]string{"ingest", "eth", "--rpc", "http://127.0.0.1:1"}, 1, "127.0.0.1:1"},
		{[]string{"ingest", "eth", "--api", "blocks.jsonl"}, 2, "tron only"},
		{[]string{"ingest", "tron", "--rpc", "http://127.0.0.1:1", "--traces"}, 2, "eth --rpc only"},
		{[]string{"ingest", "eth", "--etl", "somewhere", "--traces"}, 2, "eth --rpc only"},
		{[]string{"ingest", "eth", "--rpc", "http://127.0.0.1:1", "--traces"}, 1, "127.0.0.1:1"},
		{[]string{"ingest", "eth"}, 2, "--etl"},
	} {
		_, e, code := run(t, nil, append([]string{"--data", data}, tc.args...)...)
		if code != tc.code || !strings.Contains(e, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, e, tc.code, tc.want)
		}
		if d := storeDigest(t, data); d != before {
			t.Fatalf("%v changed the store", tc.args)
		}
	}
}

// BTC gains USD figures once BTC prices exist (real mainnet blocks 1-255;
// a made-up 2009 price, since no market existed): received_usd is the
// received satoshis × price / 10^8, to the cent.
func TestCLIBTCUSD(t *testing.T) {
	path, _ := btctestdata.Blocks1To255(t)
	data := t.TempDir()
	if _, e, code := run(t, nil, "--data", data, "ingest", "btc", "--blocks", path); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, e)
	}
	pf := filepath.Join(t.TempDir(), "btc.csv")
	os.WriteFile(pf, []byte("date,asset,usd\n2009-01-01,BTC,0.0764\n"), 0o644)
	if _, e, code := run(t, nil, "--data", data, "prices", "import", pf); code != 0 {
		t.Fatalf("prices: %s", e)
	}
	out, e, code := run(t, nil, "--data", data, "address", "btc", "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3", "--json")
	if code != 0 {
		t.Fatalf("address: exit %d: %s", code, e)
	}
	var rep struct{ Assets []assetJSON }
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Assets) != 1 {
		t.Fatalf("%v: %s", err, out)
	}
	a := rep.Assets[0]
	want := func(sats string) string {
		r, _ := new(big.Rat).SetString(sats)
		r.Mul(r, big.NewRat(764, 10000))
		r.Quo(r, big.NewRat(100_000_000, 1))
		return r.FloatString(2)
	}
	if !strings.Contains(out, `"received_usd":"`+a.ReceivedUSD+`","sent_usd":"`+a.SentUSD+`"}`) {
		t.Fatalf("address total USD missing: %s", out)
	}
	if a.ReceivedUSD != want(a.Received) || a.SentUSD != want(a.Sent) || a.ReceivedUSD == "0.00" ||
		a.PriceSource != "BTC from btc.csv (point of 2009-01-01)" {
		t.Fatalf("BTC USD %+v, want received %s sent %s", a, want(a.Received), want(a.Sent))
	}
}

// TestCLIETLAgainSaysWhy: importing an export again adds nothing, and the
// summary says why the transfers read were not added (the first import
// gives nothing of the kind).
func TestCLIETLAgainSaysWhy(t *testing.T) {
	data := t.TempDir()
	dir := writeDir(t, acctExport)
	out, e, code := run(t, nil, "--data", data, "ingest", "tron", "--etl", dir)
	if code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, e)
	}
	if strings.Contains(out, "already stored and were not added") {
		t.Fatalf("first import claims stored txs: %s", out)
	}
	out, e, code = run(t, nil, "--data", data, "ingest", "tron", "--etl", dir)
	if code != 0 {
		t.Fatalf("ingest again: exit %d: %s", code, e)
	}
	if !strings.Contains(out, "0 new transfers of 4 read") || !strings.Contains(out, "4 transfers belong to txs already stored and were not added again") {
		t.Fatalf("second import: %s", out)
	}
}
