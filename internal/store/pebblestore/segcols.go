package pebblestore

// The column codec of segment blocks (codec 3, segment format 4). A block
// of adjacency groups or of spends is a run of records of a few fields
// (group heads, tx-number deltas, flag bytes, amounts; or three deltas a
// spend), each field with its own statistics. zstd found them in each block
// anew (matches, then literal and sequence tables built per block: two
// thirds of its CPU went to the tables), huffman over the block's bytes
// mixed them. Here the block's bytes are split into streams by field (a
// varint's first byte apart from its continuation bytes, an amount's
// leading byte apart from the rest), and each stream is Huffman-coded
// (huff0) with one table per stream for the whole section, built once from
// the section's counts: the tables are stored once, at the head of the
// section, and the blocks hold only the coded streams.
//
// A block of the codec is, for each stream of its section's kind in order:
//
//	uvarint n<<2 | mode, then by mode:
//	  0 raw        n bytes
//	  1 huff 1X    uvarint m, m bytes: a huff0 1X stream of n symbols
//	  2 huff 4X    uvarint m, m bytes: a huff0 4X stream of n symbols
//	  3 repeat     1 byte, n times
//
// The section's head (segment format 4, groups and spent sections) is
// uvarint nStreams, then per stream uvarint len and a huff0 table of len
// bytes (len 0: no table, the stream's blocks are raw or repeats). The block
// index's offsets count from the end of the head.
//
// Decoding walks the same fields in the same order, reading each from its
// stream and writing the block's bytes as the encoder had them: the sparse
// indexes' offsets into the uncompressed section hold, and the readers of
// groups and spends are unchanged. A lookup joins only the run of records
// it reads: the block's streams are decoded once (and cached), the records
// before the run skipped by counting (skipGroups, skipSpent; seg.go
// sectionRun). A block whose streams do not walk to
// exactly the length the index implies, with every stream used up, is an
// error naming the file, the section and the block.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"sync"

	"github.com/klauspost/compress/huff0"
)

// colKind is how a section's bytes split into streams.
type colKind uint8

const (
	colNone   colKind = iota // bytes without a known structure: no column codec
	colGroups                // the adjacency groups (seg.go)
	colSpent                 // the spends
)

// Streams of the groups: a group's id delta, its byte length, its count;
// per entry the tx-number delta's first and further bytes, the flag byte,
// the rare varints (asset, counts past 2), and per amount its length byte,
// its leading byte and its further bytes.
const (
	gsID = iota
	gsLen
	gsCount
	gsTx
	gsTxMore
	gsFlags
	gsRare
	gsAmtLen
	gsAmtLead
	gsAmtMore
	gsN
)

// Streams of the spends: the prevTx delta's first and further bytes, the
// vout, the spender delta's first and further bytes.
const (
	ssPrev = iota
	ssPrevMore
	ssVout
	ssSpender
	ssSpenderMore
	ssN
)

const colMaxStreams = gsN

func (k colKind) streams() int {
	switch k {
	case colGroups:
		return gsN
	case colSpent:
		return ssN
	}
	return 0
}

// Stream modes.
const (
	colRaw = iota
	colHuff1
	colHuff4
	colRepeat
)

// colHuff4Min: streams of this many symbols or more are coded 4X (four
// interleaved streams decode faster; below it the jump table costs more).
const colHuff4Min = 1024

// colTables are a section's Huffman tables, one per stream (nil: none).
type colTables struct {
	kind colKind
	enc  [colMaxStreams]*huff0.Scratch // encoding: a Scratch holding the table
	dec  [colMaxStreams]*huff0.Decoder
}

// colSample returns bytes with the symbol counts cnt scaled to about 32 KB,
// every counted symbol at least once: huff0 builds a table from its input,
// so this input gives the section's table.
func colSample(cnt *[256]uint64) []byte {
	var total uint64
	for _, c := range cnt {
		total += c
	}
	if total == 0 {
		return nil
	}
	const size = 32 << 10
	var out []byte
	for sym, c := range cnt {
		if c == 0 {
			continue
		}
		n := max(1, c*size/total)
		for i := uint64(0); i < n; i++ {
			out = append(out, byte(sym))
		}
	}
	return out
}

