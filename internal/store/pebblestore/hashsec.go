package pebblestore

// Hash sections (the txid and address lookups of a segment, format 3):
// (hash>>32, number−base) pairs sorted by hash then number, bit-packed in
// blocks of hashStride with a sparse index, instead of 8 fixed bytes a pair.
// Sorted 32-bit hashes of n entries are about 2³²/n apart, geometrically
// distributed: a Rice code of the difference (a unary quotient and k low
// bits, k chosen for the section) takes about log2(2³²/n) + 1.5 bits; the
// number, an offset inside the segment, takes the w bits its largest value
// needs. Format 2 wrote both as uvarints (two and three bytes where they
// need about 15 and 19 bits): about 5.4 bytes a pair against 4.4. Layout:
//
//	u32 nBlocks, byte k, byte w, then per block (first hash u32, byte
//	offset of the block after the index u32), then the blocks, each a bit
//	stream (least significant bit first, zero-padded to a byte): per pair
//	but the first (whose hash is the index's) the hash minus the previous
//	one, Rice-coded (quotient d>>k as that many 1 bits and a 0, then the
//	low k bits of d), then the number minus base in w bits
//
// parseSegment checks every block once (it reads the whole file for its
// checksum anyway), so lookups decode without error paths.

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
	"sort"
)

const (
	hashStride  = 64
	hashSecHead = 6 // nBlocks u32, k, w
)

// appendHashSection appends the sorted (hash>>32, number−base) pairs of
// ents as a hash section (ents stays as it is).
func appendHashSection(out []byte, ents []hashEnt, base uint64) []byte {
	return appendHashKeys(out, hashKeys(ents, base))
}

// hashKeys returns the (hash>>32, number−base) pairs of ents as keys
// hash>>32<<32 | number−base, sorted (by hash, then number): what a hash
// section codes, and what a closing segment's lookups search (hashKeyIndex).
func hashKeys(ents []hashEnt, base uint64) []uint64 {
	keys := make([]uint64, len(ents))
	for i, e := range ents {
		keys[i] = e.hash>>32<<32 | (e.num-base)&0xffffffff
	}
	radixSort(keys, 32, 64) // in number order: stable on the hash bits
	return keys
}

// appendHashKeys appends the sorted keys (hashKeys) as a hash section.
func appendHashKeys(out []byte, keys []uint64) []byte {
	var maxNum uint64
	for _, key := range keys {
		maxNum = max(maxNum, key&0xffffffff)
	}
	k, w := riceParam(keys), uint(bits.Len64(maxNum))
	nb := (len(keys) + hashStride - 1) / hashStride
	// Room for the whole section: the head and index, and per pair the
	// Rice code's k bits, its quotient (about 1.5 bits) and w bits, with
	// a word of slack a block (appends that outgrow it copy what they hold).
	out = grow(out, hashSecHead+8*nb+len(keys)*int(k+w+2)/8+8*nb+8)
	out = binary.BigEndian.AppendUint32(out, uint32(nb))
	out = append(out, byte(k), byte(w))
	idx := len(out)
	out = append(out, make([]byte, 8*nb)...)
	body := len(out)
	var bw bitWriter
	var prev uint64
	for i, key := range keys {
		h := key >> 32
		if i%hashStride == 0 {
			out = bw.flush(out)
			b := idx + 8*(i/hashStride)
			binary.BigEndian.PutUint32(out[b:], uint32(h))
			binary.BigEndian.PutUint32(out[b+4:], uint32(len(out)-body))
		} else {
			d := h - prev
			out = bw.unary(out, d>>k)
			out = bw.write(out, d&(1<<k-1), k)
		}
		out = bw.write(out, key&0xffffffff, w)
		prev = h
	}
	return bw.flush(out)
}

// hashKeyIndex finds numbers by hash in sorted keys (hashKeys): a closing
// segment's txids and new addresses, which its lookups search until its
// file is mapped. The close sorts them for its hash sections anyway; an
// open-addressing table of them (hashIndex) cost as much again.
type hashKeyIndex struct {
	keys []uint64
	base uint64
}

// get appends to out the numbers whose hash may be h (the same top 32
// bits), in number order.
func (x *hashKeyIndex) get(h uint64, out []uint64) []uint64 {
	fp := h >> 32
	i, _ := slices.BinarySearch(x.keys, fp<<32)
	for ; i < len(x.keys) && x.keys[i]>>32 == fp; i++ {
		out = append(out, x.base+x.keys[i]&0xffffffff)
	}
	return out
}

