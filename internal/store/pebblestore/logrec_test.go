package pebblestore

import (
	"bytes"
	"reflect"
	"slices"
	"testing"

	"github.com/holiman/uint256"
)

// stored is t as decodeLogRec gives it back from tx n's compact record
// (escaped: from the escape form): what the record derives is zero there,
// and flagged, until a reader fills it.
func stored(t *txRec, n uint64, escaped bool) *txRec {
	c := *t
	if escaped {
		c.Derive = 0
		return &c
	}
	if groupFirst(n) || t.Derive&deriveIndex == 0 {
		c.Derive &^= deriveIndex
	} else {
		c.Index = 0
	}
	if len(t.Inputs) > 0 {
		c.Fee.Clear()
	} else {
		c.Derive &^= deriveFee
	}
	return &c
}

// TestCompactRecordRoundTrip: every kind of record decodes back to itself,
// in the compact form where it fits and in the escape form where it does
// not, first in its group (absolute height) or not (relative, either way),
// with its position in the block written or derived (layout 8), and with
// a tx's fee left to its inputs where it has inputs.
func TestCompactRecordRoundTrip(t *testing.T) {
	plains := 0
	defer func() {
		if plains == 0 && !t.Failed() {
			t.Error("no case was written as a plain record")
		}
	}()
	big := new(uint256.Int).Lsh(uint256.NewInt(1), 200)
	base := func() *txRec {
		return &txRec{ID: [32]byte{1, 2, 3}, Height: 700_000, Index: 5, Fee: *uint256.NewInt(1234),
			Inputs:    []inRec{{PrevTx: 90, PrevIndex: 0}, {PrevTx: 99, PrevIndex: 7}},
			Outputs:   []outRec{{Addr: 77, Value: 5_000_000_000, Script: 3}, {Addr: 1 << 40, Value: 0, Script: 6}},
			Transfers: []xferRec{}, Derive: deriveFee | deriveIndex}
	}
	cases := []struct {
		name    string
		edit    func(*txRec)
		escaped bool
	}{
		{"plain", func(*txRec) {}, false},
		{"coinbase failed", func(r *txRec) { r.Flags = flagCoinbase | flagFailed; r.Inputs = []inRec{} }, false},
		{"unknown flag", func(r *txRec) { r.Flags = 1 << 5 }, true},
		{"big fee and fee payer", func(r *txRec) { r.Inputs, r.Fee, r.FeePayer = []inRec{}, *big, 1<<50 }, false},
		{"big fee of inputs not derived", func(r *txRec) { r.Fee, r.Derive = *big, 0 }, true},
		{"six inputs", func(r *txRec) {
			for i := 0; i < 4; i++ {
				r.Inputs = append(r.Inputs, inRec{PrevTx: 1, PrevIndex: uint32(i) << 20})
			}
		}, false},
		{"input spends its own tx", func(r *txRec) { r.Inputs[1].PrevTx = 130 }, true},
		{"input spends a later tx", func(r *txRec) { r.Inputs[1].PrevTx = 1 << 63 }, true},
		{"script past 7", func(r *txRec) { r.Outputs[0].Script = 8 }, false},
		{"scripts 255 and 7", func(r *txRec) { r.Outputs[0].Script, r.Outputs[1].Script = 255, 7 }, false},
		{"address past 2^59", func(r *txRec) { r.Outputs[0].Addr = 1 << 59 }, true},
		{"address just below 2^59 after 0", func(r *txRec) { r.Outputs[0].Addr, r.Outputs[1].Addr = 0, 1<<59-1 }, false},
		{"consecutive and falling addresses", func(r *txRec) {
			r.Outputs = append(r.Outputs, outRec{Addr: 1<<40 + 1, Value: 3, Script: 1}, outRec{Addr: 5, Value: 4, Script: 9})
		}, false},
		// Values of 2⁶³ or more are escaped (layout 10: the value code
		// spends a bit on its form).
		{"max value", func(r *txRec) { r.Outputs[0].Value, r.Fee = ^uint64(0), uint256.Int{} }, true},
		{"max value, no inputs", func(r *txRec) { r.Inputs, r.Outputs[0].Value = []inRec{}, ^uint64(0) }, true},
		{"value 2^63", func(r *txRec) { r.Outputs[1].Value = 1 << 63 }, true},
		{"largest compact values", func(r *txRec) { r.Outputs[0].Value, r.Outputs[1].Value = 1<<63-1, 9_000_000_000_000_000_000 }, false},
		{"round and not round values", func(r *txRec) {
			for _, v := range []uint64{10, 100, 120, 1000, 1_000_000_000, 1_230_000_000_000, 7} {
				r.Outputs = append(r.Outputs, outRec{Addr: 1<<40 + v, Value: v, Script: 2})
			}
		}, false},
		{"transfers", func(r *txRec) {
			r.Inputs, r.Outputs = []inRec{}, []outRec{}
			r.Transfers = []xferRec{{From: 3, To: 4, Asset: 2, Value: *big, LogIndex: -1}, {From: 0, To: 9, LogIndex: 1 << 30}}
		}, false},
		{"index past 16 bits", func(r *txRec) { r.Index, r.Derive = 1<<32-1, deriveFee }, false},
		{"index written", func(r *txRec) { r.Derive = deriveFee }, false},
		{"inputs with their fee not derived", func(r *txRec) { r.Derive = deriveIndex }, true},
		{"no inputs, fee written", func(r *txRec) { r.Inputs = []inRec{}; r.Derive = deriveIndex }, false},
		{"no inputs, big fee written", func(r *txRec) { r.Inputs, r.Fee, r.Derive = []inRec{}, *big, 0 }, false},
		{"height far below the group's", func(r *txRec) { r.Height = 1 }, false},
		// The output count rides in the height field up to 6 (layout 8).
		{"no outputs", func(r *txRec) { r.Outputs = []outRec{} }, false},
		{"six outputs", func(r *txRec) {
			for i := 0; i < 4; i++ {
				r.Outputs = append(r.Outputs, outRec{Addr: uint64(i), Value: 1})
			}
		}, false},
		{"seven outputs", func(r *txRec) {
			for i := 0; i < 5; i++ {
				r.Outputs = append(r.Outputs, outRec{Addr: uint64(i), Value: 1})
			}
		}, false},
	}
	for _, c := range cases {
		for _, g := range []struct {
			n uint64
			g groupRef
		}{{130, groupRef{}}, {129, groupRef{}} /* first of its group */, {130, groupRef{699_000, 76}},
			{130, groupRef{900_000, 1 << 40}} /* exports: heights fall */, {130, groupRef{1 << 63, 1<<59 - 1}},
			{130, groupRef{700_000, 77}} /* at its group's first height: plain where it can be */, {130, groupRef{700_000 + 1<<59, 5}} /* a field that would wrap */} {
			rec := base()
			c.edit(rec)
			b := appendCompactTx(nil, rec, g.n, g.g)
			if ref, ok := firstRef(b); groupFirst(g.n) && (!ok || ref != refOf(rec)) {
				t.Fatalf("%s: group reference %+v, want %+v", c.name, ref, refOf(rec))
			}
			// A height 2⁵⁸ or more away from its group's is escaped.
			far := !groupFirst(g.n) && zigzag(int64(rec.Height-g.g.h)) >= 1<<59
			escaped := bytes.Contains(b, appendTx(nil, rec))
			if escaped != (c.escaped || far) {
				t.Errorf("%s (tx %d, group height %d): escaped = %v, want %v", c.name, g.n, g.g.h, escaped, c.escaped || far)
			}
			// A plain record: its head byte left out, its counts in the
			// height field, below 42.
			plain := !groupFirst(g.n) && rec.Height == g.g.h && rec.Derive&deriveIndex != 0 && rec.Flags == 0 &&
				rec.FeePayer == 0 && len(rec.Transfers) == 0 && len(rec.Inputs) <= 5 && len(rec.Outputs) <= 6 &&
				(len(rec.Inputs) > 0 || rec.Fee.IsUint64()) && !escaped
			if !groupFirst(g.n) && plain != (b[0] < 42) {
				t.Errorf("%s (tx %d, group height %d): height field %d, plain %v", c.name, g.n, g.g.h, b[0], plain)
			}
			if plain {
				plains++
			}
			want := stored(rec, g.n, escaped)
			got, err := decodeLogRec(b, g.n, g.g)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s (tx %d, group height %d): decoded %+v, %v; want %+v", c.name, g.n, g.g.h, got, err, want)
			}
			// What the record leaves out, the readers derive back.
			if got.Derive&deriveIndex != 0 {
				if err := got.fillIndex(g.n, blockSpan{firstTx: g.n - uint64(rec.Index), nTx: uint64(rec.Index) + 1, ok: true}); err != nil || got.Index != rec.Index {
					t.Fatalf("%s: derived index %d, %v; want %d", c.name, got.Index, err, rec.Index)
				}
			}
			if got.Derive&deriveFee != 0 {
				got.Inputs[0].Value = rec.Fee.Uint64() // the fee and the outputs
				for _, o := range rec.Outputs {
					got.Inputs[0].Value += o.Value
				}
				if err := got.fillFee(); err != nil || !got.Fee.Eq(&rec.Fee) {
					t.Fatalf("%s: derived fee %s, %v; want %s", c.name, got.Fee.Dec(), err, rec.Fee.Dec())
				}
			}
			id, outs, err := logRecOutputs(b, g.n, g.g, []outRec{{Addr: 1}})
			if err != nil || id != rec.ID || !slices.Equal(outs, rec.Outputs) {
				t.Fatalf("%s: logRecOutputs %x %+v, %v; want %x %+v", c.name, id[:4], outs, err, rec.ID[:4], rec.Outputs)
			}
			// Not longer than appendTx's record where the group's base is
			// at or below the first output (a far base costs bytes; a
			// group's first record carries the base, up to 9 bytes, which
			// the group's other records repay).
			near := !groupFirst(g.n) && (len(rec.Outputs) == 0 || g.g.a <= rec.Outputs[0].Addr)
			if !escaped && near && len(b) > len(appendTx(nil, rec)) {
				t.Errorf("%s (tx %d, group %+v): compact form %d bytes, appendTx's %d", c.name, g.n, g.g, len(b), len(appendTx(nil, rec)))
			}
			// Every cut of the record is an error, never a panic.
			for k := 0; k < len(b); k++ {
				if _, err := decodeLogRec(b[:k], g.n, g.g); err == nil && !escaped {
					t.Fatalf("%s: record cut to %d of %d bytes decoded", c.name, k, len(b))
				}
			}
		}
	}
}