// colHead builds the tables of a section of kind k from its streams'
// symbol counts and returns the section's head that stores them. The
// encoders take their tables from the head (parseColTables), as the
// decoders do.
func colHead(k colKind, cnt *[colMaxStreams][256]uint64) []byte {
	head := putUvarint(nil, uint64(k.streams()))
	for s := 0; s < k.streams(); s++ {
		var tbl []byte
		if smp := colSample(&cnt[s]); smp != nil {
			var sc huff0.Scratch
			if _, _, err := huff0.Compress1X(smp, &sc); err == nil {
				tbl = sc.OutTable
			}
		}
		head = putUvarint(head, uint64(len(tbl)))
		head = append(head, tbl...)
	}
	return head
}

var (
	errColHead = errors.New("bad column tables")
	colBufs    = sync.Pool{New: func() any { return new([]byte) }}
)

// parseColTables reads a section's head: the tables (for decoding, and
// with enc for encoding too) and the head's length.
func parseColTables(k colKind, sec []byte, enc bool) (*colTables, int, error) {
	r := &reader{b: sec}
	n := r.uvarint()
	if r.err != nil || n != uint64(k.streams()) {
		return nil, 0, fmt.Errorf("%w: %d streams for %d", errColHead, n, k.streams())
	}
	t := &colTables{kind: k}
	for s := 0; s < int(n); s++ {
		tbl := r.lenBytes()
		if r.err != nil {
			return nil, 0, fmt.Errorf("%w: stream %d's table: %v", errColHead, s, r.err)
		}
		if len(tbl) == 0 {
			continue
		}
		sc, rest, err := huff0.ReadTable(tbl, &huff0.Scratch{})
		if err != nil || len(rest) != 0 {
			return nil, 0, fmt.Errorf("%w: stream %d's table (%d bytes)", errColHead, s, len(tbl))
		}
		if enc {
			t.enc[s] = sc
		} else {
			t.dec[s] = sc.Decoder()
		}
	}
	return t, len(sec) - len(r.b), nil
}

// colStreams holds the streams of a run of blocks split at once, the
// blocks' streams one after the other: block i's stream s is
// st[s][ends[i−1][s]:ends[i][s]]; ok[i] is false where block i did not split.
type colStreams struct {
	st   [colMaxStreams][]byte
	ends [][colMaxStreams]int
	ok   []bool
}

// split appends the streams of blocks k0 … k1−1 of sec (cut at cuts) of
// kind k, and adds every stream's symbols to cnt.
func (c *colStreams) split(k colKind, sec []byte, cuts []uint64, k0, k1 int, cnt *[colMaxStreams][256]uint64) {
	for i := k0; i < k1; i++ {
		if i == k0+1 {
			// Room for every block's streams at the first one's shares of
			// its bytes, and a quarter more: appends that outgrow their
			// room copy what they hold.
			var size uint64
			if k1 < len(cuts) {
				size = cuts[k1] - cuts[k0]
			} else {
				size = uint64(len(sec)) - cuts[k0]
			}
			first := uint64(max(1, len(blockOf(sec, cuts, k0))))
			for s := range c.st {
				c.st[s] = append(make([]byte, 0, uint64(len(c.st[s]))*size/first*5/4+256), c.st[s]...)
			}
		}
		var ok bool
		at := c.st
		switch k {
		case colGroups:
			ok = splitGroups(blockOf(sec, cuts, i), &c.st)
		case colSpent:
			ok = splitSpent(blockOf(sec, cuts, i), &c.st)
		}
		if !ok {
			c.st = at // the block is packed by another codec
			for s := range c.st {
				c.st[s] = c.st[s][:len(at[s])]
			}
		}
		var e [colMaxStreams]int
		for s := range e {
			e[s] = len(c.st[s])
		}
		c.ends, c.ok = append(c.ends, e), append(c.ok, ok)
	}
	for s := 0; s < k.streams(); s++ {
		h := &cnt[s]
		for _, b := range c.st[s] {
			h[b]++
		}
	}
}

