package ingest

// Tron ingest tests. No Tron node can run here: blocks are java-tron HTTP
// API JSON built by trontest from the documented field names, written to a
// blocks.jsonl file or served by an httptest server that answers like
// java-tron's HTTP API (the one mock: it stands in for the node that cannot
// run, so the real HTTP client path is exercised, including a reorg).

import (
	"bytes"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spoor-dev/spoor/internal/address"
	"github.com/spoor-dev/spoor/internal/chain/evmrpc"
	"github.com/spoor-dev/spoor/internal/chain/tron/trontest"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
	"github.com/spoor-dev/spoor/internal/store/pebblestore"
)

func tronPerson(n int) []byte {
	b := make([]byte, 21)
	b[0] = 0x41
	for i := 1; i < 21; i++ {
		b[i] = byte(n*13 + i)
	}
	return b
}

var tronUSDT = func() []byte {
	b, err := address.TronDecode("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t")
	if err != nil {
		panic(err)
	}
	return b
}()

var tronOther = tronPerson(99) // another TRC-20 contract

// tronChain builds blocks 0..n-1. Blocks below fork are shared with base
// (a reorg); seed varies the rest. Every block has a TRX transfer, a USDT
// transfer, a failed USDT call and every third a call with an internal
// transaction; block 5 blacklists person 9 (when seed is "a").
func tronChain(n int, seed string, base []*trontest.Block, fork int) []*trontest.Block {
	var out []*trontest.Block
	for h := 0; h < n; h++ {
		if h < fork && base != nil {
			out = append(out, base[h])
			continue
		}
		s := fmt.Sprintf("%s%d", seed, h)
		b := &trontest.Block{Num: uint64(h), ID: trontest.BlockID(uint64(h), s), TimeMS: int64(1700000000000 + 3000*h)}
		if h > 0 {
			b.Parent = out[h-1].ID
		}
		if h > 0 {
			p := func(k int) []byte { return tronPerson((h*3 + k + len(seed)) % 8) }
			b.Txs = append(b.Txs,
				trontest.Tx{ID: trontest.TxID(s + "trx"), Type: "TransferContract", Owner: p(0), To: p(1), Amount: uint64(1_000_000 * h), Fee: 268_000},
				trontest.Tx{ID: trontest.TxID(s + "usdt"), Type: "TriggerSmartContract", Owner: p(1), Contract: tronUSDT, Fee: 13_844_850,
					Logs: []trontest.Log{trontest.TransferLog(tronUSDT, p(1), p(2), uint64(5_000_000+h))}},
				trontest.Tx{ID: trontest.TxID(s + "fail"), Type: "TriggerSmartContract", Owner: p(2), Contract: tronUSDT, Fee: 4_000_000,
					ContractRet: "OUT_OF_ENERGY", InfoResult: "FAILED", Logs: []trontest.Log{trontest.TransferLog(tronUSDT, p(2), p(3), 1)}},
			)
			if h%3 == 0 {
				b.Txs = append(b.Txs, trontest.Tx{ID: trontest.TxID(s + "int"), Type: "TriggerSmartContract", Owner: p(3), Contract: tronOther, CallValue: 50,
					Internal: []trontest.Internal{{Caller: tronOther, To: p(4), Value: 20}, {Caller: tronOther, To: p(5), Value: 1, Rejected: true}},
					Logs:     []trontest.Log{trontest.TransferLog(tronOther, p(3), p(4), 777)}})
			}
			if h == 5 && seed == "a" {
				b.Txs = append(b.Txs, trontest.Tx{ID: trontest.TxID(s + "black"), Type: "TriggerSmartContract", Owner: tronPerson(8), Contract: tronUSDT, Fee: 1,
					Logs: []trontest.Log{trontest.AddedBlackListLog(tronUSDT, tronPerson(9))}})
			}
		}
		out = append(out, b)
	}
	return out
}

