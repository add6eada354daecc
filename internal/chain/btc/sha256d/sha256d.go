// Package sha256d computes the SHA-256 hashes Bitcoin's block decoder needs:
// a block's txids (double SHA-256 of each transaction's bytes, a witness
// transaction's in three pieces that are not joined), its merkle root (a
// double SHA-256 of each 64-byte pair of nodes), and the single SHA-256 of
// a short message (a P2PK key, a script). Every result is crypto/sha256's.
//
// What differs is the cost. With SHA-NI one compression of a 64-byte block
// takes about 45 ns here, and crypto/sha256.Sum256 adds about 35 ns a call
// (a digest set up, the message copied into its buffer, the padding written
// and hashed through the generic path). And one compression is a chain of
// dependent SHA256RNDS2 instructions, bound by their latency: a second,
// independent hash interleaved with it costs little more. So this package
// runs its own SHA-NI block function (block_amd64.s, written by gen_block.py
// from the round structure Intel published with the SHA extensions) straight
// over the caller's bytes, pads in a stack buffer, hashes the second round
// of a double SHA-256 (a 32-byte message: one block, constant padding) as
// one compression, and does whole sets two at a time through block2SHANI,
// the same rounds for two independent hashes interleaved: the first rounds
// of a block's txids (Sum256Each), their second rounds (Rehash), the merkle
// tree (MerkleRoot).
//
// Without SHA-NI (another CPU, another architecture, or the purego build
// tag) every function falls back to crypto/sha256, which picks its own
// AVX2 or generic code.
package sha256d

import (
	"crypto/sha256"
	"encoding/binary"
)

// iv is SHA-256's initial hash value.
var iv = [8]uint32{
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
}

// pad64 is the padding block that follows a 64-byte message: 0x80, zeros,
// and the message length in bits (512) big-endian in the last 8 bytes.
var pad64 = [64]byte{0: 0x80, 62: 0x02}

// digest is a running SHA-256 over pieces: the hash value, the bytes of an
// incomplete block and the length so far. It never leaves the stack
// (blockSHANI does not keep its pointers).
type digest struct {
	h   [8]uint32
	buf [64]byte
	n   int    // bytes in buf
	len uint64 // bytes written
}

func (d *digest) write(p []byte) {
	d.len += uint64(len(p))
	if d.n > 0 {
		k := copy(d.buf[d.n:], p)
		d.n += k
		p = p[k:]
		if d.n < 64 {
			return
		}
		blockSHANI(&d.h, d.buf[:])
		d.n = 0
	}
	if len(p) >= 64 {
		m := len(p) &^ 63
		blockSHANI(&d.h, p[:m])
		p = p[m:]
	}
	d.n = copy(d.buf[:], p)
}

// finish pads and hashes the last block(s), leaving the hash in d.h.
func (d *digest) finish() {
	d.buf[d.n] = 0x80
	clear(d.buf[d.n+1:])
	if d.n >= 56 {
		blockSHANI(&d.h, d.buf[:])
		clear(d.buf[:56])
	}
	binary.BigEndian.PutUint64(d.buf[56:], d.len<<3)
	blockSHANI(&d.h, d.buf[:])
}

func put(h *[8]uint32) (out [32]byte) {
	for i, w := range h {
		binary.BigEndian.PutUint32(out[4*i:], w)
	}
	return out
}

// Sum returns sha256(sha256(p)): a txid over a transaction's serialization.
func Sum(p []byte) [32]byte {
	first := Sum256(p)
	ids := [][32]byte{first}
	Rehash(ids)
	return ids[0]
}

// Sum256Parts returns sha256(a‖b‖c) without joining the pieces: the first
// round of a witness transaction's txid, over its version, its inputs and
// outputs, and its locktime.
func Sum256Parts(a, b, c []byte) [32]byte {
	if !useSHANI {
		h := sha256.New()
		h.Write(a)
		h.Write(b)
		h.Write(c)
		var sum [32]byte
		h.Sum(sum[:0])
		return sum
	}
	d := digest{h: iv}
	d.write(a)
	d.write(b)
	d.write(c)
	d.finish()
	return put(&d.h)
}

