package tron

// No Tron node can run here: these fixtures are java-tron HTTP API JSON
// built by trontest from the field names documented in docs/formats.md and
// the brief (§3). The USDT contract is the real one on Tron mainnet.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spoor-dev/spoor/internal/address"
	"github.com/spoor-dev/spoor/internal/chain/tron/trontest"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/sharedtest"
	"github.com/spoor-dev/spoor/internal/store"
)

func tronAddrOf(t testing.TB, s string) []byte {
	t.Helper()
	b, err := address.TronDecode(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// person makes a distinct canonical Tron address.
func person(n byte) []byte {
	b := make([]byte, 21)
	b[0] = 0x41
	for i := 1; i < 21; i++ {
		b[i] = n*7 + byte(i)
	}
	return b
}

var (
	usdtAddr = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
	alice    = person(1)
	bob      = person(2)
	carol    = person(3)
	dave     = person(4)
	eve      = person(5)
	tether   = person(6)
	router   = person(7)
	other    = person(8) // another TRC-20 contract
)

// scenario is one block with every rule: a TRX transfer, a USDT transfer
// (after an unrelated log, so its log index is 1), a failed call whose
// Transfer log must be ignored, a call that ret calls SUCCESS but whose
// info says FAILED, a call with internal transactions (one plain, one
// rejected, one TRC-10), a fee-only transaction, Tether's blacklist
// events, and a transfer of another TRC-20 contract.
func scenario(t testing.TB) *trontest.Block {
	usdt := tronAddrOf(t, usdtAddr)
	approval := trontest.Log{Address: usdt, Topics: [][32]byte{{0x8c, 0x5b}, trontest.Word(alice), trontest.Word(router)}, Data: make([]byte, 32)}
	return &trontest.Block{
		Num: 70000000, ID: trontest.BlockID(70000000, "b"), Parent: trontest.BlockID(69999999, "a"), TimeMS: 1740000000123,
		Txs: []trontest.Tx{
			{ID: trontest.TxID("trx"), Type: "TransferContract", Owner: alice, To: bob, Amount: 2_500_000, Fee: 268_000},
			{ID: trontest.TxID("usdt"), Type: "TriggerSmartContract", Owner: alice, Contract: usdt, Fee: 13_844_850,
				Logs: []trontest.Log{approval, trontest.TransferLog(usdt, alice, carol, 12_345_678)}},
			{ID: trontest.TxID("revert"), Type: "TriggerSmartContract", Owner: bob, Contract: usdt, CallValue: 5, Fee: 8_000_000,
				ContractRet: "REVERT", InfoResult: "FAILED", Logs: []trontest.Log{trontest.TransferLog(usdt, bob, carol, 999)}},
			{ID: trontest.TxID("infofail"), Type: "TriggerSmartContract", Owner: bob, Contract: usdt, Fee: 1_000,
				InfoResult: "FAILED", Logs: []trontest.Log{trontest.TransferLog(usdt, bob, dave, 55)}},
			{ID: trontest.TxID("internal"), Type: "TriggerSmartContract", Owner: carol, Contract: router, CallValue: 1_000_000,
				Internal: []trontest.Internal{
					{Caller: router, To: dave, Value: 400_000},
					{Caller: router, To: bob, Value: 7, Rejected: true},
					{Caller: router, To: bob, Value: 9, TokenID: "1002000"},
				}},
			{ID: trontest.TxID("feeonly"), Type: "FreezeBalanceV2Contract", Owner: dave, Fee: 345_000},
			{ID: trontest.TxID("black"), Type: "TriggerSmartContract", Owner: tether, Contract: usdt, Fee: 3_000_000,
				Logs: []trontest.Log{trontest.AddedBlackListLog(usdt, eve), trontest.DestroyedBlackFundsLog(usdt, eve, 777)}},
			{ID: trontest.TxID("other"), Type: "TriggerSmartContract", Owner: eve, Contract: other, Fee: 0,
				Logs: []trontest.Log{trontest.TransferLog(other, eve, alice, 42)}},
		},
	}
}

type wantXfer struct {
	from, to, contract []byte
	value              uint64
	log                int32
}

func TestDecodeScenario(t *testing.T) {
	b := scenario(t)
	usdt := tronAddrOf(t, usdtAddr)
	d, err := DecodeLine(b.Line())
	if err != nil {
		t.Fatal(err)
	}
	blk := d.Block
	if blk.Chain != model.Tron || blk.Height != 70000000 || blk.Hash != b.ID || blk.PrevHash != b.Parent || blk.Time != 1740000000 {
		t.Fatalf("header: %+v", blk)
	}
	want := []struct {
		id     string
		failed bool
		fee    uint64
		payer  []byte
		xfers  []wantXfer
	}{
		{"trx", false, 268_000, alice, []wantXfer{{alice, bob, nil, 2_500_000, -1}}},
		{"usdt", false, 13_844_850, alice, []wantXfer{{alice, carol, usdt, 12_345_678, 1}}},
		{"revert", true, 8_000_000, bob, nil},
		{"infofail", true, 1_000, bob, nil},
		{"internal", false, 0, carol, []wantXfer{{carol, router, nil, 1_000_000, -1}, {router, dave, nil, 400_000, -2}}},
		{"feeonly", false, 345_000, dave, nil},
		{"black", false, 3_000_000, tether, nil},
		{"other", false, 0, eve, []wantXfer{{eve, alice, other, 42, 0}}},
	}
	if len(blk.Txs) != len(want) {
		t.Fatalf("%d txs", len(blk.Txs))
	}
	for i, w := range want {
		tx := &blk.Txs[i]
		if tx.ID != trontest.TxID(w.id) || tx.Index != uint32(i) || tx.Failed != w.failed || tx.Fee.Uint64() != w.fee || !bytes.Equal(tx.FeePayer, w.payer) {
			t.Errorf("tx %s: failed=%v fee=%s payer=%x", w.id, tx.Failed, tx.Fee.Dec(), tx.FeePayer)
		}
		if len(tx.Transfers) != len(w.xfers) {
			t.Errorf("tx %s: %d transfers, want %d", w.id, len(tx.Transfers), len(w.xfers))
			continue
		}
		for j, x := range w.xfers {
			g := tx.Transfers[j]
			if !bytes.Equal(g.From, x.from) || !bytes.Equal(g.To, x.to) || !bytes.Equal(g.Contract, x.contract) || g.Value.Uint64() != x.value || g.LogIndex != x.log {
				t.Errorf("tx %s transfer %d: %x→%x %x %s log %d", w.id, j, g.From, g.To, g.Contract, g.Value.Dec(), g.LogIndex)
			}
		}
	}
	if len(d.Facts) != 2 || d.Facts[0].Kind != store.FactAddedBlackList || d.Facts[1].Kind != store.FactDestroyedBlackFunds ||
		!bytes.Equal(d.Facts[0].Subject, eve) || !bytes.Equal(d.Facts[1].Subject, eve) || d.Facts[1].Amount.Uint64() != 777 ||
		!bytes.Equal(d.Facts[0].Contract, usdt) || d.Facts[1].LogIndex != 1 || d.Facts[0].TxID != trontest.TxID("black") || d.Facts[0].Height != 70000000 {
		t.Errorf("facts: %+v", d.Facts)
	}
	// Contracts of token transfers, in first-seen order; the failed
	// calls' logs do not count.
	if len(d.Contracts) != 2 || !bytes.Equal(d.Contracts[0], usdt) || !bytes.Equal(d.Contracts[1], other) {
		t.Errorf("contracts %x", d.Contracts)
	}
	if s, _ := address.TronEncode(d.Contracts[0]); s != usdtAddr {
		t.Errorf("USDT contract renders as %s", s)
	}
}

// TestDecodeVisibleAddresses: java-tron with visible=true writes base58
// addresses; both forms decode to the same bytes.
func TestDecodeVisibleAddresses(t *testing.T) {
	b := &trontest.Block{Num: 5, ID: trontest.BlockID(5, "v"), Parent: trontest.BlockID(4, "v"), TimeMS: 5000,
		Txs: []trontest.Tx{{ID: trontest.TxID("v"), Type: "TransferContract", Owner: alice, To: bob, Amount: 10}}}
	hexLine := b.Line()
	a58, _ := address.TronEncode(alice)
	b58, _ := address.TronEncode(bob)
	visLine := bytes.ReplaceAll(bytes.ReplaceAll(hexLine, []byte(hex.EncodeToString(alice)), []byte(a58)), []byte(hex.EncodeToString(bob)), []byte(b58))
	if bytes.Equal(visLine, hexLine) {
		t.Fatal("no address replaced")
	}
	d1, err := DecodeLine(hexLine)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := DecodeLine(visLine)
	if err != nil {
		t.Fatal(err)
	}
	x1, x2 := d1.Block.Txs[0].Transfers[0], d2.Block.Txs[0].Transfers[0]
	if !bytes.Equal(x1.From, x2.From) || !bytes.Equal(x1.To, x2.To) || !bytes.Equal(x1.From, alice) {
		t.Errorf("hex %x→%x, base58 %x→%x", x1.From, x1.To, x2.From, x2.To)
	}
}

// TestRealSanctionedAddresses moves TRX between the real Tron addresses of
// the OFAC list (shared/data/lists) in their base58 form: each decodes and
// re-encodes exactly.
func TestRealSanctionedAddresses(t *testing.T) {
	f, err := os.Open(sharedtest.Lists(t, "ofac_2025-11-19/sanctioned_addresses_TRX.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var addrs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			addrs = append(addrs, s)
		}
	}
	if len(addrs) < 2 {
		t.Fatalf("%d addresses in the list", len(addrs))
	}
	b := &trontest.Block{Num: 9, ID: trontest.BlockID(9, "r"), Parent: trontest.BlockID(8, "r"), TimeMS: 9000}
	for i := 0; i+1 < len(addrs); i++ {
		b.Txs = append(b.Txs, trontest.Tx{ID: trontest.TxID(addrs[i]), Type: "TransferContract",
			Owner: alice, To: bob, Amount: uint64(i + 1)}) // placeholders, replaced below
	}
	line := string(b.Line())
	for i := 0; i+1 < len(addrs); i++ {
		// Swap in the real addresses, in base58 (visible=true) form.
		line = strings.Replace(line, hex.EncodeToString(alice), addrs[i], 1)
		line = strings.Replace(line, hex.EncodeToString(bob), addrs[i+1], 1)
	}
	d, err := DecodeLine([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	for i, tx := range d.Block.Txs {
		x := tx.Transfers[0]
		from, _ := address.TronEncode(x.From)
		to, _ := address.TronEncode(x.To)
		if from != addrs[i] || to != addrs[i+1] || x.Value.Uint64() != uint64(i+1) {
			t.Errorf("tx %d: %s→%s %s, want %s→%s", i, from, to, x.Value.Dec(), addrs[i], addrs[i+1])
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	good := string(scenario(t).Line())
	trxID := trontest.TxID("trx")
	cases := []struct {
		name, from, to, want string
	}{
		{"truncated", good, good[:len(good)/2], "malformed JSON line"},
		{"not json", good, "garbage\n", "malformed JSON line"},
		{"negative amount", `"amount":2500000`, `"amount":-2500000`, "transactions[0].raw_data.contract[0].parameter.value.amount"},
		{"amount string", `"amount":2500000`, `"amount":"lots"`, "transactions[0].raw_data.contract[0].parameter.value"},
		{"bad owner", `"owner_address":"` + hex.EncodeToString(alice) + `","to_address"`, `"owner_address":"41zz","to_address"`, "owner_address"},
		{"short txID", `"txID":"` + hex.EncodeToString(trxID[:]), `"txID":"` + hex.EncodeToString(trxID[:5]), "transactions[0].txID"},
		{"bad blockID", `"blockID":"`, `"blockID":"x`, "block.blockID"},
		{"bad fee", `"fee":268000`, `"fee":-1`, "info[0].fee"},
		{"bad log address", `"address":"` + hex.EncodeToString(tronAddrOf(t, usdtAddr)[1:]), `"address":"a614f8`, "info[1].log[0].address"},
		{"bad topic", `"topics":["ddf252ad`, `"topics":["zzf252ad`, "topics[0]"},
		{"bad result", `"result":"FAILED"`, `"result":"MAYBE"`, "info[2].result"},
		{"missing info", `,"info":[`, `,"inf":[`, "field info"},
		{"bad number", `"number":70000000`, `"number":7e7`, "raw_data.number"},
		{"bad internal value", `"callValue":400000`, `"callValue":-4`, "internal_transactions[0].callValueInfo[0].callValue"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(good, c.from) {
				t.Fatalf("fixture lacks %q", c.from)
			}
			bad := strings.Replace(good, c.from, c.to, 1)
			_, err := DecodeLine([]byte(bad))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want error naming %q, got %v", c.want, err)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not a *tron.Error", err)
			}
		})
	}
	// Info count not matching the transactions.
	b := scenario(t)
	info := b.InfoJSON()
	b.Txs = b.Txs[:3]
	_, err := DecodeBlock(-1, b.BlockJSON(), info)
	if err == nil || !strings.Contains(err.Error(), "8 transaction infos for 3 transactions") {
		t.Errorf("got %v", err)
	}
}

func TestFileReaderNamesLine(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "blocks.jsonl")
	b1 := &trontest.Block{Num: 1, ID: trontest.BlockID(1, "f"), Parent: trontest.BlockID(0, "f"), TimeMS: 3000}
	b2 := scenario(t)
	bad := strings.Replace(string(b2.Line()), `"amount":2500000`, `"amount":-1`, 1)
	os.WriteFile(p, []byte(string(b1.Line())+"\n"+bad), 0o644)
	fr, err := OpenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Close()
	d, where, err := fr.Next()
	if err != nil || d.Block.Height != 1 || where != p+":1" {
		t.Fatalf("line 1: %v %s", err, where)
	}
	_, _, err = fr.Next()
	if err == nil || !strings.HasPrefix(err.Error(), p+":3: tron block 70000000: field block.transactions[0].raw_data.contract[0].parameter.value.amount") {
		t.Fatalf("got %v", err)
	}
}

// A blocks.jsonl without a block is an error naming the file (QA: spoor
// ingest tron --api on an empty file reported success at height 0); a file
// with blocks ends in io.EOF as before.
func TestFileReaderEmpty(t *testing.T) {
	b1 := &trontest.Block{Num: 1, ID: trontest.BlockID(1, "f"), Parent: trontest.BlockID(0, "f"), TimeMS: 3000}
	for _, tc := range []struct {
		name, content string
		blocks        int
	}{
		{"empty", "", 0},
		{"blank lines", "\n  \n\t\n", 0},
		{"one block", string(b1.Line()) + "\n\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "blocks.jsonl")
			if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			fr, err := OpenFile(p)
			if err != nil {
				t.Fatal(err)
			}
			defer fr.Close()
			for i := 0; i < tc.blocks; i++ {
				if _, _, err := fr.Next(); err != nil {
					t.Fatalf("block %d: %v", i, err)
				}
			}
			_, _, err = fr.Next()
			var e *Error
			switch {
			case tc.blocks > 0 && err != io.EOF:
				t.Fatalf("after the last block: %v, want io.EOF", err)
			case tc.blocks == 0 && (!errors.As(err, &e) || err.Error() != p+`: holds no blocks (want one {"block":…,"info":…} object per line)`):
				t.Fatalf("got %v", err)
			}
		})
	}
}

// A gzip-compressed blocks.jsonl (spoor sim --gzip) reads like the plain
// one; a truncated or corrupt stream is an error naming the file and line
// (QA: the .gz was decoded as JSON: "invalid character '\x1f'").
func TestFileReaderGzip(t *testing.T) {
	b1 := &trontest.Block{Num: 1, ID: trontest.BlockID(1, "f"), Parent: trontest.BlockID(0, "f"), TimeMS: 3000}
	b2 := &trontest.Block{Num: 2, ID: trontest.BlockID(2, "f"), Parent: b1.ID, TimeMS: 6000}
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write([]byte(string(b1.Line()) + "\n" + string(b2.Line()) + "\n"))
	zw.Close()
	whole := zb.Bytes()
	for _, tc := range []struct {
		name   string
		data   []byte
		blocks int    // read before the end or the error
		err    string // "" for a clean io.EOF
	}{
		{"whole", whole, 2, ""},
		{"truncated", whole[:len(whole)-12], 2, "blocks.jsonl.gz:5: unexpected EOF"},
		{"bad header", append([]byte{0x1f, 0x8b, 0}, whole[3:]...), 0, "blocks.jsonl.gz: gzip: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "blocks.jsonl.gz")
			if err := os.WriteFile(p, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			fr, err := OpenFile(p)
			n := 0
			if err == nil {
				defer fr.Close()
				for {
					var d *Decoded
					d, _, err = fr.Next()
					if err != nil {
						break
					}
					if d.Block.Height != uint64(n+1) {
						t.Fatalf("block %d has height %d", n, d.Block.Height)
					}
					n++
				}
			}
			switch {
			case tc.err == "" && err != io.EOF:
				t.Fatalf("after %d blocks: %v, want io.EOF", n, err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("after %d blocks: %v, want %q", n, err, tc.err)
			}
			if tc.name == "whole" && n != tc.blocks {
				t.Fatalf("%d blocks, want %d", n, tc.blocks)
			}
		})
	}
}

// FuzzDecodeLine: every input either decodes to canonical transfers or
// fails with a located *Error, never a panic. The seeds are whole blocks
// (10 KB): run with a short minimisation, e.g.
// go test ./internal/chain/tron -run X -fuzz FuzzDecodeLine -fuzztime 60s -fuzzminimizetime 2s
// (the default minimisation of a large input stalls the run for minutes).
func FuzzDecodeLine(f *testing.F) {
	f.Add(scenario(f).Line())
	f.Add((&trontest.Block{Num: 0, ID: trontest.BlockID(0, "g")}).Line())
	f.Add([]byte(`{"block":{"blockID":"00","block_header":{"raw_data":{}}},"info":{}}`))
	f.Add([]byte(`{"block":{},"info":[]}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		d, err := DecodeLine(line)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not located: %v", err, err)
			}
			return
		}
		for _, tx := range d.Block.Txs {
			if tx.Failed && len(tx.Transfers) > 0 {
				t.Fatal("failed tx with transfers")
			}
			for _, x := range tx.Transfers {
				if len(x.From) != 21 || len(x.To) != 21 || x.From[0] != 0x41 || x.To[0] != 0x41 {
					t.Fatalf("transfer with a non-canonical address %x→%x", x.From, x.To)
				}
			}
		}
	})
}
