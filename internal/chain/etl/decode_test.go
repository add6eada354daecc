package etl

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/address"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// Topic hashes as published by others (etherscan, Tether/Circle tooling), so
// the keccak computation is checked against an independent source.
func TestEventTopics(t *testing.T) {
	for _, tc := range []struct {
		got  [32]byte
		want string
	}{
		{TopicTransfer, "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"},
		{TopicAddedBlackList, "42e160154868087d6bfdc0ca23d96a1c1cfa32f1b72ba9ba27b69b98a0d819dc"},
		{TopicRemovedBlackList, "d7e9ec6e6ecd65492dce6bf513cd6867560d49544421d0783ddf06e76c24470c"},
		{TopicDestroyedBlackFunds, "61e6e66b0d6339b2980aecc6ccc0039736791f0ccde9ed512e789a7fbdd698c6"},
		{TopicBlacklisted, "ffa4e6181777692565cf28528fc88fd1516ea86b56da075235fa575af6a4b855"},
		{TopicUnBlacklisted, "117e3210bb9aa7d9baff172026820255c6f6c30ba8999d1c2fd88e2848137c4e"},
	} {
		if hex.EncodeToString(tc.got[:]) != tc.want {
			t.Errorf("topic %x, want %s", tc.got, tc.want)
		}
	}
}

const (
	hA = "0x1111111111111111111111111111111111111111111111111111111111111111"
	h0 = "0x0000000000000000000000000000000000000000000000000000000000000099"
	hB = "0x2222222222222222222222222222222222222222222222222222222222222222"
	t1 = "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01"
	t2 = "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa02"
	t3 = "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa03"
	t4 = "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa04"
	t5 = "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa05"

	aA   = "0xa0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0"
	aB   = "0xB0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0B0" // upper case is fine
	aC   = "0xc0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0"
	aD   = "0xd0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0"
	aE   = "0xe0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0"
	aF   = "0xf0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0"
	usdt = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
	usdc = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
	maxU = "115792089237316195423570985008687907853269984665640564039457584007913129639935"
)

var ethFiles = map[Kind]string{
	KindBlocks: `number,hash,parent_hash,timestamp,miner
100,` + hA + `,` + h0 + `,1640995200,` + aF + `
101,` + hB + `,` + hA + `,2022-01-01 00:00:12 UTC,` + aF + `
`,
	// Columns in another order than ethereum-etl writes, plus unknown ones.
	KindTransactions: `block_number,hash,transaction_index,from_address,to_address,value,gas,gas_price,input,receipt_gas_used,receipt_status,receipt_effective_gas_price,extra
100,` + t2 + `,1,` + aA + `,` + usdt + `,0,90000,30000000000,0xa9059cbb,50000,1,25000000000,x
100,` + t1 + `,0,` + aA + `,` + aB + `,1000000000000000000,21000,20000000000,0x,21000,1,,x
101,` + t3 + `,0,` + aB + `,` + usdt + `,0,90000,10,0xa9059cbb,30000,0,,x
101,` + t4 + `,1,` + aB + `,,0,900000,10,0x6080,100000,1,,x
`,
	KindTokenTransfers: `token_address,from_address,to_address,value,transaction_hash,log_index,block_number
` + usdt + `,` + aA + `,` + aC + `,` + maxU + `,` + t2 + `,5,100
` + usdt + `,` + aA + `,` + aD + `,10000000000,` + t2 + `,3,100
` + usdt + `,` + aA + `,` + aD + `,10000000000,` + t2 + `,3,100
` + usdt + `,` + aB + `,` + aC + `,7,` + t3 + `,0,101
` + usdc + `,` + aE + `,` + aF + `,42,` + t5 + `,9,101
`,
	KindLogs: `log_index,transaction_hash,transaction_index,block_hash,block_number,address,data,topics
6,` + t2 + `,1,` + hA + `,100,` + usdt + `,0x000000000000000000000000d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0,0x42e160154868087d6bfdc0ca23d96a1c1cfa32f1b72ba9ba27b69b98a0d819dc
5,` + t2 + `,1,` + hA + `,100,` + usdt + `,0x01,"0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef,0x000000000000000000000000a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0,0x000000000000000000000000c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0"
`,
}