// riceParam returns the Rice parameter that codes the hash differences of
// the sorted keys in the fewest bits, trying the few around the one their
// mean suggests.
func riceParam(keys []uint64) uint {
	if len(keys) < 2 {
		return 0
	}
	span := keys[len(keys)-1]>>32 - keys[0]>>32
	mean := span / uint64(len(keys)-1)
	guess := uint(bits.Len64(mean * 11 / 16)) // log2(mean · ln 2), rounded up
	// The sizes of the (up to) three candidates k0 … k0+2 in one pass over
	// the differences.
	k0, k2 := max(guess, 1)-1, min(guess+1, 32)
	var q [3]uint64 // the sum of the quotients d>>k of each
	for i := 1; i < len(keys); i++ {
		d := keys[i]>>32 - keys[i-1]>>32
		q[0] += d >> k0
		q[1] += d >> (k0 + 1)
		q[2] += d >> (k0 + 2)
	}
	best, bestBits := guess, ^uint64(0)
	for k := k0; k <= k2; k++ {
		if n := q[k-k0] + uint64(len(keys)-1)*(1+uint64(k)); n < bestBits {
			best, bestBits = k, n
		}
	}
	return best
}

// bitWriter appends bit fields to a byte slice, least significant bit
// first.
type bitWriter struct {
	acc uint64
	n   uint // bits in acc
}

// write appends the low n bits of v (n ≤ 32), four bytes at a time.
func (w *bitWriter) write(out []byte, v uint64, n uint) []byte {
	w.acc |= v << w.n
	w.n += n
	if w.n >= 32 {
		out = binary.LittleEndian.AppendUint32(out, uint32(w.acc))
		w.acc >>= 32
		w.n -= 32
	}
	return out
}

// unary appends q 1 bits and a 0.
func (w *bitWriter) unary(out []byte, q uint64) []byte {
	for ; q >= 32; q -= 32 {
		out = w.write(out, 1<<32-1, 32)
	}
	return w.write(out, 1<<q-1, uint(q)+1)
}

// flush pads the bits written to a whole byte.
func (w *bitWriter) flush(out []byte) []byte {
	for ; w.n > 0; w.n -= min(w.n, 8) {
		out = append(out, byte(w.acc))
		w.acc >>= 8
	}
	w.acc, w.n = 0, 0
	return out
}

// bitReader reads what bitWriter wrote; reads past the end give zeros and
// set over.
type bitReader struct {
	b    []byte
	pos  uint64 // bit position
	over bool
}

// window returns at least 57 bits from pos on.
func (r *bitReader) window() uint64 {
	i := r.pos / 8
	var v uint64
	if i+8 <= uint64(len(r.b)) {
		v = binary.LittleEndian.Uint64(r.b[i:])
	} else {
		var t [8]byte
		if i < uint64(len(r.b)) {
			copy(t[:], r.b[i:])
		}
		v = binary.LittleEndian.Uint64(t[:])
	}
	return v >> (r.pos % 8)
}

func (r *bitReader) advance(n uint64) {
	r.pos += n
	if r.pos > 8*uint64(len(r.b)) {
		r.over = true
	}
}

// read returns the next n bits (n ≤ 32).
func (r *bitReader) read(n uint) uint64 {
	v := r.window() & (1<<n - 1)
	r.advance(uint64(n))
	return v
}

// unary returns the count of 1 bits before the next 0, at most limit
// (past it, over is set).
func (r *bitReader) unary(limit uint64) uint64 {
	var q uint64
	for !r.over {
		ones := uint64(bits.TrailingZeros64(^r.window()))
		if ones < 57 {
			r.advance(ones + 1)
			return q + ones
		}
		q += 57
		r.advance(57)
		if q > limit {
			r.over = true
		}
	}
	return q
}

// hashSec is a parsed hash section.
type hashSec struct {
	n    int    // pairs
	k, w uint   // Rice parameter, number width
	idx  []byte // per block: first hash u32, offset u32
	body []byte
}

func (h *hashSec) blocks() int { return len(h.idx) / 8 }

// block returns block b's bytes.
func (h *hashSec) block(b int) []byte {
	off := binary.BigEndian.Uint32(h.idx[8*b+4:])
	end := uint32(len(h.body))
	if b+1 < h.blocks() {
		end = binary.BigEndian.Uint32(h.idx[8*b+12:])
	}
	return h.body[off:end]
}

// parseHashSec checks a hash section of n pairs, each number below lim.
func parseHashSec(sec []byte, n, lim uint64, name string) (hashSec, error) {
	return parseHashSecAs(sec, n, lim, name, false)
}

