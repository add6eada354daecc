// Package value turns amounts of chain assets into US dollars exactly, from
// the price series kept in a store.PriceStore, and reads the price files
// (CSV `date,asset,usd`) that fill it.
//
// Every figure is exact (big.Rat from decimal strings, never a float) and
// carries the price point it used (asset key, time, source file), so a USD
// total can be explained transfer by transfer. A transfer with no price at
// or before its time, of a token whose decimals are unknown, or of a block
// without a time, is valued "unknown", never zero.
package value

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/big"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spoor-dev/spoor/internal/address"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// ErrInput marks every error caused by the content of a price file.
var ErrInput = errors.New("value: bad price input")

// InputError is a problem at one place of a price file.
type InputError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *InputError) Error() string {
	s := e.File
	if e.Line > 0 {
		s += ":" + strconv.Itoa(e.Line)
	}
	if e.Field != "" {
		s += ": column " + e.Field
	}
	return s + ": " + e.Msg
}

// Unwrap makes every *InputError match ErrInput.
func (e *InputError) Unwrap() error { return ErrInput }

var (
	decimalRe = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)
	symbolRe  = regexp.MustCompile(`^[A-Z0-9][A-Z0-9._-]{0,31}$`)
)

// ParseUSD parses a non-negative exact decimal ("43012.55", "0.0000012").
// Signs, exponents, thousands separators and empty strings are refused.
func ParseUSD(s string) (*big.Rat, error) {
	if len(s) > 80 || !decimalRe.MatchString(s) {
		return nil, fmt.Errorf("want a non-negative decimal like 43012.55, got %q", clip(s))
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, fmt.Errorf("want a decimal, got %q", clip(s))
	}
	return r, nil
}

// ParseTime parses a price time: an ISO date (2022-01-31, the day from
// 00:00 UTC), an RFC 3339 time, "2022-01-31 10:00:00[ UTC]" (UTC), or unix
// seconds.
func ParseTime(s string) (int64, error) {
	if d, err := time.Parse("2006-01-02", s); err == nil {
		return d.Unix(), nil
	}
	if d, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return d.Unix(), nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05 UTC", "2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
		if d, err := time.Parse(layout, s); err == nil {
			return d.Unix(), nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 && len(s) >= 9 {
		return n, nil
	}
	return 0, fmt.Errorf("want a date (2022-01-31), an RFC 3339 time or unix seconds, got %q", clip(s))
}

// ParseAssetKey normalises the asset column: a symbol (upper-cased: BTC,
// TRX, USDT) or a token pinned to its contract, "tron:T…" / "eth:0x…"
// (any address form the chain's codec reads; stored as base58 T… and
// EIP-55).
func ParseAssetKey(s string) (string, error) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, ':'); i >= 0 {
		c, err := model.ParseChain(s[:i])
		if err != nil || (c != model.Tron && c != model.ETH) {
			return "", fmt.Errorf("pinned token %q: want tron:T… or eth:0x…", clip(s))
		}
		b, err := address.For(c).Decode(s[i+1:])
		if err != nil {
			return "", fmt.Errorf("pinned token %q: %v", clip(s), err)
		}
		return TokenKey(c, b), nil
	}
	u := strings.ToUpper(s)
	if !symbolRe.MatchString(u) {
		return "", fmt.Errorf("want an asset symbol (BTC, TRX, USDT) or tron:T…/eth:0x…, got %q", clip(s))
	}
	return u, nil
}

// TokenKey is the price key of a token pinned to its contract.
func TokenKey(c model.Chain, contract []byte) string {
	return c.String() + ":" + address.For(c).MustEncode(contract)
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// ReadPrices reads a price CSV: a header naming the columns date, asset and
// usd (any order, other columns ignored), then one point per row. name is
// used in errors and becomes each point's Source (its base name). The same
// (asset, time) twice is accepted only with the same price.
func ReadPrices(r io.Reader, name string) ([]store.PricePoint, error) {
	src := filepath.Base(name)
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	errAt := func(line int, field, format string, args ...any) error {
		return &InputError{File: name, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	csvErr := func(err error) error {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return errAt(pe.StartLine, "", "%v", pe.Err)
		}
		return &InputError{File: name, Msg: err.Error()}
	}
	hdr, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errAt(1, "", "empty file: want a header date,asset,usd")
	}
	if err != nil {
		return nil, csvErr(err)
	}
	col := map[string]int{}
	for i, h := range hdr {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	idx := [3]int{}
	for i, n := range []string{"date", "asset", "usd"} {
		j, ok := col[n]
		if !ok {
			return nil, errAt(1, n, "required column missing (header has: %s); want date,asset,usd", clip(strings.Join(hdr, ",")))
		}
		idx[i] = j
	}
	nCols := len(hdr)
	type seen struct {
		usd  string
		line int
	}
	at := map[string]seen{}
	var out []store.PricePoint
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, csvErr(err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) != nCols {
			return nil, errAt(line, "", "%d fields, the header has %d", len(rec), nCols)
		}
		t, err := ParseTime(strings.TrimSpace(rec[idx[0]]))
		if err != nil {
			return nil, errAt(line, "date", "%v", err)
		}
		key, err := ParseAssetKey(rec[idx[1]])
		if err != nil {
			return nil, errAt(line, "asset", "%v", err)
		}
		usd := strings.TrimSpace(rec[idx[2]])
		if _, err := ParseUSD(usd); err != nil {
			return nil, errAt(line, "usd", "%v", err)
		}
		k := key + "\x00" + strconv.FormatInt(t, 10)
		if prev, ok := at[k]; ok {
			if prev.usd != usd {
				return nil, errAt(line, "usd", "%s at %s is %s here but %s on line %d", key, rec[idx[0]], usd, prev.usd, prev.line)
			}
			continue
		}
		at[k] = seen{usd, line}
		out = append(out, store.PricePoint{Asset: key, Time: t, USD: usd, Source: src})
	}
}
