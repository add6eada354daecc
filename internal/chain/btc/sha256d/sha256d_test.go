package sha256d

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"testing"
)

// ref is the reference: crypto/sha256.
func refD(p []byte) [32]byte {
	first := sha256.Sum256(p)
	return sha256.Sum256(first[:])
}

// paths runs f with the SHA-NI path (when the CPU has it) and the fallback.
func paths(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	saved := useSHANI
	defer func() { useSHANI = saved }()
	if saved {
		t.Run("shani", f)
	} else {
		t.Log("this CPU has no SHA-NI: only the crypto/sha256 fallback is tested")
	}
	useSHANI = false
	t.Run("fallback", f)
}

// Known answers, independent of crypto/sha256: FIPS 180-2's "abc" vector,
// double SHA-256 of the empty string, and Bitcoin's genesis coinbase txid
// (4a5e1e4b…, displayed byte-reversed).
func TestKnownAnswers(t *testing.T) {
	coinbase, _ := hex.DecodeString("01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000")
	genesisTxid, _ := hex.DecodeString("4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b")
	for i, j := 0, len(genesisTxid)-1; i < j; i, j = i+1, j-1 {
		genesisTxid[i], genesisTxid[j] = genesisTxid[j], genesisTxid[i]
	}
	paths(t, func(t *testing.T) {
		if got := Sum256([]byte("abc")); hex.EncodeToString(got[:]) != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
			t.Errorf("Sum256(abc) = %x", got)
		}
		if got := Sum(nil); hex.EncodeToString(got[:]) != "5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456" {
			t.Errorf("Sum(empty) = %x", got)
		}
		if got := Sum(coinbase); !bytes.Equal(got[:], genesisTxid) {
			t.Errorf("genesis coinbase txid = %x, want %x", got, genesisTxid)
		}
		mid := len(coinbase) / 3
		ids := [][32]byte{Sum256Parts(coinbase[:4], coinbase[4:mid], coinbase[mid:])}
		Rehash(ids)
		if got := ids[0]; !bytes.Equal(got[:], genesisTxid) {
			t.Errorf("genesis coinbase txid in pieces = %x, want %x", got, genesisTxid)
		}
	})
}

// TestMatchesCryptoSHA256 compares every function with crypto/sha256 on
// random messages of every length up to 300 bytes (all the padding cases:
// the last block with 0-63 bytes, the length field spilling into an extra
// block) and some long ones, Sum3 at random cut points.
func TestMatchesCryptoSHA256(t *testing.T) {
	paths(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		buf := make([]byte, 5000)
		for i := range buf {
			buf[i] = byte(rng.Uint32())
		}
		lens := make([]int, 0, 350)
		for n := 0; n <= 300; n++ {
			lens = append(lens, n)
		}
		for range 40 {
			lens = append(lens, rng.IntN(len(buf)+1))
		}
		for _, n := range lens {
			p := buf[len(buf)-n:] // unaligned starts too
			if got, want := Sum256(p), sha256.Sum256(p); got != want {
				t.Fatalf("Sum256 of %d bytes = %x, want %x", n, got, want)
			}
			want := refD(p)
			if got := Sum(p); got != want {
				t.Fatalf("Sum of %d bytes = %x, want %x", n, got, want)
			}
			for range 4 {
				i := rng.IntN(n + 1)
				j := i + rng.IntN(n-i+1)
				if got, want := Sum256Parts(p[:i], p[i:j], p[j:]), sha256.Sum256(p); got != want {
					t.Fatalf("Sum256Parts of %d bytes cut at %d, %d = %x, want %x", n, i, j, got, want)
				}
			}
		}
		for range 1000 {
			var m [64]byte
			for i := range m {
				m[i] = byte(rng.Uint32())
			}
			if got, want := Sum64(&m), refD(m[:]); got != want {
				t.Fatalf("Sum64(%x) = %x, want %x", m, got, want)
			}
		}
	})
}

// refRoot is the merkle root as btcd's blockchain.BuildMerkleTreeStore
// defines it, with crypto/sha256, on a copy.
func refRoot(ids [][32]byte) [32]byte {
	if len(ids) == 0 {
		return [32]byte{}
	}
	level := append([][32]byte(nil), ids...)
	for len(level) > 1 {
		if len(level)%2 == 1 {
			level = append(level, level[len(level)-1])
		}
		next := make([][32]byte, len(level)/2)
		for i := range next {
			next[i] = refD(append(level[2*i][:], level[2*i+1][:]...))
		}
		level = next
	}
	return level[0]
}

