package pebblestore

// The compact form of a tx record in the tx log (layout 5; layout 8 leaves
// out what readers derive). The logical record is still appendTx's (the
// layout-3 `t` value that Digest hashes); the log stores the same fields
// in fewer bytes, using what a reader knows anyway: the record's own tx
// number n and the height and address base of the first record of its
// index group (txs 1+k·txIdxStride …, a groupRef), which every read passes
// on its way to the record.
//
//	uvarint  height          the group's first record: the height itself;
//	                         a plain record (below): nIn·7 + nOut, < 42;
//	                         the others: 42 + (zigzag(height − the first's
//	                         height)<<4 | 8 when the index is written |
//	                         the output count 0–6, 7 when it is a uvarint
//	                         before the outputs) (layout 8)
//	[uvarint address base]   the group's first record only (layout 10):
//	                         the largest of its output address ids below
//	                         2⁵⁹ (0 without one), the reference of every
//	                         first output of the group's compact records
//	[byte]   head            not in a plain record; bit 0 coinbase, bit 1 failed, bit 2 fee wider
//	                         than 64 bits, bit 3 fee payer set, bit 4 has
//	                         transfers, bits 5–7 input count 0–5, 6 when a
//	                         uvarint count follows, 7: escape (below)
//	[32]byte txid
//	[uvarint nIn]
//	[uvarint index]          position in the block: written for the
//	                         group's first record and where it is not the
//	                         tx number minus the block record's first tx
//	                         (layout 8; txRec.Derive, fillIndex)
//	[fee]                    only for a tx without inputs: uvarint, or
//	                         putAmount when bit 2 is set; a tx with inputs
//	                         (Bitcoin's) pays what its inputs hold beyond
//	                         its outputs, which a reader resolving the
//	                         inputs sums (layout 8; fillFee)
//	[uvarint fee payer]
//	inputs   uvarint((n − prevTx)<<2 | min(prevIndex, 3)) [uvarint prevIndex when ≥ 3]
//	[uvarint nOut]           the group's first record, and ≥ 7 outputs
//	outputs  uvarint(a<<3 | min(script, 7)) [byte script when ≥ 7],
//	         uvarint value code; a is zigzag(id − the group's address
//	         base) for the first output (layout 10; the address id itself
//	         until then) and zigzag(id − the previous output's id) for the
//	         others: a tx's new addresses have consecutive ids (0.4 B a
//	         transfer less on the synthetic chain), and a group's new
//	         addresses lie just above its first record's. The value code
//	         (layout 10) is value<<1, or for a value with e ≥ 2 trailing
//	         decimal zeros (e ≤ 9) ((value/10^e)<<3 | e−2)<<1 | 1: round
//	         amounts (putValue)
//	[transfers: uvarint count, then as appendTx writes them]
//
// A plain record (layout 8) is one inside its group, at its group's first
// height, with a derived index, no flags, fee payer or transfers, ≤ 5
// inputs and ≤ 6 outputs (nearly every Bitcoin tx): its height field
// gives its input and output counts and its head byte is left out.
//
// A record that does not fit (flags beyond coinbase/failed, an input
// spending tx n or later, ids past 2⁵⁹, values of 2⁶³ or more, inputs with
// a fee that is not theirs to derive, a height 2⁵⁸ or more from its
// group's first, a first output too far from the group's address base) is
// written as the height field, [the address base,] the escape head and
// appendTx's record. On
// the 10⁷-transfer simulated world this saves 10 of 67.5 bytes a Bitcoin
// tx; the 32-byte txid is most of the rest. Block compression (zstd, s2)
// of groups of 32 to 1024 records gained 0–6 % there (random values,
// random txids), so the log is not compressed.

import (
	"encoding/binary"
	"fmt"
)

const (
	lhCoinbase  = 1 << 0
	lhFailed    = 1 << 1
	lhBigFee    = 1 << 2
	lhFeePayer  = 1 << 3
	lhTransfers = 1 << 4
	lhInShift   = 5
	lhInVarint  = 6 // input count code: a uvarint count follows
	lhEscape    = 7 // input count code: appendTx's record follows
)

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// groupFirst reports whether tx n starts an index group.
func groupFirst(n uint64) bool { return (n-1)%txIdxStride == 0 }

// groupRef is what the compact records of an index group are relative to,
// from the group's first record: its height h and its address base a.
type groupRef struct{ h, a uint64 }