// FuzzLogRec decodes arbitrary bytes as a compact record (any group
// reference): never a panic,
// and what decodes encodes to a record that decodes the same (what it
// derives included: the flags and the fields left zero); the UTXO
// load's partial decoder (logRecOutputs) never panics either and agrees
// on every record that decodes.
func FuzzLogRec(f *testing.F) {
	rec := &txRec{ID: [32]byte{9}, Height: 5, Fee: *uint256.NewInt(7), Inputs: []inRec{{PrevTx: 3, PrevIndex: 4}},
		Outputs: []outRec{{Addr: 8, Value: 9, Script: 1}}, Transfers: []xferRec{}}
	f.Add(appendCompactTx(nil, rec, 10, groupRef{h: 4}), uint64(10), uint64(4), uint64(0))
	f.Add(appendCompactTx(nil, rec, 33, groupRef{}), uint64(33), uint64(0), uint64(0))
	rec.Derive = deriveFee | deriveIndex // layout 8: both derived
	f.Add(appendCompactTx(nil, rec, 10, groupRef{h: 4}), uint64(10), uint64(4), uint64(0))
	rec.Derive = deriveFee // the index written
	f.Add(appendCompactTx(nil, rec, 10, groupRef{h: 4}), uint64(10), uint64(4), uint64(0))
	many := *rec // outputs past the height field's count
	for i := 0; i < 8; i++ {
		many.Outputs = append(many.Outputs, outRec{Addr: 8 + uint64(i), Value: 1, Script: byte(i)})
	}
	f.Add(appendCompactTx(nil, &many, 10, groupRef{h: 4, a: 12}), uint64(10), uint64(4), uint64(12))
	// A plain record: at its group's first height.
	f.Add(appendCompactTx(nil, rec, 10, groupRef{h: rec.Height}), uint64(10), rec.Height, uint64(0))
	noIn := *rec // a fee written (no inputs), the index derived
	noIn.Inputs, noIn.Derive, noIn.FeePayer = []inRec{}, deriveIndex, 3
	f.Add(appendCompactTx(nil, &noIn, 10, groupRef{h: 4, a: 1 << 58}), uint64(10), uint64(4), uint64(1<<58))
	rec.Inputs[0].PrevTx = 10 // escape form
	f.Add(appendCompactTx(nil, rec, 10, groupRef{h: 4}), uint64(10), uint64(4), uint64(0))
	f.Add([]byte{0, 0xff, 1}, uint64(2), uint64(0), uint64(0))
	round := *rec // values in the value code's scaled form (layout 10)
	round.Inputs[0].PrevTx, round.Outputs = 3, []outRec{{Addr: 8, Value: 5_000_000_000, Script: 1}, {Addr: 9, Value: 100}}
	f.Add(appendCompactTx(nil, &round, 10, groupRef{h: 4, a: 8}), uint64(10), uint64(4), uint64(8))
	f.Add(appendCompactTx(nil, &round, 33, groupRef{}), uint64(33), uint64(0), uint64(0))
	f.Fuzz(func(t *testing.T, b []byte, n, groupH, groupA uint64) {
		if n == 0 {
			n = 1
		}
		g := groupRef{h: groupH, a: groupA}
		id, outs, oerr := logRecOutputs(b, n, g, nil)
		r, err := decodeLogRec(b, n, g)
		if err != nil {
			return
		}
		if oerr != nil || id != r.ID || !slices.Equal(outs, r.Outputs) {
			t.Fatalf("logRecOutputs %x %+v, %v; decodeLogRec %x %+v", id[:4], outs, oerr, r.ID[:4], r.Outputs)
		}
		b2 := appendCompactTx(nil, r, n, g)
		r2, err := decodeLogRec(b2, n, g)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("decoded %+v, re-encoded to %+v, %v", r, r2, err)
		}
	})
}

