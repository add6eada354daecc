package ingest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/spoor-dev/spoor/internal/chain/btc"
	"github.com/spoor-dev/spoor/internal/chain/btc/btctestdata"
	"github.com/spoor-dev/spoor/internal/model"
)

// fakeNode is a JSON-RPC server serving the real mainnet blocks 0-255 the
// way Bitcoin Core and btcd do (getblockcount, getblockhash, getblock
// verbosity 0, and batches of calls, unless noBatch), which can be told to
// lie at one height. A stub, not a real node: no real node can be made to
// answer wrong blocks or garbage, and the honest path is covered by the
// btcd regtest test.
type fakeNode struct {
	raws    [][]byte
	hashes  []chainhash.Hash
	lieAt   int64
	lie     atomic.Value // string: how to lie at lieAt
	noBatch bool         // answer a batch as a node without batches does
	batches atomic.Int64 // batches answered
}

func newFakeNode(t *testing.T) *fakeNode {
	_, data := btctestdata.Blocks1To255(t)
	var gb bytes.Buffer
	chaincfg.MainNetParams.GenesisBlock.Serialize(&gb)
	f := &fakeNode{raws: [][]byte{gb.Bytes()}}
	for _, rec := range btctestdata.SplitRecords(data) {
		f.raws = append(f.raws, rec[8:])
	}
	for _, r := range f.raws {
		f.hashes = append(f.hashes, chainhash.DoubleHashH(r[:80]))
	}
	f.lie.Store("")
	return f
}

type fakeReq struct {
	ID     any
	Method string
	Params []json.RawMessage
}

func (f *fakeNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var reqs []fakeReq
	batch := len(body) > 0 && body[0] == '['
	if batch && !f.noBatch {
		json.Unmarshal(body, &reqs)
		f.batches.Add(1)
	} else {
		var req fakeReq
		json.Unmarshal(body, &req)
		reqs = []fakeReq{req}
	}
	var replies []any
	for _, req := range reqs {
		reply, special := f.answer(req)
		switch special {
		case "garbage":
			w.Write([]byte("<html>502 Bad Gateway</html>"))
			return
		case "hangup":
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		case "unknown":
			http.Error(w, "unknown method", http.StatusNotFound)
			return
		}
		replies = append(replies, reply)
	}
	if batch && !f.noBatch {
		slices.Reverse(replies) // a batch's replies may come in any order
		json.NewEncoder(w).Encode(replies)
	} else {
		json.NewEncoder(w).Encode(replies[0])
	}
}

// answer is the reply to one call, or a special way to fail the whole
// request.
func (f *fakeNode) answer(req fakeReq) (map[string]any, string) {
	lie := f.lie.Load().(string)
	reply := func(result any) map[string]any {
		return map[string]any{"id": req.ID, "result": result, "error": nil}
	}
	fail := func(code int, msg string) map[string]any {
		return map[string]any{"id": req.ID, "result": nil, "error": map[string]any{"code": code, "message": msg}}
	}
	switch req.Method {
	case "getblockcount":
		return reply(len(f.raws) - 1), ""
	case "getblockhash":
		var h int64
		json.Unmarshal(req.Params[0], &h)
		switch {
		case h == f.lieAt && lie == "short-hash":
			return reply("00000000deadbeef"), ""
		case h == f.lieAt && lie == "other-hash":
			return reply(f.hashes[h+1].String()), "" // a real block, but not the one at h
		case h == f.lieAt && lie == "hangup":
			return nil, "hangup"
		case h >= 0 && h < int64(len(f.hashes)):
			return reply(f.hashes[h].String()), ""
		}
		return fail(-8, "Block height out of range"), ""
	case "getblock":
		var s string
		json.Unmarshal(req.Params[0], &s)
		hash, _ := chainhash.NewHashFromStr(s)
		for i, h := range f.hashes {
			if h != *hash {
				continue
			}
			switch {
			case int64(i) == f.lieAt && lie == "garbage":
				return nil, "garbage"
			case int64(i) == f.lieAt && lie == "not-hex":
				return reply("zz" + hex.EncodeToString(f.raws[i])), ""
			case int64(i) == f.lieAt && lie == "wrong-block":
				return reply(hex.EncodeToString(f.raws[i+1])), ""
			case int64(i) == f.lieAt && lie == "truncated":
				return reply(hex.EncodeToString(f.raws[i][:len(f.raws[i])-10])), ""
			}
			return reply(hex.EncodeToString(f.raws[i])), ""
		}
		return fail(-5, "Block not found"), ""
	}
	return nil, "unknown"
}

// TestRPCLyingOrUnreachableNode: a node that answers garbage, a wrong block,
// a wrong hash, or hangs up at height 150, and a closed port. Every failure
// names the height (and the hash when one is known) and leaves the store
// exactly as it was.
func TestRPCLyingOrUnreachableNode(t *testing.T) {
	for _, noBatch := range []bool{false, true} {
		t.Run(fmt.Sprintf("noBatch=%v", noBatch), func(t *testing.T) { testLyingNode(t, noBatch) })
	}
}