// refOf is the groupRef of t as the first record of its group: its
// height, and the largest of its output address ids below 2⁵⁹ (0 without
// one). A group's new addresses have consecutive ids, and its first
// record's new ones are the highest when it is written, so a later
// record's first output, new or recently paid, is near it.
func refOf(t *txRec) groupRef {
	g := groupRef{h: t.Height}
	for i := range t.Outputs {
		if a := t.Outputs[i].Addr; a < 1<<59 {
			g.a = max(g.a, a)
		}
	}
	return g
}

// appendLogRec appends t, tx number n, as a log record (uvarint length, then
// the compact record) to b; g is the reference of n's group (ignored when n
// starts the group: the record is its reference, refOf).
func appendLogRec(b []byte, t *txRec, n uint64, g groupRef) []byte {
	p := len(b)
	b = append(b, 0)
	b = appendCompactTx(b, t, n, g)
	m := len(b) - p - 1
	if m < 0x80 {
		b[p] = byte(m)
		return b
	}
	var h [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(h[:], uint64(m))
	b = append(b, h[:k-1]...)
	copy(b[p+k:], b[p+1:p+1+m])
	copy(b[p:], h[:k])
	return b
}

// compactFits reports whether t can be written in the compact form, its
// first output relative to the address base a.
func compactFits(t *txRec, n, a uint64) bool {
	if t.Flags&^(flagCoinbase|flagFailed) != 0 {
		return false
	}
	for i := range t.Inputs {
		// The compact form codes n − p in [1, n): tx 0 (no tx has that
		// number; a damaged record's escape form can hold it) is escaped
		// too, so that what decodes re-encodes (FuzzLogRec).
		if p := t.Inputs[i].PrevTx; p == 0 || p >= n || n-p >= 1<<62 {
			return false
		}
	}
	for i := range t.Outputs {
		if o := &t.Outputs[i]; o.Addr >= 1<<59 || o.Value >= 1<<63 {
			return false
		}
	}
	// The first output's difference from the base, zigzagged, shifted by 3.
	if len(t.Outputs) > 0 && zigzag(int64(t.Outputs[0].Addr-a)) >= 1<<61 {
		return false
	}
	// A tx with inputs has no fee field: its fee must be theirs.
	return len(t.Inputs) == 0 || t.Derive&deriveFee != 0
}

// lhOutVarint: the output count code of a record whose count is a uvarint
// before its outputs (always, for the first record of a group).
const lhOutVarint = 7

// Plain records: inside a group, at the height of its first record, with
// a derived index, no flags, no fee payer or transfers, up to 5 inputs, up
// to 6 outputs and (without inputs) a fee of 64 bits: a Bitcoin tx, nearly
// always. Their height field is nIn·7 + nOut, below plainCodes, and they
// have no head byte (layout 8).
const (
	plainCodes   = 6 * 7
	plainMaxIn   = 5
	plainMaxOuts = 6
)

// plainCode returns the height field of t, tx n, as a plain record.
func plainCode(t *txRec, n, groupH uint64) (uint64, bool) {
	nIn, nOut := len(t.Inputs), len(t.Outputs)
	if groupFirst(n) || t.Height != groupH || t.Derive&deriveIndex == 0 || t.Flags != 0 || t.FeePayer != 0 ||
		len(t.Transfers) > 0 || nIn > plainMaxIn || nOut > plainMaxOuts || nIn == 0 && !t.Fee.IsUint64() {
		return 0, false
	}
	return uint64(nIn*7 + nOut), true
}

// heightField is the first field of tx n's record when it is not plain:
// the height for the first record of a group, else plainCodes +
// (zigzag(height − groupH)<<4 | 8 when explicit (the index is written) |
// outCode (the output count, 0–6, or lhOutVarint)). ok is false when the
// difference is too wide for the shift (such a record is escaped, with the
// difference cut to 59 bits and outCode 0, which decodeLogRec checks by
// computing the field again; cut, not wrapped, so that the field stays
// at or above plainCodes).
func heightField(height, n, groupH uint64, explicit bool, outCode int) (v uint64, ok bool) {
	if groupFirst(n) {
		return height, true
	}
	z := zigzag(int64(height - groupH))
	v = (z&(1<<59-1))<<4 | uint64(outCode)
	if explicit {
		v |= 8
	}
	return plainCodes + v, z < 1<<59
}

// recHead reads the height field of tx n's record, the address base of a
// group's first record and its head byte (for a plain record: the head it
// implies): the height field, the height, the address base its first
// output is relative to, whether the index is written, the output count
// code, and the head.
func (r *reader) recHead(n uint64, g groupRef) (hf, h, a uint64, idxWritten bool, outCode uint64, head byte) {
	hf = r.uvarint()
	switch {
	case groupFirst(n):
		h, a, idxWritten, outCode = hf, r.uvarint(), true, lhOutVarint
		if r.err == nil && a >= 1<<59 {
			r.fail("address base past 2⁵⁹")
		}
	case hf < plainCodes:
		return hf, g.h, g.a, false, hf % 7, byte(hf/7) << lhInShift
	default:
		v := hf - plainCodes
		h, a, idxWritten, outCode = g.h+uint64(unzigzag(v>>4)), g.a, v&8 != 0, v&7
	}
	return hf, h, a, idxWritten, outCode, r.byte1()
}

// putValue appends an output value below 2⁶³ in its value code: v<<1, or,
// with e ≥ 2 trailing decimal zeros (at most 9 taken),
// ((v/10^e)<<3 | e−2)<<1 | 1. Round amounts are common on Bitcoin (a
// quarter of the outputs of mainnet blocks 277,647, 540,107 and 574,200
// end in two zeros or more): 6.7 % of those blocks' value bytes (layout
// 10). One decimal zero would cost 4 bits to save 3.3; a value without
// zeros pays the flag bit.
func putValue(b []byte, v uint64) []byte {
	if v%100 != 0 || v == 0 {
		return putUvarint(b, v<<1)
	}
	m, e := v/100, uint64(2)
	for ; e < 9 && m%10 == 0; e++ {
		m /= 10
	}
	return putUvarint(b, (m<<3|(e-2))<<1|1)
}

// pow10 holds 10^e for the value code's exponents.
var pow10 = [...]uint64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// value reads an output value in putValue's code.
func (r *reader) value() uint64 {
	c := r.uvarint()
	if c&1 == 0 {
		return c >> 1
	}
	m, p := c>>4, pow10[(c>>1)&7+2]
	if m > (1<<63-1)/p {
		// The encoder escapes such a record: what decodes re-encodes.
		r.fail("output value past 2⁶³ in a compact record")
		return 0
	}
	return m * p
}

// indexWritten reports whether the compact record of t, tx n, holds its
// index.
func indexWritten(t *txRec, n uint64) bool { return groupFirst(n) || t.Derive&deriveIndex == 0 }

func appendCompactTx(b []byte, t *txRec, n uint64, g groupRef) []byte {
	first := groupFirst(n)
	if first {
		g = refOf(t)
	}
	idx := indexWritten(t, n)
	outCode := min(len(t.Outputs), lhOutVarint)
	hf, ok := heightField(t.Height, n, g.h, idx, outCode)
	if !ok || !compactFits(t, n, g.a) {
		hf, _ = heightField(t.Height, n, g.h, false, 0)
		b = putUvarint(b, hf)
		if first {
			b = putUvarint(b, g.a)
		}
		return appendTx(append(b, lhEscape<<lhInShift), t)
	}
	if first {
		outCode = lhOutVarint
	}
	plain := false
	if pc, ok := plainCode(t, n, g.h); ok {
		hf, plain = pc, true
	}
	b = putUvarint(b, hf)
	if first {
		b = putUvarint(b, g.a)
	}
	head := t.Flags
	nIn := len(t.Inputs)
	bigFee := nIn == 0 && !t.Fee.IsUint64()
	if bigFee {
		head |= lhBigFee
	}
	if t.FeePayer != 0 {
		head |= lhFeePayer
	}
	if len(t.Transfers) > 0 {
		head |= lhTransfers
	}
	if nIn < lhInVarint {
		head |= byte(nIn) << lhInShift
	} else {
		head |= lhInVarint << lhInShift
	}
	if !plain {
		b = append(b, head)
	}
	b = append(b, t.ID[:]...)
	if nIn >= lhInVarint {
		b = putUvarint(b, uint64(nIn))
	}
	if idx {
		b = putUvarint(b, uint64(t.Index))
	}
	switch {
	case nIn > 0: // derived
	case bigFee:
		b = putAmount(b, &t.Fee)
	default:
		b = putUvarint(b, t.Fee.Uint64())
	}
	if t.FeePayer != 0 {
		b = putUvarint(b, t.FeePayer)
	}
	for i := range t.Inputs {
		in := &t.Inputs[i]
		b = putUvarint(b, (n-in.PrevTx)<<2|uint64(min(in.PrevIndex, 3)))
		if in.PrevIndex >= 3 {
			b = putUvarint(b, uint64(in.PrevIndex))
		}
	}
	if outCode == lhOutVarint {
		b = putUvarint(b, uint64(len(t.Outputs)))
	}
	prev := g.a
	for i := range t.Outputs {
		o := &t.Outputs[i]
		b = putUvarint(b, zigzag(int64(o.Addr-prev))<<3|uint64(min(o.Script, 7)))
		prev = o.Addr
		if o.Script >= 7 {
			b = append(b, o.Script)
		}
		b = putValue(b, o.Value)
	}
	if len(t.Transfers) > 0 {
		b = putUvarint(b, uint64(len(t.Transfers)))
		for i := range t.Transfers {
			b = appendXfer(b, &t.Transfers[i])
		}
	}
	return b
}

// firstRef reads the reference of a group from its first record: the
// height field (the height itself there) and the address base.
func firstRef(v []byte) (g groupRef, ok bool) {
	h, k := binary.Uvarint(v)
	if k <= 0 {
		return g, false
	}
	a, j := binary.Uvarint(v[k:])
	return groupRef{h: h, a: a}, j > 0 && a < 1<<59
}

// decodeLogRec decodes a compact record of tx n whose group's reference
// is g (unused when n starts the group).
func decodeLogRec(v []byte, n uint64, g groupRef) (*txRec, error) {
	r := &reader{b: v}
	hf, h, a, idxWritten, nOut, head := r.recHead(n, g)
	if r.err != nil {
		return nil, r.err
	}
	nIn := uint64(head >> lhInShift)
	if nIn == lhEscape {
		t, err := decodeTx(r.b)
		if err == nil {
			if want, _ := heightField(t.Height, n, g.h, false, 0); want != hf {
				err = fmt.Errorf("%w: escaped record at height %d, its height field says %d", errCorrupt, t.Height, h)
			}
		}
		return t, err
	}
	t := &txRec{Height: h, Flags: head & (lhCoinbase | lhFailed)}
	t.ID = r.hash()
	if nIn == lhInVarint {
		nIn = r.uvarint()
	}
	if idxWritten {
		idx := r.uvarint()
		if idx > 0xffffffff {
			r.fail("tx index past 32 bits")
		}
		t.Index = uint32(idx)
	} else {
		t.Derive |= deriveIndex
	}
	switch {
	case nIn > 0:
		if head&lhBigFee != 0 {
			r.fail("fee width given for a tx whose inputs pay it")
		}
		t.Derive |= deriveFee
	case head&lhBigFee != 0:
		t.Fee = r.amount()
	default:
		t.Fee.SetUint64(r.uvarint())
	}
	if head&lhFeePayer != 0 {
		t.FeePayer = r.uvarint()
	}
	if r.err == nil && (nIn > maxRecordItems || nIn > uint64(len(r.b))) {
		r.fail("input count")
	}
	if r.err != nil {
		return nil, r.err
	}
	t.Inputs = make([]inRec, nIn)
	for i := range t.Inputs {
		in := &t.Inputs[i]
		v := r.uvarint()
		d, pi := v>>2, v&3
		if pi == 3 {
			pi = r.uvarint()
		}
		if r.err == nil && (d == 0 || d >= n || pi > 0xffffffff) {
			r.fail("input reference")
		}
		in.PrevTx, in.PrevIndex = n-d, uint32(pi)
	}
	if nOut == lhOutVarint {
		nOut = r.uvarint()
	}
	if r.err == nil && (nOut > maxRecordItems || nOut > uint64(len(r.b))) {
		r.fail("output count")
	}
	if r.err != nil {
		return nil, r.err
	}
	t.Outputs = make([]outRec, nOut)
	prev := a
	for i := range t.Outputs {
		o := &t.Outputs[i]
		v := r.uvarint()
		o.Addr, o.Script = prev+uint64(unzigzag(v>>3)), byte(v&7)
		if r.err == nil && o.Addr >= 1<<59 {
			// The encoder escapes such a record: what decodes re-encodes.
			r.fail("address id past 2⁵⁹ in a compact record")
		}
		prev = o.Addr
		if o.Script == 7 {
			if o.Script = r.byte1(); r.err == nil && o.Script < 7 {
				r.fail("script type byte below 7")
			}
		}
		o.Value = r.value()
	}
	if head&lhTransfers != 0 {
		m := r.uvarint()
		if r.err == nil && (m == 0 || m > maxRecordItems || m > uint64(len(r.b))) {
			r.fail("transfer count")
		}
		if r.err != nil {
			return nil, r.err
		}
		t.Transfers = make([]xferRec, m)
		for i := range t.Transfers {
			r.xfer(&t.Transfers[i])
		}
	} else {
		t.Transfers = []xferRec{}
	}
	if r.err == nil && len(r.b) > 0 {
		r.fail("tx record: trailing bytes")
	}
	if r.err != nil {
		return nil, r.err
	}
	return t, nil
}

func appendXfer(b []byte, x *xferRec) []byte {
	b = putUvarint(b, x.From)
	b = putUvarint(b, x.To)
	b = putUvarint(b, uint64(x.Asset))
	b = putAmount(b, &x.Value)
	return putVarint(b, int64(x.LogIndex))
}

func (r *reader) xfer(x *xferRec) {
	x.From = r.uvarint()
	x.To = r.uvarint()
	x.Asset = uint32(r.uvarint())
	x.Value = r.amount()
	x.LogIndex = int32(r.varint())
}

// logRecOutputs decodes of tx n's compact record (its group's reference
// g) only what loading a UTXO snapshot needs: the txid and the
// outputs, appended to outs[:0]. It skips the other fields without building
// them (the group's checksum, checked by the cursor that read the record,
// vouches for their bytes), in either form. Wherever
// decodeLogRec decodes a record, this returns its ID and Outputs
// (FuzzLogRecOutputs).
func logRecOutputs(v []byte, n uint64, g groupRef, outs []outRec) (id [32]byte, _ []outRec, err error) {
	r := &reader{b: v}
	_, _, a, idxWritten, outCode, head := r.recHead(n, g)
	if r.err != nil {
		return id, outs, r.err
	}
	nIn := uint64(head >> lhInShift)
	outs = outs[:0]
	if nIn == lhEscape { // appendTx's record
		id = r.hash()
		r.uvarint()             // height
		r.uvarint()             // index
		r.byte1()               // flags
		r.bytes(int(r.byte1())) // fee
		r.uvarint()             // fee payer
		nIn = r.uvarint()
		if r.err == nil && (nIn > maxRecordItems || nIn > uint64(len(r.b))) {
			r.fail("input count")
		}
		for i := uint64(0); i < nIn && r.err == nil; i++ {
			r.uvarint()
			r.uvarint()
		}
		nOut := r.uvarint()
		if r.err == nil && (nOut > maxRecordItems || nOut > uint64(len(r.b))) {
			r.fail("output count")
		}
		for i := uint64(0); i < nOut && r.err == nil; i++ {
			o := outRec{Addr: r.uvarint(), Value: r.uvarint()}
			o.Script = r.byte1()
			outs = append(outs, o)
		}
		if r.err != nil {
			return id, outs[:0], fmt.Errorf("tx %d: %w", n, r.err)
		}
		return id, outs, nil
	}
	id = r.hash()
	if nIn == lhInVarint {
		nIn = r.uvarint()
	}
	if idxWritten {
		r.uvarint() // index
	}
	switch {
	case nIn > 0:
		if head&lhBigFee != 0 {
			r.fail("fee width given for a tx whose inputs pay it")
		}
	case head&lhBigFee != 0:
		r.bytes(int(r.byte1()))
	default:
		r.uvarint()
	}
	if head&lhFeePayer != 0 {
		r.uvarint()
	}
	if r.err == nil && (nIn > maxRecordItems || nIn > uint64(len(r.b))) {
		r.fail("input count")
	}
	for i := uint64(0); i < nIn && r.err == nil; i++ {
		if r.uvarint()&3 == 3 {
			r.uvarint()
		}
	}
	nOut := outCode
	if nOut == lhOutVarint {
		nOut = r.uvarint()
	}
	if r.err == nil && (nOut > maxRecordItems || nOut > uint64(len(r.b))) {
		r.fail("output count")
	}
	prev := a
	for i := uint64(0); i < nOut && r.err == nil; i++ {
		v := r.uvarint()
		o := outRec{Addr: prev + uint64(unzigzag(v>>3)), Script: byte(v & 7)}
		prev = o.Addr
		if o.Script == 7 {
			o.Script = r.byte1()
		}
		o.Value = r.value()
		outs = append(outs, o)
	}
	if r.err != nil {
		return id, outs[:0], fmt.Errorf("tx %d: %w", n, r.err)
	}
	return id, outs, nil
}
