package hash160

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"testing"

	"github.com/spoor-dev/spoor/internal/cputime"
	"golang.org/x/crypto/ripemd160"
)

func ref(p []byte) (sum [20]byte) {
	first := sha256.Sum256(p)
	h := ripemd160.New()
	h.Write(first[:])
	copy(sum[:], h.Sum(nil))
	return sum
}

// TestKnownAnswer: the genesis coinbase's key hashes to 62e907b1…, the
// P2PKH address 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa; and RIPEMD-160 of
// 32 zero bytes from an independent implementation (Python hashlib with
// OpenSSL's ripemd160).
func TestKnownAnswer(t *testing.T) {
	key, _ := hex.DecodeString("04678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5f")
	if got := Sum(key); hex.EncodeToString(got[:]) != "62e907b15cbf27d5425399ebf6f0fb50ebb88f18" {
		t.Errorf("Hash160(genesis key) = %x", got)
	}
	var zero [32]byte
	if got := rmd32(&zero); hex.EncodeToString(got[:]) != "d1a70126ff7a149ca6f9b638db084480440ff842" {
		t.Errorf("RIPEMD-160(32 zero bytes) = %x", got)
	}
}

// TestMatchesXCrypto compares Sum with SHA-256 + x/crypto's RIPEMD-160 on
// random compressed and uncompressed keys and other lengths.
func TestMatchesXCrypto(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	buf := make([]byte, 200)
	for i := 0; i < 3000; i++ {
		for k := range buf {
			buf[k] = byte(rng.Uint32())
		}
		p := buf[:[]int{33, 65, rng.IntN(len(buf) + 1)}[i%3]]
		if got, want := Sum(p), ref(p); got != want {
			t.Fatalf("Hash160(%x) = %x, want %x", p, got, want)
		}
	}
}

func FuzzSum(f *testing.F) {
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{2}, 33))
	f.Add(bytes.Repeat([]byte{4}, 65))
	f.Fuzz(func(t *testing.T, p []byte) {
		if got, want := Sum(p), ref(p); got != want {
			t.Fatalf("Hash160(%x) = %x, want %x", p, got, want)
		}
	})
}

var sink [20]byte

// BenchmarkHash160 compares Sum with what DecodeBlock did before
// (crypto/sha256.Sum256, then a reused x/crypto RIPEMD-160: Reset, Write,
// Sum) on a compressed key.
func BenchmarkHash160(b *testing.B) {
	key := bytes.Repeat([]byte{3}, 33)
	b.Run("crypto+xcrypto", func(b *testing.B) {
		h := ripemd160.New()
		var sum []byte
		cputime.PerOp(b, func(i int) {
			key[1] = byte(i)
			first := sha256.Sum256(key)
			h.Reset()
			h.Write(first[:])
			sum = h.Sum(sum[:0])
		})
		copy(sink[:], sum)
	})
	b.Run("hash160", func(b *testing.B) {
		cputime.PerOp(b, func(i int) {
			key[1] = byte(i)
			sink = Sum(key)
		})
	})
}
