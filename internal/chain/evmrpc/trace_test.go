package evmrpc

// Call-trace decoding on hand-written callTracer output in go-ethereum's
// documented shape (the ingest tests read real traces from a go-ethereum
// node: internal/ingest/eth_trace_test.go).

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const (
	seedTx  = "0x33333333333333333333333333333333333333333333333333333333333333cc"
	addrA   = "0x1111111111111111111111111111111111111111"
	addrB   = "0x2222222222222222222222222222222222222222"
	addrC   = "0x3333333333333333333333333333333333333333"
	addrD   = "0x4444444444444444444444444444444444444444"
	topCall = `"type":"CALL","from":"` + addrA + `","to":"` + addrB + `","value":"0xde0b6b3a7640000"`
)

func traced(t *testing.T, traces string) (*Decoded, error) {
	t.Helper()
	var rs []json.RawMessage
	if err := json.Unmarshal([]byte(seedReceipts), &rs); err != nil {
		t.Fatal(err)
	}
	return DecodeTracedBlock(5, json.RawMessage(seedBlock), rs, json.RawMessage(traces))
}

func TestDecodeTraces(t *testing.T) {
	type x struct {
		from, to string
		value    uint64
		idx      int32
	}
	for _, c := range []struct {
		name, traces string
		want         []x // internal transfers
		err          string
	}{
		{"no calls", `[{"txHash":"` + seedTx + `","result":{` + topCall + `}}]`, nil, ""},
		{"bare frame (no wrapper)", `[{` + topCall + `,"calls":[{"type":"CALL","from":"` + addrB + `","to":"` + addrC + `","value":"0x5"}]}]`,
			[]x{{addrB, addrC, 5, -2}}, ""},
		{"depth first, every kind", `[{"result":{` + topCall + `,"calls":[
			{"type":"CALL","from":"` + addrB + `","to":"` + addrC + `","value":"0x1","calls":[
				{"type":"CREATE2","from":"` + addrC + `","to":"` + addrD + `","value":"0x2"},
				{"type":"DELEGATECALL","from":"` + addrC + `","to":"` + addrA + `","value":"0x1","calls":[
					{"type":"SELFDESTRUCT","from":"` + addrC + `","to":"` + addrA + `","value":"0x3"}]}]},
			{"type":"STATICCALL","from":"` + addrB + `","to":"` + addrC + `"},
			{"type":"CALLCODE","from":"` + addrB + `","to":"` + addrC + `","value":"0x9"},
			{"type":"CALL","from":"` + addrB + `","to":"` + addrD + `","value":"0x0"},
			{"type":"CREATE","from":"` + addrB + `","to":"` + addrD + `","value":"0x4"}]}}]`,
			[]x{{addrB, addrC, 1, -2}, {addrC, addrD, 2, -3}, {addrC, addrA, 3, -4}, {addrB, addrD, 4, -5}}, ""},
		{"a failed frame and its subtree are left out", `[{"result":{` + topCall + `,"calls":[
			{"type":"CALL","from":"` + addrB + `","to":"` + addrC + `","value":"0x7","error":"execution reverted","calls":[
				{"type":"CALL","from":"` + addrC + `","to":"` + addrD + `","value":"0x8"}]},
			{"type":"CALL","from":"` + addrB + `","to":"` + addrD + `","value":"0x6"}]}}]`,
			[]x{{addrB, addrD, 6, -2}}, ""},
		{"count", `[]`, nil, "0 traces for 1 transactions"},
		{"not an array", `{}`, nil, "want an array of call traces"},
		{"other tx", `[{"txHash":"0x` + strings.Repeat("44", 32) + `","result":{` + topCall + `}}]`, nil, "traces[0].txHash"},
		{"error but status 1", `[{"result":{` + topCall + `,"error":"out of gas"}}]`, nil, "the receipt's status is 1"},
		{"bare frame with an error but status 1", `[{` + topCall + `,"error":"out of gas"}]`, nil, "the receipt's status is 1"},
		{"node error", `[{"txHash":"` + seedTx + `","error":"execution timeout"}]`, nil, "could not trace the transaction: execution timeout"},
		{"not callTracer", `[{"result":{"gas":21000,"failed":false,"returnValue":"","structLogs":[]}}]`, nil, "not a callTracer frame"},
		{"bad value", `[{"result":{` + topCall + `,"calls":[{"type":"CALL","from":"` + addrB + `","to":"` + addrC + `","value":"12"}]}}]`,
			nil, "traces[0].calls[0].value"},
		{"bad address", `[{"result":{` + topCall + `,"calls":[{"type":"CALL","from":"0x12","to":"` + addrC + `","value":"0x1"}]}}]`,
			nil, "[0].calls[0].from"},
		{"no recipient", `[{"result":{` + topCall + `,"calls":[{"type":"CREATE","from":"` + addrB + `","value":"0x1"}]}}]`,
			nil, "names no sender or recipient"},
		{"unknown type", `[{"result":{` + topCall + `,"calls":[{"type":"TELEPORT","from":"` + addrB + `","to":"` + addrC + `","value":"0x1"}]}}]`,
			nil, `unknown call frame type "TELEPORT"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := traced(t, c.traces)
			if c.err != "" {
				var fe *FieldError
				if err == nil || !strings.Contains(err.Error(), c.err) || !errors.As(err, &fe) || fe.Block != 5 {
					t.Fatalf("err = %v, want a block 5 field error with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []x
			for _, tr := range d.Block.Txs[0].Transfers {
				if tr.LogIndex <= -2 {
					got = append(got, x{"0x" + hexs(tr.From), "0x" + hexs(tr.To), tr.Value.Uint64(), tr.LogIndex})
				}
			}
			if len(got) != len(c.want) {
				t.Fatalf("internal transfers %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("internal transfer %d = %v, want %v", i, got[i], c.want[i])
				}
			}
			// The tx's own value and its token transfer are still there.
			if n := len(d.Block.Txs[0].Transfers) - len(got); n != 2 {
				t.Errorf("%d other transfers, want 2", n)
			}
		})
	}
}

func hexs(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(b))
	for i, v := range b {
		out[2*i], out[2*i+1] = digits[v>>4], digits[v&15]
	}
	return string(out)
}

// FuzzDecodeTraces: any traces JSON either decodes or fails with a
// FieldError naming block 5; never a panic, and every internal transfer
// has two 20-byte addresses and a non-zero value.
func FuzzDecodeTraces(f *testing.F) {
	f.Add(`[{"txHash":"` + seedTx + `","result":{` + topCall + `,"calls":[{"type":"CALL","from":"` + addrB + `","to":"` + addrC + `","value":"0x5"}]}}]`)
	f.Add(`[{` + topCall + `}]`)
	f.Add(`[{"result":{"type":"CALL","calls":[{"type":"CREATE","from":"` + addrB + `","value":"0x1","error":"x"}]}}]`)
	f.Fuzz(func(t *testing.T, traces string) {
		d, err := traced(t, traces)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Block != 5 {
				t.Fatalf("error not located: %v", err)
			}
			return
		}
		for _, tr := range d.Block.Txs[0].Transfers {
			if len(tr.From) != 20 || len(tr.To) != 20 || tr.Value.IsZero() {
				t.Fatalf("bad transfer %+v", tr)
			}
		}
	})
}
