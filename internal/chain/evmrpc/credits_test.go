package evmrpc

// Block credits on hand-written blocks in the JSON-RPC shape: every era's
// rule and every malformed field. The same rules run against real
// go-ethereum chains in internal/ingest (eth_credits_test.go: tips and
// withdrawals with eth_getBalance; eth_rewards_test.go: ethash's block and
// uncle rewards on a chain with mainnet's config).

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
)

const (
	fixHash  = "0x11111111111111111111111111111111111111111111111111111111111111aa"
	uncleH0  = "0x55555555555555555555555555555555555555555555555555555555555555a0"
	uncleH1  = "0x55555555555555555555555555555555555555555555555555555555555555a1"
	minerFix = "0x9999999999999999999999999999999999999999"
)

// fixture is a block of one 21000-gas transaction paying gasPrice (and
// effectiveGasPrice egp, "" for a pre-London receipt without it), with
// the given extra block fields (raw JSON members, e.g. `"baseFeePerGas":"0x1"`).
func fixture(height uint64, egp string, extra ...string) (json.RawMessage, []json.RawMessage) {
	block := fmt.Sprintf(`{"number":"%s","hash":"%s","parentHash":"0x%064x","timestamp":"0x6553f100",`+
		`"transactions":[{"hash":"%s","from":"%s","to":"%s","value":"0x1","transactionIndex":"0x0","gasPrice":"0xb2d05e00"}]`,
		hexNum(height), fixHash, 7, seedTx, addrA, addrB)
	for _, e := range extra {
		block += "," + e
	}
	block += "}"
	rec := `{"transactionHash":"` + seedTx + `","status":"0x1","gasUsed":"0x5208","logs":[]`
	if egp != "" {
		rec += `,"effectiveGasPrice":"` + egp + `"`
	}
	rec += "}"
	return json.RawMessage(block), []json.RawMessage{json.RawMessage(rec)}
}

func withdrawal(index, validator uint64, addr, amount string) string {
	return fmt.Sprintf(`{"index":"%s","validatorIndex":"%s","address":"%s","amount":"%s"}`, hexNum(index), hexNum(validator), addr, amount)
}

