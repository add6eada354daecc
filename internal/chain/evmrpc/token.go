package evmrpc

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"unicode/utf8"
)

// Selectors of the ERC-20 metadata getters.
const (
	selSymbol   = "0x95d89b41" // symbol()
	selDecimals = "0x313ce567" // decimals()
)

// Token is what a contract says about itself. Decimals is -1 when unknown
// (the call failed or returned something that is not a uint8); Err then
// says why, so the caller can report it: decimals are never guessed.
type Token struct {
	Contract []byte
	Symbol   string
	Decimals int
	Err      error
}

// Tokens asks each contract for symbol() and decimals() with eth_call
// (batched) at block, a block tag ("latest") or hex number. Ingest uses
// "latest": the getters are constant, and a node without archive state
// cannot answer calls at old blocks.
func (c *Client) Tokens(contracts [][]byte, block string) ([]Token, error) {
	out := make([]Token, len(contracts))
	calls := make([]*call, 0, 2*len(contracts))
	for _, ct := range contracts {
		to := "0x" + hex.EncodeToString(ct)
		calls = append(calls,
			&call{method: "eth_call", params: []any{map[string]string{"to": to, "data": selSymbol}, block}},
			&call{method: "eth_call", params: []any{map[string]string{"to": to, "data": selDecimals}, block}})
	}
	if err := c.batch(calls); err != nil {
		return nil, err
	}
	for i, ct := range contracts {
		t := &out[i]
		t.Contract = ct
		t.Decimals = -1
		sym, dec := calls[2*i], calls[2*i+1]
		if sym.err == nil {
			if b, err := callResult(sym.result); err == nil {
				t.Symbol, _ = DecodeSymbol(b)
			}
		}
		if dec.err != nil {
			t.Err = fmt.Errorf("decimals(): %w", dec.err)
			continue
		}
		b, err := callResult(dec.result)
		if err != nil {
			t.Err = fmt.Errorf("decimals(): %v", err)
			continue
		}
		d, err := DecodeDecimals(b)
		if err != nil {
			t.Err = fmt.Errorf("decimals(): %v", err)
			continue
		}
		t.Decimals = d
	}
	return out, nil
}

func callResult(raw json.RawMessage) ([]byte, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("eth_call result is not a hex string")
	}
	return hexBytes(&s)
}

// DecodeDecimals reads an ABI uint8 (one 32-byte word whose value is at most
// 255). Anything else is an error: decimals are never guessed.
func DecodeDecimals(b []byte) (int, error) {
	if len(b) == 0 {
		return -1, fmt.Errorf("empty return data (no decimals() function)")
	}
	if len(b) != 32 {
		return -1, fmt.Errorf("return data of %d bytes, want one 32-byte word", len(b))
	}
	v := new(big.Int).SetBytes(b)
	if !v.IsUint64() || v.Uint64() > 255 {
		return -1, fmt.Errorf("decimals %s is not a uint8", v)
	}
	return int(v.Uint64()), nil
}

// DecodeSymbol reads an ABI string (offset, length, bytes) or, as old
// tokens such as MKR return, a bytes32 padded with zeros. The symbol must be
// valid UTF-8 without control characters.
func DecodeSymbol(b []byte) (string, error) {
	var s []byte
	switch {
	case len(b) == 32:
		s = bytes.TrimRight(b, "\x00")
	case len(b) >= 64:
		off := new(big.Int).SetBytes(b[:32])
		if !off.IsUint64() || off.Uint64() > uint64(len(b))-32 {
			return "", fmt.Errorf("string offset out of range")
		}
		o := off.Uint64()
		n := new(big.Int).SetBytes(b[o : o+32])
		if !n.IsUint64() || n.Uint64() > uint64(len(b))-o-32 {
			return "", fmt.Errorf("string length out of range")
		}
		s = b[o+32 : o+32+n.Uint64()]
	default:
		return "", fmt.Errorf("return data of %d bytes is neither a string nor a bytes32", len(b))
	}
	if !utf8.Valid(s) {
		return "", fmt.Errorf("symbol is not UTF-8")
	}
	for _, r := range string(s) {
		if r < 0x20 || r == 0x7f {
			return "", fmt.Errorf("symbol has control characters")
		}
	}
	if len(s) > 64 {
		return "", fmt.Errorf("symbol longer than 64 bytes")
	}
	return string(s), nil
}
