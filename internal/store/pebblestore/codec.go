package pebblestore

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/store"
)

// Key layout. Every key is <table byte><chain byte><fields…>, fixed-width
// big-endian integers so that keys sort by number.
const (
	tMeta  = 'm' // m c                      → meta (the chain's Mark + network)
	tBlock = 'b' // b c height8              → block record
	tOrder = 'o' // o c firstTx8             → height8 (blocks in ingest order)
	// t c txnum8 → tx record was a table until layout 4; the tx records
	// are in the chain's tx log now (txlog.go). Digest still hashes them
	// under these keys.
	tTx       = 't'
	tAddrRev  = 'i' // i c id8                  → addrbytes
	tAsset    = 'k' // k c contract             → asset id uvarint
	tAssetRev = 'K' // K c asset4               → asset record
	// S c → segment list (segstate.go). The derived indexes (txid lookup,
	// adjacency, totals, spent-by) live in segment files and the UTXO set in
	// memory and snapshot files; the letters x, u, s, a, g they used as Pebble
	// tables before segments are not reused, nor is d (the address bytes → id
	// index, now in the segments).
)

func key(t byte, c byte, n int) []byte {
	k := make([]byte, 2, 2+n)
	k[0], k[1] = t, c
	return k
}

func be64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }
func be32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }

func blockKey(c byte, h uint64) []byte    { return be64(key(tBlock, c, 8), h) }
func orderKey(c byte, tx uint64) []byte   { return be64(key(tOrder, c, 8), tx) }
func addrRevKey(c byte, id uint64) []byte { return be64(key(tAddrRev, c, 8), id) }
func assetKey(c byte, contract []byte) []byte {
	return append(key(tAsset, c, len(contract)), contract...)
}
func assetRevKey(c byte, id uint32) []byte { return be32(key(tAssetRev, c, 4), id) }

// appendTxKey appends a tx key to dst (Digest hashes the tx log's records
// under their layout-3 keys).
func appendTxKey(dst []byte, c byte, n uint64) []byte { return be64(append(dst, tTx, c), n) }

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// errCorrupt marks a record that does not decode: the store is damaged.
var errCorrupt = errors.New("pebblestore: corrupt record")

// reader decodes a record; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", errCorrupt, what)
	}
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.fail("short bytes")
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) byte1() byte {
	b := r.bytes(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) hash() (h [32]byte) {
	copy(h[:], r.bytes(32))
	return h
}

func (r *reader) lenBytes() []byte { return r.bytes(int(r.uvarint())) }

// amount reads a length-prefixed big-endian uint256.
func (r *reader) amount() (v uint256.Int) {
	b := r.bytes(int(r.byte1()))
	if len(b) > 32 {
		r.fail("amount longer than 32 bytes")
		return v
	}
	v.SetBytes(b)
	return v
}

func putUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }
func putVarint(b []byte, v int64) []byte   { return binary.AppendVarint(b, v) }
func putLenBytes(b, v []byte) []byte       { return append(putUvarint(b, uint64(len(v))), v...) }

// putAmount writes a uint256 as a length byte and minimal big-endian bytes.
func putAmount(b []byte, v *uint256.Int) []byte {
	n := (v.BitLen() + 7) / 8
	b = append(b, byte(n))
	if n == 0 {
		return b
	}
	var buf [32]byte
	v.WriteToSlice(buf[:])
	return append(b, buf[32-n:]...)
}

// meta is the persisted chain state: the Mark, the network name, and the
// committed end of the chain's tx log (the commit point of its records).
type meta struct {
	store.Mark
	Network string
	LogEnd  uint64
	// The address and block logs' committed ends and their durable index
	// entries (reclog.go); their record counts are NextAddr−1 and Blocks.
	AddrEnd, BlockEnd uint64
	AddrIdx, BlockIdx int
}

