package ingest

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/spoor-dev/spoor/internal/address"
	"github.com/spoor-dev/spoor/internal/chain/etl"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// A small Tron export in Google's BigQuery layout (EVM-hex addresses), one
// row per line with its block height so tests can cut it into overlapping
// partitions. Every expected figure below is worked out by hand from these
// rows.
const (
	tUSDT  = "0xa614f803b6fd780986a42c78ec9c7f77e6ded13c" // TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t
	tScam  = "0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
	tA     = "0xa0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0"
	tB     = "0xb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"
	tC     = "0xc0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0"
	tx1    = "1111111111111111111111111111111111111111111111111111111111111111"
	tx2    = "2222222222222222222222222222222222222222222222222222222222222222"
	tx3    = "3333333333333333333333333333333333333333333333333333333333333333"
	tx4    = "4444444444444444444444444444444444444444444444444444444444444444"
	blkH0  = "00000000002faf080000000000000000000000000000000000000000000000a0"
	blkH1  = "00000000002faf081111111111111111111111111111111111111111111111a1"
	blkH2  = "00000000002faf082222222222222222222222222222222222222222222222a2"
	addBL  = "0x42e160154868087d6bfdc0ca23d96a1c1cfa32f1b72ba9ba27b69b98a0d819dc"
	hdrBlk = "number,hash,parent_hash,timestamp"
	hdrTx  = "hash,block_number,transaction_index,from_address,to_address,value,gas_price,receipt_gas_used,receipt_status"
	hdrTT  = "token_address,from_address,to_address,value,transaction_hash,log_index,block_number"
	hdrLog = "log_index,transaction_hash,block_number,address,data,topics"
)

type row struct {
	h    uint64
	line string
}

var tronRows = map[etl.Kind][]row{
	etl.KindBlocks: {
		{50000000, "50000000," + blkH0 + ",," + "1682935200"},
		{50000001, "50000001," + blkH1 + "," + blkH0 + ",1682935203"},
		{50000002, "50000002," + blkH2 + "," + blkH1 + ",2023-05-01 10:00:06 UTC"},
	},
	etl.KindTransactions: {
		// 5 TRX A→B, fee 1.1 TRX.
		{50000000, tx1 + ",50000000,0," + tA + "," + tB + ",5000000,1,1100000,1"},
		// A calls USDT: fee 13.84485 TRX.
		{50000001, tx2 + ",50000001,0," + tA + "," + tUSDT + ",0,1,13844850,1"},
		// B's failed USDT call: fee 100 sun, its transfer must not count.
		{50000002, tx3 + ",50000002,0," + tB + "," + tUSDT + ",0,1,100,0"},
	},
	etl.KindTokenTransfers: {
		{50000001, tUSDT + "," + tA + "," + tC + ",100000000," + tx2 + ",0,50000001"},
		{50000001, tUSDT + "," + tA + "," + tB + ",2500000," + tx2 + ",1,50000001"},
		{50000002, tUSDT + "," + tB + "," + tC + ",999," + tx3 + ",0,50000002"},
		// A token nobody describes; tx4 has no transactions row.
		{50000002, tScam + "," + tC + "," + tA + ",7," + tx4 + ",0,50000002"},
	},
	etl.KindLogs: {
		{50000001, "2," + tx2 + ",50000001," + tUSDT + ",0x000000000000000000000000c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0," + addBL},
	},
}

var headers = map[etl.Kind]string{etl.KindBlocks: hdrBlk, etl.KindTransactions: hdrTx, etl.KindTokenTransfers: hdrTT, etl.KindLogs: hdrLog}

const tronTokens = "address,symbol,name,decimals,total_supply\n" + tUSDT + ",USDT,Tether USD,6,\n"