// TestValueCode: putValue scales a value by its trailing decimal zeros from
// two on (at most nine), round amounts take fewer bytes than their uvarint,
// others at most one bit more, and reader.value gives every value back; a
// scaled code whose value reaches 2⁶³ is an error.
func TestValueCode(t *testing.T) {
	for _, c := range []struct {
		v    uint64
		size int // bytes of its value code
	}{
		{0, 1}, {7, 1}, {10, 1}, {63, 1}, {64, 2}, {100, 1}, {120, 2}, {1_000_000, 1},
		{5_000_000_000, 1}, {50_000_000_000, 2}, {123_456_789, 4}, {1<<63 - 1, 10},
		{9_000_000_000_000_000_000, 6}, {1_230_000_000_000, 3},
	} {
		b := putValue(nil, c.v)
		if len(b) != c.size {
			t.Errorf("value %d: code of %d bytes %x, want %d", c.v, len(b), b, c.size)
		}
		r := &reader{b: b}
		if got := r.value(); r.err != nil || got != c.v || len(r.b) != 0 {
			t.Errorf("value %d: read back %d, %v", c.v, got, r.err)
		}
	}
	// m = 2⁶⁰/10⁹·…: a scaled code past 2⁶³.
	for _, code := range []uint64{(1<<59)<<4 | 7<<1 | 1, (922337203685477581)<<4 | 1} {
		r := &reader{b: putUvarint(nil, code)}
		if v := r.value(); r.err == nil {
			t.Errorf("code %#x: value %d, want an error", code, v)
		}
	}
	// The largest scaled value below 2⁶³ reads.
	r := &reader{b: putUvarint(nil, (92233720368547758)<<4|1)}
	if v := r.value(); r.err != nil || v != 9223372036854775800 {
		t.Errorf("largest scaled value: %d, %v", v, r.err)
	}
}