// second fills m with the one block of sha256 over the 32 bytes x: x, then
// the constant padding of a 32-byte message.
func second(m *[64]byte, x *[32]byte) {
	copy(m[:32], x[:])
	m[32] = 0x80
	clear(m[33:62])
	m[62], m[63] = 0x01, 0x00 // 256 bits
}

// Rehash replaces every hash in ids by its sha256: the second round of a
// double SHA-256 for a whole block's txids at once, two at a time.
func Rehash(ids [][32]byte) {
	if !useSHANI {
		for i := range ids {
			ids[i] = sha256.Sum256(ids[i][:])
		}
		return
	}
	var ma, mb [64]byte
	i := 0
	for ; i+1 < len(ids); i += 2 {
		second(&ma, &ids[i])
		second(&mb, &ids[i+1])
		sa, sb := iv, iv
		block2SHANI(&sa, &sb, &ma, &mb)
		ids[i], ids[i+1] = put(&sa), put(&sb)
	}
	if i < len(ids) {
		second(&ma, &ids[i])
		s := iv
		blockSHANI(&s, ma[:])
		ids[i] = put(&s)
	}
}

// MerkleRoot returns the root of Bitcoin's merkle tree over ids (txids in
// wire byte order), computing it in place: ids is overwritten. An odd level
// pairs its last hash with itself. Each node is sha256d of its children's
// 64 bytes: three compressions (the 64 bytes, their constant padding block,
// the 32-byte first hash), done for two nodes at a time. The root of no
// ids is zero.
func MerkleRoot(ids [][32]byte) [32]byte {
	if len(ids) == 0 {
		return [32]byte{}
	}
	if !useSHANI {
		var buf [64]byte
		for n := len(ids); n > 1; n = (n + 1) / 2 {
			for i := 0; i < n; i += 2 {
				copy(buf[:32], ids[i][:])
				copy(buf[32:], ids[min(i+1, n-1)][:])
				first := sha256.Sum256(buf[:])
				ids[i/2] = sha256.Sum256(first[:])
			}
		}
		return ids[0]
	}
	var ma, mb [64]byte
	// pair fills m with the children of node k of a level of n hashes.
	pair := func(m *[64]byte, k, n int) {
		copy(m[:32], ids[2*k][:])
		copy(m[32:], ids[min(2*k+1, n-1)][:])
	}
	for n := len(ids); n > 1; n = (n + 1) / 2 {
		nodes := (n + 1) / 2
		k := 0
		for ; k+1 < nodes; k += 2 {
			pair(&ma, k, n)
			pair(&mb, k+1, n)
			sa, sb := iv, iv
			block2SHANI(&sa, &sb, &ma, &mb)
			block2SHANI(&sa, &sb, &pad64, &pad64)
			a, b := put(&sa), put(&sb)
			second(&ma, &a)
			second(&mb, &b)
			sa, sb = iv, iv
			block2SHANI(&sa, &sb, &ma, &mb)
			ids[k], ids[k+1] = put(&sa), put(&sb)
		}
		if k < nodes {
			pair(&ma, k, n)
			ids[k] = Sum64(&ma)
		}
	}
	return ids[0]
}

// Sum64 returns sha256(sha256(p)) of a 64-byte message: one merkle node.
func Sum64(p *[64]byte) [32]byte {
	if !useSHANI {
		first := sha256.Sum256(p[:])
		return sha256.Sum256(first[:])
	}
	s := iv
	blockSHANI(&s, p[:])
	blockSHANI(&s, pad64[:])
	first := put(&s)
	var m [64]byte
	second(&m, &first)
	s = iv
	blockSHANI(&s, m[:])
	return put(&s)
}

// Sum256 returns sha256(p), as crypto/sha256.Sum256 does.
func Sum256(p []byte) [32]byte {
	if !useSHANI {
		return sha256.Sum256(p)
	}
	d := digest{h: iv}
	d.write(p)
	d.finish()
	return put(&d.h)
}