// endBlock ends a block of streams its writer appended (encodeGroupRange,
// encodeSpent) after done of the run's records, rest to come: after the
// first block it makes room (grow: not cleared) for the rest at the first
// block's shares, and an eighth more (appends that outgrow their room copy
// what they hold).
func (c *colStreams) endBlock(done, rest int) {
	if len(c.ends) == 0 && rest > 0 && done > 0 {
		for s := range c.st {
			c.st[s] = grow(c.st[s], len(c.st[s])*rest/done*9/8+64)
		}
	}
	var e [colMaxStreams]int
	for s := range e {
		e[s] = len(c.st[s])
	}
	c.ends, c.ok = append(c.ends, e), append(c.ok, true)
}

// count adds the symbols of the streams of a section of kind k to cnt.
func (c *colStreams) count(k colKind, cnt *[colMaxStreams][256]uint64) {
	for s := 0; s < k.streams(); s++ {
		h := &cnt[s]
		for _, b := range c.st[s] {
			h[b]++
		}
	}
}

// putUvarintCols appends uvarint v as its first byte to first and its
// further bytes to more.
func putUvarintCols(first, more []byte, v uint64) ([]byte, []byte) {
	if v < 0x80 {
		return append(first, byte(v)), more
	}
	first = append(first, byte(v)|0x80)
	for v >>= 7; v >= 0x80; v >>= 7 {
		more = append(more, byte(v)|0x80)
	}
	return first, append(more, byte(v))
}

// putAmountCols appends amount v (putAmountU64) as its length byte, its
// leading byte and its further bytes to the three streams.
func putAmountCols(ln, lead, more []byte, v uint64) ([]byte, []byte, []byte) {
	n := (bits.Len64(v) + 7) / 8
	ln = append(ln, byte(n))
	if n == 0 {
		return ln, lead, more
	}
	lead = append(lead, byte(v>>(8*(n-1))))
	for i := n - 2; i >= 0; i-- {
		more = append(more, byte(v>>(8*i)))
	}
	return ln, lead, more
}

// splitEntry appends the streams of one entry of a group, b whole, and
// reports whether b is exactly one.
func splitEntry(b []byte, st *[colMaxStreams][]byte) bool {
	n, ok := splitEntryPrefix(b, st)
	return ok && n == len(b)
}

// splitEntryPrefix appends the streams of the entry of a group that b
// starts with and returns its length; false when b does not start with a
// whole entry.
func splitEntryPrefix(b []byte, st *[colMaxStreams][]byte) (int, bool) {
	n := uvLen(b)
	if n == 0 || n == len(b) {
		return 0, false
	}
	st[gsTx] = append(st[gsTx], b[0])
	st[gsTxMore] = append(st[gsTxMore], b[1:n]...)
	f := b[n]
	st[gsFlags] = append(st[gsFlags], f)
	at := n + 1
	for k := rareFields(f); k > 0; k-- {
		if n = uvLen(b[at:]); n == 0 {
			return 0, false
		}
		st[gsRare] = append(st[gsRare], b[at:at+n]...)
		at += n
	}
	for k := entryAmounts(f); k > 0; k-- {
		r := b[at:]
		if len(r) == 0 || r[0] > 32 || int(r[0]) >= len(r) {
			return 0, false
		}
		a := int(r[0])
		st[gsAmtLen] = append(st[gsAmtLen], r[0])
		if a > 0 {
			st[gsAmtLead] = append(st[gsAmtLead], r[1])
			st[gsAmtMore] = append(st[gsAmtMore], r[2:1+a]...)
		}
		at += 1 + a
	}
	return at, true
}

// block returns the streams of the i-th block split.
func (c *colStreams) block(i int) (st [colMaxStreams][]byte, ok bool) {
	for s := range st {
		a := 0
		if i > 0 {
			a = c.ends[i-1][s]
		}
		st[s] = c.st[s][a:c.ends[i][s]]
	}
	return st, c.ok[i]
}

// uvLen returns the length of the uvarint at the start of b, or 0.
func uvLen(b []byte) int {
	for i := 0; i < len(b) && i < binary.MaxVarintLen64; i++ {
		if b[i] < 0x80 {
			return i + 1
		}
	}
	return 0
}

