package sha256d

import (
	"crypto/sha256"
	"fmt"
	"testing"
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
		cpuOp(b, func(i int) {
			m[0] = byte(i)
			first := sha256.Sum256(m[:])
			sink = sha256.Sum256(first[:])
		})
	})
	b.Run("merkle-node/sha256d", func(b *testing.B) {
		cpuOp(b, func(i int) {
			m[0] = byte(i)
			sink = Sum64(&m)
		})
	})
	for _, n := range []int{33, 65} {
		p := make([]byte, n)
		b.Run(fmt.Sprintf("sha256-%d/crypto", n), func(b *testing.B) {
			cpuOp(b, func(i int) {
				p[0] = byte(i)
				sink = sha256.Sum256(p)
			})
		})
		b.Run(fmt.Sprintf("sha256-%d/sha256d", n), func(b *testing.B) {
			cpuOp(b, func(i int) {
				p[0] = byte(i)
				sink = Sum256(p)
			})
		})
	}
	for _, n := range []int{200, 250, 1000} {
		p := make([]byte, n)
		b.Run(fmt.Sprintf("txid-%d/crypto", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			cpuOp(b, func(i int) {
				p[0] = byte(i)
				first := sha256.Sum256(p)
				sink = sha256.Sum256(first[:])
			})
		})
		b.Run(fmt.Sprintf("txid-%d/sha256d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			cpuOp(b, func(i int) {
				p[0] = byte(i)
				sink = Sum(p)
			})
		})
		b.Run(fmt.Sprintf("txid-%d/sha256d-3pieces", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			cpuOp(b, func(i int) {
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
			var buf [64]byte
			cpuOp(b, func(i int) {
				copy(ids, leaves)
				for n := len(ids); n > 1; n = (n + 1) / 2 {
					for i := 0; i < n; i += 2 {
						copy(buf[:32], ids[i][:])
						copy(buf[32:], ids[min(i+1, n-1)][:])
						first := sha256.Sum256(buf[:])
						ids[i/2] = sha256.Sum256(first[:])
					}
				}
				sink = ids[0]
			})
		})
		b.Run(fmt.Sprintf("%d/sha256d", n), func(b *testing.B) {
			cpuOp(b, func(i int) {
				copy(ids, leaves)
				sink = MerkleRoot(ids)
			})
		})
	}
}
