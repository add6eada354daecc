package pebblestore

// Hash sections (the txid and address lookups of a segment, format 2):
// (hash>>32, number−base) pairs sorted by hash then number, delta-coded in
// blocks of hashStride with a sparse index, instead of 8 fixed bytes a pair.
// Sorted 32-bit hashes of n entries are about 2³²/n apart, so a delta takes
// two bytes where the hash took four; the number (an offset inside the
// segment) takes three. Layout:
//
//	u32 nBlocks, then per block (first hash u32, byte offset of the block
//	after the index u32), then the blocks: per pair uvarint(hash − previous
//	hash) (the first of a block: against 0), uvarint(number − base)
//
// parseSegment checks every block once (it reads the whole file for its
// checksum anyway), so lookups decode without error paths.

import (
	"encoding/binary"
	"fmt"
	"sort"
)

const hashStride = 64

// appendHashSection appends the sorted (hash>>32, number−base) pairs of
// ents as a hash section (ents stays as it is).
func appendHashSection(out []byte, ents []hashEnt, base uint64) []byte {
	keys := make([]uint64, len(ents))
	for i, e := range ents {
		keys[i] = e.hash>>32<<32 | (e.num-base)&0xffffffff
	}
	radixSort(keys, 32, 64) // in number order: stable on the hash bits
	nb := (len(keys) + hashStride - 1) / hashStride
	out = binary.BigEndian.AppendUint32(out, uint32(nb))
	idx := len(out)
	out = append(out, make([]byte, 8*nb)...)
	body := len(out)
	var prev uint64
	for i, k := range keys {
		h := k >> 32
		if i%hashStride == 0 {
			b := idx + 8*(i/hashStride)
			binary.BigEndian.PutUint32(out[b:], uint32(h))
			binary.BigEndian.PutUint32(out[b+4:], uint32(len(out)-body))
			prev = 0
		}
		out = binary.AppendUvarint(out, h-prev)
		out = binary.AppendUvarint(out, k&0xffffffff)
		prev = h
	}
	return out
}

// hashSec is a parsed hash section.
type hashSec struct {
	n    int    // pairs
	idx  []byte // per block: first hash u32, offset u32
	body []byte
}

func (h *hashSec) blocks() int { return len(h.idx) / 8 }

// parseHashSec checks a hash section of n pairs, each number below lim.
func parseHashSec(sec []byte, n, lim uint64, name string) (hashSec, error) {
	var h hashSec
	if len(sec) < 4 {
		return h, fmt.Errorf("%s section of %d bytes", name, len(sec))
	}
	nb := uint64(binary.BigEndian.Uint32(sec))
	if nb != (n+hashStride-1)/hashStride || uint64(len(sec)) < 4+8*nb {
		return h, fmt.Errorf("%s section: %d blocks for %d entries", name, nb, n)
	}
	h = hashSec{n: int(n), idx: sec[4 : 4+8*nb], body: sec[4+8*nb:]}
	var last uint64
	first := true
	for b := 0; b < h.blocks(); b++ {
		off := uint64(binary.BigEndian.Uint32(h.idx[8*b+4:]))
		fh := uint64(binary.BigEndian.Uint32(h.idx[8*b:]))
		end := uint64(len(h.body))
		if b+1 < h.blocks() {
			end = uint64(binary.BigEndian.Uint32(h.idx[8*b+12:]))
		}
		if off > end || end > uint64(len(h.body)) || b == 0 && off != 0 {
			return h, fmt.Errorf("%s block %d at %d out of order", name, b, off)
		}
		r := &reader{b: h.body[off:end]}
		var prev uint64
		for i := 0; i < min(hashStride, h.n-b*hashStride); i++ {
			hv := prev + r.uvarint()
			num := r.uvarint()
			if r.err != nil || hv > 0xffffffff || num >= lim || i == 0 && hv != fh || !first && hv < last {
				return h, fmt.Errorf("%s block %d entry %d is damaged or out of order", name, b, i)
			}
			prev, last, first = hv, hv, false
		}
		if len(r.b) != 0 {
			return h, fmt.Errorf("%s block %d: %d trailing bytes", name, b, len(r.b))
		}
	}
	if h.blocks() == 0 && len(h.body) != 0 {
		return h, fmt.Errorf("%s section: %d bytes and no entries", name, len(h.body))
	}
	return h, nil
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
	off := binary.BigEndian.Uint32(h.idx[8*b+4:])
	r := &reader{b: h.body[off:]}
	var prev uint64
	for i := 0; i < min(hashStride, h.n-b*hashStride); i++ {
		prev += r.uvarint()
		if !fn(uint32(prev), r.uvarint()) {
			return false
		}
	}
	return true
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