func uncleJSON(hash string, number uint64, miner string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"hash":"%s","number":"%s","miner":"%s"}`, hash, hexNum(number), miner))
}

type credit struct {
	to    string
	value string // decimal wei
	idx   int32
}

func eth(n uint64) string { return new(uint256.Int).Mul(uint256.NewInt(n), uint256.NewInt(1e18)).Dec() }

func TestDecodeCredits(t *testing.T) {
	miner := `"miner":"` + minerFix + `"`
	for _, c := range []struct {
		name    string
		chainID uint64
		height  uint64
		egp     string
		extra   []string
		uncles  []json.RawMessage
		want    []credit // nil: no credits tx
	}{
		{name: "London: tip above the base fee", chainID: 1337, height: 20_000_000, egp: "0xb2d05e00", // 3 Gwei
			extra: []string{miner, `"baseFeePerGas":"0x3b9aca00"`}, // 1 Gwei
			want:  []credit{{minerFix, "42000000000000", -1}}},
		{name: "London: paying exactly the base fee tips nothing", chainID: 1337, height: 20_000_000, egp: "0x3b9aca00",
			extra: []string{miner, `"baseFeePerGas":"0x3b9aca00"`}},
		{name: "before London: the whole fee", chainID: 1337, height: 20, egp: "",
			extra: []string{miner}, want: []credit{{minerFix, "63000000000000", -1}}},
		{name: "withdrawals by position, zero amounts left out", chainID: 1, height: 17_034_870, egp: "0x3b9aca00",
			extra: []string{miner, `"baseFeePerGas":"0x3b9aca00"`, `"uncles":[]`, `"withdrawals":[` +
				withdrawal(0, 5, addrC, "0x1") + "," + withdrawal(1, 6, addrC, "0x0") + "," + withdrawal(2, 7, addrD, "0x773594000") + `]`},
			want: []credit{{addrC, "1000000000", -2}, {addrD, eth(32), -4}}},
		{name: "mainnet Frontier: 5 ETH + 1/32 per uncle; uncles (8+u−b)/8", chainID: 1, height: 1000, egp: "",
			extra:  []string{miner, `"uncles":["` + uncleH0 + `","` + uncleH1 + `"]`},
			uncles: []json.RawMessage{uncleJSON(uncleH0, 999, addrC), uncleJSON(uncleH1, 994, addrD)},
			want: []credit{{minerFix, "63000000000000", -1}, {minerFix, "5312500000000000000", model.CreditBlockReward},
				{addrC, "4375000000000000000", model.CreditUncle0}, {addrD, "1250000000000000000", model.CreditUncle0 + 1}}},
		{name: "mainnet Byzantium: 3 ETH", chainID: 1, height: 4_370_000, egp: "0xb2d05e00",
			extra: []string{miner}, want: []credit{{minerFix, "63000000000000", -1}, {minerFix, eth(3), model.CreditBlockReward}}},
		{name: "mainnet Constantinople: 2 ETH", chainID: 1, height: 7_280_000, egp: "0xb2d05e00",
			extra: []string{miner}, want: []credit{{minerFix, "63000000000000", -1}, {minerFix, eth(2), model.CreditBlockReward}}},
		{name: "mainnet's last PoW block", chainID: 1, height: 15_537_393, egp: "0x3b9aca00",
			extra: []string{miner, `"baseFeePerGas":"0x3b9aca00"`}, want: []credit{{minerFix, eth(2), model.CreditBlockReward}}},
		{name: "mainnet after the merge: no reward", chainID: 1, height: 15_537_394, egp: "0x3b9aca00",
			extra: []string{miner, `"baseFeePerGas":"0x3b9aca00"`, `"uncles":[]`}},
		{name: "another chain's rewards are not guessed", chainID: 5, height: 1000, egp: "0x3b9aca00",
			extra: []string{miner, `"baseFeePerGas":"0x3b9aca00"`, `"uncles":["` + uncleH0 + `"]`}},
		{name: "unknown chain: none either", chainID: 0, height: 1000, egp: "0x3b9aca00",
			extra: []string{miner, `"baseFeePerGas":"0x3b9aca00"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, rs := fixture(c.height, c.egp, c.extra...)
			d, err := DecodeFull(c.height, Input{ChainID: c.chainID, Block: b, Receipts: rs, Uncles: c.uncles})
			if err != nil {
				t.Fatal(err)
			}
			txs := d.Block.Txs
			if c.want == nil {
				if len(txs) != 1 {
					t.Fatalf("%d txs, want no credits: %+v", len(txs), txs[len(txs)-1])
				}
				return
			}
			if len(txs) != 2 {
				t.Fatalf("%d txs, want the transaction and the credits", len(txs))
			}
			cr := txs[1]
			if !cr.Coinbase || cr.Index != 1 || fmt.Sprintf("0x%x", cr.ID) != fixHash || !cr.Fee.IsZero() || cr.FeePayer != nil || cr.Failed {
				t.Fatalf("credits tx %+v", cr)
			}
			if len(cr.Transfers) != len(c.want) {
				t.Fatalf("%d credits, want %d: %+v", len(cr.Transfers), len(c.want), cr.Transfers)
			}
			for i, w := range c.want {
				x := cr.Transfers[i]
				if x.From != nil || fmt.Sprintf("0x%x", x.To) != w.to || x.Value.Dec() != w.value || x.LogIndex != w.idx || x.Contract != nil {
					t.Errorf("credit %d: %x→0x%x %s #%d, want →%s %s #%d", i, x.From, x.To, x.Value.Dec(), x.LogIndex, w.to, w.value, w.idx)
				}
			}
		})
	}
}