func testLyingNode(t *testing.T, noBatch bool) {
	f := newFakeNode(t)
	f.lieAt = 150
	f.noBatch = noBatch
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := btc.NewRPC(srv.URL, "u", "p")
	s := openStore(t)
	if res, err := BTCRPC(s, c, RPCRange{To: 100, HasTo: true}, Options{BatchTxs: 7}); err != nil || res.Height != 100 || res.Applied != 101 {
		t.Fatalf("honest ingest to 100: %+v %v", res, err)
	}
	before := digest(t, s)
	mark, _ := s.Mark(model.BTC)
	h150 := f.hashes[150].String()
	for _, tc := range []struct {
		lie  string
		want []string
	}{
		{"garbage", []string{"height 150", h150, "not a JSON-RPC response", "502 Bad Gateway"}},
		{"not-hex", []string{"height 150", h150, "not hex"}},
		{"wrong-block", []string{"block 150", h150, "content hashes to " + f.hashes[151].String()}},
		{"truncated", []string{"block 150 " + h150, srv.URL, "exceeds remaining", "at offset", "node RPC"}},
		{"short-hash", []string{"height 150", "getblockhash 150", "00000000deadbeef"}},
		{"other-hash", []string{"block 150", hex.EncodeToString(reverse(f.hashes[151])), "does not match stored tip"}},
		{"hangup", []string{"height 150", "getblockhash", "EOF"}},
	} {
		f.lie.Store(tc.lie)
		_, err := BTCRPC(s, c, RPCRange{}, Options{BatchTxs: 7})
		if err == nil {
			t.Fatalf("%s: ingest succeeded", tc.lie)
		}
		t.Logf("%s: %v", tc.lie, err)
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Fatalf("%s: error %q does not name %q", tc.lie, err, w)
			}
		}
		if digest(t, s) != before {
			t.Fatalf("%s: failed ingest changed the store", tc.lie)
		}
		if m, _ := s.Mark(model.BTC); m != mark {
			t.Fatalf("%s: mark %+v, want %+v", tc.lie, m, mark)
		}
	}
	// Unreachable: a closed port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	_, err = BTCRPC(s, btc.NewRPC(closed, "u", "p"), RPCRange{}, Options{})
	if !errors.Is(err, btc.ErrRPC) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("closed port: err = %v", err)
	}
	if digest(t, s) != before {
		t.Fatal("unreachable node changed the store")
	}
	// The honest node again: the ingest completes from where the store is.
	f.lie.Store("")
	if res, err := BTCRPC(s, c, RPCRange{}, Options{BatchTxs: 7}); err != nil || res.Height != 255 || res.Applied != 155 {
		t.Fatalf("honest ingest after the failures: %+v %v", res, err)
	}
	// The blocks came in batches from a node that serves them, one call at
	// a time from one that does not.
	if b := f.batches.Load(); noBatch != (b == 0) {
		t.Fatalf("noBatch=%v: the node answered %d batches", noBatch, b)
	}
	fresh := openStore(t)
	if _, err := BTCRPC(fresh, c, RPCRange{}, Options{BatchTxs: 7}); err != nil {
		t.Fatal(err)
	}
	if digest(t, fresh) != digest(t, s) {
		t.Fatal("one ingest of blocks 0-255 differs from the ingest that resumed after the failures")
	}
}

// TestRPCBatchTooLarge: a batch whose answer passes the client's bound
// (blocks that grew at once) is asked again one block at a time, and the
// ingest goes on in batches, equal to one made one call at a time.
func TestRPCBatchTooLarge(t *testing.T) {
	f := newFakeNode(t)
	f.lieAt = -1
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := btc.NewRPC(srv.URL, "u", "p")
	c.MaxResponse = 8 << 10 // about 16 of these blocks' answers
	s := openStore(t)
	if res, err := BTCRPC(s, c, RPCRange{}, Options{BatchTxs: 7}); err != nil || res.Height != 255 {
		t.Fatalf("ingest: %+v %v", res, err)
	}
	batches := f.batches.Load()
	f.noBatch = true
	one := openStore(t)
	if _, err := BTCRPC(one, btc.NewRPC(srv.URL, "u", "p"), RPCRange{}, Options{BatchTxs: 7}); err != nil {
		t.Fatal(err)
	}
	if digest(t, one) != digest(t, s) {
		t.Fatal("the ingest whose batches were too large differs from one made one call at a time")
	}
	// Hashes come in one batch; every getblock batch of more than a few
	// blocks is too large: it fails, and the fetcher tries again.
	if batches < 3 {
		t.Fatalf("%d batches: the fetcher gave up batches after one too large", batches)
	}
}

func reverse(h chainhash.Hash) []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = h[31-i]
	}
	return b
}
