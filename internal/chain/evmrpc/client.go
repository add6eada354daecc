// Package evmrpc reads an Ethereum (or any EVM) node over its JSON-RPC API
// and turns blocks into spoor's canonical model: native ETH value transfers
// of successful transactions, fees, failed transactions, ERC-20 Transfer
// logs of any contract and Tether/Circle blacklist events (as store facts),
// and what each block credits (its fee recipient's priority fees,
// beacon-chain withdrawals, mainnet's pre-merge block and uncle rewards) as
// a block-credits pseudo-transaction. Token symbol and decimals are learned
// with eth_call.
//
// It is a small client over net/http: no go-ethereum in non-test code
// (go-ethereum is GPL; the tests run it as a real chain).
package evmrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// maxResponse bounds one HTTP response body (a mainnet block with all its
// receipts is a few MB).
const maxResponse = 512 << 20

// RPCError is an error object returned by the node.
type RPCError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *RPCError) Error() string { return fmt.Sprintf("rpc error %d: %s", e.Code, e.Message) }

// codeMethodNotFound is JSON-RPC's "method not found".
const codeMethodNotFound = -32601

// Client talks JSON-RPC 2.0 over HTTP POST to one node.
type Client struct {
	URL  string
	HTTP *http.Client
	id   atomic.Uint64
	// noBlockReceipts is set once the node answered that it lacks
	// eth_getBlockReceipts; receipts are then fetched per transaction.
	noBlockReceipts atomic.Bool
	// Traces asks the node for every block's call traces
	// (debug_traceBlockByHash with the callTracer) and stores the value
	// contracts move as internal transfers (see DecodeTracedBlock).
	Traces bool
	// chainID caches eth_chainId (haveChainID says it is set): block
	// rewards depend on it.
	chainID     atomic.Uint64
	haveChainID atomic.Bool
}

// New returns a client for the node at url (e.g. http://127.0.0.1:8545).
func New(url string) *Client {
	return &Client{URL: url, HTTP: &http.Client{Timeout: 120 * time.Second}}
}

