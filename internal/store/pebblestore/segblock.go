package pebblestore

// Compressed blocks of a segment section (the adjacency groups and the
// spends, segment format 2). A section's uncompressed bytes are cut into
// blocks at points of its sparse index (every blockStride index entries),
// so that a lookup still binary-searches the index and then decodes one
// block: the block holding index entry i is i/blockStride, and entry i's
// offset (an offset into the uncompressed bytes, as before) less the
// block's first offset is where its run starts inside the block.
//
// Each block is a codec byte and the payload:
//
//	0 raw          the bytes themselves (kept when no codec saves 1/8)
//	1 zstd         one zstd frame (klauspost/compress, fastest level): wins
//	               where values repeat (the synthetic chain, early mainnet)
//	2 huffman      pieces of up to huffPiece bytes: uvarint raw length,
//	               uvarint stored length, then huff0 4X (table and streams)
//	               or, when the lengths are equal, the raw piece: wins on
//	               random amounts and ids, whose varint bytes are skewed
//	3 columns      (segment format 4) the block's fields in streams,
//	               Huffman-coded with the section's tables (segcols.go):
//	               tried first on the groups and the spends
//
// A block index section holds the uncompressed length of the section
// (u64), then the offset of each block in the packed section (u64). The
// file's CRC covers all of it; a block that fails to decode, or decodes to
// other than the length the index implies, is an error naming the file,
// the section and the block, never a panic.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/huff0"
	"github.com/klauspost/compress/zstd"
)

const (
	blockStride = 16 // index entries per block
	huffPiece   = 128 << 10

	codecRaw  = 0
	codecZstd = 1
	codecHuff = 2
	codecCols = 3
)

var (
	zstdEnc = sync.OnceValue(func() *zstd.Encoder {
		// A 1 MiB window bounds the encoder's memory on the multi-MB
		// blocks of very busy addresses; blocks are separate frames anyway.
		// Four encoders: a close packs the groups and the spends, each in
		// two halves, at once (EncodeAll waits for a free encoder).
		// No frame checksum: the segment file's CRC covers every block
		// (4 bytes a block, ≈ 6 KB a segment of the 10⁶ chain).
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(4), zstd.WithLowerEncoderMem(true), zstd.WithWindowSize(1<<20), zstd.WithEncoderCRC(false))
		if err != nil {
			panic(err) // only for bad options
		}
		return e
	})
	zstdDec = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			panic(err) // only for bad options
		}
		return d
	})
	huffScratch = sync.Pool{New: func() any { return new(huff0.Scratch) }}
)

// packBlocks compresses sec in blocks cut at cuts (ascending offsets into
// sec, cuts[0] = 0) without the column codec (bytes of no known structure)
// and returns the packed section and its block index.
func packBlocks(sec []byte, cuts []uint64) (packed, bidx []byte) {
	packed, _, bidx = packSection(sec, cuts, colNone)
	return packed, bidx
}

// packSection compresses sec, a section of kind k, in blocks cut at cuts
// and returns the packed section (for a kind, the head with its column
// tables, hdr bytes, then the blocks) and its block index (offsets from
// the end of the head). The blocks are independent: a section of many
// blocks is packed in two halves on two goroutines (always two, whatever
// the machine, so that the file is the same everywhere), which halves a
// segment close's wait for it when nothing else runs (the last close of an
// ingest). The column tables are built first, from the counts of every
// block's streams (the halves counted at once too).
func packSection(sec []byte, cuts []uint64, k colKind) (packed []byte, hdr int, bidx []byte) {
	return packSectionCols(sec, cuts, k, nil)
}