// writeExport writes the rows of heights [lo, hi] as one ethereum-etl
// partition (suffix _lo_hi) under dir, plus tokens.csv.
func writeExport(t *testing.T, dir string, lo, hi uint64) {
	t.Helper()
	for k, rows := range tronRows {
		var b strings.Builder
		b.WriteString(headers[k] + "\n")
		for _, r := range rows {
			if r.h >= lo && r.h <= hi {
				b.WriteString(r.line + "\n")
			}
		}
		name := fmt.Sprintf("%s/%s_%08d_%08d.csv", k, k, lo, hi)
		writeFile(t, filepath.Join(dir, name), b.String())
	}
	writeFile(t, filepath.Join(dir, "tokens.csv"), tronTokens)
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// totals renders an address's totals as "SYMBOL:received/sent/in/out" lines.
func totals(t *testing.T, st store.Store, c model.Chain, addr []byte) []string {
	t.Helper()
	sum, err := st.Address(c, addr)
	if err != nil {
		t.Fatalf("address %x: %v", addr, err)
	}
	var out []string
	for _, a := range sum.Assets {
		sym := a.Asset.Symbol
		if len(a.Asset.Contract) > 0 {
			sym += "@" + address.For(c).MustEncode(a.Asset.Contract)
		}
		out = append(out, fmt.Sprintf("%s:%s/%s/%d/%d", sym, a.Received.Dec(), a.Sent.Dec(), a.TransfersIn, a.TransfersOut))
	}
	sort.Strings(out)
	return out
}

func TestETLTron(t *testing.T) {
	dir := t.TempDir()
	writeExport(t, dir, 50000000, 50000002)
	st := openStore(t)
	res, err := ETL(st, model.Tron, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	scam, _ := address.TronEncode(address.TronFromEVM(hx(tScam)))
	s := res.ETL
	if res.Applied != 3 || res.Txs != 4 || res.Height != 50000002 || s.Transfers != 4 || s.NewTransfers != 4 ||
		s.DroppedFailed != 1 || s.Facts != 1 || s.Tokens != 1 || s.NoTime != 0 ||
		len(s.UnknownDecimals) != 1 || s.UnknownDecimals[0] != scam {
		t.Fatalf("result %+v, stats %+v", res, s)
	}
	A := address.TronFromEVM(hx(tA))
	B := address.TronFromEVM(hx(tB))
	C := address.TronFromEVM(hx(tC))
	usdt := "USDT@TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
	for _, tc := range []struct {
		addr []byte
		want []string
	}{
		// A: sent 5 TRX + fees 1100000 + 13844850; two USDT transfers out; got 7 of the scam token.
		{A, []string{"@" + scam + ":7/0/1/0", "TRX:0/19944850/0/1", usdt + ":0/102500000/0/2"}},
		// B: got 5 TRX, paid 100 sun for its failed call (whose 999 USDT never moved).
		{B, []string{"TRX:5000000/100/1/0", usdt + ":2500000/0/1/0"}},
		{C, []string{"@" + scam + ":0/7/0/1", usdt + ":100000000/0/1/0"}},
	} {
		got := totals(t, st, model.Tron, tc.addr)
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s:\n got %v\nwant %v", address.For(model.Tron).MustEncode(tc.addr), got, tc.want)
		}
	}
	facts, err := st.Facts(model.Tron, C)
	if err != nil || len(facts) != 1 || facts[0].Kind != store.FactAddedBlackList || facts[0].Time != 1682935203 ||
		address.For(model.Tron).MustEncode(facts[0].Contract) != "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t" {
		t.Fatalf("facts of C: %+v, %v", facts, err)
	}
	tv, err := st.Tx(model.Tron, [32]byte(hx(tx3)))
	if err != nil || !tv.Failed || len(tv.Transfers) != 0 || tv.Fee.Uint64() != 100 {
		t.Fatalf("failed tx: %+v, %v", tv, err)
	}
}

// The same export twice changes nothing; an overlapping re-export counts
// each transaction once: the store ends up identical (same digest) to one
// that ingested the union once.
func TestETLIdempotentAndOverlap(t *testing.T) {
	all := t.TempDir()
	writeExport(t, all, 50000000, 50000002)
	ref := openStore(t)
	if _, err := ETL(ref, model.Tron, all, Options{}); err != nil {
		t.Fatal(err)
	}
	want := digest(t, ref)
	res, err := ETL(ref, model.Tron, all, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := digest(t, ref); got != want {
		t.Fatalf("second ingest of the same export changed the store")
	}
	if res.Applied != 0 || res.Skipped != 3 || res.Txs != 0 || res.ETL.NewTransfers != 0 {
		t.Fatalf("second ingest: %+v %+v", res, res.ETL)
	}

	first, second := t.TempDir(), t.TempDir()
	writeExport(t, first, 50000000, 50000001)
	writeExport(t, second, 50000001, 50000002) // block 50000001 again
	st := openStore(t)
	if _, err := ETL(st, model.Tron, first, Options{}); err != nil {
		t.Fatal(err)
	}
	res, err = ETL(st, model.Tron, second, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Txs != 2 || res.ETL.NewTransfers != 1 || res.Applied != 1 || res.Skipped != 1 {
		t.Fatalf("overlapping export: %+v %+v", res, res.ETL)
	}
	if got := digest(t, st); got != want {
		t.Fatalf("overlapping exports: store differs from one ingest of the union")
	}
	// Both partitions in one folder (overlapping ranges side by side).
	both := t.TempDir()
	writeExport(t, both, 50000000, 50000001)
	writeExport(t, both, 50000001, 50000002)
	st2 := openStore(t)
	if _, err := ETL(st2, model.Tron, both, Options{}); err != nil {
		t.Fatal(err)
	}
	if got := digest(t, st2); got != want {
		t.Fatalf("overlapping partitions in one folder: store differs from one ingest of the union")
	}
}

// Bad input: the error names file, line and field; the store is exactly as
// before (here it already holds a good export, so undo has work to do).
func TestETLBadInputLeavesStore(t *testing.T) {
	good := t.TempDir()
	writeExport(t, good, 50000000, 50000001)
	tt := "token_transfers_60000000_60000009.csv" // after the good partition
	for _, tc := range []struct {
		name, file, content string
		want                []string // substrings of the error
		field               string
	}{
		{"bad address", tt, hdrTT + "\n" + tUSDT + "," + tA + "," + tB + ",1," + tx4 + ",0,60000005\n" +
			tUSDT + ",0xZZb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0," + tB + ",1," + tx4 + ",1,60000005\n",
			[]string{tt + ":3"}, "from_address"},
		{"negative value", tt, hdrTT + "\n" + tUSDT + "," + tA + "," + tB + ",-5," + tx4 + ",0,60000005\n", []string{tt + ":2"}, "value"},
		{"non-numeric value", tt, hdrTT + "\n" + tUSDT + "," + tA + "," + tB + ",12abc," + tx4 + ",0,60000005\n", []string{tt + ":2"}, "value"},
		{"float value", tt, hdrTT + "\n" + tUSDT + "," + tA + "," + tB + ",1.5e6," + tx4 + ",0,60000005\n", []string{tt + ":2"}, "value"},
		{"value over 256 bits", tt, hdrTT + "\n" + tUSDT + "," + tA + "," + tB + ",115792089237316195423570985008687907853269984665640564039457584007913129639936," + tx4 + ",0,60000005\n", []string{tt + ":2"}, "value"},
		{"unknown column layout", tt, "token,sender,receiver,amount,tx,idx,block\n" + tUSDT + "," + tA + "," + tB + ",1," + tx4 + ",0,60000005\n", []string{tt + ":1"}, "token_address"},
		{"truncated last row", tt, hdrTT + "\n" + tUSDT + "," + tA + "," + tB + ",1," + tx4 + ",0,60000005\n" + tUSDT + "," + tA + "," + tB + ",1,", []string{tt + ":3", "fields"}, ""},
		{"bad block number", "transactions_60000000_60000009.csv", hdrTx + "\n" + tx4 + ",nine,0," + tA + "," + tB + ",1,1,1,1\n", []string{"transactions_60000000_60000009.csv:2"}, "block_number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			if _, err := ETL(st, model.Tron, good, Options{}); err != nil {
				t.Fatal(err)
			}
			before := digest(t, st)
			dir := t.TempDir()
			// A good partition first (applied, then undone), then the bad one.
			writeExport(t, dir, 50000002, 50000002)
			writeFile(t, filepath.Join(dir, tc.file), tc.content)
			_, err := ETL(st, model.Tron, dir, Options{})
			if err == nil {
				t.Fatal("no error")
			}
			var e *etl.Error
			if !errors.Is(err, etl.ErrInput) || !errors.As(err, &e) || e.Field != tc.field {
				t.Fatalf("error %v (field %q), want an etl input error in field %q", err, fieldOf(err), tc.field)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if got := digest(t, st); got != before {
				t.Fatalf("store changed by a failed ingest (%v)", err)
			}
		})
	}
}

// hx decodes hex with or without 0x, any case.
func hx(s string) []byte {
	b, err := hex.DecodeString(strings.TrimPrefix(strings.ToLower(s), "0x"))
	if err != nil {
		panic(err)
	}
	return b
}

func fieldOf(err error) string {
	var e *etl.Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// A gzip file cut short is reported with its name, and nothing is stored.
func TestETLTruncatedGzip(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString(hdrTT + "\n")
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&b, "%s,%s,%s,%d,%064x,0,%d\n", tUSDT, tA, tB, i+1, i+1, 1000+i)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte(b.String()))
	zw.Close()
	name := filepath.Join(dir, "token_transfers.csv.gz")
	writeFile(t, name, string(z.Bytes()[:z.Len()*2/3]))
	st := openStore(t)
	before := digest(t, st)
	_, err := ETL(st, model.Tron, dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "token_transfers.csv.gz") || !errors.Is(err, etl.ErrInput) {
		t.Fatalf("error %v", err)
	}
	if digest(t, st) != before {
		t.Fatal("store changed")
	}
}

// Tokens already described keep their symbol and decimals when a later
// export's tokens file leaves them empty.
func TestETLTokensNotErased(t *testing.T) {
	dir := t.TempDir()
	writeExport(t, dir, 50000000, 50000002)
	st := openStore(t)
	if _, err := ETL(st, model.Tron, dir, Options{}); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "tokens.csv"), "address,symbol,name,decimals\n"+tUSDT+",,,\n"+tScam+",FAKE,,18\n")
	res, err := ETL(st, model.Tron, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.ETL.UnknownDecimals) != 0 {
		t.Fatalf("unknown decimals after describing the token: %v", res.ETL.UnknownDecimals)
	}
	assets, err := st.Assets(model.Tron)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range assets {
		got[address.For(model.Tron).MustEncode(a.Contract)] = fmt.Sprintf("%s/%d", a.Symbol, a.Decimals)
	}
	scam, _ := address.TronEncode(address.TronFromEVM(hx(tScam)))
	if got["TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"] != "USDT/6" || got[scam] != "FAKE/18" {
		t.Fatalf("assets %v", got)
	}
}

