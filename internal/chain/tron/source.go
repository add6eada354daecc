package tron

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spoor-dev/spoor/internal/address"
	"github.com/spoor-dev/spoor/internal/chain/evmrpc"
)

// maxResponse bounds one HTTP response or one file line.
const maxResponse = 256 << 20

// Client reads a java-tron node's HTTP API (full node port, e.g.
// http://127.0.0.1:8090).
type Client struct {
	URL  string
	HTTP *http.Client
}

// NewClient returns a client for the node at url.
func NewClient(url string) *Client {
	return &Client{URL: strings.TrimRight(url, "/"), HTTP: &http.Client{Timeout: 120 * time.Second}}
}

func (c *Client) post(path string, body any) (json.RawMessage, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return evmrpc.WithRetries(func() ([]byte, bool, error) { return c.postOnce(path, b) })
}

// postOnce makes one request; retry says whether a failure is transient
// (transport error, HTTP 429/502/503/504: the same policy as evmrpc).
func (c *Client) postOnce(path string, b []byte) (data []byte, retry bool, err error) {
	resp, err := c.HTTP.Post(c.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		return nil, true, fmt.Errorf("tron: %s%s: %w", c.URL, path, err)
	}
	defer resp.Body.Close()
	data, err = io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, true, fmt.Errorf("tron: %s%s: reading response: %w", c.URL, path, err)
	}
	if len(data) > maxResponse {
		return nil, false, fmt.Errorf("tron: %s%s: response larger than %d bytes", c.URL, path, maxResponse)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, evmrpc.Transient(resp.StatusCode), fmt.Errorf("tron: %s%s: HTTP %s: %q", c.URL, path, resp.Status, evmrpc.BodySnippet(data))
	}
	if !json.Valid(data) {
		return nil, false, fmt.Errorf("tron: %s%s: response is not JSON: %.80q", c.URL, path, data)
	}
	return data, false, nil
}

// TipHeight returns the node's head block number (/wallet/getnowblock).
func (c *Client) TipHeight() (uint64, error) {
	raw, err := c.post("/wallet/getnowblock", struct{}{})
	if err != nil {
		return 0, err
	}
	var b apiBlock
	if err := strictUnmarshal(raw, &b); err != nil {
		return 0, fmt.Errorf("tron: %s/wallet/getnowblock: %v", c.URL, err)
	}
	if b.BlockHeader == nil || b.BlockHeader.RawData == nil {
		return 0, fmt.Errorf("tron: %s/wallet/getnowblock: field block_header.raw_data: missing", c.URL)
	}
	if b.BlockHeader.RawData.Number == "" {
		return 0, nil
	}
	n, err := uintNum(b.BlockHeader.RawData.Number)
	if err != nil {
		return 0, fmt.Errorf("tron: %s/wallet/getnowblock: field block_header.raw_data.number: %v", c.URL, err)
	}
	return n, nil
}

// BlockHash returns the blockID of the block at height n.
func (c *Client) BlockHash(n uint64) ([32]byte, error) {
	raw, err := c.post("/wallet/getblockbynum", map[string]uint64{"num": n})
	if err != nil {
		return [32]byte{}, err
	}
	var b apiBlock
	if err := strictUnmarshal(raw, &b); err != nil {
		return [32]byte{}, fmt.Errorf("tron: %s: block %d: %v", c.URL, n, err)
	}
	if b.BlockID == "" {
		return [32]byte{}, fmt.Errorf("tron: %s: block %d: field blockID: missing (the node has no such block)", c.URL, n)
	}
	h, err := hex32(b.BlockID)
	if err != nil {
		return h, fmt.Errorf("tron: %s: block %d: field blockID: %v", c.URL, n, err)
	}
	return h, nil
}

// Block fetches and decodes block n with its transaction infos.
func (c *Client) Block(n uint64) (*Decoded, error) {
	rb, err := c.post("/wallet/getblockbynum", map[string]uint64{"num": n})
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", n, err)
	}
	ri, err := c.post("/wallet/gettransactioninfobyblocknum", map[string]uint64{"num": n})
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", n, err)
	}
	d, err := DecodeBlock(int64(n), rb, ri)
	if err != nil {
		return nil, fmt.Errorf("tron: %s: %w", c.URL, err)
	}
	return d, nil
}

