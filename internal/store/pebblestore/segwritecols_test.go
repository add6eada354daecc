package pebblestore

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/holiman/uint256"
)

// TestEncodeWritesStreams: the streams a close writes as it encodes the
// groups and the spends (encodeGroupsCols, encodeSpentCols) are, block by
// block, what splitting the encoded bytes finds (colStreams.split), on
// segments of one and two ranges, with wide entries (amounts past 64 bits,
// counts past 65,535), assets, counts of 3 and more, zero amounts and
// amounts out equal to the last in; and the sections packed from them are
// byte for byte the ones packed by splitting.
func TestEncodeWritesStreams(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct {
		name  string
		txs   uint64
		addrs uint64
	}{{"two ranges", groupsSplitMin, 30_000}, {"one range", 3000, 500}, {"few", 40, 7}} {
		t.Run(tc.name, func(t *testing.T) {
			d := &segData{start: 100, end: 100 + tc.txs, addrStart: 1, addrEnd: 1 + tc.addrs}
			last := map[uint64]uint64{}
			for n := d.start; n < d.end; n++ {
				for k := 0; k < 2; k++ {
					a := 1 + rng.Uint64N(tc.addrs)
					if rng.IntN(4) == 0 {
						a = 1 // a busy address: counts of two varint bytes
					}
					e := tEnt{addr: a, txnum: n, nIn: rng.Uint64N(5), nOut: rng.Uint64N(5)}
					switch rng.IntN(6) {
					case 0:
						e.in = rng.Uint64N(1 << 40)
						last[a] = e.in
					case 1:
						e.out = last[a] // the last amount in (or zero)
					case 2:
						e.in, e.out = rng.Uint64(), rng.Uint64N(300)
					case 3:
						e.asset = uint32(rng.IntN(3))
						e.in = rng.Uint64N(1 << 20)
					}
					if rng.IntN(500) == 0 {
						e.nIn = 70_000 // wide
					}
					if rng.IntN(500) == 0 {
						// An amount past 64 bits: wide.
						v := new(uint256.Int).Lsh(uint256.NewInt(rng.Uint64()|1), 100)
						d.addAdj(e.addr, e.txnum, e.asset, e.nIn, e.nOut, v, uint256.NewInt(e.out))
						continue
					}
					d.add(e)
				}
				for k := 0; k < 2; k++ {
					p := d.start - 50 + rng.Uint64N(n-d.start+50)
					d.spent = append(d.spent, spentEnt{prevTx: p, vout: uint32(rng.IntN(300)), spender: n})
				}
			}
			slices.SortFunc(d.spent, func(a, b spentEnt) int { return cmpU64(a.spender, b.spender) })
			d.spent = slices.CompactFunc(d.spent, func(a, b spentEnt) bool { return a.prevTx == b.prevTx && a.vout == b.vout })
			if len(d.wide) == 0 && tc.txs > 1000 {
				t.Fatal("no wide entries: the test no longer covers them")
			}
			groups, gindex, _, parts := encodeGroupsCols(d)
			if tc.name == "two ranges" && len(parts) != 2 {
				t.Fatalf("%d parts: the test no longer encodes two ranges", len(parts))
			}
			spent, sindex, scols := encodeSpentCols(d.spent)
			for _, sec := range []struct {
				name  string
				kind  colKind
				raw   []byte
				cuts  []uint64
				parts []*colStreams
			}{{"groups", colGroups, groups, blockCuts(gindex, 16), parts}, {"spent", colSpent, spent, blockCuts(sindex, 20), []*colStreams{scols}}} {
				var want colStreams
				var cnt [colMaxStreams][256]uint64
				want.split(sec.kind, sec.raw, sec.cuts, 0, len(sec.cuts), &cnt)
				i := 0
				for _, p := range sec.parts {
					for b := range p.ends {
						got, ok := p.block(b)
						w, wok := want.block(i)
						if !ok || !wok {
							t.Fatalf("%s block %d: does not split", sec.name, i)
						}
						for s := 0; s < sec.kind.streams(); s++ {
							if !slices.Equal(got[s], w[s]) {
								t.Fatalf("%s block %d stream %d: written %x, split %x", sec.name, i, s, got[s], w[s])
							}
						}
						i++
					}
				}
				if i != len(sec.cuts) {
					t.Fatalf("%s: %d blocks of streams, %d blocks", sec.name, i, len(sec.cuts))
				}
				p1, h1, b1 := packSectionCols(sec.raw, sec.cuts, sec.kind, sec.parts)
				p2, h2, b2 := packSection(sec.raw, sec.cuts, sec.kind)
				if !slices.Equal(p1, p2) || h1 != h2 || !slices.Equal(b1, b2) {
					t.Fatalf("%s: packed from the written streams %d bytes, from the split %d", sec.name, len(p1), len(p2))
				}
			}
		})
	}
}

func TestPutCols(t *testing.T) {
	for _, v := range []uint64{0, 1, 0x7f, 0x80, 0x3fff, 0x4000, 1 << 35, 1<<63 + 5, ^uint64(0)} {
		b := putUvarint(nil, v)
		f, m := putUvarintCols(nil, nil, v)
		if !slices.Equal(append(f, m...), b) || len(f) != 1 {
			t.Errorf("uvarint %d: %x then %x, want %x", v, f, m, b)
		}
		a := putAmountU64(nil, v)
		l, ld, mo := putAmountCols(nil, nil, nil, v)
		if got := append(append(l, ld...), mo...); !slices.Equal(got, a) || len(l) != 1 || len(ld) > 1 {
			t.Errorf("amount %d: %s, want %x", v, fmt.Sprintf("%x %x %x", l, ld, mo), a)
		}
	}
}
