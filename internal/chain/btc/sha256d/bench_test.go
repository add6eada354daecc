package sha256d

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/spoor-dev/spoor/internal/cputime"
)

var sink [32]byte

// BenchmarkSum compares each function with what it replaces in the
// decoder (crypto/sha256.Sum256, once or twice) on the message sizes the
// decoder hashes: a merkle node (64 bytes), a compressed and an
// uncompressed P2PK key (33, 65 bytes), and transactions of 200, 250 and
// 1000 bytes.
func BenchmarkSum(b *testing.B) {
	var m [64]byte
	b.Run("merkle-node/crypto", func(b *testing.B) {
		cputime.PerOp(b, func(i int) {
			m[0] = byte(i)
			first := sha256.Sum256(m[:])
			sink = sha256.Sum256(first[:])
		})
	})
	b.Run("merkle-node/sha256d", func(b *testing.B) {
		cputime.PerOp(b, func(i int) {
			m[0] = byte(i)
			sink = Sum64(&m)
		})
	})
	for _, n := range []int{33, 65} {
		p := make([]byte, n)
		b.Run(fmt.Sprintf("sha256-%d/crypto", n), func(b *testing.B) {
			cputime.PerOp(b, func(i int) {
				p[0] = byte(i)
				sink = sha256.Sum256(p)
			})
		})
		b.Run(fmt.Sprintf("sha256-%d/sha256d", n), func(b *testing.B) {
			cputime.PerOp(b, func(i int) {
				p[0] = byte(i)
				sink = Sum256(p)
			})
		})
	}
	for _, n := range []int{200, 250, 1000} {
		p := make([]byte, n)
		b.Run(fmt.Sprintf("txid-%d/crypto", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			cputime.PerOp(b, func(i int) {
				p[0] = byte(i)
				first := sha256.Sum256(p)
				sink = sha256.Sum256(first[:])
			})
		})
		b.Run(fmt.Sprintf("txid-%d/sha256d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			cputime.PerOp(b, func(i int) {
				p[0] = byte(i)
				sink = Sum(p)
			})
		})
		b.Run(fmt.Sprintf("txid-%d/sha256d-3pieces", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			cputime.PerOp(b, func(i int) {
				p[0] = byte(i)
				first := [][32]byte{Sum256Parts(p[:4], p[4:n-4], p[n-4:])}
				Rehash(first)
				sink = first[0]
			})
		})
	}
}

// BenchmarkMerkleRoot compares MerkleRoot with the loop it replaces (two
// crypto/sha256.Sum256 a node) on trees of 2000 and 3 leaves (1999 and 2
// nodes).
func BenchmarkMerkleRoot(b *testing.B) {
	for _, n := range []int{3, 2000} {
		leaves := make([][32]byte, n)
		for i := range leaves {
			leaves[i][0], leaves[i][1] = byte(i), byte(i>>8)
		}
		ids := make([][32]byte, n)
		b.Run(fmt.Sprintf("%d/crypto", n), func(b *testing.B) {
			// The fallback: two crypto/sha256.Sum256 a node, as the
			// decoder hashed before this package.
			defer func(was bool) { useSHANI = was }(useSHANI)
			useSHANI = false
			cputime.PerOp(b, func(i int) {
				copy(ids, leaves)
				sink = MerkleRoot(ids)
			})
		})
		b.Run(fmt.Sprintf("%d/sha256d", n), func(b *testing.B) {
			cputime.PerOp(b, func(i int) {
				copy(ids, leaves)
				sink = MerkleRoot(ids)
			})
		})
	}
}

// BenchmarkSum256Each compares a block's first txid rounds hashed one tx
// at a time (crypto/sha256.Sum256; sha256d.Sum256Parts) with Sum256Each
// (two txs at a time) on 2000 messages of 150-650 bytes, a third of them
// in a witness tx's three pieces.
func BenchmarkSum256Each(b *testing.B) {
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	msgs := make([][3][]byte, 2000)
	off := 0
	for i := range msgs {
		n := 150 + (i*7919)%500
		p := buf[off : off+n]
		off += n
		if i%3 == 0 {
			msgs[i] = [3][]byte{p[:4], p[4 : n-4], p[n-4:]}
		} else {
			msgs[i] = [3][]byte{p}
		}
	}
	dst := make([][32]byte, len(msgs))
	b.Run("crypto", func(b *testing.B) {
		h := sha256.New()
		cputime.PerOp(b, func(int) {
			for i, m := range msgs {
				if m[1] == nil {
					dst[i] = sha256.Sum256(m[0])
					continue
				}
				h.Reset()
				h.Write(m[0])
				h.Write(m[1])
				h.Write(m[2])
				h.Sum(dst[i][:0])
			}
		})
	})
	b.Run("sha256d-one-at-a-time", func(b *testing.B) {
		cputime.PerOp(b, func(int) {
			for i, m := range msgs {
				dst[i] = Sum256Parts(m[0], m[1], m[2])
			}
		})
	})
	b.Run("sha256d-each", func(b *testing.B) {
		b.ReportAllocs()
		cputime.PerOp(b, func(int) { Sum256Each(dst, msgs) })
	})
}