// splitGroups appends the streams of a block of groups to st: what the
// tests' reference does (colWalk.walk, colGroups, segcols_walk_test.go),
// in straight code, each entry by splitEntryPrefix (a close writes its
// streams as it encodes: this splits the blocks a merge or a test packs).
func splitGroups(b []byte, st *[colMaxStreams][]byte) bool {
	for len(b) > 0 {
		n := uvLen(b)
		if n == 0 {
			return false
		}
		st[gsID] = append(st[gsID], b[:n]...)
		b = b[n:]
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return false
		}
		st[gsLen] = append(st[gsLen], b[:n]...)
		body := b[n : n+int(l)]
		b = b[n+int(l):]
		c, n := binary.Uvarint(body)
		if n <= 0 {
			return false
		}
		st[gsCount] = append(st[gsCount], body[:n]...)
		body = body[n:]
		for e := c >> 1; e > 0; e-- {
			if n, ok := splitEntryPrefix(body, st); ok {
				body = body[n:]
			} else {
				return false
			}
		}
		if len(body) != 0 {
			return false
		}
	}
	return true
}

// splitSpent appends the streams of a block of spends to st: each spend's
// prevTx delta and spender delta as their first and further bytes, its
// vout whole (a uvarint is at most ten bytes, as the walker reads).
func splitSpent(b []byte, st *[colMaxStreams][]byte) bool {
	for len(b) > 0 {
		n := uvLen(b)
		if n == 0 {
			return false
		}
		st[ssPrev], st[ssPrevMore] = append(st[ssPrev], b[0]), append(st[ssPrevMore], b[1:n]...)
		b = b[n:]
		if n = uvLen(b); n == 0 {
			return false
		}
		st[ssVout] = append(st[ssVout], b[:n]...)
		b = b[n:]
		if n = uvLen(b); n == 0 {
			return false
		}
		st[ssSpender], st[ssSpenderMore] = append(st[ssSpender], b[0]), append(st[ssSpenderMore], b[1:n]...)
		b = b[n:]
	}
	return true
}

// colPack appends the streams of a block of t's kind, coded with t's
// tables.
func colPack(out []byte, t *colTables, st *[colMaxStreams][]byte) []byte {
	for s := 0; s < t.kind.streams(); s++ {
		in := st[s]
		n := uint64(len(in))
		if n > 0 && t.enc[s] != nil && n <= huffPiece {
			sc := t.enc[s]
			sc.Reuse = huff0.ReusePolicyMust
			var c []byte
			var err error
			mode := uint64(colHuff1)
			if n >= colHuff4Min {
				mode = colHuff4
				c, _, err = huff0.Compress4X(in, sc)
			} else {
				c, _, err = huff0.Compress1X(in, sc)
			}
			if err == nil {
				out = putUvarint(out, n<<2|mode)
				out = putUvarint(out, uint64(len(c)))
				out = append(out, c...)
				continue
			}
		}
		if n > 1 && repeated(in) {
			out = putUvarint(out, n<<2|colRepeat)
			out = append(out, in[0])
			continue
		}
		out = putUvarint(out, n<<2|colRaw)
		out = append(out, in...)
	}
	return out
}

func repeated(b []byte) bool {
	for _, c := range b[1:] {
		if c != b[0] {
			return false
		}
	}
	return true
}

// colUnpack decodes a block of the column codec (p, after the codec byte)
// of want bytes.
func colUnpack(t *colTables, p []byte, want int) ([]byte, error) {
	// The streams are decoded into one pooled buffer: the join copies them.
	bp := colBufs.Get().(*[]byte)
	defer colBufs.Put(bp)
	st, buf, err := colStreamsOf(t, p, want, (*bp)[:0])
	if err != nil {
		return nil, err
	}
	if cap(buf) <= 1<<20 {
		*bp = buf
	}
	return colJoin(t.kind, &st, want)
}

// colJoin joins a block's streams into its want bytes.
func colJoin(k colKind, st *[colMaxStreams][]byte, want int) ([]byte, error) {
	out := make([]byte, 0, want)
	var ok bool
	switch k {
	case colGroups:
		out, _, ok = joinGroups(out, st, -1)
	case colSpent:
		out, _, ok = joinSpent(out, st, -1)
	}
	if !ok || len(out) != want {
		return nil, errors.New("the streams do not join into whole records")
	}
	return out, nil
}

