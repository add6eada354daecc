package etl

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spoor-dev/spoor/internal/model"
)

// traceHead is ethereum-etl export_traces' header (column order as it
// writes it).
const traceHead = "block_number,transaction_hash,transaction_index,from_address,to_address,value,input,output,trace_type,call_type,reward_type,gas,gas_used,subtraces,trace_address,error,status,trace_id\n"

// traceLine writes a traces row: typ is "call/call", "call/delegatecall",
// "create", "suicide", "reward", …; path the trace_address.
func traceLine(block int, tx string, index int, from, to, value, typ, path, errMsg string, status int) string {
	tt, ct, _ := strings.Cut(typ, "/")
	rt := ""
	if tt == "reward" {
		rt = "block"
	}
	q := path
	if strings.Contains(path, ",") {
		q = `"` + path + `"`
	}
	return fmt.Sprintf("%d,%s,%d,%s,%s,%s,0x,0x,%s,%s,%s,100000,21000,0,%s,%s,%d,%s_%s\n",
		block, tx, index, from, to, value, tt, ct, rt, q, errMsg, status, tt, strings.ReplaceAll(path, ",", "_"))
}

// traceTxs: t1 (block 100) pays a contract that pays on, t2 (block 100)
// failed, t3 (block 101) moves nothing itself.
const traceTxs = `hash,nonce,block_hash,block_number,transaction_index,from_address,to_address,value,gas,gas_price,input,block_timestamp,receipt_gas_used,receipt_status
` + t1 + `,0,` + hA + `,100,0,` + aA + `,` + aB + `,5,90000,10,0x,1640995200,50000,1
` + t2 + `,1,` + hA + `,100,1,` + aA + `,` + aC + `,0,90000,10,0x,1640995200,30000,0
` + t3 + `,0,` + hB + `,101,0,` + aB + `,` + aD + `,0,90000,10,0x,1640995212,30000,1
`

// traceRows covers every rule, rows out of trace_address order as an
// export may list them.
var traceRows = traceHead +
	traceLine(100, t1, 0, aA, aB, "5", "call/call", "", "", 1) + // the tx's own value: -1 from transactions.csv
	traceLine(100, t1, 0, aB, aE, "4", "call/call", "1", "Reverted", 0) + // failed
	traceLine(100, t1, 0, aE, aF, "9", "call/call", "1,0", "", 0) + // below a failed frame
	traceLine(100, t1, 0, aB, aC, "3", "call/call", "0", "", 1) + // -2
	traceLine(100, t1, 0, aC, aD, "1", "call/call", "0,0", "", 1) + // -3
	traceLine(100, t1, 0, aC, aE, "7", "call/delegatecall", "0,1", "", 1) + // the caller's value: nothing moves
	traceLine(100, t1, 0, aC, aE, "2", "call/call", "0,1,0", "", 1) + // -4: below a delegatecall, from its context
	traceLine(100, t1, 0, aB, aF, "6", "call/staticcall", "2", "", 1) +
	traceLine(100, t1, 0, aB, aF, "6", "call/callcode", "3", "", 1) +
	traceLine(100, t1, 0, aB, aA, "1", "suicide", "4", "", 1) + // -5: SELFDESTRUCT to its refund address
	traceLine(100, t1, 0, aB, aF, "8", "create", "10", "", 1) + // -6: 10 after 4 (integers, not strings)
	traceLine(100, t1, 0, aB, aD, "0", "call/call", "5", "", 1) + // no value
	traceLine(100, t2, 1, aA, aC, "0", "call/call", "", "Reverted", 0) +
	traceLine(100, t2, 1, aC, aD, "11", "call/call", "0", "", 1) + // claims success in a failed tx: dropped, counted
	traceLine(100, "", 0, "", aF, "2000000000000000000", "reward", "", "", 1) + // no tx: skipped, counted
	traceLine(0, "", 0, "", aE, "72000000000000000000", "genesis", "", "", 1) +
	traceLine(101, t3, 0, aB, aD, "0", "call/call", "", "", 1) +
	traceLine(101, t5, 1, aA, aB, "0", "call/call", "", "", 1) + // t5 moves nothing: not created
	traceLine(101, t5, 1, aB, aC, "0", "call/call", "0", "", 1) +
	traceLine(101, t4, 2, aC, aD, "13", "call/call", "0", "", 1) // t4 is in no other file: created