func TestDecodeCreditsErrors(t *testing.T) {
	miner := `"miner":"` + minerFix + `"`
	base := `"baseFeePerGas":"0x3b9aca00"`
	for _, c := range []struct {
		name    string
		chainID uint64
		height  uint64
		egp     string
		extra   []string
		uncles  []json.RawMessage
		want    string
	}{
		{"price below the base fee", 1337, 9, "0x3b9ac9ff", []string{miner, base}, nil, "effectiveGasPrice: 999999999 wei is below the block's baseFeePerGas 1000000000"},
		{"bad base fee", 1337, 9, "0x3b9aca00", []string{miner, `"baseFeePerGas":"1000"`}, nil, "field baseFeePerGas"},
		{"tips but no miner", 1337, 9, "0xb2d05e00", []string{base}, nil, "field miner: missing"},
		{"malformed miner, nothing credited", 1337, 9, "0x3b9aca00", []string{`"miner":"0x99"`, base}, nil, "field miner: want 20 bytes"},
		{"withdrawal amount over 64 bits", 1337, 9, "0x3b9aca00", []string{miner, base, `"withdrawals":[` + withdrawal(0, 1, addrC, "0x10000000000000000") + `]`}, nil, "field withdrawals[0].amount"},
		{"withdrawal amount not hex", 1337, 9, "0x3b9aca00", []string{miner, base, `"withdrawals":[` + withdrawal(0, 1, addrC, "32000000000") + `]`}, nil, "field withdrawals[0].amount"},
		{"withdrawal address", 1337, 9, "0x3b9aca00", []string{miner, base, `"withdrawals":[` + withdrawal(0, 1, addrC, "0x1") + "," + withdrawal(1, 1, "0x12", "0x1") + `]`}, nil, "field withdrawals[1].address"},
		{"withdrawal without index", 1337, 9, "0x3b9aca00", []string{miner, base, `"withdrawals":[{"validatorIndex":"0x1","address":"` + addrC + `","amount":"0x1"}]`}, nil, "field withdrawals[0].index: missing"},
		{"withdrawals not a list", 1337, 9, "0x3b9aca00", []string{miner, base, `"withdrawals":{}`}, nil, "field (block): malformed block JSON"},
		{"uncle headers missing", 1, 1000, "", []string{miner, `"uncles":["` + uncleH0 + `"]`}, nil, "field uncles: 0 uncle headers for 1 uncles"},
		{"uncle the node lacks", 1, 1000, "", []string{miner, `"uncles":["` + uncleH0 + `"]`}, []json.RawMessage{json.RawMessage("null")}, "field uncles[0]: the node has no uncle 0"},
		{"uncle hash differs", 1, 1000, "", []string{miner, `"uncles":["` + uncleH0 + `"]`}, []json.RawMessage{uncleJSON(uncleH1, 999, addrC)}, "field uncles[0].hash"},
		{"uncle too old", 1, 1000, "", []string{miner, `"uncles":["` + uncleH0 + `"]`}, []json.RawMessage{uncleJSON(uncleH0, 992, addrC)}, "field uncles[0].number: uncle at height 992 cannot be included at height 1000"},
		{"uncle not older", 1, 1000, "", []string{miner, `"uncles":["` + uncleH0 + `"]`}, []json.RawMessage{uncleJSON(uncleH0, 1000, addrC)}, "field uncles[0].number"},
		{"uncle miner", 1, 1000, "", []string{miner, `"uncles":["` + uncleH0 + `"]`}, []json.RawMessage{uncleJSON(uncleH0, 999, "0xabc")}, "field uncles[0].miner"},
		{"reward but no miner", 1, 1000, "0x0", nil, nil, "field miner: missing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, rs := fixture(c.height, c.egp, c.extra...)
			_, err := DecodeFull(c.height, Input{ChainID: c.chainID, Block: b, Receipts: rs, Uncles: c.uncles})
			var fe *FieldError
			prefix := fmt.Sprintf("eth block %d: ", c.height)
			if err == nil || !errors.As(err, &fe) || fe.Block != c.height || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an error naming block %d and %q, got %v", c.height, c.want, err)
			}
		})
	}
}

func TestMainnetBlockReward(t *testing.T) {
	for _, c := range []struct {
		h    uint64
		want string
	}{
		{0, "0"}, {1, eth(5)}, {4_369_999, eth(5)}, {4_370_000, eth(3)}, {7_279_999, eth(3)},
		{7_280_000, eth(2)}, {15_537_393, eth(2)}, {15_537_394, "0"}, {20_000_000, "0"},
	} {
		if r := MainnetBlockReward(c.h); r.Dec() != c.want {
			t.Errorf("height %d: %s, want %s", c.h, r.Dec(), c.want)
		}
	}
}

// FuzzDecodeCredits: a mainnet pre-merge block with any block and uncle
// JSON either decodes, with credits from nobody to 20-byte addresses, or
// fails with a FieldError naming the block. Run e.g.
// go test ./internal/chain/evmrpc -run X -fuzz FuzzDecodeCredits -fuzztime 60s
func FuzzDecodeCredits(f *testing.F) {
	b, rs := fixture(1000, "", `"miner":"`+minerFix+`"`, `"uncles":["`+uncleH0+`"]`,
		`"withdrawals":[`+withdrawal(0, 5, addrC, "0x1")+`]`)
	f.Add([]byte(b), []byte(rs[0]), []byte(uncleJSON(uncleH0, 999, addrD)))
	b2, rs2 := fixture(1000, "0x3b9aca00", `"miner":"`+minerFix+`"`, `"baseFeePerGas":"0x3b9aca00"`)
	f.Add([]byte(b2), []byte(rs2[0]), []byte("null"))
	f.Fuzz(func(t *testing.T, block, receipt, uncle []byte) {
		in := Input{ChainID: 1, Block: block, Receipts: []json.RawMessage{receipt}, Uncles: []json.RawMessage{uncle}}
		d, err := DecodeFull(1000, in)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Block != 1000 {
				t.Fatalf("error not located: %v", err)
			}
			return
		}
		for i, tx := range d.Block.Txs {
			if !tx.Coinbase {
				continue
			}
			if i != len(d.Block.Txs)-1 || tx.ID != d.Block.Hash || len(tx.Transfers) == 0 {
				t.Fatalf("credits tx %d of %d: %+v", i, len(d.Block.Txs), tx)
			}
			for _, x := range tx.Transfers {
				if x.From != nil || len(x.To) != 20 || x.Value.IsZero() {
					t.Fatalf("credit %+v", x)
				}
			}
		}
	})
}
