package btc

import (
	"bytes"
	"encoding/json"
	"errors"
)

// A JSON-RPC answer to getblock (verbosity 0) is one JSON string of hex: a
// block of 1.5 MB is 3 MB of it. encoding/json checks such a body at about
// 140–190 MB/s (≈ 20 ms for that block, one core), ten times the cost of
// decoding the hex, so the client finds the members of a response object
// itself: strings are spanned with bytes.IndexByte, and only the small
// members (error, id, a short result) go through encoding/json. The long
// result is checked by its consumer: hex.Decode refuses any byte that is not
// a hex digit, so a result that decodes was a valid JSON string.

// rpcReply is one JSON-RPC response object's members, as spans of the body
// (nil when absent). Member names match as encoding/json matches a struct's
// fields (case-insensitively, the last of duplicates wins).
type rpcReply struct {
	result, err, id []byte
	// plain: result is a string without escapes; str is its content.
	plain bool
	str   []byte
}

var errJSON = errors.New("malformed JSON")

// scanReply scans one response object starting at b[i] (after white
// space), inside depth levels of arrays, and returns it and the index after
// it.
func scanReply(b []byte, i, depth int) (rpcReply, int, error) {
	var r rpcReply
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != '{' {
		return r, i, errJSON
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return r, i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return r, i, errJSON
		}
		k0 := i
		end, keyEsc, err := scanString(b, i)
		if err != nil {
			return r, i, err
		}
		key := b[k0+1 : end-1]
		if !json.Valid(b[k0:end]) {
			return r, i, errJSON
		}
		if keyEsc {
			var s string
			if json.Unmarshal(b[k0:end], &s) != nil {
				return r, i, errJSON
			}
			key = []byte(s)
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return r, i, errJSON
		}
		i = skipSpace(b, i+1)
		v0 := i
		plain := false // a string without escapes
		if i < len(b) && b[i] == '"' {
			var esc bool
			i, esc, err = scanString(b, i)
			plain = !esc
		} else {
			i, err = skipValue(b, i, depth+1)
		}
		if err != nil {
			return r, i, err
		}
		v := b[v0:i]
		result := bytes.EqualFold(key, []byte("result"))
		// Every member but a result string without escapes is checked by
		// encoding/json (they are small); that one is checked by its
		// consumer (hex.Decode), so that what the client accepts,
		// encoding/json accepts.
		if (!result || !plain) && !json.Valid(v) {
			return r, i, errJSON
		}
		switch {
		case result:
			r.result, r.plain, r.str = v, plain, nil
			if plain {
				r.str = v[1 : len(v)-1]
			}
		case bytes.EqualFold(key, []byte("error")):
			r.err = v
		case bytes.EqualFold(key, []byte("id")):
			r.id = v
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return r, i, errJSON
		}
		if b[i] == '}' {
			return r, i + 1, nil
		}
		if b[i] != ',' {
			return r, i, errJSON
		}
		i = skipSpace(b, i+1)
	}
}

// scanReplies scans a body holding one response object, or a batch: an
// array of them. batch says which it was.
func scanReplies(b []byte) (replies []rpcReply, batch bool, err error) {
	i := skipSpace(b, 0)
	if i < len(b) && b[i] == '[' {
		batch = true
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			i++
		} else {
			for {
				var r rpcReply
				if r, i, err = scanReply(b, i, 1); err != nil {
					return nil, batch, err
				}
				replies = append(replies, r)
				i = skipSpace(b, i)
				if i < len(b) && b[i] == ']' {
					i++
					break
				}
				if i >= len(b) || b[i] != ',' {
					return nil, batch, errJSON
				}
				i++
			}
		}
	} else {
		var r rpcReply
		if r, i, err = scanReply(b, i, 0); err != nil {
			return nil, false, err
		}
		replies = []rpcReply{r}
	}
	if skipSpace(b, i) != len(b) {
		return nil, batch, errJSON
	}
	return replies, batch, nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString spans the string starting at b[i] (a quote) and returns the
// index after its closing quote and whether it holds escapes. Its content
// is not checked here: a consumer of a plain string checks it (hex), any
// other string goes through encoding/json.
func scanString(b []byte, i int) (end int, esc bool, err error) {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return len(b), esc, errJSON
		}
		q := j + k
		if bytes.IndexByte(b[j:q], '\\') < 0 {
			return q + 1, esc, nil
		}
		esc = true
		// Walk the escapes of this stretch: the quote at q ends the
		// string unless an odd run of backslashes precedes it.
		n := 0
		for p := q - 1; p >= j && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1, esc, nil
		}
		j = q + 1
	}
}

// maxDepth bounds the nesting skipValue follows: a hostile body could nest
// millions deep, and a goroutine stack that outgrows its limit is a fatal
// error. encoding/json has the same bound, so both refuse the same bodies.
const maxDepth = 10000

// skipValue returns the index after the JSON value starting at b[i], inside
// depth levels of objects and arrays. It only spans the value: scanReply has
// encoding/json check it.
func skipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return i, errJSON
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := scanString(b, i)
		return end, err
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return i, errJSON
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		j := skipSpace(b, i+1)
		if j < len(b) && b[j] == closer {
			return j + 1, nil
		}
		for {
			var err error
			if c == '{' {
				if j >= len(b) || b[j] != '"' {
					return j, errJSON
				}
				if j, _, err = scanString(b, j); err != nil {
					return j, err
				}
				j = skipSpace(b, j)
				if j >= len(b) || b[j] != ':' {
					return j, errJSON
				}
				j = skipSpace(b, j+1)
			}
			if j, err = skipValue(b, j, depth+1); err != nil {
				return j, err
			}
			j = skipSpace(b, j)
			if j >= len(b) {
				return j, errJSON
			}
			if b[j] == closer {
				return j + 1, nil
			}
			if b[j] != ',' {
				return j, errJSON
			}
			j = skipSpace(b, j+1)
		}
	default:
		j := i
		for j < len(b) && (b[j] >= 'a' && b[j] <= 'z' || b[j] >= '0' && b[j] <= '9' || b[j] == '-' || b[j] == '+' || b[j] == '.' || b[j] == 'E') {
			j++
		}
		if j == i {
			return j, errJSON
		}
		return j, nil // checked by scanReply
	}
}