// ledger is an independent account of the fixture chain: the rules of
// docs/formats.md applied to the fixture's own inputs.
func ledger(chain []*trontest.Block) map[string]*big.Int {
	bal := map[string]*big.Int{}
	add := func(a, contract []byte, v int64) {
		k := string(contract) + "|" + string(a)
		if bal[k] == nil {
			bal[k] = new(big.Int)
		}
		bal[k].Add(bal[k], big.NewInt(v))
	}
	for _, b := range chain {
		for _, t := range b.Txs {
			add(t.Owner, nil, -int64(t.Fee))
			if t.ContractRet != "" && t.ContractRet != "SUCCESS" || t.InfoResult == "FAILED" {
				continue
			}
			if t.Type == "TransferContract" {
				add(t.Owner, nil, -int64(t.Amount))
				add(t.To, nil, int64(t.Amount))
			}
			if t.CallValue > 0 {
				add(t.Owner, nil, -int64(t.CallValue))
				add(t.Contract, nil, int64(t.CallValue))
			}
			for _, it := range t.Internal {
				if !it.Rejected && it.TokenID == "" {
					add(it.Caller, nil, -int64(it.Value))
					add(it.To, nil, int64(it.Value))
				}
			}
			for _, l := range t.Logs {
				if len(l.Topics) == 3 {
					v := new(big.Int).SetBytes(l.Data).Int64()
					add(append([]byte{0x41}, l.Topics[1][12:]...), l.Address, -v)
					add(append([]byte{0x41}, l.Topics[2][12:]...), l.Address, v)
				}
			}
		}
	}
	return bal
}

// checkTronBalances compares the store's received − sent of every address
// and asset with the ledger.
func checkTronBalances(t *testing.T, st store.Store, chain []*trontest.Block) {
	t.Helper()
	want := ledger(chain)
	got := map[string]*big.Int{}
	for k := range want {
		a := []byte(k[strings.IndexByte(k, '|')+1:])
		sum, err := st.Address(model.Tron, a)
		if err != nil {
			t.Fatalf("address %x: %v", a, err)
		}
		for _, as := range sum.Assets {
			g := new(big.Int).Sub(as.Received.ToBig(), as.Sent.ToBig())
			got[string(as.Asset.Contract)+"|"+string(a)] = g
		}
	}
	for k, w := range want {
		g := got[k]
		if g == nil {
			g = new(big.Int)
		}
		if g.Cmp(w) != 0 {
			t.Errorf("address %x asset %x: store %s, ledger %s", k[strings.IndexByte(k, '|')+1:], k[:strings.IndexByte(k, '|')], g, w)
		}
	}
}

func writeJSONL(t *testing.T, chain []*trontest.Block) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "blocks.jsonl")
	var sb strings.Builder
	for _, b := range chain {
		sb.Write(b.Line())
	}
	if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTronAPIFile(t *testing.T) {
	chain := tronChain(12, "a", nil, 0)
	st := openStore(t)
	p := writeJSONL(t, chain[:8])
	res, err := TronAPIFile(st, p, Options{BatchTxs: 5})
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 8 || res.Height != 7 {
		t.Fatalf("applied %d to %d", res.Applied, res.Height)
	}
	checkTronBalances(t, st, chain[:8])
	// Idempotent: the same file again changes nothing.
	d := digest(t, st)
	res, err = TronAPIFile(st, p, Options{})
	if err != nil || res.Applied != 0 || res.Skipped != 8 || digest(t, st) != d {
		t.Fatalf("re-run: %+v %v, digest changed %v", res, err, digest(t, st) != d)
	}
	// A longer export continues where the store stops.
	res, err = TronAPIFile(st, writeJSONL(t, chain), Options{})
	if err != nil || res.Applied != 4 || res.Skipped != 8 {
		t.Fatalf("longer file: %+v %v", res, err)
	}
	checkTronBalances(t, st, chain)
	// The same as one run over the whole file.
	one := openStore(t)
	if _, err := TronAPIFile(one, writeJSONL(t, chain), Options{}); err != nil {
		t.Fatal(err)
	}
	if digest(t, one) != digest(t, st) {
		t.Error("incremental ingest differs from one run")
	}
	// Tokens: USDT is configured; the other contract's decimals are unknown
	// and reported, never guessed.
	assets, _ := st.Assets(model.Tron)
	for _, a := range assets {
		switch string(a.Contract) {
		case string(tronUSDT):
			if a.Symbol != "USDT" || a.Decimals != 6 {
				t.Errorf("USDT asset %+v", a)
			}
		case string(tronOther):
			if a.Decimals != -1 {
				t.Errorf("other token decimals %d, want unknown", a.Decimals)
			}
		}
	}
	if res, err := TronAPIFile(openStore(t), p, Options{}); err != nil || len(res.UnknownDecimals) != 1 || !strings.Contains(res.UnknownDecimals[0], mustTron(t, tronOther)) {
		t.Errorf("unknown decimals reported: %v %v", res.UnknownDecimals, err)
	}
	fs, err := st.FactsOfKind(model.Tron, store.FactAddedBlackList)
	if err != nil || len(fs) != 1 || string(fs[0].Subject) != string(tronPerson(9)) || fs[0].Height != 5 {
		t.Errorf("facts %+v %v", fs, err)
	}
}