func writeFiles(t *testing.T, files map[Kind]string, names map[Kind]string) string {
	t.Helper()
	dir := t.TempDir()
	for k, content := range files {
		name := k.String() + ".csv"
		if n, ok := names[k]; ok {
			name = n
		}
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func decodeDir(t *testing.T, c model.Chain, dir string) (*Result, error) {
	t.Helper()
	units, _, err := Scan(dir)
	if err != nil {
		return nil, err
	}
	if len(units) != 1 {
		t.Fatalf("%d units, want 1", len(units))
	}
	return DecodeUnit(c, units[0])
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		panic(err)
	}
	return b
}

func u256(s string) uint256.Int {
	var v uint256.Int
	if err := v.SetFromDecimal(s); err != nil {
		panic(err)
	}
	return v
}

func TestDecodeEthereumUnit(t *testing.T) {
	res, err := decodeDir(t, model.ETH, writeFiles(t, ethFiles, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Blocks) != 2 {
		t.Fatalf("%d blocks", len(res.Blocks))
	}
	b0, b1 := res.Blocks[0], res.Blocks[1]
	if b0.Height != 100 || b0.Time != 1640995200 || b0.Hash != [32]byte(mustHex(hA)) || b0.PrevHash != [32]byte(mustHex(h0)) {
		t.Fatalf("block 100 header: %+v", b0)
	}
	if b1.Height != 101 || b1.Time != 1640995212 || b1.PrevHash != b0.Hash {
		t.Fatalf("block 101 header: height %d time %d", b1.Height, b1.Time)
	}
	// Block 100: t1 (index 0) then t2 (index 1), whatever the file order.
	if len(b0.Txs) != 2 || b0.Txs[0].ID != [32]byte(mustHex(t1)) || b0.Txs[1].ID != [32]byte(mustHex(t2)) {
		t.Fatalf("block 100 txs out of order")
	}
	tx1 := b0.Txs[0]
	if tx1.Fee != u256("420000000000000") || string(tx1.FeePayer) != string(mustHex(aA)) || tx1.Failed {
		t.Fatalf("t1 fee %s payer %x", tx1.Fee.Dec(), tx1.FeePayer)
	}
	if len(tx1.Transfers) != 1 || tx1.Transfers[0].LogIndex != -1 || tx1.Transfers[0].Contract != nil ||
		tx1.Transfers[0].Value != u256("1000000000000000000") || string(tx1.Transfers[0].To) != string(mustHex(aB)) {
		t.Fatalf("t1 transfers %+v", tx1.Transfers)
	}
	tx2 := b0.Txs[1]
	// Fee from the effective gas price, not gas_price; no native transfer
	// (value 0); token transfers sorted by log index, duplicate dropped.
	if tx2.Fee != u256("1250000000000000") {
		t.Fatalf("t2 fee %s", tx2.Fee.Dec())
	}
	if len(tx2.Transfers) != 2 || tx2.Transfers[0].LogIndex != 3 || tx2.Transfers[1].LogIndex != 5 {
		t.Fatalf("t2 transfers %+v", tx2.Transfers)
	}
	if tx2.Transfers[1].Value != u256(maxU) || string(tx2.Transfers[1].Contract) != string(mustHex(usdt)) {
		t.Fatalf("t2 max-uint256 transfer %s", tx2.Transfers[1].Value.Dec())
	}
	// Block 101: t3 failed (fee only, its token transfer dropped), t4 a
	// contract creation without value, t5 known only from token_transfers.
	if len(b1.Txs) != 3 {
		t.Fatalf("block 101: %d txs", len(b1.Txs))
	}
	tx3, tx4, tx5 := b1.Txs[0], b1.Txs[1], b1.Txs[2]
	if !tx3.Failed || len(tx3.Transfers) != 0 || tx3.Fee != u256("300000") {
		t.Fatalf("t3 failed=%v transfers=%d fee=%s", tx3.Failed, len(tx3.Transfers), tx3.Fee.Dec())
	}
	if tx4.ID != [32]byte(mustHex(t4)) || len(tx4.Transfers) != 0 || tx4.Fee != u256("1000000") {
		t.Fatalf("t4 %+v", tx4)
	}
	if tx5.ID != [32]byte(mustHex(t5)) || tx5.FeePayer != nil || len(tx5.Transfers) != 1 || tx5.Transfers[0].Value != u256("42") {
		t.Fatalf("t5 %+v", tx5)
	}
	if res.DroppedFailed != 1 || res.Transfers != 4 || res.Txs != 5 || len(res.NoTime) != 0 {
		t.Fatalf("counts: dropped %d transfers %d txs %d notime %v", res.DroppedFailed, res.Transfers, res.Txs, res.NoTime)
	}
	if res.Rows[KindTokenTransfers] != 5 || res.Rows[KindTransactions] != 4 || res.Rows[KindLogs] != 2 {
		t.Fatalf("rows %v", res.Rows)
	}
	if len(res.Facts) != 1 {
		t.Fatalf("facts %+v", res.Facts)
	}
	f := res.Facts[0]
	if f.Kind != store.FactAddedBlackList || string(f.Subject) != string(mustHex(aD)) || string(f.Contract) != string(mustHex(usdt)) ||
		f.LogIndex != 6 || f.Height != 100 || f.Time != 1640995200 || f.TxID != [32]byte(mustHex(t2)) {
		t.Fatalf("fact %+v", f)
	}
}

// Tron ETL files use EVM-hex addresses (Google's dataset); spoor stores the
// 21-byte 0x41 form and shows base58 T….
func TestDecodeTronEVMHexAddresses(t *testing.T) {
	files := map[Kind]string{
		KindTokenTransfers: "token_address,from_address,to_address,value,transaction_hash,log_index,block_number,block_timestamp\n" +
			"0xa614f803b6fd780986a42c78ec9c7f77e6ded13c," + aA + "," + aB + ",10000000000," + t1 + ",0,50000000,2023-05-01 10:00:00 UTC\n",
		KindTransactions: "hash,block_number,from_address,to_address,value,gas_price,receipt_gas_used,receipt_status\n" +
			t1 + ",50000000," + aA + ",0xa614f803b6fd780986a42c78ec9c7f77e6ded13c,0,1,13844850,1\n",
	}
	res, err := decodeDir(t, model.Tron, writeFiles(t, files, nil))
	if err != nil {
		t.Fatal(err)
	}
	tx := res.Blocks[0].Txs[0]
	usdt, err := address.TronEncode(tx.Transfers[0].Contract)
	if err != nil || usdt != "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t" {
		t.Fatalf("contract %x → %q, %v", tx.Transfers[0].Contract, usdt, err)
	}
	if tx.Fee != u256("13844850") || len(tx.FeePayer) != 21 || tx.FeePayer[0] != 0x41 {
		t.Fatalf("fee %s payer %x", tx.Fee.Dec(), tx.FeePayer)
	}
	if res.Blocks[0].Time != 1682935200 {
		t.Fatalf("time %d", res.Blocks[0].Time)
	}
}

func TestReceiptsJoin(t *testing.T) {
	files := map[Kind]string{
		KindTransactions: "hash,block_number,from_address,to_address,value,gas_price\n" +
			t1 + ",7," + aA + "," + aB + ",5,3\n" +
			t2 + ",7," + aA + "," + aB + ",6,3\n",
		KindReceipts: "transaction_hash,status,gas_used,effective_gas_price,contract_address\n" +
			t1 + ",1,21000,,\n" +
			t2 + ",0,22000,2,\n",
	}
	res, err := decodeDir(t, model.ETH, writeFiles(t, files, nil))
	if err != nil {
		t.Fatal(err)
	}
	txs := res.Blocks[0].Txs
	if txs[0].Fee != u256("63000") || txs[0].Failed || len(txs[0].Transfers) != 1 {
		t.Fatalf("t1 %+v", txs[0])
	}
	if txs[1].Fee != u256("44000") || !txs[1].Failed || len(txs[1].Transfers) != 0 {
		t.Fatalf("t2 %+v", txs[1])
	}
	if len(res.NoTime) != 1 || res.NoTime[0] != 7 {
		t.Fatalf("NoTime %v", res.NoTime)
	}
}

func TestScanPartitions(t *testing.T) {
	tt := "token_address,from_address,to_address,value,transaction_hash,log_index,block_number\n"
	dir := t.TempDir()
	for _, f := range []struct{ path, content string }{
		{"token_transfers/start_block=00000100/end_block=00000199/token_transfers_00000100_00000199.csv", tt + usdt + "," + aA + "," + aB + ",1," + t2 + ",0,150\n"},
		{"token_transfers/start_block=00000000/end_block=00000099/token_transfers_00000000_00000099.csv", tt + usdt + "," + aA + "," + aB + ",1," + t1 + ",0,50\n"},
		{"tokens/tokens_00000000_00000099.csv", "address,symbol,name,decimals,total_supply\n" + usdt + ",USDT,Tether USD,6,1\n" + usdc + ",\"US\tDC\",,,\n"},
		{"README.txt", "not an export"},
	} {
		p := filepath.Join(dir, f.path)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(f.content), 0o644)
	}
	units, tokens, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(units) != 2 || units[0].Key != "_00000000_00000099" || units[1].Key != "_00000100_00000199" {
		t.Fatalf("units %+v", units)
	}
	toks, err := ReadTokens(model.ETH, tokens)
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 2 || toks[0].Symbol != "USDT" || toks[0].Decimals != 6 || toks[1].Symbol != "USDC" || toks[1].Decimals != -1 {
		t.Fatalf("tokens %+v", toks)
	}
}

func TestDecodeErrors(t *testing.T) {
	ttHead := "token_address,from_address,to_address,value,transaction_hash,log_index,block_number\n"
	txHead := "hash,block_number,from_address,to_address,value,gas_price,receipt_gas_used,receipt_status\n"
	for _, tc := range []struct {
		name  string
		kind  Kind
		chain model.Chain
		in    string
		want  string // the whole message after the temp dir
	}{
		{"bad from address", KindTokenTransfers, model.ETH, ttHead + usdt + ",0x123," + aB + ",1," + t1 + ",0,1\n",
			`token_transfers.csv:2: column from_address: want an address (0x + 40 hex digits), got "0x123"`},
		{"bad tron address", KindTokenTransfers, model.Tron, ttHead + usdt + "," + aA + ",TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6X,1," + t1 + ",0,1\n",
			`token_transfers.csv:2: column to_address: want a Tron address (0x + 40 hex, 41 + 40 hex or T… base58check), got "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6X"`},
		{"float value", KindTokenTransfers, model.ETH, ttHead + usdt + "," + aA + "," + aB + ",1.5," + t1 + ",0,1\n",
			`token_transfers.csv:2: column value: want an unsigned integer amount in base units, got "1.5"`},
		{"exponent value", KindTokenTransfers, model.ETH, ttHead + usdt + "," + aA + "," + aB + ",1e+21," + t1 + ",0,1\n",
			`token_transfers.csv:2: column value: want an unsigned integer amount in base units, got "1e+21"`},
		{"negative value", KindTokenTransfers, model.ETH, ttHead + usdt + "," + aA + "," + aB + ",-5," + t1 + ",0,1\n",
			`token_transfers.csv:2: column value: negative amount "-5"`},
		{"value over 256 bits", KindTokenTransfers, model.ETH, ttHead + usdt + "," + aA + "," + aB + ",115792089237316195423570985008687907853269984665640564039457584007913129639936," + t1 + ",0,1\n",
			`token_transfers.csv:2: column value: amount "115792089237316195423570985008687907853269984665640564039457584007913129639936" does not fit 256 bits`},
		{"missing column", KindTokenTransfers, model.ETH, "token_address,from_address,to_address,amount,transaction_hash,log_index,block_number\n",
			`token_transfers.csv:1: column value: required column missing (header has: token_address,from_address,to_address,amount,transaction_hash,log_index,block_number)`},
		{"short row", KindTokenTransfers, model.ETH, ttHead + usdt + "," + aA + "\n",
			`token_transfers.csv:2: 2 fields, the header has 7`},
		{"bad hash", KindTokenTransfers, model.ETH, ttHead + usdt + "," + aA + "," + aB + ",1,0xzz,0,1\n",
			`token_transfers.csv:2: column transaction_hash: want a 32-byte hash (64 hex digits), got "0xzz"`},
		{"conflicting duplicate", KindTokenTransfers, model.ETH, ttHead + usdt + "," + aA + "," + aB + ",1," + t1 + ",0,1\n" + usdt + "," + aA + "," + aB + ",2," + t1 + ",0,1\n",
			`token_transfers.csv:2: column log_index: transaction aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01 log 0 listed twice with different content`},
		{"tx in two blocks", KindTokenTransfers, model.ETH, ttHead + usdt + "," + aA + "," + aB + ",1," + t1 + ",0,1\n" + usdt + "," + aA + "," + aB + ",1," + t1 + ",1,2\n",
			`token_transfers.csv:3: column block_number: transaction aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01 is in block 2 here but block 1 at `},
		{"no receipt status", KindTransactions, model.ETH, "hash,block_number,from_address,to_address,value\n" + t1 + ",1," + aA + "," + aB + ",1\n",
			`transactions.csv:2: column receipt_status: transaction aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01 has no receipt status`},
		{"bad status", KindTransactions, model.ETH, txHead + t1 + ",1," + aA + "," + aB + ",1,1,1,2\n",
			`transactions.csv:2: column receipt_status: want receipt status 1 or 0, got "2"`},
		{"empty file", KindTransactions, model.ETH, "",
			`transactions.csv:1: empty file: a header row is required`},
		{"bad time", KindBlocks, model.ETH, "number,hash,timestamp\n1," + hA + ",yesterday\n",
			`blocks.csv:2: column timestamp: want unix seconds or a UTC date-time, got "yesterday"`},
		// QA: a block number of 2^64-1 was stored as the chain's height.
		{"block number out of range", KindTransactions, model.ETH, txHead + t1 + ",18446744073709551615," + aA + "," + aB + ",1,1,1,1\n",
			`transactions.csv:2: column block_number: block number 18446744073709551615 is out of range`},
		{"block number out of range in blocks", KindBlocks, model.ETH, "number,hash,timestamp\n1099511627777," + hA + ",1\n",
			`blocks.csv:2: column number: block number 1099511627777 is out of range`},
		// QA: spoor ingest eth --etl tron/etl stored Tron's blocks as Ethereum's.
		{"tron export as eth", KindBlocks, model.ETH, "number,hash,timestamp\n37500000,0x00000000023c346012b934004230db63861db99847fbd861f63ae80d9b889445,1640995200\n",
			`blocks.csv:2: column hash: block 37500000 hash 00000000023c346012b934004230db63861db99847fbd861f63ae80d9b889445 begins with the block number like a Tron block id: a Tron export?`},
		{"tron block hash in eth transactions", KindTransactions, model.ETH, "hash,block_number,block_hash,from_address,to_address,value,receipt_status\n" + t1 + ",37500000,0x00000000023c346012b934004230db63861db99847fbd861f63ae80d9b889445," + aA + "," + aB + ",1,1\n",
			`transactions.csv:2: column block_hash: block 37500000 hash 00000000023c3460`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[Kind]string{tc.kind: tc.in}, nil)
			_, err := decodeDir(t, tc.chain, dir)
			if err == nil {
				t.Fatal("no error")
			}
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrInput) {
				t.Fatalf("error %T %v is not an *etl.Error", err, err)
			}
			msg := strings.TrimPrefix(err.Error(), dir+string(filepath.Separator))
			if !strings.HasPrefix(msg, tc.want) {
				t.Fatalf("error\n %s\nwant prefix\n %s", msg, tc.want)
			}
		})
	}
}