// colStreamsOf decodes the streams of a block of the column codec (p,
// after the codec byte) of want bytes, the Huffman-coded ones into buf
// (grown as needed, returned). Nothing is allocated past what the block's
// bytes can decode to: a coded stream claims at most 8 symbols a byte
// (huff0 codes take at least a bit), and the streams together exactly want.
func colStreamsOf(t *colTables, p []byte, want int, buf []byte) (st [colMaxStreams][]byte, _ []byte, _ error) {
	if t == nil {
		return st, buf, errors.New("a column block in a section without tables")
	}
	total := 0
	r := &reader{b: p}
	for s := 0; s < t.kind.streams(); s++ {
		h := r.uvarint()
		if r.err != nil {
			return st, buf, fmt.Errorf("stream %d: %v", s, r.err)
		}
		n, mode := h>>2, h&3
		if n > uint64(want-total) {
			return st, buf, fmt.Errorf("stream %d: %d bytes, more than the block's %d", s, n, want)
		}
		total += int(n)
		switch mode {
		case colRaw:
			st[s] = r.bytes(int(n))
		case colRepeat:
			c := r.byte1()
			if r.err == nil {
				st[s] = bytes.Repeat([]byte{c}, int(n))
			}
		default:
			c := r.lenBytes()
			if r.err != nil {
				break
			}
			d := t.dec[s]
			if d == nil {
				return st, buf, fmt.Errorf("stream %d: coded, and no table", s)
			}
			if n == 0 || n > 8*uint64(len(c))+8 || mode == colHuff4 && n < colHuff4Min {
				return st, buf, fmt.Errorf("stream %d: %d symbols in %d bytes (mode %d)", s, n, len(c), mode)
			}
			if at := len(buf); cap(buf)-at < int(n)+8 {
				// Grown: the streams before stay where they are.
				buf = append(buf, make([]byte, max(int(n)+8, min(want, 8*len(p)+4096)))...)[:at]
			}
			at := len(buf)
			var out []byte
			var err error
			if mode == colHuff4 {
				out, err = d.Decompress4X(buf[at:at:at+int(n)], c)
			} else {
				// The 1X decoder wants room past the last symbol (it
				// decodes four at a time): the length is checked below.
				out, err = d.Decompress1X(buf[at:at:at+int(n)+8], c)
			}
			if err != nil || len(out) != int(n) {
				return st, buf, fmt.Errorf("stream %d: huffman: %d of %d symbols, %v", s, len(out), n, err)
			}
			buf = buf[:at+int(n)]
			st[s] = buf[at : at+int(n) : at+int(n)]
		}
		if r.err != nil {
			return st, buf, fmt.Errorf("stream %d: %v", s, r.err)
		}
	}
	if len(r.b) != 0 {
		return st, buf, fmt.Errorf("%d bytes after the streams", len(r.b))
	}
	if total != want {
		return st, buf, fmt.Errorf("streams of %d bytes for a block of %d", total, want)
	}
	return st, buf, nil
}

// varintsLen returns the length of the first n varints of b (or of n runs
// of further bytes: each ends at a byte below 0x80), and whether b holds n.
func varintsLen(b []byte, n uint64) (int, bool) {
	i := 0
	for ; n > 0 && i < len(b); i++ {
		if b[i] < 0x80 {
			n--
		}
	}
	return i, n == 0
}