type request struct {
	JSONRPC string `json:"jsonrpc"`
	ID      uint64 `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

type response struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *RPCError       `json:"error"`
}

// call is one request of a batch and where its answer goes.
type call struct {
	method string
	params []any
	result json.RawMessage
	err    error
}

// Retries is how many times a request is retried after a transport error
// or an HTTP 429/502/503/504 (nodes and providers shed load that way); the
// wait doubles from RetryWait. Reads are idempotent, so a retry is safe.
var (
	Retries   = 3
	RetryWait = 500 * time.Millisecond
)

// Transient reports whether an HTTP status is worth a retry.
func Transient(code int) bool {
	return code == http.StatusTooManyRequests || code == http.StatusBadGateway ||
		code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout
}

// WithRetries runs one request, and again after a failure it calls
// transient, up to Retries more times with a doubling wait. The Tron node
// client shares this policy.
func WithRetries(once func() (data []byte, transient bool, err error)) ([]byte, error) {
	wait := RetryWait
	for try := 0; ; try++ {
		data, retry, err := once()
		if err == nil || !retry || try >= Retries {
			return data, err
		}
		time.Sleep(wait)
		wait *= 2
	}
}

func (c *Client) post(body []byte) ([]byte, error) {
	return WithRetries(func() ([]byte, bool, error) { return c.postOnce(body) })
}

func (c *Client) postOnce(body []byte) (data []byte, retry bool, err error) {
	req, err := http.NewRequest(http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return nil, false, fmt.Errorf("evmrpc: %s: %w", c.URL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, true, fmt.Errorf("evmrpc: %s: %w", c.URL, err)
	}
	defer resp.Body.Close()
	data, err = io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, true, fmt.Errorf("evmrpc: %s: reading response: %w", c.URL, err)
	}
	if len(data) > maxResponse {
		return nil, false, fmt.Errorf("evmrpc: %s: response larger than %d bytes", c.URL, maxResponse)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, Transient(resp.StatusCode), fmt.Errorf("evmrpc: %s: HTTP %s, not a JSON-RPC response: %q", c.URL, resp.Status, BodySnippet(data))
	}
	return data, false, nil
}

// batch sends calls in one HTTP request and fills each call's result or
// err. The returned error is a transport or framing failure of the whole
// batch.
func (c *Client) batch(calls []*call) error {
	if len(calls) == 0 {
		return nil
	}
	reqs := make([]request, len(calls))
	byID := make(map[uint64]*call, len(calls))
	for i, cl := range calls {
		id := c.id.Add(1)
		reqs[i] = request{JSONRPC: "2.0", ID: id, Method: cl.method, Params: cl.params}
		if reqs[i].Params == nil {
			reqs[i].Params = []any{}
		}
		byID[id] = cl
	}
	var body []byte
	var err error
	if len(reqs) == 1 {
		body, err = json.Marshal(reqs[0])
	} else {
		body, err = json.Marshal(reqs)
	}
	if err != nil {
		return err
	}
	data, err := c.post(body)
	if err != nil {
		return err
	}
	var resps []response
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '{' {
		var r response
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("evmrpc: %s: %s: malformed JSON-RPC response: %v", c.URL, calls[0].method, err)
		}
		if len(calls) > 1 && r.Error != nil {
			return fmt.Errorf("evmrpc: %s: batch request refused: %w", c.URL, r.Error)
		}
		resps = []response{r}
	} else if err := json.Unmarshal(data, &resps); err != nil {
		return fmt.Errorf("evmrpc: %s: %s: malformed JSON-RPC response: %v", c.URL, calls[0].method, err)
	}
	for _, r := range resps {
		id, err := strconv.ParseUint(string(r.ID), 10, 64)
		cl := byID[id]
		if err != nil || cl == nil {
			return fmt.Errorf("evmrpc: %s: response with unknown id %.40s", c.URL, r.ID)
		}
		delete(byID, id)
		if r.Error != nil {
			cl.err = fmt.Errorf("%s: %w", cl.method, r.Error)
			continue
		}
		if len(r.Result) == 0 {
			cl.err = fmt.Errorf("%s: response has neither result nor error", cl.method)
			continue
		}
		cl.result = r.Result
	}
	for _, cl := range byID {
		cl.err = fmt.Errorf("%s: no response in the batch", cl.method)
	}
	return nil
}

// Call makes one JSON-RPC call and unmarshals its result into out.
func (c *Client) Call(out any, method string, params ...any) error {
	cl := &call{method: method, params: params}
	if err := c.batch([]*call{cl}); err != nil {
		return err
	}
	if cl.err != nil {
		return fmt.Errorf("evmrpc: %s: %w", c.URL, cl.err)
	}
	if err := json.Unmarshal(cl.result, out); err != nil {
		return fmt.Errorf("evmrpc: %s: %s: malformed result: %v", c.URL, method, err)
	}
	return nil
}

// BlockNumber returns the node's head height.
func (c *Client) BlockNumber() (uint64, error) {
	var s string
	if err := c.Call(&s, "eth_blockNumber"); err != nil {
		return 0, err
	}
	n, err := quantity(s)
	if err != nil {
		return 0, fmt.Errorf("evmrpc: %s: eth_blockNumber: %v", c.URL, err)
	}
	return n, nil
}

// ChainID returns the chain id (eth_chainId), asked once per client.
func (c *Client) ChainID() (uint64, error) {
	if c.haveChainID.Load() {
		return c.chainID.Load(), nil
	}
	var s string
	if err := c.Call(&s, "eth_chainId"); err != nil {
		return 0, err
	}
	n, err := quantity(s)
	if err != nil {
		return 0, fmt.Errorf("evmrpc: %s: eth_chainId: %v", c.URL, err)
	}
	c.chainID.Store(n)
	c.haveChainID.Store(true)
	return n, nil
}

// Network names a chain id the way spoor records networks.
func Network(chainID uint64) string {
	switch chainID {
	case 1:
		return "mainnet"
	case 11155111:
		return "sepolia"
	case 17000:
		return "holesky"
	case 560048:
		return "hoodi"
	}
	return "chain-" + strconv.FormatUint(chainID, 10)
}

// BlockHash returns the hash of the block at height n.
func (c *Client) BlockHash(n uint64) ([32]byte, error) {
	var h struct {
		Hash *string `json:"hash"`
	}
	var raw json.RawMessage
	if err := c.Call(&raw, "eth_getBlockByNumber", hexNum(n), false); err != nil {
		return [32]byte{}, err
	}
	if string(bytes.TrimSpace(raw)) == "null" {
		return [32]byte{}, fmt.Errorf("evmrpc: %s: block %d: %w", c.URL, n, ErrNoBlock)
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return [32]byte{}, fmt.Errorf("evmrpc: %s: block %d: malformed block: %v", c.URL, n, err)
	}
	hash, err := hash32(h.Hash)
	if err != nil {
		return hash, fmt.Errorf("evmrpc: %s: block %d: field hash: %v", c.URL, n, err)
	}
	return hash, nil
}

// ErrNoBlock is returned when the node has no block at a height.
var ErrNoBlock = errors.New("no such block")

func hexNum(n uint64) string { return "0x" + strconv.FormatUint(n, 16) }

// Blocks fetches and decodes the blocks from..to (inclusive) with their
// receipts (and traces, and on mainnet before the merge uncle headers),
// using batch requests.
func (c *Client) Blocks(from, to uint64) ([]*Decoded, error) {
	if to < from {
		return nil, nil
	}
	chainID, err := c.ChainID()
	if err != nil {
		return nil, err
	}
	n := int(to - from + 1)
	calls := make([]*call, n)
	for i := range calls {
		calls[i] = &call{method: "eth_getBlockByNumber", params: []any{hexNum(from + uint64(i)), true}}
	}
	if err := c.batch(calls); err != nil {
		return nil, err
	}
	raws := make([]json.RawMessage, n)
	for i, cl := range calls {
		h := from + uint64(i)
		if cl.err != nil {
			return nil, fmt.Errorf("evmrpc: %s: block %d: %w", c.URL, h, cl.err)
		}
		if string(bytes.TrimSpace(cl.result)) == "null" {
			return nil, fmt.Errorf("evmrpc: %s: block %d: %w", c.URL, h, ErrNoBlock)
		}
		raws[i] = cl.result
	}
	receipts, err := c.receipts(from, raws)
	if err != nil {
		return nil, err
	}
	traces := make([]json.RawMessage, n)
	if c.Traces {
		if traces, err = c.traces(from, raws); err != nil {
			return nil, err
		}
	}
	uncles, err := c.uncles(chainID, from, raws)
	if err != nil {
		return nil, err
	}
	out := make([]*Decoded, n)
	for i := range raws {
		d, err := DecodeFull(from+uint64(i), Input{ChainID: chainID, Block: raws[i], Receipts: receipts[i], Traces: traces[i], Uncles: uncles[i]})
		if err != nil {
			return nil, fmt.Errorf("evmrpc: %s: %w", c.URL, err)
		}
		out[i] = d
	}
	return out, nil
}

// receipts fetches every block's receipts: eth_getBlockReceipts where the
// node has it, else eth_getTransactionReceipt per transaction.
func (c *Client) receipts(from uint64, blocks []json.RawMessage) ([][]json.RawMessage, error) {
	out := make([][]json.RawMessage, len(blocks))
	if !c.noBlockReceipts.Load() {
		calls := make([]*call, len(blocks))
		for i := range calls {
			hash, err := peekHash(blocks[i])
			if err != nil {
				return nil, fmt.Errorf("evmrpc: %s: block %d: field hash: %v", c.URL, from+uint64(i), err)
			}
			calls[i] = &call{method: "eth_getBlockReceipts", params: []any{hash}}
		}
		if err := c.batch(calls); err != nil {
			return nil, err
		}
		ok := true
		for i, cl := range calls {
			var re *RPCError
			if errors.As(cl.err, &re) && re.Code == codeMethodNotFound {
				c.noBlockReceipts.Store(true)
				ok = false
				break
			}
			if cl.err != nil {
				return nil, fmt.Errorf("evmrpc: %s: block %d: %w", c.URL, from+uint64(i), cl.err)
			}
			if err := json.Unmarshal(cl.result, &out[i]); err != nil {
				return nil, fmt.Errorf("evmrpc: %s: block %d: eth_getBlockReceipts: want an array of receipts: %v", c.URL, from+uint64(i), err)
			}
		}
		if ok {
			return out, nil
		}
	}
	// Per transaction.
	var calls []*call
	var owner []int
	for i := range blocks {
		hashes, err := peekTxHashes(blocks[i])
		if err != nil {
			return nil, fmt.Errorf("evmrpc: %s: block %d: %v", c.URL, from+uint64(i), err)
		}
		out[i] = make([]json.RawMessage, 0, len(hashes))
		for _, h := range hashes {
			calls = append(calls, &call{method: "eth_getTransactionReceipt", params: []any{h}})
			owner = append(owner, i)
		}
	}
	const chunk = 500
	for lo := 0; lo < len(calls); lo += chunk {
		hi := min(lo+chunk, len(calls))
		if err := c.batch(calls[lo:hi]); err != nil {
			return nil, err
		}
	}
	for k, cl := range calls {
		if cl.err != nil {
			return nil, fmt.Errorf("evmrpc: %s: block %d: %w", c.URL, from+uint64(owner[k]), cl.err)
		}
		if string(bytes.TrimSpace(cl.result)) == "null" {
			return nil, fmt.Errorf("evmrpc: %s: block %d: eth_getTransactionReceipt(%v) returned null: the node's transaction index lacks it (not indexed yet, or pruned)",
				c.URL, from+uint64(owner[k]), cl.params[0])
		}
		out[owner[k]] = append(out[owner[k]], cl.result)
	}
	return out, nil
}

// uncles fetches the uncle headers of the blocks that earn uncle rewards
// (mainnet before the merge), by block hash and index.
func (c *Client) uncles(chainID, from uint64, blocks []json.RawMessage) ([][]json.RawMessage, error) {
	out := make([][]json.RawMessage, len(blocks))
	var calls []*call
	var owner []int
	for i := range blocks {
		if !wantUncles(chainID, from+uint64(i)) {
			continue
		}
		var b struct {
			Hash   *string  `json:"hash"`
			Uncles []string `json:"uncles"`
		}
		if err := json.Unmarshal(blocks[i], &b); err != nil {
			return nil, fmt.Errorf("evmrpc: %s: block %d: field uncles: %v", c.URL, from+uint64(i), err)
		}
		if len(b.Uncles) == 0 {
			continue
		}
		if _, err := hash32(b.Hash); err != nil {
			return nil, fmt.Errorf("evmrpc: %s: block %d: field hash: %v", c.URL, from+uint64(i), err)
		}
		for k := range b.Uncles {
			calls = append(calls, &call{method: "eth_getUncleByBlockHashAndIndex", params: []any{*b.Hash, hexNum(uint64(k))}})
			owner = append(owner, i)
		}
	}
	if err := c.batch(calls); err != nil {
		return nil, err
	}
	for k, cl := range calls {
		if cl.err != nil {
			return nil, fmt.Errorf("evmrpc: %s: block %d: %w", c.URL, from+uint64(owner[k]), cl.err)
		}
		out[owner[k]] = append(out[owner[k]], cl.result)
	}
	return out, nil
}

// ErrNoTracing is returned when Traces is set and the node does not serve
// debug_traceBlockByHash.
var ErrNoTracing = errors.New("the node does not serve debug_traceBlockByHash: enable its debug API (go-ethereum: --http.api eth,debug; Erigon, Reth and Nethermind serve it too), or ingest without --traces, leaving out the ETH that contracts send")

// traces fetches every block's callTracer traces, by block hash.
func (c *Client) traces(from uint64, blocks []json.RawMessage) ([]json.RawMessage, error) {
	// Blocks without transactions (the genesis block, which nodes refuse
	// to trace, among them) need no request: their traces are [].
	out := make([]json.RawMessage, len(blocks))
	calls := make([]*call, len(blocks))
	var asked []*call
	for i := range calls {
		var b struct {
			Hash         *string           `json:"hash"`
			Transactions []json.RawMessage `json:"transactions"`
		}
		if err := json.Unmarshal(blocks[i], &b); err != nil {
			return nil, fmt.Errorf("evmrpc: %s: block %d: %v", c.URL, from+uint64(i), err)
		}
		if len(b.Transactions) == 0 {
			out[i] = json.RawMessage("[]")
			continue
		}
		if _, err := hash32(b.Hash); err != nil {
			return nil, fmt.Errorf("evmrpc: %s: block %d: field hash: %v", c.URL, from+uint64(i), err)
		}
		hash := *b.Hash
		calls[i] = &call{method: "debug_traceBlockByHash", params: []any{hash, map[string]string{"tracer": "callTracer"}}}
		asked = append(asked, calls[i])
	}
	if err := c.batch(asked); err != nil {
		return nil, err
	}
	for i, cl := range calls {
		if cl == nil {
			continue
		}
		var re *RPCError
		if errors.As(cl.err, &re) && re.Code == codeMethodNotFound {
			return nil, fmt.Errorf("evmrpc: %s: %w", c.URL, ErrNoTracing)
		}
		if cl.err != nil {
			return nil, fmt.Errorf("evmrpc: %s: block %d: %w", c.URL, from+uint64(i), cl.err)
		}
		out[i] = cl.result
	}
	return out, nil
}

// peekHash reads a block's hash (for eth_getBlockReceipts by hash, which
// cannot race a reorg between the two requests unnoticed).
func peekHash(raw json.RawMessage) (string, error) {
	var b struct {
		Hash *string `json:"hash"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		return "", err
	}
	if _, err := hash32(b.Hash); err != nil {
		return "", err
	}
	return *b.Hash, nil
}

func peekTxHashes(raw json.RawMessage) ([]string, error) {
	var b struct {
		Transactions []struct {
			Hash *string `json:"hash"`
		} `json:"transactions"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("field transactions: %v (want full transaction objects)", err)
	}
	out := make([]string, len(b.Transactions))
	for i, t := range b.Transactions {
		if _, err := hash32(t.Hash); err != nil {
			return nil, fmt.Errorf("field transactions[%d].hash: %v", i, err)
		}
		out[i] = *t.Hash
	}
	return out, nil
}

// BodySnippet is the start of an HTTP error body, for an error message that
// stays one line (quoted by the caller) however much HTML a proxy returns.
func BodySnippet(b []byte) string {
	const max = 120
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}