// Scan refuses a folder or a non-regular file named like an export file:
// skipping it would ingest the export without that table (QA: a folder
// blocks.csv was silently ignored and the blocks' hashes never stored).
func TestScanRefusesNonFiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(p string) error
		want string
	}{
		{"folder", func(p string) error { return os.Mkdir(p, 0o755) }, "blocks.csv: a folder, named like an export file"},
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o644) }, "blocks.csv: not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[Kind]string{KindTransactions: "hash,block_number,from_address,to_address,value\n"}, nil)
			if err := tc.make(filepath.Join(dir, "blocks.csv")); err != nil {
				t.Skipf("cannot make a %s here: %v", tc.name, err)
			}
			_, _, err := Scan(dir)
			if err == nil || !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Scan: %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseAmount(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"0", "0", true},
		{"18446744073709551615", "18446744073709551615", true},
		{"18446744073709551616", "18446744073709551616", true},
		{"0x0", "0", true},
		{"0xde0b6b3a7640000", "1000000000000000000", true},
		{"0x000001", "1", true},
		{"0x" + strings.Repeat("f", 64), maxU, true},
		{"0x1" + strings.Repeat("0", 64), "", false},
		{"", "", false},
		{"+1", "", false},
		{" 1", "", false},
		{"0x", "", false},
		{"0xg", "", false},
		{"1_000", "", false},
	} {
		v, err := ParseAmount([]byte(tc.in))
		if (err == nil) != tc.ok || (tc.ok && v.Dec() != tc.want) {
			t.Errorf("ParseAmount(%q) = %s, %v; want %s ok=%v", tc.in, v.Dec(), err, tc.want, tc.ok)
		}
	}
}