// layoutVersion is the store layout, recorded in every chain's meta: 1 was
// the Pebble-only layout (derived indexes as Pebble tables, inputs with
// their spent output's address and value), 2 the first segment layout
// (block records with a full meta), 3 the segment layout with tx records
// in Pebble, 4 the tx records in an append-only log per chain (its end in
// the meta), 5 either of two branches' layouts (address bytes and block
// records in append-only logs too; or the tx log's records in a compact
// form), 6 both, 7 the UTXO snapshot by tx number (utxo.go), output
// script types past 6 in the compact tx record (logrec.go), and bit-packed
// hash sections in the segments ("SPSEG003", hashsec.go), 8 the
// compact tx record leaves out what its readers derive, a tx's position in
// its block (from the block record's first tx) and a Bitcoin tx's fee
// (from the outputs its inputs spend), 9 segment format 4
// ("SPSEG004": an adjacency entry's amount out may refer to its group's
// last amount in, and the groups and spends are packed in the column codec
// with one Huffman table per stream and section, segcols.go), 10 the
// compact tx record codes a value's trailing decimal zeros and its first
// output's address id relative to its index group's address base, which
// the group's first record carries (logrec.go), 11 this one: segment
// format 5 ("SPSEG005": an adjacency entry may be a sweep, and the spends
// it implies are not stored, sweeps.go; a UTXO chain's group of few
// entries leaves its amounts in to the tx records, recordins.go).
const layoutVersion = 11

// ErrOldLayout marks a store written by an earlier spoor in a layout this
// one does not read.
var ErrOldLayout = errors.New("pebblestore: the store was written by an earlier spoor in a layout this version does not read; ingest again into a new --data folder")