func mustTron(t *testing.T, b []byte) string {
	s, err := address.TronEncode(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTronAPIFileBadInputLeavesStore(t *testing.T) {
	chain := tronChain(10, "a", nil, 0)
	st := openStore(t)
	if _, err := TronAPIFile(st, writeJSONL(t, chain[:3]), Options{}); err != nil {
		t.Fatal(err)
	}
	before := digest(t, st)
	p := writeJSONL(t, chain)
	raw, _ := os.ReadFile(p)
	cases := []struct{ name, data, want string }{
		{"truncated last line", string(raw[:len(raw)-40]), ":10: malformed JSON line"},
		{"garbage line", strings.Replace(string(raw), string(chain[7].Line()), "{\"block\": nonsense}\n", 1), ":8: malformed JSON line"},
		{"bad amount", strings.Replace(string(raw), `"amount":6000000`, `"amount":-6`, 1), ":7: tron block 6: field block.transactions[0].raw_data.contract[0].parameter.value.amount"},
		{"gap", strings.Replace(string(raw), string(chain[6].Line()), "", 1), "block 7 follows block 5: the file skips blocks"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bp := filepath.Join(t.TempDir(), "blocks.jsonl")
			os.WriteFile(bp, []byte(c.data), 0o644)
			_, err := TronAPIFile(st, bp, Options{BatchTxs: 2})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want %q, got %v", c.want, err)
			}
			if digest(t, st) != before {
				t.Fatal("store changed by a failed ingest")
			}
		})
	}
}

func TestTronAPINode(t *testing.T) {
	chain := tronChain(12, "a", nil, 0)
	node := trontest.NewNode(chain)
	defer node.Server.Close()
	st := openStore(t)
	res, err := TronAPI(st, node.Server.URL, RPCRange{Confirmations: 2}, Options{BatchTxs: 4})
	if err != nil {
		t.Fatal(err)
	}
	if res.Height != 9 || res.Applied != 10 {
		t.Fatalf("with 2 confirmations: applied %d to %d, want 10 to 9", res.Applied, res.Height)
	}
	if res, err = TronAPI(st, node.Server.URL, RPCRange{}, Options{}); err != nil || res.Applied != 2 {
		t.Fatalf("rest: %+v %v", res, err)
	}
	checkTronBalances(t, st, chain)
	// The node and the file give the same store.
	fromFile := openStore(t)
	if _, err := TronAPIFile(fromFile, writeJSONL(t, chain), Options{}); err != nil {
		t.Fatal(err)
	}
	if digest(t, st) != digest(t, fromFile) {
		t.Error("node ingest and file ingest differ")
	}
}