// FuzzDecodeTokenTransfers feeds arbitrary files to the token-transfer
// decoder: it must return blocks or an *Error, never panic, and every
// transfer it returns must come from a row.
func FuzzDecodeTokenTransfers(f *testing.F) {
	f.Add([]byte(ethFiles[KindTokenTransfers]), false)
	f.Add([]byte(ethFiles[KindTransactions]), true)
	f.Add([]byte("token_address,from_address,to_address,value,transaction_hash,log_index,block_number\n"+usdt+","+aA+","+aB+",-1,"+t1+",0,1\n"), false)
	f.Fuzz(func(t *testing.T, in []byte, asTx bool) {
		k := KindTokenTransfers
		if asTx {
			k = KindTransactions
		}
		d := NewDecoder(model.Tron)
		if err := d.Read(k, strings.NewReader(string(in)), "f.csv"); err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not an *etl.Error: %v", err, err)
			}
			return
		}
		res, err := d.Finish()
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not an *etl.Error: %v", err, err)
			}
			return
		}
		if res.Transfers > res.Rows[k] {
			t.Fatalf("%d transfers from %d rows", res.Transfers, res.Rows[k])
		}
		for _, b := range res.Blocks {
			for _, tx := range b.Txs {
				for _, x := range tx.Transfers {
					if len(x.From) != 21 || len(x.To) != 21 {
						t.Fatalf("non-canonical Tron address in %+v", x)
					}
				}
			}
		}
	})
}

// FuzzDecodeLogs feeds arbitrary logs files (quoted topic lists).
func FuzzDecodeLogs(f *testing.F) {
	f.Add([]byte(ethFiles[KindLogs]))
	f.Fuzz(func(t *testing.T, in []byte) {
		d := NewDecoder(model.ETH)
		if err := d.Read(KindLogs, strings.NewReader(string(in)), "logs.csv"); err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not an *etl.Error: %v", err, err)
			}
			return
		}
		res, err := d.Finish()
		if err != nil {
			return
		}
		for _, f := range res.Facts {
			if len(f.Subject) != 20 || f.Kind == "" {
				t.Fatalf("bad fact %+v", f)
			}
		}
	})
}