// packSectionCols is packSection with the blocks split into the column
// codec's streams already (parts, when not nil: consecutive runs of whole
// blocks, every block of sec in one of them, the streams splitGroups or
// splitSpent would split; encodeGroupsCols, encodeSpentCols).
func packSectionCols(sec []byte, cuts []uint64, k colKind, parts []*colStreams) (packed []byte, hdr int, bidx []byte) {
	bidx = binary.BigEndian.AppendUint64(make([]byte, 0, 8+8*len(cuts)), uint64(len(sec)))
	h := len(cuts)
	if h >= 2*packSplitMin {
		h /= 2
	}
	two := func(fn func(k0, k1 int)) {
		done := make(chan struct{})
		if h < len(cuts) {
			go func() {
				defer close(done)
				fn(h, len(cuts))
			}()
		} else {
			close(done)
		}
		fn(0, h)
		<-done
	}
	var head []byte
	var cs [2]colStreams
	// block returns the streams of block i of a range from k0.
	block := func(k0, i int) ([colMaxStreams][]byte, bool) { return cs[min(k0, 1)].block(i - k0) }
	if k != colNone && parts != nil {
		// The parts' symbols counted on two goroutines, as split does.
		cnt := new([2][colMaxStreams][256]uint64)
		first, n := make([]int, len(parts)), 0
		for j, p := range parts {
			first[j], n = n, n+len(p.ends)
		}
		if n != len(cuts) {
			panic(fmt.Sprintf("pebblestore: packSectionCols: %d blocks of streams for %d blocks", n, len(cuts))) // a bug
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for _, p := range parts[len(parts)/2:] {
				p.count(k, &cnt[1])
			}
		}()
		for _, p := range parts[:len(parts)/2] {
			p.count(k, &cnt[0])
		}
		<-done
		for s := range cnt[0] {
			for b := range cnt[0][s] {
				cnt[0][s][b] += cnt[1][s][b]
			}
		}
		head = colHead(k, &cnt[0])
		block = func(_, i int) ([colMaxStreams][]byte, bool) {
			j := len(first) - 1
			for first[j] > i {
				j--
			}
			return parts[j].block(i - first[j])
		}
	} else if k != colNone {
		cnt := new([2][colMaxStreams][256]uint64)
		two(func(k0, k1 int) {
			j := min(k0, 1)
			cs[j].split(k, sec, cuts, k0, k1, &cnt[j])
		})
		for s := range cnt[0] {
			for b := range cnt[0][s] {
				cnt[0][s][b] += cnt[1][s][b]
			}
		}
		head = colHead(k, &cnt[0])
	}
	var packed2 []byte
	var offs, offs2 []uint64
	two(func(k0, k1 int) {
		if k0 == 0 {
			packed = make([]byte, 0, len(head)+len(sec)/2+len(cuts))
			packed, offs = packRange(sec, cuts, k0, k1, append(packed, head...), k, head, block)
			for i := range offs {
				offs[i] -= uint64(len(head))
			}
		} else {
			packed2, offs2 = packRange(sec, cuts, k0, k1, nil, k, head, block)
		}
	})
	for _, o := range offs {
		bidx = binary.BigEndian.AppendUint64(bidx, o)
	}
	for _, o := range offs2 {
		bidx = binary.BigEndian.AppendUint64(bidx, uint64(len(packed)-len(head))+o)
	}
	return append(packed, packed2...), len(head), bidx
}

// blockOf returns block i of sec cut at cuts.
func blockOf(sec []byte, cuts []uint64, i int) []byte {
	if i+1 < len(cuts) {
		return sec[cuts[i]:cuts[i+1]]
	}
	return sec[cuts[i]:]
}

// packSplitMin is the fewest blocks a half of a section packed in two
// halves has.
const packSplitMin = 16

// zstdMinBlock: klauspost's EncodeAll leaves the content size out of the
// frame header of an input under 256 bytes, and the reader wants it (to
// bound what it allocates before decoding), so such blocks are never
// zstd-packed. Files written before this rule have such frames: the reader
// takes a frame without its size for a block under zstdMinBlock bytes
// (TestZstdSmallBlocks).
const zstdMinBlock = 256

// packRange packs blocks k0 … k1−1 of sec (cut at cuts, a section of kind
// k whose head is head, block(k0, i) the streams of block i) onto packed
// and returns it with each block's offset in it.
func packRange(sec []byte, cuts []uint64, k0, k1 int, packed []byte, k colKind, head []byte, block func(k0, i int) ([colMaxStreams][]byte, bool)) ([]byte, []uint64) {
	offs := make([]uint64, 0, k1-k0)
	var tables *colTables
	if k != colNone {
		var err error
		if tables, _, err = parseColTables(k, head, true); err != nil {
			panic("pebblestore: a section head this process built does not parse: " + err.Error()) // a bug
		}
	}
	var obuf, zbuf []byte // reused: the winner is copied into packed at once
	// other is the codec zstd competes with: the column codec where the
	// section has a structure, else huffman over the block's bytes.
	other := byte(codecHuff)
	if tables != nil {
		other = codecCols
	}
	last := other
	for i := k0; i < k1; i++ {
		raw := blockOf(sec, cuts, i)
		offs = append(offs, uint64(len(packed)))
		best, codec := raw, byte(codecRaw)
		limit := len(raw) - len(raw)/8
		// The last block's winner is tried first, the other codec only
		// when it saves nothing, or on every 8th block (a section's
		// blocks are alike: this halves the cost of a segment close).
		zst := func() {
			if len(raw) < zstdMinBlock {
				return // no size in the frame: see zstdMinBlock
			}
			if zbuf = zstdEnc().EncodeAll(raw, zbuf[:0]); len(zbuf) < limit {
				best, codec, limit = zbuf, codecZstd, len(zbuf)
			}
		}
		oth := func() {
			if tables == nil {
				obuf = huffPack(obuf[:0], raw)
			} else if st, ok := block(k0, i); ok {
				obuf = colPack(obuf[:0], tables, &st)
			} else {
				return
			}
			if len(obuf) < limit {
				best, codec, limit = obuf, other, len(obuf)
			}
		}
		if tables != nil {
			// The column codec costs a fraction of zstd: always tried,
			// zstd behind it on every 8th block and after a block it won.
			oth()
			if codec == codecRaw || i%8 == 0 || last == codecZstd {
				zst()
			}
		} else if last == other {
			oth()
			if codec == codecRaw || i%8 == 0 {
				zst()
			}
		} else {
			zst()
			if codec == codecRaw || i%8 == 0 {
				oth()
			}
		}
		last = codec
		packed = append(append(packed, codec), best...)
	}
	return packed, offs
}

