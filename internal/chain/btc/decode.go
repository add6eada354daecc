package btc

// A bounded, zero-copy decoder of raw Bitcoin blocks, specialised for
// ingest. btcd's wire decodes every transaction into pointer-rich structs
// (one allocation per input, output and script buffer) and computes a txid
// by serialising the transaction again; ingest needs none of that. DecodeBlock
// reads the block's bytes in place: it hashes the raw transaction slices for
// the txids, classifies output scripts where they lie, and allocates a
// handful of arrays per block rather than per input or output.
//
// wire stays the reference: TestDecodeBlockMatchesWire checks every real
// block of btcd's test data against wire.Deserialize + ConvertBlock, and
// FuzzDecodeBlock checks arbitrary bytes the same way. DecodeBlock accepts
// exactly what wire accepts, with these deliberate differences:
//   - bytes after the last transaction are an error (wire stops reading and
//     ignores them);
//   - a transaction whose scripts and witness items total more than 4 MiB is
//     an error (wire's Deserialize panics: its 4 MiB script slab overflows);
//     no such transaction fits in a valid block;
//   - a block without transactions is an error (wire decodes it; the old
//     path refused it in CheckMerkleRoot).
//
// Memory is bounded by the input: every count is checked against the bytes
// that remain before anything is allocated, so the arrays of a decoded block
// take at most about ten times the block's size (an 8 MiB block of empty
// 9-byte outputs is the worst case).

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/spoor-dev/spoor/internal/chain/btc/hash160"
	"github.com/spoor-dev/spoor/internal/chain/btc/sha256d"
	"github.com/spoor-dev/spoor/internal/model"
)

// Limits, as btcd's wire enforces them (wire/msgtx.go, wire/msgblock.go), so
// that DecodeBlock refuses exactly what wire refuses.
const (
	headerSize         = 80
	maxMessagePayload  = 32 << 20
	maxTxPerBlock      = 4_000_000/minTxSize + 1
	minTxSize          = 10 // version, input count, output count, locktime
	minInputSize       = 41 // outpoint 36, script length 1, sequence 4
	minOutputSize      = 9  // value 8, script length 1
	maxTxInPerMessage  = maxMessagePayload/minInputSize + 1
	maxTxOutPerMessage = maxMessagePayload/minOutputSize + 1
	maxScriptSize      = 4_000_000 // wire's maxWitnessItemSize, applied to every script
	maxWitnessItems    = 4_000_000
	maxTxScriptBytes   = 1 << 22 // wire's script slab: more panics in wire, is an error here
	shortAddrLen       = 21      // kind byte + 20-byte hash
	wideAddrLen        = 33      // kind byte + 32-byte hash
)

// Header is a decoded block header. Hashes are in wire (internal) byte
// order, as chainhash.Hash holds them; model.Block carries display order.
type Header struct {
	Version    int32
	PrevBlock  chainhash.Hash
	MerkleRoot chainhash.Hash
	Timestamp  uint32 // unix seconds
	Bits       uint32
	Nonce      uint32
	Hash       chainhash.Hash // double SHA-256 of the 80 header bytes
}

// DecodeError locates a malformed block: Offset is the byte offset within
// the block's serialization (0 is the first header byte).
type DecodeError struct {
	Offset int
	Msg    string
}

func (e *DecodeError) Error() string { return fmt.Sprintf("%s at offset %d", e.Msg, e.Offset) }