func encodeMeta(m *meta) []byte {
	b := []byte{layoutVersion}
	if m.HasBlocks {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = putUvarint(b, m.Height)
	b = append(b, m.Hash[:]...)
	for _, v := range []uint64{m.NextTx, m.NextAddr, uint64(m.NextAsset), m.Blocks, m.Txs, m.Transfers, m.LogEnd,
		m.AddrEnd, uint64(m.AddrIdx), m.BlockEnd, uint64(m.BlockIdx)} {
		b = putUvarint(b, v)
	}
	return putLenBytes(b, []byte(m.Network))
}

func decodeMeta(v []byte) (*meta, error) {
	r := &reader{b: v}
	switch ver := r.byte1(); {
	case ver >= 1 && ver < layoutVersion:
		return nil, fmt.Errorf("%w (layout %d, this spoor writes %d)", ErrOldLayout, ver, layoutVersion)
	case ver != layoutVersion:
		r.fail("meta version")
	}
	m := &meta{}
	m.HasBlocks = r.byte1() == 1
	m.Height = r.uvarint()
	m.Hash = r.hash()
	m.NextTx = r.uvarint()
	m.NextAddr = r.uvarint()
	m.NextAsset = uint32(r.uvarint())
	m.Blocks = r.uvarint()
	m.Txs = r.uvarint()
	m.Transfers = r.uvarint()
	m.LogEnd = r.uvarint()
	m.AddrEnd = r.uvarint()
	m.AddrIdx = int(min(r.uvarint(), 1<<40))
	m.BlockEnd = r.uvarint()
	m.BlockIdx = int(min(r.uvarint(), 1<<40))
	m.Network = string(r.lenBytes())
	return m, r.err
}

func emptyMeta() *meta {
	return &meta{Mark: store.Mark{NextTx: 1, NextAddr: 1, NextAsset: 1}}
}

// blockRec is a stored block: its header facts and the chain's Mark just
// before it was applied (what RollbackTo returns to; Before.Network is not
// stored).
type blockRec struct {
	store.BlockInfo
	FirstTx uint64
	Before  meta
}

// encodeBlock is a block record as the value of the `b` table it was in
// until layout 5 (Digest hashes the block log's records in this form; the
// log's own form is appendBlockLogRec).
func encodeBlock(b *blockRec) []byte {
	v := make([]byte, 0, 96)
	v = append(v, b.Hash[:]...)
	v = append(v, b.PrevHash[:]...)
	v = putVarint(v, b.Time)
	v = putUvarint(v, b.FirstTx)
	v = putUvarint(v, b.NTx)
	// The chain's Mark before the block, without what the record already
	// holds: its NextTx is FirstTx, and its tip hash is usually PrevHash
	// (blocks applied in order). The network is the chain's, in its meta.
	m := &b.Before.Mark
	var f byte
	if m.HasBlocks {
		f |= 1
	}
	if m.Hash == b.PrevHash {
		f |= 2
	}
	v = append(v, f)
	v = putUvarint(v, m.Height)
	if f&2 == 0 {
		v = append(v, m.Hash[:]...)
	}
	for _, x := range []uint64{m.NextAddr, uint64(m.NextAsset), m.Blocks, m.Txs, m.Transfers} {
		v = putUvarint(v, x)
	}
	return v
}

// Block log record (reclog.go), from layout 5: the block record of
// encodeBlock with its height first and, where they repeat, without the
// parent hash (the previous record's hash in the same group of the log),
// the tip hash before the block (usually the parent hash), the number of
// blocks before it (its record number r) and the txs before it (FirstTx−1),
// the last two as differences. flags: 1 tip before, 2 tip hash = parent
// hash, 4 parent hash = the previous record's hash.
func appendBlockLogRec(v []byte, b *blockRec, prev *[32]byte, r uint64) []byte {
	v = putUvarint(v, b.Height)
	v = append(v, b.Hash[:]...)
	m := &b.Before.Mark
	var f byte
	if m.HasBlocks {
		f |= 1
	}
	if m.Hash == b.PrevHash {
		f |= 2
	}
	if prev != nil && *prev == b.PrevHash {
		f |= 4
	}
	v = append(v, f)
	if f&4 == 0 {
		v = append(v, b.PrevHash[:]...)
	}
	v = putVarint(v, b.Time)
	v = putUvarint(v, b.FirstTx)
	v = putUvarint(v, b.NTx)
	v = putUvarint(v, m.Height)
	if f&2 == 0 {
		v = append(v, m.Hash[:]...)
	}
	v = putUvarint(v, m.NextAddr)
	v = putUvarint(v, uint64(m.NextAsset))
	v = putVarint(v, int64(m.Blocks-r))
	v = putVarint(v, int64(m.Txs-(b.FirstTx-1)))
	return putUvarint(v, m.Transfers)
}

// decodeBlockLogRec decodes record r of the block log; prev is the hash of
// the record before it in its group (nil for a group's first).
func decodeBlockLogRec(v []byte, prev *[32]byte, r uint64) (*blockRec, error) {
	b := &blockRec{}
	if err := b.decodeLog(v, prev, r); err != nil {
		return nil, err
	}
	return b, nil
}

// decodeLog is decodeBlockLogRec into b.
func (b *blockRec) decodeLog(v []byte, prev *[32]byte, r uint64) error {
	*b = blockRec{}
	rd := &reader{b: v}
	b.Height = rd.uvarint()
	b.Hash = rd.hash()
	f := rd.byte1()
	if f&4 != 0 {
		if prev == nil {
			rd.fail("block record: parent hash elided in a group's first record")
		} else {
			b.PrevHash = *prev
		}
	} else {
		b.PrevHash = rd.hash()
	}
	b.Time = rd.varint()
	b.FirstTx = rd.uvarint()
	b.NTx = rd.uvarint()
	m := &b.Before.Mark
	m.HasBlocks = f&1 != 0
	m.Height = rd.uvarint()
	if f&2 != 0 {
		m.Hash = b.PrevHash
	} else {
		m.Hash = rd.hash()
	}
	m.NextTx = b.FirstTx
	m.NextAddr = rd.uvarint()
	m.NextAsset = uint32(rd.uvarint())
	m.Blocks = r + uint64(rd.varint())
	m.Txs = b.FirstTx - 1 + uint64(rd.varint())
	m.Transfers = rd.uvarint()
	if rd.err == nil && (len(rd.b) > 0 || f > 7) {
		rd.fail("block record: trailing bytes or unknown flags")
	}
	return rd.err
}

// blockRecKey returns a block log record's height and hash.
func blockRecKey(v []byte) (h uint64, hash [32]byte, err error) {
	rd := &reader{b: v}
	h = rd.uvarint()
	hash = rd.hash()
	return h, hash, rd.err
}

// Tx record flags.
const (
	flagCoinbase = 1 << iota
	flagFailed
)

// txRec is the stored form of a transaction: addresses as ids.
type txRec struct {
	ID        [32]byte
	Height    uint64
	Index     uint32
	Flags     byte
	Derive    byte // what the tx log's record leaves out (deriveIndex, deriveFee); in Flags' padding
	Fee       uint256.Int
	FeePayer  uint64
	Inputs    []inRec
	Outputs   []outRec
	Transfers []xferRec
}

// txRec.Derive bits: the fields the tx log's compact record leaves out
// (since layout 8) because a reader derives them. deriveIndex: Index is
// the tx number minus the first tx of the block record at Height
// (fillIndex); deriveFee: Fee is the inputs' values minus the outputs'
// (fillFee, called by resolveInputs). Apply sets them where that holds,
// next to the true values; a decoded record has them, and zero in those
// fields, until a reader fills them.
const (
	deriveIndex = 1 << iota
	deriveFee
)

// blockSpan is what a tx's view takes from its block's record: the time,
// and the txs it holds (for the derived index); ok false when the store
// holds no block at the height, or err when it could not be read.
type blockSpan struct {
	time         int64
	firstTx, nTx uint64
	ok           bool
	err          error
}

func spanOf(b *blockRec) blockSpan {
	return blockSpan{time: b.Time, firstTx: b.FirstTx, nTx: b.NTx, ok: true}
}

// fillIndex sets the Index of t, tx number n, when it is derived: n minus
// the first tx of b, the record of its block. The derived position must
// lie in the block's txs.
func (t *txRec) fillIndex(n uint64, b blockSpan) error {
	if t.Derive&deriveIndex == 0 {
		return nil
	}
	if b.err != nil {
		return fmt.Errorf("tx %d: its position derives from the block at height %d: %w", n, t.Height, b.err)
	}
	if !b.ok || n < b.firstTx || n-b.firstTx >= b.nTx || n-b.firstTx > 0xffffffff {
		return fmt.Errorf("%w: tx %d at height %d: its position derives from the block record there (%d txs from tx %d, found %v), which does not hold it",
			errCorrupt, n, t.Height, b.nTx, b.firstTx, b.ok)
	}
	t.Index = uint32(n - b.firstTx)
	return nil
}

// fillFee sets the Fee of t when it is derived: the resolved inputs'
// values minus the outputs' values, as Apply computed it.
func (t *txRec) fillFee() error {
	if t.Derive&deriveFee == 0 {
		return nil
	}
	var in, out uint64
	for i := range t.Inputs {
		s := in + t.Inputs[i].Value
		if s < in {
			return fmt.Errorf("%w: tx %x: its inputs' values overflow 64 bits", errCorrupt, t.ID)
		}
		in = s
	}
	for i := range t.Outputs {
		s := out + t.Outputs[i].Value
		if s < out {
			return fmt.Errorf("%w: tx %x: its outputs' values overflow 64 bits", errCorrupt, t.ID)
		}
		out = s
	}
	if out > in {
		return fmt.Errorf("%w: tx %x spends %d but its inputs hold %d", errCorrupt, t.ID, out, in)
	}
	t.Fee.SetUint64(in - out)
	return nil
}

// inRec is an input: the output it spends, by tx number and index. The
// spent output's address, value and script type are not stored again (they
// are in that tx's record): Apply fills them from the UTXO set, readers
// with resolveInputs.
type inRec struct {
	PrevTx    uint64 // txnum of the spent output's transaction
	PrevIndex uint32
	// Resolved, not stored.
	Addr   uint64
	Value  uint64
	Script byte
	PrevID [32]byte // the spent output's txid (set by resolveInputs only)
}

type outRec struct {
	Addr   uint64
	Value  uint64
	Script byte
}

type xferRec struct {
	From, To uint64
	Asset    uint32
	Value    uint256.Int
	LogIndex int32
}

func appendTx(b []byte, t *txRec) []byte {
	b = append(b, t.ID[:]...)
	b = putUvarint(b, t.Height)
	b = putUvarint(b, uint64(t.Index))
	b = append(b, t.Flags)
	b = putAmount(b, &t.Fee)
	b = putUvarint(b, t.FeePayer)
	b = putUvarint(b, uint64(len(t.Inputs)))
	for _, in := range t.Inputs {
		b = putUvarint(b, in.PrevTx)
		b = putUvarint(b, uint64(in.PrevIndex))
	}
	b = putUvarint(b, uint64(len(t.Outputs)))
	for _, o := range t.Outputs {
		b = putUvarint(b, o.Addr)
		b = putUvarint(b, o.Value)
		b = append(b, o.Script)
	}
	b = putUvarint(b, uint64(len(t.Transfers)))
	for i := range t.Transfers {
		x := &t.Transfers[i]
		b = putUvarint(b, x.From)
		b = putUvarint(b, x.To)
		b = putUvarint(b, uint64(x.Asset))
		b = putAmount(b, &x.Value)
		b = putVarint(b, int64(x.LogIndex))
	}
	return b
}

// maxRecordItems bounds counts read from a record before allocating.
const maxRecordItems = 1 << 24

func decodeTx(v []byte) (*txRec, error) {
	r := &reader{b: v}
	t := &txRec{}
	t.ID = r.hash()
	t.Height = r.uvarint()
	t.Index = uint32(r.uvarint())
	t.Flags = r.byte1()
	t.Fee = r.amount()
	t.FeePayer = r.uvarint()
	n := r.uvarint()
	if n > maxRecordItems || n > uint64(len(r.b)) {
		r.fail("input count")
		return nil, r.err
	}
	t.Inputs = make([]inRec, n)
	for i := range t.Inputs {
		in := &t.Inputs[i]
		in.PrevTx = r.uvarint()
		in.PrevIndex = uint32(r.uvarint())
	}
	n = r.uvarint()
	if n > maxRecordItems || n > uint64(len(r.b)) {
		r.fail("output count")
		return nil, r.err
	}
	t.Outputs = make([]outRec, n)
	for i := range t.Outputs {
		o := &t.Outputs[i]
		o.Addr = r.uvarint()
		o.Value = r.uvarint()
		o.Script = r.byte1()
	}
	n = r.uvarint()
	if n > maxRecordItems || n > uint64(len(r.b)) {
		r.fail("transfer count")
		return nil, r.err
	}
	t.Transfers = make([]xferRec, n)
	for i := range t.Transfers {
		x := &t.Transfers[i]
		x.From = r.uvarint()
		x.To = r.uvarint()
		x.Asset = uint32(r.uvarint())
		x.Value = r.amount()
		x.LogIndex = int32(r.varint())
	}
	return t, r.err
}

// utxoRec is an unspent output, keyed by its outpoint.
type utxoRec struct {
	TxNum  uint64
	Addr   uint64
	Value  uint64
	Script byte
}

func encodeAssetRec(a *assetRec) []byte {
	b := putLenBytes(nil, a.Contract)
	b = putLenBytes(b, []byte(a.Symbol))
	return putVarint(b, int64(a.Decimals))
}

type assetRec struct {
	Contract []byte
	Symbol   string
	Decimals int
}

func decodeAssetRec(v []byte) (assetRec, error) {
	r := &reader{b: v}
	a := assetRec{Contract: append([]byte(nil), r.lenBytes()...), Symbol: string(r.lenBytes()), Decimals: int(r.varint())}
	return a, r.err
}