func TestTronAPITokenMetadata(t *testing.T) {
	chain := tronChain(4, "a", nil, 0)
	node := trontest.NewNode(chain)
	defer node.Server.Close()
	// symbol() returns an ABI string "OTH", decimals() 18.
	node.Tokens[fmt.Sprintf("%x", tronOther)] = map[string]string{
		"symbol()":   "0000000000000000000000000000000000000000000000000000000000000020" + "0000000000000000000000000000000000000000000000000000000000000003" + "4f54480000000000000000000000000000000000000000000000000000000000",
		"decimals()": "0000000000000000000000000000000000000000000000000000000000000012",
	}
	st := openStore(t)
	res, err := TronAPI(st, node.Server.URL, RPCRange{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.UnknownDecimals) != 0 {
		t.Errorf("unknown: %v", res.UnknownDecimals)
	}
	assets, _ := st.Assets(model.Tron)
	found := false
	for _, a := range assets {
		if string(a.Contract) == string(tronOther) {
			found = a.Symbol == "OTH" && a.Decimals == 18
		}
	}
	if !found {
		t.Errorf("assets %+v", assets)
	}
}

// TestTronAPIReorg: the node switches to a chain that forks below the
// stored tip; spoor rolls back to the fork point exactly (the store's
// digest equals a fresh ingest of the new chain), and the blacklist fact of
// a dropped block goes with it.
func TestTronAPIReorg(t *testing.T) {
	a := tronChain(10, "a", nil, 0)
	b := tronChain(12, "b", a, 5) // blocks 5.. differ, incl. the blacklisting
	node := trontest.NewNode(a)
	defer node.Server.Close()
	st := openStore(t)
	if _, err := TronAPI(st, node.Server.URL, RPCRange{}, Options{BatchTxs: 3}); err != nil {
		t.Fatal(err)
	}
	if fs, _ := st.FactsOfKind(model.Tron, ""); len(fs) != 1 {
		t.Fatalf("facts before the reorg: %d", len(fs))
	}
	node.SetChain(b)
	res, err := TronAPI(st, node.Server.URL, RPCRange{}, Options{BatchTxs: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.RolledBack != 5 || res.Applied != 7 || res.Height != 11 {
		t.Fatalf("reorg: %+v", res)
	}
	fresh := openStore(t)
	if _, err := TronAPI(fresh, node.Server.URL, RPCRange{}, Options{}); err != nil {
		t.Fatal(err)
	}
	if digest(t, st) != digest(t, fresh) {
		t.Error("store after the reorg differs from a fresh ingest of the new chain")
	}
	checkTronBalances(t, st, b)
	if fs, _ := st.FactsOfKind(model.Tron, ""); len(fs) != 0 {
		t.Errorf("fact of a dropped block survives: %+v", fs)
	}
}

// TestTronAPIGarbageLeavesStore: the node answers garbage for one block
// after several were applied in this run; the run fails naming the block
// and the store is exactly as before.
func TestTronAPIGarbageLeavesStore(t *testing.T) {
	chain := tronChain(40, "a", nil, 0)
	node := trontest.NewNode(chain[:4])
	defer node.Server.Close()
	st := openStore(t)
	if _, err := TronAPI(st, node.Server.URL, RPCRange{}, Options{}); err != nil {
		t.Fatal(err)
	}
	before := digest(t, st)
	node.SetChain(chain)
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/wallet/gettransactioninfobyblocknum" && string(body) == `{"num":37}` {
			w.Write([]byte(`[{"id":"00"`)) // truncated
			return
		}
		resp, err := http.Post(node.Server.URL+r.URL.Path, "application/json", bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		io.Copy(w, resp.Body)
	}))
	defer bad.Close()
	_, err := TronAPI(st, bad.URL, RPCRange{}, Options{BatchTxs: 2})
	if err == nil || !strings.Contains(err.Error(), "block 37: ") || !strings.Contains(err.Error(), "/wallet/gettransactioninfobyblocknum: response is not JSON") {
		t.Fatalf("got %v", err)
	}
	if digest(t, st) != before {
		t.Error("store changed by a failed ingest")
	}
	// Well-formed JSON with a bad field: the error names block and field.
	chain[30].Txs[0].Owner = []byte{0x41, 1, 2}
	_, err = TronAPI(st, node.Server.URL, RPCRange{}, Options{BatchTxs: 2})
	if err == nil || !strings.Contains(err.Error(), "tron block 30: field block.transactions[0].raw_data.contract[0].parameter.value.owner_address") {
		t.Fatalf("got %v", err)
	}
	if digest(t, st) != before {
		t.Error("store changed by a failed ingest")
	}
}

// BenchmarkTronAPIFile measures a whole blocks.jsonl ingest (read, decode
// on all cores, apply to Pebble) of 100 busy blocks (300 txs each).
func BenchmarkTronAPIFile(b *testing.B) {
	var sb strings.Builder
	var parent [32]byte
	transfers := 0
	const n = 100
	for h := uint64(1); h <= n; h++ {
		blk, x := trontest.BusyBlock(h, parent, tronUSDT)
		parent = blk.ID
		transfers += x
		sb.Write(blk.Line())
	}
	p := filepath.Join(b.TempDir(), "blocks.jsonl")
	if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(sb.Len()))
	b.ResetTimer()
	var spent float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		st, err := pebblestore.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := TronAPIFile(st, p, Options{})
		if err != nil || res.Applied != n {
			b.Fatalf("%+v %v", res, err)
		}
		spent += res.Elapsed.Seconds()
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*n)/spent, "blocks/s")
	b.ReportMetric(float64(b.N*transfers)/spent, "transfers/s")
}

// TestTronAPIFileFork: a file whose chain forks from the stored one rolls
// the store back to the fork point, then continues on the file's chain.
func TestTronAPIFileFork(t *testing.T) {
	a := tronChain(10, "a", nil, 0)
	b := tronChain(12, "b", a, 5)
	st := openStore(t)
	if _, err := TronAPIFile(st, writeJSONL(t, a), Options{}); err != nil {
		t.Fatal(err)
	}
	res, err := TronAPIFile(st, writeJSONL(t, b), Options{BatchTxs: 4})
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped != 5 || res.RolledBack != 5 || res.Applied != 7 || res.Height != 11 {
		t.Fatalf("fork: %+v", res)
	}
	fresh := openStore(t)
	if _, err := TronAPIFile(fresh, writeJSONL(t, b), Options{}); err != nil {
		t.Fatal(err)
	}
	if digest(t, st) != digest(t, fresh) {
		t.Error("store after the fork differs from a fresh ingest of the file's chain")
	}
	checkTronBalances(t, st, b)
}

