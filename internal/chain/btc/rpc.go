package btc

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
)

// ErrRPC marks failures talking to a node: unreachable, refusing, or
// answering something that is not what was asked.
var ErrRPC = errors.New("btc: node RPC")

// RPC is a minimal JSON-RPC client for the calls Bitcoin Core and btcd share:
// getblockcount, getblockhash and getblock with verbosity 0 (raw hex).
type RPC struct {
	URL, User, Pass string
	HTTP            *http.Client
	// MaxResponse bounds a response body (0: maxRPCResponse).
	MaxResponse int
	id          atomic.Uint64
}

// NewRPC returns a client for url with basic-auth credentials.
func NewRPC(url, user, pass string) *RPC {
	return &RPC{URL: url, User: user, Pass: pass, HTTP: &http.Client{Timeout: 60 * time.Second}}
}

// ErrTooLarge marks a response larger than the client reads (with ErrRPC).
var ErrTooLarge = errors.New("response too large")

// maxRPCResponse bounds a response body (a 4 MB block is 8 MB of hex; a
// batch larger than this fails and is asked again one block at a time).
const maxRPCResponse = 32 << 20

// post sends a JSON-RPC request body and returns the response body and
// status without asking it to be a success: what the status means depends
// on the body (Bitcoin Core answers an RPC error with HTTP 500 and a
// JSON-RPC error object).
func (c *RPC) post(what string, body []byte) ([]byte, int, error) {
	req, err := http.NewRequest(http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %v", ErrRPC, what, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.User != "" || c.Pass != "" {
		req.SetBasicAuth(c.User, c.Pass)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %v", ErrRPC, what, err)
	}
	defer resp.Body.Close()
	limit := c.MaxResponse
	if limit <= 0 {
		limit = maxRPCResponse
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("%w: %s: reading response: %v", ErrRPC, what, err)
	}
	if len(data) > limit {
		return nil, resp.StatusCode, fmt.Errorf("%w: %s: %w: larger than %d bytes", ErrRPC, what, ErrTooLarge, limit)
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return nil, resp.StatusCode, fmt.Errorf("%w: %s: HTTP %d: check --rpc-user and --rpc-pass", ErrRPC, what, resp.StatusCode)
	}
	return data, resp.StatusCode, nil
}