// skipGroups returns the streams of a block of groups past its first g
// groups, and those groups' length in the block's bytes, found by counting
// (a varint ends at a byte below 0x80; a tx delta has its first byte in
// one stream and, where that byte is 0x80 or more, a run in another; the
// flags say how many rare varints and amounts follow, the amount lengths
// how many leading and further bytes) rather than by joining them.
func skipGroups(st *[colMaxStreams][]byte, g int) (rest [colMaxStreams][]byte, raw uint64, ok bool) {
	rest = *st
	var entries uint64
	n, ok := varintsLen(rest[gsID], uint64(g))
	if !ok {
		return rest, 0, false
	}
	raw += uint64(n)
	rest[gsID] = rest[gsID][n:]
	for _, s := range [2]int{gsLen, gsCount} {
		b := rest[s]
		for k := 0; k < g; k++ {
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return rest, 0, false
			}
			if s == gsLen {
				raw += uint64(n) + v
			} else {
				entries += v >> 1
			}
			b = b[n:]
		}
		rest[s] = b
	}
	if entries > uint64(len(rest[gsTx])) || entries > uint64(len(rest[gsFlags])) {
		return rest, 0, false
	}
	var long, rare, amounts uint64
	for _, c := range rest[gsTx][:entries] {
		long += uint64(c >> 7)
	}
	for _, f := range rest[gsFlags][:entries] {
		rare += uint64(rareFields(f))
		amounts += uint64(entryAmounts(f))
	}
	rest[gsTx], rest[gsFlags] = rest[gsTx][entries:], rest[gsFlags][entries:]
	if n, ok = varintsLen(rest[gsTxMore], long); !ok {
		return rest, 0, false
	}
	rest[gsTxMore] = rest[gsTxMore][n:]
	if n, ok = varintsLen(rest[gsRare], rare); !ok {
		return rest, 0, false
	}
	rest[gsRare] = rest[gsRare][n:]
	if amounts > uint64(len(rest[gsAmtLen])) {
		return rest, 0, false
	}
	var lead, more uint64
	for _, a := range rest[gsAmtLen][:amounts] {
		if a > 0 {
			lead++
			more += uint64(a) - 1
		}
	}
	rest[gsAmtLen] = rest[gsAmtLen][amounts:]
	if lead > uint64(len(rest[gsAmtLead])) || more > uint64(len(rest[gsAmtMore])) {
		return rest, 0, false
	}
	rest[gsAmtLead], rest[gsAmtMore] = rest[gsAmtLead][lead:], rest[gsAmtMore][more:]
	return rest, raw, true
}

// joinGroups appends the block of groups whose streams are st to out:
// what the tests' walker does (colWalk.walk, join), in straight code with an
// index per stream, for reads. With max ≥ 0 it stops after max groups
// (a lookup's run) and reports whether they joined, with the streams
// past them; with max < 0 it joins them all, which must use every stream
// up.
func joinGroups(out []byte, st *[colMaxStreams][]byte, max int) ([]byte, [colMaxStreams][]byte, bool) {
	id, ln, cnt, tx, txMore, flags, rare, amtLen, amtLead, amtMore := st[gsID], st[gsLen], st[gsCount], st[gsTx], st[gsTxMore], st[gsFlags], st[gsRare], st[gsAmtLen], st[gsAmtLead], st[gsAmtMore]
	var iID, iLn, iCnt, iTx, iTxMore, iFlags, iRare, iAmtLen, iAmtLead, iAmtMore int
	for groups := 0; iID < len(id) && groups != max; groups++ {
		n := uvLen(id[iID:])
		if n == 0 {
			return out, *st, false
		}
		out = append(out, id[iID:iID+n]...)
		iID += n
		n = uvLen(ln[iLn:])
		if n == 0 {
			return out, *st, false
		}
		var l uint64
		for k, c := range ln[iLn : iLn+n] {
			l |= uint64(c&0x7f) << (7 * k)
			out = append(out, c)
		}
		iLn += n
		at := len(out)
		n = uvLen(cnt[iCnt:])
		if n == 0 {
			return out, *st, false
		}
		var c uint64
		for k, b := range cnt[iCnt : iCnt+n] {
			c |= uint64(b&0x7f) << (7 * k)
			out = append(out, b)
		}
		iCnt += n
		for e := c >> 1; e > 0; e-- {
			if iTx == len(tx) || iFlags == len(flags) {
				return out, *st, false
			}
			b := tx[iTx]
			iTx++
			out = append(out, b)
			for k := 1; b >= 0x80; k++ {
				if k == binary.MaxVarintLen64 || iTxMore == len(txMore) {
					return out, *st, false
				}
				b = txMore[iTxMore]
				iTxMore++
				out = append(out, b)
			}
			f := flags[iFlags]
			iFlags++
			out = append(out, f)
			if k := rareFields(f); k > 0 {
				for ; k > 0; k-- {
					n := uvLen(rare[iRare:])
					if n == 0 {
						return out, *st, false
					}
					out = append(out, rare[iRare:iRare+n]...)
					iRare += n
				}
			}
			for k := entryAmounts(f); k > 0; k-- {
				if iAmtLen == len(amtLen) || amtLen[iAmtLen] > 32 {
					return out, *st, false
				}
				a := int(amtLen[iAmtLen])
				iAmtLen++
				out = append(out, byte(a))
				if a > 0 {
					if iAmtLead == len(amtLead) || len(amtMore)-iAmtMore < a-1 {
						return out, *st, false
					}
					out = append(out, amtLead[iAmtLead])
					iAmtLead++
					for _, b := range amtMore[iAmtMore : iAmtMore+a-1] { // a few bytes: no memmove call
						out = append(out, b)
					}
					iAmtMore += a - 1
				}
			}
			if uint64(len(out)-at) > l {
				return out, *st, false // past the group's length
			}
		}
		if uint64(len(out)-at) != l {
			return out, *st, false
		}
	}
	rest := [colMaxStreams][]byte{id[iID:], ln[iLn:], cnt[iCnt:], tx[iTx:], txMore[iTxMore:], flags[iFlags:], rare[iRare:], amtLen[iAmtLen:], amtLead[iAmtLead:], amtMore[iAmtMore:]}
	if max >= 0 {
		return out, rest, true
	}
	for _, r := range rest {
		if len(r) > 0 {
			return out, rest, false
		}
	}
	return out, rest, true
}