var shortName = map[string]string{aA: "A", aB: "B", aC: "C", aD: "D", aE: "E", aF: "F"}

// describe renders a decode's blocks as one line per tx:
// "height tx: li from>to value …" with addresses as their letters.
func describe(res *Result) []string {
	names := map[string]string{}
	for a, n := range shortName {
		names[string(mustHex(strings.ToLower(a)))] = n
	}
	var out []string
	for _, b := range res.Blocks {
		for _, tx := range b.Txs {
			s := fmt.Sprintf("%d %x #%d", b.Height, tx.ID[31:], tx.Index)
			if tx.Failed {
				s += " failed"
			}
			for _, x := range tx.Transfers {
				s += fmt.Sprintf(" %d:%s>%s=%s", x.LogIndex, names[string(x.From)], names[string(x.To)], x.Value.Dec())
			}
			out = append(out, s)
		}
	}
	return out
}

func TestTracesInternalTransfers(t *testing.T) {
	want := []string{
		"100 01 #0 -1:A>B=5 -2:B>C=3 -3:C>D=1 -4:C>E=2 -5:B>A=1 -6:B>F=8",
		"100 02 #1 failed",
		"101 03 #0",
		"101 04 #2 -2:C>D=13",
	}
	check := func(t *testing.T, res *Result) {
		t.Helper()
		got := describe(res)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if res.SkippedTraces != 2 || res.DroppedFailedTraces != 1 || res.Rows[KindTraces] != 20 {
			t.Fatalf("skipped %d, dropped %d, rows %d: want 2, 1, 20", res.SkippedTraces, res.DroppedFailedTraces, res.Rows[KindTraces])
		}
		if res.Transfers != 7 {
			t.Fatalf("%d transfers, want 7", res.Transfers)
		}
	}
	t.Run("csv", func(t *testing.T) {
		res, err := decodeDir(t, model.ETH, writeFiles(t, map[Kind]string{KindTransactions: traceTxs, KindTraces: traceRows}, nil))
		if err != nil {
			t.Fatal(err)
		}
		check(t, res)
	})
	t.Run("gz", func(t *testing.T) {
		var z bytes.Buffer
		w := gzip.NewWriter(&z)
		w.Write([]byte(traceRows))
		w.Close()
		dir := writeFiles(t, map[Kind]string{KindTransactions: traceTxs}, nil)
		if err := os.WriteFile(filepath.Join(dir, "traces_00000100_00000101.csv.gz"), z.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := decodeDir(t, model.ETH, dir)
		if err != nil {
			t.Fatal(err)
		}
		check(t, res)
	})
	// An overlapping re-export in the same folder lists rows twice: the
	// same transfers, no more.
	t.Run("overlap", func(t *testing.T) {
		dir := writeFiles(t, map[Kind]string{KindTransactions: traceTxs, KindTraces: traceRows}, nil)
		rows := strings.SplitAfter(traceRows, "\n")
		again := traceHead + strings.Join(rows[3:8], "") + strings.Join(rows[18:], "")
		if err := os.WriteFile(filepath.Join(dir, "traces_again.csv"), []byte(again), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := decodeDir(t, model.ETH, dir)
		if err != nil {
			t.Fatal(err)
		}
		res.Rows[KindTraces] -= int64(strings.Count(again, "\n") - 1)
		check(t, res)
	})
	// Streaming hands the same blocks over (the unit is decoded whole).
	t.Run("stream", func(t *testing.T) {
		u, data := memUnit([]memFile{{KindTransactions, traceTxs}, {KindTraces, traceRows}})
		s := sameStream(t, model.ETH, u, data, 64, 2)
		res := *s.res
		res.Blocks = s.blocks
		check(t, &res)
	})
}

// Without transactions.csv, a trace that moves value creates its tx, as a
// token transfer does: no fee, no own value; the failed tx t2 is not known
// to have failed, but its rows all have status 0 in a real export.
func TestTracesOnly(t *testing.T) {
	res, err := decodeDir(t, model.ETH, writeFiles(t, map[Kind]string{KindTraces: traceRows}, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := "100 01 #0 -2:B>C=3 -3:C>D=1 -4:C>E=2 -5:B>A=1 -6:B>F=8\n100 02 #1 -2:C>D=11\n101 04 #2 -2:C>D=13"
	if got := strings.Join(describe(res), "\n"); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	for _, b := range res.Blocks {
		for _, tx := range b.Txs {
			if tx.FeePayer != nil || !tx.Fee.IsZero() {
				t.Fatalf("tx %x has a fee from traces alone", tx.ID)
			}
		}
	}
}

// Token transfers and internal transfers of one tx: -1, -2, …, then the
// logs, as the node source lists them.
func TestTracesWithTokenTransfers(t *testing.T) {
	xfers := "token_address,from_address,to_address,value,transaction_hash,log_index,block_number\n" +
		usdt + "," + aC + "," + aD + ",77," + t1 + ",4,100\n" + usdt + "," + aC + "," + aE + ",78," + t1 + ",2,100\n"
	tr := traceHead + traceLine(100, t1, 0, aB, aC, "3", "call/call", "0", "", 1) + traceLine(100, t1, 0, aC, aD, "1", "call/call", "1", "", 1)
	res, err := decodeDir(t, model.ETH, writeFiles(t, map[Kind]string{KindTransactions: traceTxs, KindTokenTransfers: xfers, KindTraces: tr}, nil))
	if err != nil {
		t.Fatal(err)
	}
	got := describe(res)[0]
	if want := "100 01 #0 -1:A>B=5 -2:B>C=3 -3:C>D=1 2:C>E=78 4:C>D=77"; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestTracesErrors(t *testing.T) {
	ok := func(path, value string) string {
		return traceLine(100, t1, 0, aB, aC, value, "call/call", path, "", 1)
	}
	for _, tc := range []struct{ name, in, want string }{
		{"bad value", traceHead + ok("0", "1") + ok("1", "1.5"),
			`traces.csv:3: column value: want an unsigned integer amount in base units, got "1.5"`},
		{"bad address", traceHead + strings.Replace(ok("0", "1"), aC, "0xc0c0", 1),
			`traces.csv:2: column to_address: want an address (0x + 40 hex digits), got "0xc0c0"`},
		{"bad trace_address", traceHead + ok("0,x", "1"),
			`traces.csv:2: column trace_address: want comma-separated call indexes (e.g. 0,2,1), got "0,x"`},
		{"negative trace_address", traceHead + ok("-1", "1"),
			`traces.csv:2: column trace_address: want comma-separated call indexes`},
		{"bad trace_type", traceHead + strings.Replace(ok("0", "1"), ",call,call,", ",calls,call,", 1),
			`traces.csv:2: column trace_type: want call, create, suicide, reward, genesis or daofork, got "calls"`},
		{"bad call_type", traceHead + strings.Replace(ok("0", "1"), ",call,call,", ",call,jump,", 1),
			`traces.csv:2: column call_type: want call, delegatecall, staticcall or callcode, got "jump"`},
		{"bad status", traceHead + strings.Replace(ok("0", "1"), ",1,call_0\n", ",2,call_0\n", 1),
			`traces.csv:2: column status: want receipt status 1 or 0, got "2"`},
		{"empty status", traceHead + strings.Replace(ok("0", "1"), ",1,call_0\n", ",,call_0\n", 1),
			`traces.csv:2: column status: empty: want 1`},
		{"bad block", traceHead + strings.Replace(ok("0", "1"), "100,", "1e3,", 1),
			`traces.csv:2: column block_number:`},
		{"bad hash", traceHead + strings.Replace(ok("0", "1"), t1, "0x12", 1),
			`traces.csv:2: column transaction_hash: want a 32-byte hash`},
		{"create without contract", traceHead + traceLine(100, t1, 0, aB, "", "5", "create", "0", "", 1),
			`traces.csv:2: column to_address: empty, but this create frame moves 5`},
		{"missing column", strings.Replace(traceHead, "trace_address", "path", 1),
			`traces.csv:1: column trace_address: required column missing`},
		{"conflicting duplicate", traceHead + ok("0", "1") + ok("0", "2"),
			`traces.csv:3: column trace_address: transaction aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01 trace 0 listed twice with different content`},
		{"tx in two blocks", traceHead + ok("0", "1") + strings.Replace(ok("1", "1"), "100,", "101,", 1),
			`traces.csv:3: column block_number: transaction aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01 is in block 101 here but block 100 at`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[Kind]string{KindTraces: tc.in}, nil)
			_, err := decodeDir(t, model.ETH, dir)
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
			// Parsed in small chunks on two workers, after good rows: the
			// same error, on the same line.
			pad := strings.Repeat(traceLine(99, t5, 0, aA, aB, "1", "call/call", "0", "", 1), 40)
			in := tc.in
			if hdr, rest, ok := strings.Cut(in, "\n"); ok && rest != "" {
				in = hdr + "\n" + pad + rest
			}
			u, data := memUnit([]memFile{{KindTraces, in}})
			_, cerr := decodeUnitWith(model.ETH, u, 97, 2, data)
			if cerr == nil {
				t.Fatal("chunked: no error")
			}
			want := tc.want
			if in != tc.in {
				var e *Error
				errors.As(err, &e)
				want = strings.Replace(want, fmt.Sprintf("traces.csv:%d:", e.Line), fmt.Sprintf("traces.csv:%d:", e.Line+40), 1)
			}
			if got := strings.TrimPrefix(cerr.Error(), "traces_0.csv"); !strings.HasPrefix(got, strings.TrimPrefix(want, "traces.csv")) {
				t.Fatalf("chunked error\n %s\nwant\n %s", cerr, want)
			}
		})
	}
}

func TestParseTraceAddress(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"", "", true}, {"[]", "", true}, {"0", "0", true}, {"0,10,2", "0,10,2", true},
		{"[0, 10, 2]", "0,10,2", true}, {"4294967295", "4294967295", true},
		{"4294967296", "", false}, {"0,,1", "", false}, {"a", "", false}, {"1.0", "", false},
		{strings.Repeat("0,", 1100) + "0", "", false},
	} {
		p, n, err := parseTraceAddress(nil, []byte(tc.in))
		if (err == nil) != tc.ok {
			t.Errorf("%q: error %v, want ok %v", tc.in, err, tc.ok)
			continue
		}
		if err == nil && (pathString(p) != tc.want || n*4 != len(p)) {
			t.Errorf("%q: %q (%d), want %q", tc.in, pathString(p), n, tc.want)
		}
	}
}

// FuzzDecodeTraces feeds arbitrary traces files, with transactions.csv:
// errors are *Errors, nothing panics, every transfer is an internal one
// (or the tx's own value) with canonical addresses.
func FuzzDecodeTraces(f *testing.F) {
	f.Add([]byte(traceRows))
	f.Add([]byte(traceHead + traceLine(100, t1, 0, aB, aC, "3", "call/call", "0", "", 1) + traceLine(100, t1, 0, aB, aC, "3", "call/call", "0", "", 1)))
	f.Add([]byte("trace_address,status,trace_type,call_type,block_number,transaction_hash,from_address,to_address,value\n\"[1, 2]\",1,create,,7," + t4 + "," + aA + "," + aB + ",9\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		d := NewDecoder(model.ETH)
		if err := d.Read(KindTransactions, strings.NewReader(traceTxs), "transactions.csv"); err != nil {
			t.Fatal(err)
		}
		err := d.Read(KindTraces, bytes.NewReader(in), "traces.csv")
		var res *Result
		if err == nil {
			res, err = d.Finish()
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not an *etl.Error: %v", err, err)
			}
			return
		}
		for _, b := range res.Blocks {
			for _, tx := range b.Txs {
				for k, x := range tx.Transfers {
					if x.LogIndex >= 0 || len(x.From) != 20 || len(x.To) != 20 || x.Value.IsZero() {
						t.Fatalf("bad transfer %+v", x)
					}
					if k > 0 && x.LogIndex != tx.Transfers[k-1].LogIndex-1 {
						t.Fatalf("tx %x: log indexes %d then %d", tx.ID, tx.Transfers[k-1].LogIndex, x.LogIndex)
					}
				}
			}
		}
	})
}

// FuzzStreamTraces: a unit with a traces file streams the blocks, counts
// and errors of DecodeUnit, whatever the transactions and traces files hold.
func FuzzStreamTraces(f *testing.F) {
	f.Add(traceTxs, traceRows, uint16(64), uint8(1))
	f.Add("", traceRows, uint16(300), uint8(2))
	f.Add(traceTxs, strings.Replace(traceRows, ",0_1_0", ",0_1_0\n"+t1+",", 1), uint16(100), uint8(3))
	f.Fuzz(func(t *testing.T, txs, traces string, chunk uint16, every uint8) {
		files := []memFile{{KindTraces, traces}}
		if txs != "" {
			files = append(files, memFile{KindTransactions, txs})
		}
		u, data := memUnit(files)
		sameStream(t, model.ETH, u, data, int(chunk)+1, int(every)+1)
	})
}