type rpcRequest struct {
	JSONRPC string `json:"jsonrpc"`
	ID      uint64 `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

// rpcError is a JSON-RPC error member that is not null, or nil.
func rpcError(r rpcReply) (error, bool) {
	if r.err == nil || string(r.err) == "null" {
		return nil, true
	}
	var e struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(r.err, &e) != nil {
		return nil, false
	}
	return fmt.Errorf("error %d: %s", e.Code, e.Message), true
}

// call1 makes one request and returns its reply.
func (c *RPC) call1(method string, params []any) (rpcReply, error) {
	what := fmt.Sprintf("%s %v", method, params)
	body, _ := json.Marshal(rpcRequest{"1.0", c.id.Add(1), method, params})
	data, status, err := c.post(what, body)
	if err != nil {
		return rpcReply{}, err
	}
	replies, batch, err := scanReplies(data)
	if err != nil || batch || len(replies) != 1 {
		return rpcReply{}, fmt.Errorf("%w: %s: HTTP %d, not a JSON-RPC response: %q", ErrRPC, what, status, snippet(data))
	}
	r := replies[0]
	rerr, ok := rpcError(r)
	if !ok {
		return r, fmt.Errorf("%w: %s: HTTP %d, not a JSON-RPC response: %q", ErrRPC, what, status, snippet(data))
	}
	if rerr != nil {
		return r, fmt.Errorf("%w: %s: %v", ErrRPC, what, rerr)
	}
	if r.result == nil {
		return r, fmt.Errorf("%w: %s: HTTP %d, a JSON-RPC response without a result: %q", ErrRPC, what, status, snippet(data))
	}
	return r, nil
}

func (c *RPC) call(method string, params []any, out any) error {
	r, err := c.call1(method, params)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(r.result, out); err != nil {
		return fmt.Errorf("%w: %s %v: unexpected result %q: %v", ErrRPC, method, params, snippet(r.result), err)
	}
	return nil
}

// batch makes one batched request (a JSON array of calls of method, one a
// params entry) and returns the replies in the order of params. Any
// failure, of the node or of one call, is an error: callers ask again one
// call at a time, which names what failed.
func (c *RPC) batch(method string, params [][]any) ([]rpcReply, error) {
	what := fmt.Sprintf("batch of %d %s", len(params), method)
	reqs := make([]rpcRequest, len(params))
	base := c.id.Add(uint64(len(params))) - uint64(len(params)) + 1
	for k, p := range params {
		reqs[k] = rpcRequest{"1.0", base + uint64(k), method, p}
	}
	body, _ := json.Marshal(reqs)
	data, status, err := c.post(what, body)
	if err != nil {
		return nil, err
	}
	replies, isBatch, err := scanReplies(data)
	if err != nil || !isBatch || len(replies) != len(params) {
		return nil, fmt.Errorf("%w: %s: HTTP %d, not a batch of %d JSON-RPC responses: %q", ErrRPC, what, status, len(params), snippet(data))
	}
	out := make([]rpcReply, len(params))
	for _, r := range replies {
		var id uint64
		if json.Unmarshal(r.id, &id) != nil || id < base || id-base >= uint64(len(params)) || out[id-base].id != nil {
			return nil, fmt.Errorf("%w: %s: a reply with id %q, not one of the calls'", ErrRPC, what, snippet(r.id))
		}
		if rerr, ok := rpcError(r); rerr != nil || !ok || r.result == nil {
			return nil, fmt.Errorf("%w: %s: call %d failed: %q", ErrRPC, what, id-base, snippet(r.err))
		}
		out[id-base] = r
	}
	return out, nil
}

func snippet(b []byte) string {
	if len(b) > 120 {
		return string(b[:120]) + "…"
	}
	return string(b)
}

// BlockCount returns the node's best height.
func (c *RPC) BlockCount() (uint64, error) {
	var n int64
	if err := c.call("getblockcount", nil, &n); err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, fmt.Errorf("%w: getblockcount returned %d", ErrRPC, n)
	}
	return uint64(n), nil
}

// BlockHash returns the hash of the main-chain block at height.
func (c *RPC) BlockHash(height uint64) (chainhash.Hash, error) {
	var s string
	if err := c.call("getblockhash", []any{height}, &s); err != nil {
		return chainhash.Hash{}, err
	}
	return blockHash(height, s)
}

func blockHash(height uint64, s string) (chainhash.Hash, error) {
	h, err := chainhash.NewHashFromStr(s)
	if err != nil || len(s) != 64 {
		return chainhash.Hash{}, fmt.Errorf("%w: getblockhash %d returned %q", ErrRPC, height, snippet([]byte(s)))
	}
	return *h, nil
}

// BlockHashes returns the hashes of the main-chain blocks at heights from
// … from+n−1, asked in one batched request. On any error, ask again with
// BlockHash, which names the height that failed.
func (c *RPC) BlockHashes(from uint64, n int) ([]chainhash.Hash, error) {
	params := make([][]any, n)
	for k := range params {
		params[k] = []any{from + uint64(k)}
	}
	replies, err := c.batch("getblockhash", params)
	if err != nil {
		return nil, err
	}
	hashes := make([]chainhash.Hash, n)
	for k, r := range replies {
		var s string
		if err := json.Unmarshal(r.result, &s); err != nil {
			return nil, fmt.Errorf("%w: getblockhash %d: unexpected result %q", ErrRPC, from+uint64(k), snippet(r.result))
		}
		if hashes[k], err = blockHash(from+uint64(k), s); err != nil {
			return nil, err
		}
	}
	return hashes, nil
}

// RawBlock returns the serialized block with hash.
func (c *RPC) RawBlock(hash chainhash.Hash) ([]byte, error) {
	r, err := c.call1("getblock", []any{hash.String(), 0})
	if err != nil {
		return nil, err
	}
	return rawBlock(hash, r)
}

// RawBlocks returns the serialized blocks with hashes, asked in one batched
// request. On any error, ask again with RawBlock, which names the block
// that failed.
func (c *RPC) RawBlocks(hashes []chainhash.Hash) ([][]byte, error) {
	params := make([][]any, len(hashes))
	for k, h := range hashes {
		params[k] = []any{h.String(), 0}
	}
	replies, err := c.batch("getblock", params)
	if err != nil {
		return nil, err
	}
	raws := make([][]byte, len(hashes))
	for k, r := range replies {
		if raws[k], err = rawBlock(hashes[k], r); err != nil {
			return nil, err
		}
	}
	return raws, nil
}

// rawBlock decodes a getblock reply's hex.
func rawBlock(hash chainhash.Hash, r rpcReply) ([]byte, error) {
	hx := r.str
	if len(r.result) == 0 || r.result[0] != '"' {
		return nil, fmt.Errorf("%w: getblock %s: result is not a string: %q", ErrRPC, hash, snippet(r.result))
	}
	if !r.plain {
		var s string
		if err := json.Unmarshal(r.result, &s); err != nil {
			return nil, fmt.Errorf("%w: getblock %s: result is not a string: %q", ErrRPC, hash, snippet(r.result))
		}
		hx = []byte(s)
	}
	b := make([]byte, len(hx)/2)
	if _, err := hex.Decode(b, hx); err != nil {
		return nil, fmt.Errorf("%w: getblock %s: result is not hex: %v", ErrRPC, hash, err)
	}
	return b, nil
}

// Params identifies the node's network from its genesis block hash.
func (c *RPC) Params() (*chaincfg.Params, error) {
	h, err := c.BlockHash(0)
	if err != nil {
		return nil, err
	}
	for _, p := range []*chaincfg.Params{&chaincfg.MainNetParams, &chaincfg.TestNet3Params, &chaincfg.RegressionNetParams, &chaincfg.SigNetParams, &chaincfg.SimNetParams} {
		if *p.GenesisHash == h {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%w: unknown network with genesis block %s", ErrRPC, h)
}