// Ethereum addresses stay 20 bytes; a chain other than eth/tron is refused.
func TestETLEthereumAndChains(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "token_transfers.csv"), hdrTT+",block_timestamp\n"+
		"0xdAC17F958D2ee523a2206206994597C13D831ec7,"+tA+","+tB+",42,"+tx1+",3,17000000,1682935200\n")
	st := openStore(t)
	if _, err := ETL(st, model.BTC, dir, Options{}); err == nil {
		t.Fatal("btc accepted")
	}
	res, err := ETL(st, model.ETH, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Txs != 1 || res.ETL.NewTransfers != 1 || len(res.ETL.UnknownDecimals) != 1 ||
		res.ETL.UnknownDecimals[0] != "0xdAC17F958D2ee523a2206206994597C13D831ec7" {
		t.Fatalf("%+v %+v", res, res.ETL)
	}
	got := totals(t, st, model.ETH, hx(tB))
	if len(got) != 1 || got[0] != "@0xdAC17F958D2ee523a2206206994597C13D831ec7:42/0/1/0" {
		t.Fatalf("totals %v", got)
	}
}

// The progress line names the chain, partitions and transfers, and ends
// with a newline.
func TestETLProgress(t *testing.T) {
	dir := t.TempDir()
	writeExport(t, dir, 50000000, 50000002)
	var buf bytes.Buffer
	if _, err := ETL(openStore(t), model.Tron, dir, Options{Progress: &buf}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "\rtron etl: partition 1/1  3 blocks  4 transfers") || !strings.HasSuffix(out, "\n") {
		t.Fatalf("progress %q", out)
	}
}