// joinSpent appends the block of spends whose streams are st to out; max
// as for joinGroups (spends, not groups).
func joinSpent(out []byte, st *[colMaxStreams][]byte, max int) ([]byte, [colMaxStreams][]byte, bool) {
	prev, prevMore, vout, sp, spMore := st[ssPrev], st[ssPrevMore], st[ssVout], st[ssSpender], st[ssSpenderMore]
	var ip, ipm, iv, is, ism int
	for n := 0; ip < len(prev) && n != max; n++ {
		// The prevTx delta: its first byte, then further bytes.
		c := prev[ip]
		ip++
		out = append(out, c)
		for k := 1; c >= 0x80; k++ {
			if k == binary.MaxVarintLen64 || ipm == len(prevMore) {
				return out, *st, false
			}
			c = prevMore[ipm]
			ipm++
			out = append(out, c)
		}
		// The vout, whole.
		for k := 0; ; k++ {
			if k == binary.MaxVarintLen64 || iv == len(vout) {
				return out, *st, false
			}
			c = vout[iv]
			iv++
			out = append(out, c)
			if c < 0x80 {
				break
			}
		}
		// The spender delta.
		if is == len(sp) {
			return out, *st, false
		}
		c = sp[is]
		is++
		out = append(out, c)
		for k := 1; c >= 0x80; k++ {
			if k == binary.MaxVarintLen64 || ism == len(spMore) {
				return out, *st, false
			}
			c = spMore[ism]
			ism++
			out = append(out, c)
		}
	}
	rest := [colMaxStreams][]byte{prev[ip:], prevMore[ipm:], vout[iv:], sp[is:], spMore[ism:]}
	return out, rest, max >= 0 || len(rest[ssPrevMore])+len(rest[ssVout])+len(rest[ssSpender])+len(rest[ssSpenderMore]) == 0
}

// skipSpent is skipGroups for a block of spends: the streams past its
// first g spends and their length in the block's bytes.
func skipSpent(st *[colMaxStreams][]byte, g int) (rest [colMaxStreams][]byte, raw uint64, ok bool) {
	rest = *st
	if g > len(rest[ssPrev]) || g > len(rest[ssSpender]) {
		return rest, 0, false
	}
	for _, f := range [2][2]int{{ssPrev, ssPrevMore}, {ssSpender, ssSpenderMore}} {
		var long uint64
		for _, c := range rest[f[0]][:g] {
			long += uint64(c >> 7)
		}
		n, ok := varintsLen(rest[f[1]], long)
		if !ok {
			return rest, 0, false
		}
		raw += uint64(g + n)
		rest[f[0]], rest[f[1]] = rest[f[0]][g:], rest[f[1]][n:]
	}
	n, ok := varintsLen(rest[ssVout], uint64(g))
	if !ok {
		return rest, 0, false
	}
	raw += uint64(n)
	rest[ssVout] = rest[ssVout][n:]
	return rest, raw, true
}

// rareFields is how many uvarints an entry with flag byte f carries in the
// rare stream: its asset, and an input or output count past 2 (code 3).
func rareFields(f byte) int {
	k := 0
	if f&efExt != 0 {
		k++
	}
	if f&efInMask == 3 {
		k++
	}
	if f>>efOutShift&efInMask == 3 {
		k++
	}
	return k
}