// TestNodeFromRange: with a stored chain, --from may not skip ahead of the
// stored tip (blocks are linked); with an empty store it starts there.
func TestNodeFromRange(t *testing.T) {
	chain := tronChain(12, "a", nil, 0)
	node := trontest.NewNode(chain)
	defer node.Server.Close()
	st := openStore(t)
	res, err := TronAPI(st, node.Server.URL, RPCRange{From: 4, HasFrom: true, To: 6, HasTo: true}, Options{})
	if err != nil || res.Applied != 3 || res.Height != 6 {
		t.Fatalf("4..6: %+v %v", res, err)
	}
	before := digest(t, st)
	if _, err := TronAPI(st, node.Server.URL, RPCRange{From: 9, HasFrom: true}, Options{}); err == nil || !strings.Contains(err.Error(), "continue from height 7") {
		t.Fatalf("skipping ahead: %v", err)
	}
	if digest(t, st) != before {
		t.Error("refused run changed the store")
	}
	res, err = TronAPI(st, node.Server.URL, RPCRange{From: 2, HasFrom: true}, Options{})
	if err != nil || res.Skipped != 5 || res.Applied != 5 || res.Height != 11 {
		t.Fatalf("from 2 over a store at 6: %+v %v", res, err)
	}
}

func TestNodeProgress(t *testing.T) {
	chain := tronChain(6, "a", nil, 0)
	node := trontest.NewNode(chain)
	defer node.Server.Close()
	var out strings.Builder
	if _, err := TronAPI(openStore(t), node.Server.URL, RPCRange{}, Options{Progress: &out}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "tron height 5/5 100.0%") || !strings.HasSuffix(out.String(), "\n") {
		t.Errorf("progress %q", out.String())
	}
	out.Reset()
	if _, err := TronAPIFile(openStore(t), writeJSONL(t, chain), Options{Progress: &out}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "tron height 5 ") {
		t.Errorf("file progress %q", out.String())
	}
}

// flaky proxies to upstream but answers every third request with HTTP 503
// (as a loaded node or provider does); always503 never answers.
func flaky(t *testing.T, upstream string, always503 bool) *httptest.Server {
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		if always503 || n%3 == 0 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		resp, err := http.Post(upstream+r.URL.Path, "application/json", bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer resp.Body.Close()
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func fastRetries(t *testing.T) {
	old := evmrpc.RetryWait
	evmrpc.RetryWait = time.Millisecond
	t.Cleanup(func() { evmrpc.RetryWait = old })
}

func TestNodeRetries(t *testing.T) {
	fastRetries(t)
	chain := tronChain(8, "a", nil, 0)
	node := trontest.NewNode(chain)
	defer node.Server.Close()
	clean, viaFlaky := openStore(t), openStore(t)
	if _, err := TronAPI(clean, node.Server.URL, RPCRange{}, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := TronAPI(viaFlaky, flaky(t, node.Server.URL, false).URL, RPCRange{}, Options{}); err != nil {
		t.Fatalf("transient 503s not retried: %v", err)
	}
	if digest(t, clean) != digest(t, viaFlaky) {
		t.Error("retried ingest differs")
	}
	_, err := TronAPI(openStore(t), flaky(t, node.Server.URL, true).URL, RPCRange{}, Options{})
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("a node that never answers: %v", err)
	}
}

// TestNodeReorgBelowStoredStart: a store that began at --from 4 cannot
// follow a reorg that replaces block 4 itself; the error says so and the
// store is unchanged.
func TestNodeReorgBelowStoredStart(t *testing.T) {
	a := tronChain(8, "a", nil, 0)
	b := tronChain(9, "b", a, 2)
	node := trontest.NewNode(a)
	defer node.Server.Close()
	st := openStore(t)
	if _, err := TronAPI(st, node.Server.URL, RPCRange{From: 4, HasFrom: true}, Options{}); err != nil {
		t.Fatal(err)
	}
	before := digest(t, st)
	node.SetChain(b)
	_, err := TronAPI(st, node.Server.URL, RPCRange{}, Options{})
	if err == nil || !strings.Contains(err.Error(), "down to height 4, where the stored chain starts") {
		t.Fatalf("got %v", err)
	}
	if digest(t, st) != before {
		t.Error("store changed")
	}
}