// TestMerkleRootAndRehash checks MerkleRoot on trees of 0 to 70 leaves and
// a few large ones (every shape of odd levels and of odd node counts within
// a level), and Rehash on as many hashes, against crypto/sha256.
func TestMerkleRootAndRehash(t *testing.T) {
	paths(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		sizes := []int{}
		for n := 0; n <= 70; n++ {
			sizes = append(sizes, n)
		}
		sizes = append(sizes, 255, 256, 257, 1023, 2049, 4001)
		for _, n := range sizes {
			ids := make([][32]byte, n)
			for i := range ids {
				for k := range ids[i] {
					ids[i][k] = byte(rng.Uint32())
				}
			}
			want := make([][32]byte, n)
			for i := range ids {
				want[i] = sha256.Sum256(ids[i][:])
			}
			got := append([][32]byte(nil), ids...)
			Rehash(got)
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("Rehash of %d hashes: [%d] = %x, want %x", n, i, got[i], want[i])
				}
			}
			wantRoot := refRoot(ids)
			if root := MerkleRoot(ids); root != wantRoot {
				t.Fatalf("MerkleRoot of %d leaves = %x, want %x", n, root, wantRoot)
			}
		}
	})
}

func FuzzSha256d(f *testing.F) {
	f.Add([]byte(""), 0, 0)
	f.Add([]byte("abc"), 1, 2)
	f.Add(bytes.Repeat([]byte{0xa5}, 55), 4, 50)
	f.Add(bytes.Repeat([]byte{0x5a}, 56), 0, 56)
	f.Add(bytes.Repeat([]byte{0x01}, 64), 63, 64)
	f.Add(bytes.Repeat([]byte{0xff}, 200), 4, 196)
	f.Add(bytes.Repeat([]byte{0x33}, 32*5), 4, 100)
	f.Fuzz(func(t *testing.T, p []byte, i, j int) {
		if i < 0 || i > len(p) {
			i = len(p) / 2
		}
		if j < i || j > len(p) {
			j = i
		}
		want := refD(p)
		if got := Sum(p); got != want {
			t.Fatalf("Sum(%x) = %x, want %x", p, got, want)
		}
		if got, want := Sum256Parts(p[:i], p[i:j], p[j:]), sha256.Sum256(p); got != want {
			t.Fatalf("Sum256Parts(%x cut at %d, %d) = %x, want %x", p, i, j, got, want)
		}
		// p as messages: each byte of p from the end is a message's
		// length (times 3) taken from the front, its pieces cut at i and j
		// (clamped).
		var msgs [][3][]byte
		for q, k := p, len(p)-1; k >= 0 && len(msgs) < 50; k-- {
			n := min(3*int(p[k]), len(q))
			a, b := min(max(i, 0), n), min(max(j, 0), n)
			if b < a {
				a, b = b, a
			}
			msgs = append(msgs, [3][]byte{q[:a], q[a:b], q[b:n]})
			q = q[n:]
		}
		checkEach(t, msgs)
		if len(p) >= 32 { // p as a list of hashes: a merkle tree of its whole 32-byte chunks
			ids := make([][32]byte, len(p)/32)
			for k := range ids {
				copy(ids[k][:], p[32*k:])
			}
			if got, want := MerkleRoot(append([][32]byte(nil), ids...)), refRoot(ids); got != want {
				t.Fatalf("MerkleRoot of %d leaves from %x = %x, want %x", len(ids), p, got, want)
			}
		}
		if got, want := Sum256(p), sha256.Sum256(p); got != want {
			t.Fatalf("Sum256(%x) = %x, want %x", p, got, want)
		}
		if len(p) >= 64 {
			if got := Sum64((*[64]byte)(p)); got != refD(p[:64]) {
				t.Fatalf("Sum64(%x) = %x, want %x", p[:64], got, refD(p[:64]))
			}
		}
	})
}

// checkEach compares Sum256Each on msgs with crypto/sha256 of each joined.
func checkEach(t *testing.T, msgs [][3][]byte) {
	t.Helper()
	dst := make([][32]byte, len(msgs))
	Sum256Each(dst, msgs)
	for i, m := range msgs {
		joined := append(append(append([]byte(nil), m[0]...), m[1]...), m[2]...)
		if want := sha256.Sum256(joined); dst[i] != want {
			t.Fatalf("Sum256Each: message %d of %d (pieces of %d, %d, %d bytes) = %x, want %x", i, len(msgs), len(m[0]), len(m[1]), len(m[2]), dst[i], want)
		}
	}
}

// TestSum256Each hashes sets of 0 to 40 messages of random lengths (every
// padding case, messages ending in the same step in both lanes or not),
// cut into three pieces at random points (empty pieces, pieces shorter
// than a block, a block straddling all three), and a set of long ones.
func TestSum256Each(t *testing.T) {
	paths(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		buf := make([]byte, 1<<14)
		for i := range buf {
			buf[i] = byte(rng.Uint32())
		}
		for round := 0; round < 400; round++ {
			msgs := make([][3][]byte, rng.IntN(41))
			for i := range msgs {
				n := rng.IntN(300)
				if round%10 == 0 {
					n = rng.IntN(len(buf) + 1)
				}
				off := rng.IntN(len(buf) - n + 1)
				p := buf[off : off+n]
				a := rng.IntN(n + 1)
				b := a + rng.IntN(n-a+1)
				if round%3 == 0 { // a witness tx's shape: 4 bytes, the rest, 4 bytes
					a, b = min(4, n), max(min(4, n), n-4)
				}
				msgs[i] = [3][]byte{p[:a], p[a:b], p[b:]}
			}
			checkEach(t, msgs)
		}
	})
}