// TestAddressBase: a record's first output is coded against its group's
// address base (layout 10), so a new address just above a group's first
// record's costs one byte where its id took five.
func TestAddressBase(t *testing.T) {
	first := &txRec{ID: [32]byte{1}, Height: 9, Derive: deriveFee | deriveIndex, Inputs: []inRec{{PrevTx: 1}},
		Outputs: []outRec{{Addr: 1<<30 + 1, Value: 5, Script: 1}, {Addr: 1 << 30, Value: 6, Script: 1}}, Transfers: []xferRec{}}
	g := refOf(first)
	if g != (groupRef{h: 9, a: 1<<30 + 1}) {
		t.Fatalf("refOf: %+v", g)
	}
	b := appendCompactTx(nil, first, 33, groupRef{})
	if got, ok := firstRef(b); !ok || got != g {
		t.Fatalf("first record's reference %+v %v, want %+v", got, ok, g)
	}
	next := *first
	next.Outputs = []outRec{{Addr: 1<<30 + 2, Value: 5, Script: 1}}
	near := appendCompactTx(nil, &next, 34, g)
	far := appendCompactTx(nil, &next, 34, groupRef{h: 9})
	if len(far)-len(near) != 4 {
		t.Errorf("record of %d bytes against the base, %d against 0: want 4 fewer", len(near), len(far))
	}
	if got, err := decodeLogRec(near, 34, g); err != nil || got.Outputs[0].Addr != 1<<30+2 {
		t.Fatalf("decoded %+v, %v", got, err)
	}
	// A first record's base past 2⁵⁹ is damage.
	bad := append(putUvarint(putUvarint(nil, 9), 1<<59), b[len(putUvarint(putUvarint(nil, 9), g.a)):]...)
	if _, err := decodeLogRec(bad, 33, groupRef{}); err == nil {
		t.Error("address base past 2⁵⁹ decoded")
	}
}