// parseHashSecAs is parseHashSec; trusted skips the walk of every block
// (for bytes already checked: segment.trusted).
func parseHashSecAs(sec []byte, n, lim uint64, name string, trusted bool) (hashSec, error) {
	var h hashSec
	if len(sec) < hashSecHead {
		return h, fmt.Errorf("%s section of %d bytes", name, len(sec))
	}
	nb := uint64(binary.BigEndian.Uint32(sec))
	if nb != (n+hashStride-1)/hashStride || uint64(len(sec)) < hashSecHead+8*nb {
		return h, fmt.Errorf("%s section: %d blocks for %d entries", name, nb, n)
	}
	h = hashSec{n: int(n), k: uint(sec[4]), w: uint(sec[5]), idx: sec[hashSecHead : hashSecHead+8*nb], body: sec[hashSecHead+8*nb:]}
	if h.k > 32 || h.w > 32 {
		return h, fmt.Errorf("%s section: Rice parameter %d, number width %d", name, h.k, h.w)
	}
	var last uint64
	for b := 0; b < h.blocks() && !trusted; b++ {
		off := uint64(binary.BigEndian.Uint32(h.idx[8*b+4:]))
		end := uint64(len(h.body))
		if b+1 < h.blocks() {
			end = uint64(binary.BigEndian.Uint32(h.idx[8*b+12:]))
		}
		if off > end || end > uint64(len(h.body)) || b == 0 && off != 0 {
			return h, fmt.Errorf("%s block %d at %d out of order", name, b, off)
		}
		fh := uint64(binary.BigEndian.Uint32(h.idx[8*b:]))
		if b > 0 && fh < last {
			return h, fmt.Errorf("%s block %d entry 0 is damaged or out of order", name, b)
		}
		r := &bitReader{b: h.body[off:end]}
		ok := h.eachBits(r, fh, min(hashStride, h.n-b*hashStride), func(hv uint32, num uint64) bool {
			if num >= lim {
				return false
			}
			last = uint64(hv)
			return true
		})
		if !ok || r.over {
			return h, fmt.Errorf("%s block %d is damaged or out of order", name, b)
		}
		if (r.pos+7)/8 != uint64(len(r.b)) || r.pos%8 != 0 && r.b[len(r.b)-1]>>(r.pos%8) != 0 {
			return h, fmt.Errorf("%s block %d: trailing bits", name, b)
		}
	}
	if h.blocks() == 0 && len(h.body) != 0 {
		return h, fmt.Errorf("%s section: %d bytes and no entries", name, len(h.body))
	}
	return h, nil
}

// eachBits decodes the n pairs of a block from r, the first of hash fh,
// calling fn until it returns false; false also when a hash passes 32 bits
// or the block's bits run out.
func (h *hashSec) eachBits(r *bitReader, fh uint64, n int, fn func(hash uint32, num uint64) bool) bool {
	hv := fh
	for i := 0; i < n; i++ {
		if i > 0 {
			lim := uint64(0xffffffff) >> h.k
			q := r.unary(lim)
			if q > lim {
				return false
			}
			hv += q<<h.k | r.read(h.k)
		}
		num := r.read(h.w)
		if r.over || hv > 0xffffffff {
			return false
		}
		if !fn(uint32(hv), num) {
			return false
		}
	}
	return true
}

// each calls fn with every pair in order (hash32, number − base).
func (h *hashSec) each(fn func(hash uint32, num uint64)) {
	for b := 0; b < h.blocks(); b++ {
		h.eachIn(b, func(hv uint32, num uint64) bool { fn(hv, num); return true })
	}
}

// eachIn calls fn with the pairs of block b until it returns false; it
// reports whether fn always returned true.
func (h *hashSec) eachIn(b int, fn func(hash uint32, num uint64) bool) bool {
	fh := uint64(binary.BigEndian.Uint32(h.idx[8*b:]))
	return h.eachBits(&bitReader{b: h.block(b)}, fh, min(hashStride, h.n-b*hashStride), fn)
}

// find returns the numbers (plus base) of the pairs whose hash is the top
// 32 bits of key.
func (h *hashSec) find(key, base uint64) []uint64 {
	k := uint32(key >> 32)
	nb := h.blocks()
	// The first block whose first hash is k or more; pairs of hash k may
	// begin in the block before it.
	b := sort.Search(nb, func(i int) bool { return binary.BigEndian.Uint32(h.idx[8*i:]) >= k })
	if b > 0 {
		b--
	}
	var out []uint64
	for ; b < nb; b++ {
		if !h.eachIn(b, func(hv uint32, num uint64) bool {
			if hv == k {
				out = append(out, base+num)
			}
			return hv <= k
		}) {
			break
		}
	}
	return out
}