func errAt(off int, format string, args ...any) error {
	return &DecodeError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// DecodeBlock decodes one serialized block (header, tx count, transactions,
// nothing after) at a height into the canonical block ConvertBlock would
// make of wire's decoding, and checks that the txids hash to the header's
// merkle root. It never panics and never allocates more than the input's
// size warrants: every count and length is checked against the bytes that
// remain before anything is allocated. The returned block's address bytes
// share one arena; raw may be reused once DecodeBlock returns.
func DecodeBlock(raw []byte, height uint64) (*model.Block, Header, error) {
	return (*Recycler)(nil).DecodeBlock(raw, height)
}

// DecodeBlock is DecodeBlock building the block into memory the Recycler
// lends (r may be nil: fresh memory); see recycle.go for giving it back.
func (r *Recycler) DecodeBlock(raw []byte, height uint64) (*model.Block, Header, error) {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	b, h, err := decodeBlock(raw, height, sc, r)
	if err != nil {
		return nil, h, err
	}
	if len(b.Txs) == 0 {
		r.putBack(b)
		return nil, h, errAt(headerSize, "block has no transactions")
	}
	if root := chainhash.Hash(sha256d.MerkleRoot(sc.ids)); root != h.MerkleRoot {
		r.putBack(b)
		return nil, h, fmt.Errorf("transactions hash to merkle root %s, the header says %s: the block's transaction data is damaged", root, h.MerkleRoot)
	}
	return b, h, nil
}

// scratch is per-call working memory, pooled so that a decode allocates
// only what the returned block keeps.
type scratch struct {
	// ids: the txids in wire order (for the merkle root), then the sha256
	// of each pseudo-address script; parts: the bytes each of them hashes
	// (a witness tx's in three pieces), slices of raw.
	ids   [][32]byte
	parts [][3][]byte
	// ends: where each tx ends in raw (scan), so that fill skips a witness
	// tx's witnesses without reading them again.
	ends []int
	// pseudo: the arena offset of each pseudo-address's 32 hash bytes,
	// for ids[len(txs)+k] (fill reserves them; decodeBlock hashes the
	// scripts with the txids, two at a time, and copies the sums in).
	pseudo []int
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// counts is what the validating pass learns: the exact sizes of the arrays
// the filling pass allocates.
type counts struct {
	txs, inputs, outputs, arena int
}

// decodeBlock parses and fills; sc.ids receives the txids (wire order).
// The block is built in memory r lends (fresh when r is nil).
func decodeBlock(raw []byte, height uint64, sc *scratch, r *Recycler) (*model.Block, Header, error) {
	var h Header
	if len(raw) < headerSize {
		return nil, h, errAt(0, "header: %d bytes, a block header has 80", len(raw))
	}
	h.Version = int32(binary.LittleEndian.Uint32(raw[0:4]))
	copy(h.PrevBlock[:], raw[4:36])
	copy(h.MerkleRoot[:], raw[36:68])
	h.Timestamp = binary.LittleEndian.Uint32(raw[68:72])
	h.Bits = binary.LittleEndian.Uint32(raw[72:76])
	h.Nonce = binary.LittleEndian.Uint32(raw[76:80])
	h.Hash = sha256d.Sum(raw[:headerSize])

	c, err := scan(raw, sc)
	if err != nil {
		return nil, h, err
	}
	b, ins, outs, arena, err := r.get(c)
	if err != nil {
		return nil, h, err
	}
	*b = model.Block{
		Chain:    model.BTC,
		Height:   height,
		Hash:     displayHash(&h.Hash),
		PrevHash: displayHash(&h.PrevBlock),
		Time:     int64(h.Timestamp),
		Txs:      b.Txs,
	}
	if outs == nil {
		outs = []model.Output{} // ConvertBlock gives a tx without outputs an empty, non-nil slice
	}
	if b.Txs == nil {
		b.Txs = []model.Tx{} // and a block without txs (refused by DecodeBlock) empty Txs
	}
	if cap(sc.parts) < c.txs {
		sc.parts = make([][3][]byte, c.txs, c.txs+c.txs/2)
	}
	sc.parts, sc.pseudo = sc.parts[:c.txs], sc.pseudo[:0]
	fill(raw, b.Txs, ins, outs, arena[:0], sc)
	// The txids' first rounds and the pseudo-addresses' sha256 (fill
	// appended their scripts to sc.parts): one pass, two messages at a
	// time.
	if n := len(sc.parts); cap(sc.ids) < n {
		sc.ids = make([][32]byte, n, cap(sc.parts))
	}
	sc.ids = sc.ids[:len(sc.parts)]
	sha256d.Sum256Each(sc.ids, sc.parts)
	clear(sc.parts) // no references into raw stay in the pool
	for k, off := range sc.pseudo {
		copy(arena[off:off+32], sc.ids[c.txs+k][:])
	}
	sc.ids = sc.ids[:c.txs]
	sha256d.Rehash(sc.ids)
	for i := range b.Txs {
		reverse32(&b.Txs[i].ID, &sc.ids[i])
	}
	return b, h, nil
}

// varint reads a Bitcoin compact-size integer at pos, refusing truncation and
// non-canonical encodings as wire does. what names the field for errors.
func varint(raw []byte, pos int, what func() string) (uint64, int, error) {
	if pos >= len(raw) {
		return 0, pos, errAt(pos, "%s: missing (block ends)", what())
	}
	d := raw[pos]
	switch {
	case d < 0xfd:
		return uint64(d), pos + 1, nil
	case d == 0xfd:
		if len(raw)-pos < 3 {
			return 0, pos, errAt(pos, "%s: 3-byte varint truncated", what())
		}
		v := uint64(binary.LittleEndian.Uint16(raw[pos+1:]))
		if v < 0xfd {
			return 0, pos, errAt(pos, "%s: non-canonical varint %d", what(), v)
		}
		return v, pos + 3, nil
	case d == 0xfe:
		if len(raw)-pos < 5 {
			return 0, pos, errAt(pos, "%s: 5-byte varint truncated", what())
		}
		v := uint64(binary.LittleEndian.Uint32(raw[pos+1:]))
		if v < 0x10000 {
			return 0, pos, errAt(pos, "%s: non-canonical varint %d", what(), v)
		}
		return v, pos + 5, nil
	default:
		if len(raw)-pos < 9 {
			return 0, pos, errAt(pos, "%s: 9-byte varint truncated", what())
		}
		v := binary.LittleEndian.Uint64(raw[pos+1:])
		if v < 0x100000000 {
			return 0, pos, errAt(pos, "%s: non-canonical varint %d", what(), v)
		}
		return v, pos + 9, nil
	}
}

// uvarint reads a varint that scan has already validated.
func uvarint(raw []byte, pos int) (uint64, int) {
	switch d := raw[pos]; d {
	case 0xfd:
		return uint64(binary.LittleEndian.Uint16(raw[pos+1:])), pos + 3
	case 0xfe:
		return uint64(binary.LittleEndian.Uint32(raw[pos+1:])), pos + 5
	case 0xff:
		return binary.LittleEndian.Uint64(raw[pos+1:]), pos + 9
	default:
		return uint64(d), pos + 1
	}
}

// scan validates the whole block and counts what fill will allocate. Every
// count is checked against the bytes left before it is used, so a lying
// count costs an error, not memory.
func scan(raw []byte, sc *scratch) (counts, error) {
	var c counts
	pos := headerSize
	n, pos, err := varint(raw, pos, func() string { return "tx count" })
	if err != nil {
		return c, err
	}
	if n > maxTxPerBlock {
		return c, errAt(headerSize, "tx count %d exceeds the most a block can hold (%d)", n, maxTxPerBlock)
	}
	if rem := len(raw) - pos; n > uint64(rem/minTxSize) {
		return c, errAt(headerSize, "tx count %d needs at least %d bytes, %d remain", n, n*minTxSize, rem)
	}
	c.txs = int(n)
	sc.ends = sc.ends[:0]
	for i := 0; i < c.txs; i++ {
		if pos, err = scanTx(raw, pos, i, &c); err != nil {
			return c, err
		}
		sc.ends = append(sc.ends, pos)
	}
	if pos != len(raw) && c.txs == 0 {
		return c, errAt(pos, "%d bytes after the last transaction (the tx count is 0)", len(raw)-pos)
	}
	if pos != len(raw) {
		return c, errAt(pos, "%d bytes after the last transaction (tx %d ends here)", len(raw)-pos, c.txs-1)
	}
	return c, nil
}

func scanTx(raw []byte, pos, i int, c *counts) (int, error) {
	start := pos
	if len(raw)-pos < 4 {
		return pos, errAt(pos, "tx %d: version truncated (%d bytes remain)", i, len(raw)-pos)
	}
	pos += 4
	nIn, pos, err := varint(raw, pos, func() string { return fmt.Sprintf("tx %d: input count", i) })
	if err != nil {
		return pos, err
	}
	witness := false
	if nIn == 0 { // segwit marker
		if pos >= len(raw) {
			return pos, errAt(pos, "tx %d: segwit flag missing after the marker", i)
		}
		if raw[pos] != 0x01 {
			return pos, errAt(pos, "tx %d: segwit marker followed by flag 0x%02x, want 0x01", i, raw[pos])
		}
		witness = true
		if nIn, pos, err = varint(raw, pos+1, func() string { return fmt.Sprintf("tx %d: input count", i) }); err != nil {
			return pos, err
		}
	}
	if nIn > maxTxInPerMessage {
		return pos, errAt(pos, "tx %d: input count %d exceeds wire's limit %d", i, nIn, maxTxInPerMessage)
	}
	if rem := len(raw) - pos; nIn > uint64(rem/minInputSize) {
		return pos, errAt(pos, "tx %d: input count %d needs at least %d bytes, %d remain", i, nIn, nIn*minInputSize, rem)
	}
	coinbase := i == 0 && nIn == 1 && isNullOutpoint(raw[pos:pos+36])
	if !coinbase {
		c.inputs += int(nIn)
	}
	scripts := 0
	for j := 0; j < int(nIn); j++ {
		pos += 36 // outpoint; nIn*41 bytes were there at the count
		if e, ok := shortScript(raw, pos, &scripts); ok {
			pos = e
		} else if pos, err = skipScript(raw, pos, &scripts, func() string { return fmt.Sprintf("tx %d input %d: script", i, j) }); err != nil {
			return pos, err
		}
		if len(raw)-pos < 4 {
			return pos, errAt(pos, "tx %d input %d: sequence truncated (%d bytes remain)", i, j, len(raw)-pos)
		}
		pos += 4
		if j+1 < int(nIn) && len(raw)-pos < 36 {
			return pos, errAt(pos, "tx %d input %d: outpoint truncated (%d bytes remain)", i, j+1, len(raw)-pos)
		}
	}
	nOut, pos, err := varint(raw, pos, func() string { return fmt.Sprintf("tx %d: output count", i) })
	if err != nil {
		return pos, err
	}
	if nOut > maxTxOutPerMessage {
		return pos, errAt(pos, "tx %d: output count %d exceeds wire's limit %d", i, nOut, maxTxOutPerMessage)
	}
	if rem := len(raw) - pos; nOut > uint64(rem/minOutputSize) {
		return pos, errAt(pos, "tx %d: output count %d needs at least %d bytes, %d remain", i, nOut, nOut*minOutputSize, rem)
	}
	c.outputs += int(nOut)
	for k := 0; k < int(nOut); k++ {
		if len(raw)-pos < 8 {
			return pos, errAt(pos, "tx %d output %d: value truncated (%d bytes remain)", i, k, len(raw)-pos)
		}
		pos += 8
		s, e := pos+1, 0
		if end, ok := shortScript(raw, pos, &scripts); ok {
			e = end
		} else if s, e, err = script(raw, pos, &scripts, func() string { return fmt.Sprintf("tx %d output %d: script", i, k) }); err != nil {
			return s, err
		}
		c.arena += addrLen(raw[s:e])
		pos = e
	}
	if witness {
		hasWit := false
		for j := 0; j < int(nIn); j++ {
			wpos := pos
			items, p := uint64(0), pos+1
			if pos < len(raw) && raw[pos] < 0xfd {
				items = uint64(raw[pos])
			} else if items, p, err = varint(raw, pos, func() string { return fmt.Sprintf("tx %d input %d: witness item count", i, j) }); err != nil {
				return p, err
			}
			pos = p
			if items > maxWitnessItems {
				return wpos, errAt(wpos, "tx %d input %d: witness item count %d exceeds wire's limit %d", i, j, items, maxWitnessItems)
			}
			if rem := len(raw) - pos; items > uint64(rem) {
				return wpos, errAt(wpos, "tx %d input %d: witness item count %d exceeds remaining %d bytes", i, j, items, rem)
			}
			hasWit = hasWit || items > 0
			for w := 0; w < int(items); w++ {
				if e, ok := shortScript(raw, pos, &scripts); ok {
					pos = e
				} else if pos, err = skipScript(raw, pos, &scripts, func() string { return fmt.Sprintf("tx %d input %d: witness item %d", i, j, w) }); err != nil {
					return pos, err
				}
			}
		}
		if !hasWit {
			return pos, errAt(start, "tx %d: segwit flag set but no input has a witness", i)
		}
	}
	if len(raw)-pos < 4 {
		return pos, errAt(pos, "tx %d: locktime truncated (%d bytes remain)", i, len(raw)-pos)
	}
	return pos + 4, nil
}

// shortScript is script's common case, small enough to inline: a script
// (or witness item) whose length is one byte and whose bytes are there,
// within the transaction's bound. It returns the offset after it and true,
// adding its length to *total, or false, changing nothing: script then
// reads it, and names what is wrong.
func shortScript(raw []byte, pos int, total *int) (int, bool) {
	if pos >= len(raw) {
		return pos, false
	}
	l := int(raw[pos])
	if l >= 0xfd || l >= len(raw)-pos || *total+l > maxTxScriptBytes {
		return pos, false
	}
	*total += l
	return pos + 1 + l, true
}

// skipScript checks a length-prefixed script at pos and returns the offset
// after it, adding its length to *total (a transaction's script bytes).
func skipScript(raw []byte, pos int, total *int, what func() string) (int, error) {
	_, end, err := script(raw, pos, total, what)
	return end, err
}

// script checks a length-prefixed script at pos and returns where its bytes
// start and end, adding its length to *total (a transaction's script bytes).
func script(raw []byte, pos int, total *int, what func() string) (int, int, error) {
	l, p, err := varint(raw, pos, what)
	if err != nil {
		return p, p, err
	}
	if l > maxScriptSize {
		return pos, pos, errAt(pos, "%s length %d exceeds wire's limit %d", what(), l, maxScriptSize)
	}
	if rem := len(raw) - p; l > uint64(rem) {
		return pos, pos, errAt(pos, "%s length %d exceeds remaining %d bytes", what(), l, rem)
	}
	*total += int(l)
	if *total > maxTxScriptBytes {
		return pos, pos, errAt(pos, "%s: the transaction's scripts and witnesses exceed %d bytes", what(), maxTxScriptBytes)
	}
	return p, p + int(l), nil
}

func isNullOutpoint(op []byte) bool {
	for _, x := range op[:32] {
		if x != 0 {
			return false
		}
	}
	return binary.LittleEndian.Uint32(op[32:]) == 0xffffffff
}

// reverse32 sets dst to src's bytes in reverse order (a hash from wire to
// display order), eight bytes at a time.
func reverse32(dst, src *[32]byte) {
	binary.BigEndian.PutUint64(dst[0:], binary.LittleEndian.Uint64(src[24:]))
	binary.BigEndian.PutUint64(dst[8:], binary.LittleEndian.Uint64(src[16:]))
	binary.BigEndian.PutUint64(dst[16:], binary.LittleEndian.Uint64(src[8:]))
	binary.BigEndian.PutUint64(dst[24:], binary.LittleEndian.Uint64(src[0:]))
}

// fill walks the block scan has validated, filling txs and slicing ins,
// outs and the arena per transaction, and leaves in sc.parts the bytes each
// txid hashes (decodeBlock hashes them, a block at a time, and sets the
// txs' IDs).
func fill(raw []byte, txs []model.Tx, ins []model.Input, outs []model.Output, arena []byte, sc *scratch) {
	pos := headerSize
	_, pos = uvarint(raw, pos)
	nextIn, nextOut := 0, 0
	for i := range txs {
		tx := &txs[i]
		*tx = model.Tx{Index: uint32(i)} // the memory may be recycled: every field is written
		start := pos
		pos += 4
		nIn, p := uvarint(raw, pos)
		witness := nIn == 0
		if witness {
			nIn, p = uvarint(raw, p+1)
			pos += 2 // the id covers the inputs from the count on, without marker and flag
		}
		ioStart := pos
		pos = p
		tx.Coinbase = i == 0 && nIn == 1 && isNullOutpoint(raw[pos:pos+36])
		if !tx.Coinbase {
			tx.Inputs = ins[nextIn : nextIn+int(nIn) : nextIn+int(nIn)]
			nextIn += int(nIn)
		}
		for j := 0; j < int(nIn); j++ {
			if !tx.Coinbase {
				in := &tx.Inputs[j]
				in.Address, in.Value, in.ScriptType = nil, 0, 0 // filled by the store
				reverse32(&in.PrevTxID, (*[32]byte)(raw[pos:pos+32]))
				in.PrevIndex = binary.LittleEndian.Uint32(raw[pos+32:])
			}
			l, p := uvarint(raw, pos+36)
			pos = p + int(l) + 4
		}
		nOut, p := uvarint(raw, pos)
		pos = p
		tx.Outputs = outs[nextOut : nextOut+int(nOut) : nextOut+int(nOut)]
		nextOut += int(nOut)
		for k := range tx.Outputs {
			o := &tx.Outputs[k]
			o.Index = uint32(k)
			o.Value = binary.LittleEndian.Uint64(raw[pos:])
			l, p := uvarint(raw, pos+8)
			pos = p + int(l)
			a := len(arena)
			pk := raw[p:pos]
			st, kind, h := classify(pk)
			switch st {
			case model.ScriptNullData, model.ScriptWitnessUnknown, model.ScriptMultisig, model.ScriptNonStandard:
				// sha256 of the script, computed with the txids.
				arena = append(arena, kind)
				sc.pseudo = append(sc.pseudo, len(arena))
				sc.parts = append(sc.parts, [3][]byte{pk})
				arena = arena[:len(arena)+32]
			case model.ScriptP2PK:
				sum := hash160.Sum(h)
				arena = append(append(arena, kind), sum[:]...)
			default:
				arena = append(append(arena, kind), h...)
			}
			o.ScriptType = st
			o.Address = arena[a:len(arena):len(arena)]
		}
		ioEnd := pos
		if witness {
			pos = sc.ends[i] - 4 // the witnesses, which scan read, are not hashed
		}
		lock := pos
		pos += 4
		if witness {
			sc.parts[i] = [3][]byte{raw[start : start+4], raw[ioStart:ioEnd], raw[lock:pos]}
		} else {
			sc.parts[i] = [3][]byte{raw[start:pos]}
		}
	}
}
