// Package hash160 computes Bitcoin's Hash160, RIPEMD-160 of SHA-256, of a
// public key: the address a P2PK output pays (explorers show P2PK outputs
// as the P2PKH address of their key). Mainnet's first years are mostly
// P2PK coinbase outputs, one Hash160 a block. golang.org/x/crypto's
// RIPEMD-160 is a generic loop behind hash.Hash that runs the two lines of
// rounds one after the other (about 290 ns of CPU for the 32 bytes here,
// nearly four times the SHA-256 of the key); here the RIPEMD-160 of a
// 32-byte message is unrolled with its constant padding folded in and the
// two independent lines interleaved round by round, so the CPU runs them
// side by side (rmd32.go, written by gen.py), and the SHA-256 is sha256d's.
// Results are x/crypto's: tests compare them on random keys and fuzz them.
package hash160

import "github.com/spoor-dev/spoor/internal/chain/btc/sha256d"

// RIPEMD-160's initial hash value.
const (
	h0 = 0x67452301
	h1 = 0xefcdab89
	h2 = 0x98badcfe
	h3 = 0x10325476
	h4 = 0xc3d2e1f0
)

// Sum returns RIPEMD-160(SHA-256(p)).
func Sum(p []byte) [20]byte {
	first := sha256d.Sum256(p)
	return rmd32(&first)
}
