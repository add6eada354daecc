package etl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/address"
	"github.com/spoor-dev/spoor/internal/model"
)

var hexVal = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c-'a') + 10
	}
	for c := 'A'; c <= 'F'; c++ {
		t[c] = byte(c-'A') + 10
	}
	return t
}()

// decodeHex decodes an even-length hex string into dst (len(dst) = len(s)/2).
// On false (not hex), dst holds garbage.
func decodeHex(dst, s []byte) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	// Eight digits at a time (SWAR), checked all together at the end; the
	// rest one by one.
	var bad uint64
	for len(dst) >= 8 {
		x, y := binary.LittleEndian.Uint64(s), binary.LittleEndian.Uint64(s[8:])
		bad |= hexBad(x) | hexBad(y)
		binary.LittleEndian.PutUint32(dst, hexVal8(x))
		binary.LittleEndian.PutUint32(dst[4:], hexVal8(y))
		dst, s = dst[8:], s[16:]
	}
	if len(dst) >= 4 {
		x := binary.LittleEndian.Uint64(s)
		bad |= hexBad(x)
		binary.LittleEndian.PutUint32(dst, hexVal8(x))
		dst, s = dst[4:], s[8:]
	}
	if bad != 0 {
		return false
	}
	for i := range dst {
		hi, lo := hexVal[s[2*i]], hexVal[s[2*i+1]]
		if hi|lo == 0xff {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

const (
	ones8 = 0x0101010101010101
	high8 = 0x8080808080808080
)

// hexBad returns 0 when the eight bytes of x are hex digits, else not 0.
// Each byte is tested for 0-9 and, lower-cased, a-f with carry-free
// additions: every byte is below 0x80 (else it is not a digit either), so
// adding at most 0x7f never carries into the next.
func hexBad(x uint64) uint64 {
	digit := ^(x + 0x46*ones8) & (x + 0x50*ones8)  // > '9' clear, >= '0' set
	l := x | 0x20*ones8                            // lower case
	letter := ^(l + 0x19*ones8) & (l + 0x1f*ones8) // > 'f' clear, >= 'a' set
	return (x | ^(digit | letter)) & high8
}

// hexVal8 decodes the eight hex digits packed in x (first digit in the low
// byte; hexBad(x) == 0) into four bytes (first byte in the low byte).
func hexVal8(x uint64) uint32 {
	n := x&(0x0f*ones8) + (x>>6&ones8)*9 // nibble values: letters have bit 6
	n = (n<<4 | n>>8) & 0x00ff00ff00ff00ff
	n = (n | n>>8) & 0x0000ffff0000ffff
	return uint32(n | n>>16)
}

// strip0x removes a leading 0x or 0X.
func strip0x(s []byte) ([]byte, bool) {
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		return s[2:], true
	}
	return s, false
}

// ParseHash parses a 32-byte hash: 64 hex digits with or without 0x.
func ParseHash(s []byte) ([32]byte, error) {
	var h [32]byte
	d, _ := strip0x(s)
	if !decodeHex(h[:], d) {
		return h, fmt.Errorf("want a 32-byte hash (64 hex digits), got %q", clip(s))
	}
	return h, nil
}

// ParseAddress parses an address of chain c as written in exports and
// returns its canonical bytes: Ethereum "0x" + 40 hex (any case); Tron the
// EVM form "0x" + 40 hex, or "41" + 40 hex, or base58 "T…".
func ParseAddress(c model.Chain, s []byte) ([]byte, error) {
	var raw [20]byte
	if d, ok := strip0x(s); ok && decodeHex(raw[:], d) {
		if c == model.Tron {
			return address.TronFromEVM(raw[:]), nil
		}
		return raw[:], nil
	}
	if c == model.Tron {
		if b, err := address.TronDecode(string(s)); err == nil {
			return b, nil
		}
		return nil, fmt.Errorf("want a Tron address (0x + 40 hex, 41 + 40 hex or T… base58check), got %q", clip(s))
	}
	return nil, fmt.Errorf("want an address (0x + 40 hex digits), got %q", clip(s))
}

// ParseAmount parses an unsigned decimal integer of at most 256 bits ("0x"
// hex accepted too, as JSON-RPC writes quantities). Signs, fractions and
// exponents are errors: amounts are never floats.
func ParseAmount(s []byte) (uint256.Int, error) {
	var v uint256.Int
	if len(s) == 0 {
		return v, errors.New("empty amount")
	}
	if d, ok := strip0x(s); ok {
		return parseHexAmount(s, d)
	}
	if len(s) <= 19 {
		var n uint64
		for _, ch := range s {
			d := ch - '0'
			if d > 9 {
				return v, badAmount(s)
			}
			n = n*10 + uint64(d)
		}
		v.SetUint64(n)
		return v, nil
	}
	for _, ch := range s {
		if ch < '0' || ch > '9' {
			return v, badAmount(s)
		}
	}
	if err := v.SetFromDecimal(string(s)); err != nil {
		return v, fmt.Errorf("amount %q does not fit 256 bits", clip(s))
	}
	return v, nil
}

func parseHexAmount(s, d []byte) (uint256.Int, error) {
	var v uint256.Int
	for len(d) > 1 && d[0] == '0' {
		d = d[1:]
	}
	if len(d) == 0 || len(d) > 64 {
		return v, badAmount(s)
	}
	var buf [32]byte
	// Right-align the digits into 64 nibbles.
	off := 64 - len(d)
	for i, ch := range d {
		x := hexVal[ch]
		if x == 0xff {
			return v, badAmount(s)
		}
		n := off + i
		if n%2 == 0 {
			buf[n/2] |= x << 4
		} else {
			buf[n/2] |= x
		}
	}
	v.SetBytes32(buf[:])
	return v, nil
}

func badAmount(s []byte) error {
	if len(s) > 0 && s[0] == '-' {
		return fmt.Errorf("negative amount %q", clip(s))
	}
	return fmt.Errorf("want an unsigned integer amount in base units, got %q", clip(s))
}

// ParseUint parses an unsigned decimal (or 0x hex) integer.
func ParseUint(s []byte) (uint64, error) {
	if len(s) > 0 && len(s) <= 19 {
		var n uint64
		ok := true
		for _, ch := range s {
			d := ch - '0'
			if d > 9 {
				ok = false
				break
			}
			n = n*10 + uint64(d)
		}
		if ok {
			return n, nil
		}
	}
	if d, ok := strip0x(s); ok {
		n, err := strconv.ParseUint(string(d), 16, 64)
		if err == nil {
			return n, nil
		}
	}
	n, err := strconv.ParseUint(string(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("want an unsigned integer, got %q", clip(s))
	}
	return n, nil
}

// ParseTime parses a block time: unix seconds, or BigQuery's
// "2006-01-02 15:04:05[.fff] UTC", or RFC 3339.
func ParseTime(s []byte) (int64, error) {
	if n, err := ParseUint(s); err == nil {
		if n > 1<<40 {
			return 0, fmt.Errorf("timestamp %d out of range (unix seconds expected)", n)
		}
		return int64(n), nil
	}
	str := string(s)
	for _, layout := range []string{"2006-01-02 15:04:05.999999999 MST", "2006-01-02 15:04:05.999999999", time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, str); err == nil {
			return t.Unix(), nil
		}
	}
	return 0, fmt.Errorf("want unix seconds or a UTC date-time, got %q", clip(s))
}

// clip shortens a field for an error message.
func clip(s []byte) string {
	if len(s) > 80 {
		return string(s[:77]) + "..."
	}
	return string(s)
}
