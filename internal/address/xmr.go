package address

import (
	"bytes"
	"math/big"
	"strings"

	"golang.org/x/crypto/sha3"
)

// Monero's base58 encodes 8-byte blocks as 11 characters; a shorter last
// block of n bytes takes xmrBlockChars[n] characters.
var xmrBlockChars = [...]int{0, 2, 3, 5, 6, 7, 9, 10, 11}

const b58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// xmrBase58Decode decodes Monero's block-wise base58.
func xmrBase58Decode(s string) ([]byte, bool) {
	var out []byte
	for len(s) > 0 {
		n := 11
		if len(s) < n {
			n = len(s)
		}
		blk := s[:n]
		s = s[n:]
		size := -1
		for i, c := range xmrBlockChars {
			if c == n {
				size = i
			}
		}
		if size <= 0 {
			return nil, false
		}
		v := new(big.Int)
		for i := 0; i < len(blk); i++ {
			d := strings.IndexByte(b58Alphabet, blk[i])
			if d < 0 {
				return nil, false
			}
			v.Mul(v, big.NewInt(58))
			v.Add(v, big.NewInt(int64(d)))
		}
		b := v.Bytes()
		if len(b) > size {
			return nil, false
		}
		out = append(out, make([]byte, size-len(b))...)
		out = append(out, b...)
	}
	return out, true
}

// XMRValidate checks a Monero address: standard (prefix 18), integrated (19)
// or subaddress (42) on mainnet, with its keccak-256 checksum.
func XMRValidate(s string) error {
	s = strings.TrimSpace(s)
	if len(s) != 95 && len(s) != 106 {
		return invalid("monero address %q: want 95 or 106 characters, got %d", s, len(s))
	}
	b, ok := xmrBase58Decode(s)
	if !ok || len(b) < 5 {
		return invalid("monero address %q: bad base58", s)
	}
	body, sum := b[:len(b)-4], b[len(b)-4:]
	h := sha3.NewLegacyKeccak256()
	h.Write(body)
	if !bytes.Equal(h.Sum(nil)[:4], sum) {
		return invalid("monero address %q: bad checksum", s)
	}
	switch body[0] {
	case 18, 42:
		if len(body) != 1+64 {
			return invalid("monero address %q: wrong length for its prefix", s)
		}
	case 19:
		if len(body) != 1+64+8 {
			return invalid("monero address %q: wrong length for an integrated address", s)
		}
	default:
		return invalid("monero address %q: prefix %d is not a mainnet address", s, body[0])
	}
	return nil
}