// huffPack appends raw as huffman pieces to out.
func huffPack(out, raw []byte) []byte {
	s := huffScratch.Get().(*huff0.Scratch)
	defer huffScratch.Put(s)
	for len(raw) > 0 {
		p := raw[:min(len(raw), huffPiece)]
		raw = raw[len(p):]
		s.Reuse = huff0.ReusePolicyNone
		c, _, err := huff0.Compress4X(p, s)
		if err != nil || len(c) >= len(p) { // incompressible, or one byte repeated
			c = p
		}
		out = binary.AppendUvarint(out, uint64(len(p)))
		out = binary.AppendUvarint(out, uint64(len(c)))
		out = append(out, c...)
	}
	return out
}

var errBlock = errors.New("bad compressed block")

// huffUnpack decodes huffman pieces into dst (capacity the expected size).
func huffUnpack(dst, in []byte, want int) ([]byte, error) {
	s := huffScratch.Get().(*huff0.Scratch)
	defer huffScratch.Put(s)
	for len(in) > 0 {
		r := &reader{b: in}
		n, c := r.uvarint(), r.uvarint()
		if r.err != nil || n == 0 || n > huffPiece || c > n || c > uint64(len(r.b)) || uint64(len(dst))+n > uint64(want) {
			return nil, errBlock
		}
		p := r.b[:c]
		in = r.b[c:]
		if c == n {
			dst = append(dst, p...)
			continue
		}
		s.MaxDecodedSize = int(n)
		s2, rest, err := huff0.ReadTable(p, s)
		if err != nil {
			return nil, errBlock
		}
		out, err := s2.Decompress4X(rest, int(n))
		if err != nil || len(out) != int(n) {
			return nil, errBlock
		}
		dst = append(dst, out...)
		s = s2
	}
	return dst, nil
}

// blockSec is a packed section of a mapped segment.
type blockSec struct {
	name   string
	at     uint64 // file offset of packed
	packed []byte
	bidx   []byte     // u64 raw length, then a u64 offset per block
	raw    uint64     // the uncompressed length
	cols   *colTables // the column codec's tables (segment format 4)
	// last: the most recently decoded block (lookups of nearby ids or
	// outputs come in runs).
	last atomic.Pointer[decodedBlock]
}

type decodedBlock struct {
	k    int
	data []byte // the block's bytes (nil: not joined yet)
	// st: a block of groups in the column codec, its streams (a lookup
	// joins only the run of groups it wants: groupRun).
	st *[colMaxStreams][]byte
}

func (b *blockSec) blocks() int { return len(b.bidx)/8 - 1 }

// check validates the block index against the packed bytes and the
// uncompressed starts: a block per blockStride index entries, ascending.
func (b *blockSec) check(starts func(k int) uint64, nIdx int) error {
	if len(b.bidx) < 8 || len(b.bidx)%8 != 0 {
		return fmt.Errorf("%s block index size %d", b.name, len(b.bidx))
	}
	b.raw = binary.BigEndian.Uint64(b.bidx)
	if want := (nIdx + blockStride - 1) / blockStride; b.blocks() != want {
		return fmt.Errorf("%s: %d blocks for %d index entries", b.name, b.blocks(), nIdx)
	}
	var prevOff, prevStart uint64
	for k := 0; k < b.blocks(); k++ {
		off := binary.BigEndian.Uint64(b.bidx[8+8*k:])
		st := starts(k)
		if k == 0 && (off != 0 || st != 0) || k > 0 && (off <= prevOff || st <= prevStart) || off >= uint64(len(b.packed)) || st >= b.raw {
			return fmt.Errorf("%s block %d at %d (uncompressed %d) out of order or bounds", b.name, k, off, st)
		}
		prevOff, prevStart = off, st
	}
	if b.blocks() == 0 && (len(b.packed) != 0 || b.raw != 0) {
		return fmt.Errorf("%s: %d bytes and no blocks", b.name, len(b.packed))
	}
	return nil
}

