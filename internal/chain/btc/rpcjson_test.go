package btc

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
)

// stdReplies is the reference: encoding/json's reading of a response body
// (one object or a batch) into the members the client uses.
func stdReplies(b []byte) (replies []rpcReply, batch bool, ok bool) {
	type env struct {
		Result, Error, ID json.RawMessage
	}
	var one env
	var many []env
	t := bytes.TrimLeft(b, " \t\r\n")
	if len(t) > 0 && t[0] == '[' {
		if json.Unmarshal(b, &many) != nil {
			return nil, true, false
		}
		batch = true
	} else {
		// encoding/json takes a null body for an empty struct: a reply
		// is an object.
		if len(t) == 0 || t[0] != '{' || json.Unmarshal(b, &one) != nil {
			return nil, false, false
		}
		many = []env{one}
	}
	for _, e := range many {
		replies = append(replies, rpcReply{result: e.Result, err: e.Error, id: e.ID})
	}
	return replies, batch, true
}

// hexResult is what a client reading a getblock result gets: the decoded
// bytes, or ok = false.
func hexResult(r rpcReply) ([]byte, bool) {
	b, err := rawBlock([32]byte{}, r)
	return b, err == nil
}

func hexResultStd(result json.RawMessage) ([]byte, bool) {
	var s string
	if len(result) == 0 || result[0] != '"' {
		return nil, false
	}
	if json.Unmarshal(result, &s) != nil {
		return nil, false
	}
	b, err := hex.DecodeString(s)
	return b, err == nil
}

// checkAgainstStd fails when scanReplies and encoding/json disagree on body:
// where encoding/json reads it, the client must read the same members and
// decode the same block; where it refuses, the client may accept only a
// body whose every member it reads later fails to decode (a long string is
// checked by its hex decoder, not scanned twice).
func checkAgainstStd(t *testing.T, body []byte) {
	t.Helper()
	got, gotBatch, err := scanReplies(body)
	want, wantBatch, ok := stdReplies(body)
	if !ok {
		if err != nil {
			return
		}
		// Only a result string without escapes is left to its consumer:
		// the scanner may accept what encoding/json refuses only there,
		// and the hex decoder must then refuse it.
		refused := false
		for _, r := range got {
			if r.plain && !json.Valid(r.result) {
				if _, ok := hexResult(r); ok {
					t.Fatalf("%q: a result encoding/json refuses decodes as hex", body)
				}
				refused = true
			}
		}
		if !refused {
			t.Fatalf("%q: encoding/json refuses the body, the scanner reads %+v", body, got)
		}
		return
	}
	if err != nil {
		t.Fatalf("%q: encoding/json reads it, the scanner says %v", body, err)
	}
	if gotBatch != wantBatch || len(got) != len(want) {
		t.Fatalf("%q: scanner batch=%v %d replies, encoding/json batch=%v %d", body, gotBatch, len(got), wantBatch, len(want))
	}
	for k := range got {
		g, w := got[k], want[k]
		if !bytes.Equal(g.err, w.err) || !bytes.Equal(g.id, w.id) || !bytes.Equal(g.result, w.result) {
			t.Fatalf("%q reply %d: scanner %q %q %q, encoding/json %q %q %q", body, k, g.result, g.err, g.id, w.result, w.err, w.id)
		}
		gb, gok := hexResult(g)
		wb, wok := hexResultStd(w.result)
		if gok != wok || gok && !bytes.Equal(gb, wb) {
			t.Fatalf("%q reply %d: scanner decodes %x %v, encoding/json %x %v", body, k, gb, gok, wb, wok)
		}
	}
}

var replySeeds = []string{
	`{"result":"00ff10","error":null,"id":7}`,
	`{"id":7,"error":null,"result":"00ff10"}`,
	` { "result" : "ab" , "error" : null , "id" : "x" } `,
	`{"result":"\u0030\u0030","error":null,"id":1}`,
	`{"result":"0\"0","error":null,"id":1}`,
	`{"result":"0\\","error":null,"id":1}`,
	`{"result":"zz00","error":null,"id":1}`,
	`{"result":"abc","error":null,"id":1}`,
	`{"result":null,"error":{"code":-5,"message":"Block not found"},"id":1}`,
	`{"result":12345,"error":null,"id":1}`,
	`{"Result":"aa","RESULT":"bb","id":1}`,
	`{"r\u0065sult":"aa","id":1}`,
	`{"result":"aa","extra":[1,{"a":"b"},"c\n"],"id":1}`,
	`{"result":"aa","extra":"bad` + "\x01" + `","id":1}`,
	`{"result":"a` + "\x01" + `a","id":1}`,
	`[{"result":"aa","error":null,"id":1},{"result":"bb","error":null,"id":2}]`,
	`[]`,
	`[{"result":"aa"},]`,
	`{"result":"aa",}`,
	`{"result":"aa"`,
	`{"result":"aa"} x`,
	`<html>502 Bad Gateway</html>`,
	`null`,
	`{"result":tru,"id":1}`,
	`{"result":-1.5e+3,"id":1}`,
	`{"result":01,"id":1}`,
	`{"result":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],"id":1}`,
}

func TestScanReplies(t *testing.T) {
	for _, s := range replySeeds {
		checkAgainstStd(t, []byte(s))
	}
	for _, depth := range []int{maxDepth - 2, maxDepth - 1, maxDepth, 1 << 20} {
		nest := strings.Repeat("[", depth) + strings.Repeat("]", depth)
		checkAgainstStd(t, []byte(`{"x":`+nest+`}`))
		checkAgainstStd(t, []byte(`[{"x":`+nest+`}]`))
	}
	// The fast path: a plain hex result is a span of the body, not a copy.
	body := []byte(`{"result":"` + strings.Repeat("ab", 1000) + `","error":null,"id":3}`)
	got, _, err := scanReplies(body)
	if err != nil || !got[0].plain || &got[0].str[0] != &body[11] {
		t.Fatalf("plain result: %v %+v", err, got)
	}
}

func FuzzScanReplies(f *testing.F) {
	for _, s := range replySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkAgainstStd(t, body) })
}
