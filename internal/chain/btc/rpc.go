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
	id              atomic.Uint64
}

// NewRPC returns a client for url with basic-auth credentials.
func NewRPC(url, user, pass string) *RPC {
	return &RPC{URL: url, User: user, Pass: pass, HTTP: &http.Client{Timeout: 60 * time.Second}}
}

// maxRPCResponse bounds a response body (a 4 MB block is 8 MB of hex).
const maxRPCResponse = 32 << 20

func (c *RPC) call(method string, params []any, out any) error {
	body, _ := json.Marshal(map[string]any{"jsonrpc": "1.0", "id": c.id.Add(1), "method": method, "params": params})
	req, err := http.NewRequest(http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrRPC, method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.User != "" || c.Pass != "" {
		req.SetBasicAuth(c.User, c.Pass)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s %v: %v", ErrRPC, method, params, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxRPCResponse+1))
	if err != nil {
		return fmt.Errorf("%w: %s %v: reading response: %v", ErrRPC, method, params, err)
	}
	if len(data) > maxRPCResponse {
		return fmt.Errorf("%w: %s %v: response larger than %d bytes", ErrRPC, method, params, maxRPCResponse)
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return fmt.Errorf("%w: %s: HTTP %d: check --rpc-user and --rpc-pass", ErrRPC, method, resp.StatusCode)
	}
	var env struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return fmt.Errorf("%w: %s %v: HTTP %d, not a JSON-RPC response: %q", ErrRPC, method, params, resp.StatusCode, snippet(data))
	}
	if env.Error != nil {
		return fmt.Errorf("%w: %s %v: error %d: %s", ErrRPC, method, params, env.Error.Code, env.Error.Message)
	}
	if err := json.Unmarshal(env.Result, out); err != nil {
		return fmt.Errorf("%w: %s %v: unexpected result %q: %v", ErrRPC, method, params, snippet(env.Result), err)
	}
	return nil
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
	h, err := chainhash.NewHashFromStr(s)
	if err != nil || len(s) != 64 {
		return chainhash.Hash{}, fmt.Errorf("%w: getblockhash %d returned %q", ErrRPC, height, snippet([]byte(s)))
	}
	return *h, nil
}

// RawBlock returns the serialized block with hash.
func (c *RPC) RawBlock(hash chainhash.Hash) ([]byte, error) {
	var s string
	if err := c.call("getblock", []any{hash.String(), 0}, &s); err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(s)
	if err != nil {
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