// packedBlock returns block k's packed bytes (its codec byte first), the
// length it must decode to ([start, end) of the uncompressed section), and
// the error maker that names the file, the section and the block.
func (b *blockSec) packedBlock(path string, k int, start, end uint64) (p []byte, want int, bad func(string) error, err error) {
	a := binary.BigEndian.Uint64(b.bidx[8+8*k:])
	bad = func(what string) error {
		return fmt.Errorf("%w: segment %s: %s block %d at file offset %d: %s", errCorrupt, path, b.name, k, b.at+a, what)
	}
	z := uint64(len(b.packed))
	if k+1 < b.blocks() {
		z = binary.BigEndian.Uint64(b.bidx[8+8*(k+1):])
	}
	if a >= z || z > uint64(len(b.packed)) || end <= start || end > b.raw {
		return nil, 0, bad, bad("out of bounds")
	}
	if end-start > blockMax {
		return nil, 0, bad, bad(fmt.Sprintf("%d bytes uncompressed", end-start))
	}
	return b.packed[a:z], int(end - start), bad, nil
}

// blockPrealloc bounds the room allocated for a block before it is
// decoded, with 8 bytes per packed byte (Huffman codes take at least a bit a
// byte; zstd blocks of adjacency rarely gain more). The size a block must
// decode to comes from the file's index (and a zstd frame must name the
// same); a damaged or crafted file whose checksum still holds could claim
// terabytes, which a preallocation of that size turned into a fatal
// out-of-memory (found by fuzzing). A block that needs more grows as it
// decodes; the decoders stop at the implied size (huffUnpack) or at
// zstdDec's limit of 1 GiB.
const blockPrealloc = 16 << 20

// blockMax is the most a block may decode to, zstdDec's limit: a segment
// holds at most a few million entries (segMaxEntries), tens of MB raw.
const blockMax = 1 << 30

// block returns the uncompressed bytes [start, end) of block k (end: the
// next block's start, or the section's length).
func (b *blockSec) block(path string, k int, start, end uint64) ([]byte, error) {
	d := b.last.Load()
	if d != nil && d.k == k && d.data != nil {
		return d.data, nil
	}
	p, want, bad, err := b.packedBlock(path, k, start, end)
	if err != nil {
		return nil, err
	}
	var data []byte
	switch p[0] {
	case codecRaw:
		data = p[1:]
	case codecZstd:
		// The frame's own size field could claim anything: it must be the
		// size the index implies before anything is allocated.
		// A frame without its size (only for a small block, see
		// zstdMinBlock) is small too: it cannot expand to more than a few
		// MB, and the length is checked after decoding.
		var h zstd.Header
		err := h.Decode(p[1:])
		sized := h.HasFCS && h.FrameContentSize == uint64(want)
		small := !h.HasFCS && want < zstdMinBlock && len(p) <= 2*zstdMinBlock
		if err != nil || !(sized || small) || h.WindowSize > 8<<20 {
			return nil, bad("zstd frame header")
		}
		out, err := zstdDec().DecodeAll(p[1:], make([]byte, 0, min(want, blockPrealloc, 8*len(p)+4096)))
		if err != nil {
			return nil, bad(err.Error())
		}
		data = out
	case codecHuff:
		out, err := huffUnpack(make([]byte, 0, min(want, blockPrealloc, 8*len(p)+4096)), p[1:], want)
		if err != nil {
			return nil, bad(err.Error())
		}
		data = out
	case codecCols:
		var out []byte
		var err error
		if d != nil && d.k == k && d.st != nil {
			out, err = colJoin(b.cols.kind, d.st, want) // the streams a lookup decoded
		} else {
			out, err = colUnpack(b.cols, p[1:], want)
		}
		if err != nil {
			return nil, bad(err.Error())
		}
		data = out
	default:
		return nil, bad(fmt.Sprintf("codec %d", p[0]))
	}
	if len(data) != want {
		return nil, bad(fmt.Sprintf("%d bytes, the index implies %d", len(data), want))
	}
	b.last.Store(&decodedBlock{k: k, data: data})
	return data, nil
}