// Token calls a TRC-20 contract's symbol() and decimals() with
// /wallet/triggerconstantcontract. Decimals is -1 with Err set when the
// call fails: never guessed.
func (c *Client) Token(contract []byte) evmrpc.Token {
	t := evmrpc.Token{Contract: contract, Decimals: -1}
	call := func(sel string) ([]byte, error) {
		raw, err := c.post("/wallet/triggerconstantcontract", map[string]any{
			"owner_address":     "410000000000000000000000000000000000000000",
			"contract_address":  hex.EncodeToString(contract),
			"function_selector": sel,
			"parameter":         "",
		})
		if err != nil {
			return nil, err
		}
		var r struct {
			ConstantResult []string `json:"constant_result"`
			Result         struct {
				Result  bool   `json:"result"`
				Message string `json:"message"`
			} `json:"result"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, fmt.Errorf("%s: malformed answer: %v", sel, err)
		}
		if !r.Result.Result || len(r.ConstantResult) != 1 {
			return nil, fmt.Errorf("%s: call failed %.100s", sel, r.Result.Message)
		}
		b, err := hex.DecodeString(r.ConstantResult[0])
		if err != nil {
			return nil, fmt.Errorf("%s: bad hex result", sel)
		}
		return b, nil
	}
	if b, err := call("symbol()"); err == nil {
		t.Symbol, _ = evmrpc.DecodeSymbol(b)
	}
	b, err := call("decimals()")
	if err == nil {
		t.Decimals, err = evmrpc.DecodeDecimals(b)
	}
	if err != nil {
		t.Decimals, t.Err = -1, fmt.Errorf("tron: %s: %w", c.URL, err)
	}
	return t
}

// Known lists TRC-20 tokens whose symbol and decimals spoor is configured
// with, for sources that cannot call the contract (files).
var Known = map[string]evmrpc.Token{}

func init() {
	for _, k := range []struct {
		addr, sym string
		dec       int
	}{
		{"TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "USDT", 6}, // Tether USD
	} {
		b, err := address.TronDecode(k.addr)
		if err != nil {
			panic(err)
		}
		Known[string(b)] = evmrpc.Token{Contract: b, Symbol: k.sym, Decimals: k.dec}
	}
}

// Line is one decoded line of a blocks.jsonl file, or the error at it.
type Line struct {
	Decoded *Decoded
	Where   string // file:line
	Err     error
}

// FileReader reads a blocks.jsonl file: one {"block": <getblockbynum
// response>, "info": <gettransactioninfobyblocknum response>} per line.
type FileReader struct {
	path string
	f    *os.File
	r    *bufio.Reader
	line int
	seen bool // a non-empty line was returned
}

// OpenFile opens a blocks.jsonl file, gzip-compressed or not (told by its
// first bytes: spoor sim --gzip writes blocks.jsonl.gz).
func OpenFile(path string) (*FileReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r := bufio.NewReaderSize(f, 1<<20)
	if magic, _ := r.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(r)
		if err != nil {
			f.Close()
			return nil, &Error{File: path, Block: -1, Err: fmt.Errorf("gzip: %w", err)}
		}
		r = bufio.NewReaderSize(zr, 1<<20)
	}
	return &FileReader{path: path, f: f, r: r}, nil
}

// Close closes the file.
func (fr *FileReader) Close() error { return fr.f.Close() }

// Next decodes the next non-empty line; io.EOF at the end.
func (fr *FileReader) Next() (*Decoded, string, error) {
	raw, line, err := fr.NextRaw()
	if err != nil {
		return nil, "", err
	}
	d, err := fr.Decode(raw, line)
	return d, fr.Where(line), err
}

// NextRaw returns the next non-empty line and its number, without
// decoding it (so callers can decode lines in parallel); io.EOF at the end.
// A file without a single block is an error, not an empty success.
func (fr *FileReader) NextRaw() ([]byte, int, error) {
	for {
		raw, err := fr.readLine()
		if errors.Is(err, io.EOF) && !fr.seen {
			return nil, 0, &Error{File: fr.path, Block: -1, Err: errors.New("holds no blocks (want one {\"block\":…,\"info\":…} object per line)")}
		}
		if err != nil {
			return nil, 0, err
		}
		fr.line++
		raw = bytes.TrimSpace(raw)
		if len(raw) > 0 {
			fr.seen = true
			return raw, fr.line, nil
		}
	}
}

// Where names a line of the file ("path:line").
func (fr *FileReader) Where(line int) string { return fmt.Sprintf("%s:%d", fr.path, line) }

// Decode decodes a line returned by NextRaw; errors name the file and line.
func (fr *FileReader) Decode(raw []byte, line int) (*Decoded, error) {
	d, err := DecodeLine(raw)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.File, e.Line = fr.path, line
			return nil, e
		}
		return nil, &Error{File: fr.path, Line: line, Block: -1, Err: err}
	}
	return d, nil
}

func (fr *FileReader) readLine() ([]byte, error) {
	var buf []byte
	for {
		chunk, err := fr.r.ReadSlice('\n')
		buf = append(buf, chunk...) // a copy: lines outlive the reader's buffer
		if len(buf) > maxResponse {
			return nil, &Error{File: fr.path, Line: fr.line + 1, Block: -1, Err: fmt.Errorf("line longer than %d bytes", maxResponse)}
		}
		switch {
		case err == nil:
			return buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(buf) == 0 {
				return nil, io.EOF
			}
			return buf, nil
		default: // a read error, or a corrupt or truncated gzip stream
			return nil, &Error{File: fr.path, Line: fr.line + 1, Block: -1, Err: err}
		}
	}
}

// DecodeLine decodes one {"block":…,"info":…} object.
func DecodeLine(raw []byte) (*Decoded, error) {
	// One pass decodes the block; info stays raw ({} for an empty block).
	var l struct {
		Block *apiBlock       `json:"block"`
		Info  json.RawMessage `json:"info"`
	}
	if err := strictUnmarshal(raw, &l); err != nil {
		return nil, &Error{Block: -1, Err: fmt.Errorf("malformed JSON line (want {\"block\":…,\"info\":…}): %v", err)}
	}
	if l.Block == nil {
		return nil, &Error{Block: -1, Field: "block", Err: errors.New("missing")}
	}
	return decodeParsed(-1, l.Block, l.Info)
}
