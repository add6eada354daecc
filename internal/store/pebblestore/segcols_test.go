package pebblestore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/holiman/uint256"
)

// colWorld returns a segment's content with every field of an adjacency
// entry in use: assets, counts of 3 and more, amounts of every width up to
// 256 bits (wide entries), amounts out equal to the group's last amount in
// (and equal to an earlier one, or to the entry's own amount in, which are
// not referred to), groups of one and of many entries; and spends with
// vouts and distances of every width.
func colWorld(seed uint64, n int) *segData {
	rng := rand.New(rand.NewPCG(seed, 9))
	d := &segData{start: 1000, end: 1000 + uint64(n), addrStart: 500, addrEnd: 500 + uint64(n)}
	lastIn := map[uint64]*uint256.Int{}
	amount := func() *uint256.Int {
		switch rng.IntN(6) {
		case 0:
			return new(uint256.Int)
		case 1:
			return uint256.NewInt(5_000_000_000)
		case 2: // wide: past 64 bits
			v := new(uint256.Int).Lsh(uint256.NewInt(rng.Uint64()|1), uint(64+rng.IntN(190)))
			return v
		default:
			return uint256.NewInt(rng.Uint64N(1 << (8 * (1 + rng.IntN(7)))))
		}
	}
	for tx := d.start; tx < d.end; tx++ {
		for k := 0; k < 1+rng.IntN(4); k++ {
			addr := 1 + rng.Uint64N(uint64(n)/3+1)
			if rng.IntN(3) == 0 {
				addr = d.addrStart + rng.Uint64N(uint64(n))
			}
			in, out := amount(), amount()
			switch rng.IntN(4) {
			case 0: // spends what it received last
				if l := lastIn[addr]; l != nil {
					out = l.Clone()
				}
			case 1:
				out = in.Clone() // its own amount in: not a reference
			}
			nIn, nOut := rng.Uint64N(3), rng.Uint64N(3)
			if rng.IntN(8) == 0 {
				nIn, nOut = 3+rng.Uint64N(300), 3+rng.Uint64N(70000)
			}
			var asset uint32
			if rng.IntN(5) == 0 {
				asset = uint32(1 + rng.IntN(3000))
			}
			d.addAdj(addr, tx, asset, nIn, nOut, in, out)
			if !in.IsZero() {
				lastIn[addr] = in
			}
		}
		for k := 0; k < rng.IntN(3); k++ {
			d.spent = append(d.spent, spentEnt{prevTx: 1 + rng.Uint64N(tx), vout: uint32(rng.Uint64N(1 << (4 * rng.IntN(8)))), spender: tx})
		}
	}
	// A segment spends an output once.
	seen := map[[2]uint64]bool{}
	d.spent = slices.DeleteFunc(d.spent, func(s spentEnt) bool {
		k := [2]uint64{s.prevTx, uint64(s.vout)}
		dup := seen[k]
		seen[k] = true
		return dup
	})
	return d
}

// colSections returns the groups and spends of d, encoded, with their cuts.
func colSections(d *segData) (groups []byte, gcuts []uint64, spent []byte, scuts []uint64) {
	groups, gindex, _ := encodeGroups(d)
	spent, sindex := encodeSpent(d)
	return groups, blockCuts(gindex, 16), spent, blockCuts(sindex, 20)
}

// TestColSplitMatchesWalker: the straight-code splitters give the streams
// the walker gives (the walker also joins them back), and refuse what it
// refuses: whole sections, every block, and every block cut short or with
// a byte changed.
func TestColSplitMatchesWalker(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, seed := range []uint64{1, 2, 3} {
		groups, gcuts, spent, scuts := colSections(colWorld(seed, 3000))
		for _, c := range []struct {
			k    colKind
			sec  []byte
			cuts []uint64
		}{{colGroups, groups, gcuts}, {colSpent, spent, scuts}} {
			check := func(raw []byte) bool {
				var st [colMaxStreams][]byte
				var ok bool
				if c.k == colGroups {
					ok = splitGroups(raw, &st)
				} else {
					ok = splitSpent(raw, &st)
				}
				var w colWalk
				wok := colSplit(c.k, raw, &w)
				if ok != wok {
					t.Fatalf("kind %d, %d bytes: split %v, walker %v", c.k, len(raw), ok, wok)
				}
				if !ok {
					return false
				}
				for s := range st {
					if !bytes.Equal(st[s], w.st[s]) {
						t.Fatalf("kind %d: stream %d differs", c.k, s)
					}
				}
				j := colWalk{join: true, st: st}
				if !j.walk(c.k, len(raw)) || !bytes.Equal(j.out, raw) {
					t.Fatalf("kind %d: the streams join to %d bytes, not the block's %d", c.k, len(j.out), len(raw))
				}
				return true
			}
			if !check(c.sec) {
				t.Fatalf("kind %d: the section does not split", c.k)
			}
			refused := 0
			for i := range c.cuts {
				raw := blockOf(c.sec, c.cuts, i)
				if !check(raw) {
					t.Fatalf("kind %d block %d does not split", c.k, i)
				}
				if !check(raw[:len(raw)-1]) {
					refused++
				}
				bad := slices.Clone(raw)
				bad[rng.IntN(len(bad))] ^= byte(1 + rng.IntN(255))
				check(bad)
			}
			if c.k == colGroups && refused != len(c.cuts) {
				t.Errorf("groups: %d of %d blocks cut short split", len(c.cuts)-refused, len(c.cuts))
			}
		}
	}
}

// TestColPackRoundTrip: sections packed with the column codec read back
// block by block, with the codec in use for most blocks; the head's
// tables parse; two packings are byte for byte the same.
func TestColPackRoundTrip(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		groups, gcuts, spent, scuts := colSections(colWorld(seed, 40000))
		for _, c := range []struct {
			k    colKind
			name string
			sec  []byte
			cuts []uint64
		}{{colGroups, "groups", groups, gcuts}, {colSpent, "spent", spent, scuts}} {
			packed, hdr, bidx := packSection(c.sec, c.cuts, c.k)
			again, hdr2, bidx2 := packSection(c.sec, c.cuts, c.k)
			if !bytes.Equal(packed, again) || hdr != hdr2 || !bytes.Equal(bidx, bidx2) {
				t.Fatalf("%s: two packings differ", c.name)
			}
			if len(c.cuts) < 2*packSplitMin {
				t.Fatalf("%s: %d blocks, too few to pack in two halves", c.name, len(c.cuts))
			}
			tables, n, err := parseColTables(c.k, packed, false)
			if err != nil || n != hdr {
				t.Fatalf("%s: head: %d of %d bytes, %v", c.name, n, hdr, err)
			}
			b := &blockSec{name: c.name, packed: packed[hdr:], bidx: bidx, cols: tables}
			if err := b.check(func(k int) uint64 { return c.cuts[k] }, blockStride*len(c.cuts)); err != nil {
				t.Fatal(err)
			}
			codecs := map[byte]int{}
			for k := range c.cuts {
				codecs[b.packed[binary.BigEndian.Uint64(bidx[8+8*k:])]]++
				end := uint64(len(c.sec))
				if k+1 < len(c.cuts) {
					end = c.cuts[k+1]
				}
				got, err := b.block("x.seg", k, c.cuts[k], end)
				if err != nil || !bytes.Equal(got, c.sec[c.cuts[k]:end]) {
					t.Fatalf("%s block %d: %d bytes, %v", c.name, k, len(got), err)
				}
			}
			if codecs[codecCols] < len(c.cuts)/2 {
				t.Errorf("%s: codecs %v: the column codec packed under half the blocks", c.name, codecs)
			}
			t.Logf("%s: %d raw bytes, %d packed (head %d), codecs %v", c.name, len(c.sec), len(packed), hdr, codecs)
		}
	}
}

// TestColBlockDamage: a column block with a byte changed or cut short is
// an error naming the file, the section and the block, or bytes of the
// block's length (a changed raw byte or Huffman code may decode to other
// records, which only the file's checksum tells, as for raw blocks), never
// a panic.
func TestColBlockDamage(t *testing.T) {
	groups, gcuts, _, _ := colSections(colWorld(4, 600))
	packed, hdr, bidx := packSection(groups, gcuts, colGroups)
	tables, _, err := parseColTables(colGroups, packed, false)
	if err != nil {
		t.Fatal(err)
	}
	body := packed[hdr:]
	tested, caught, silent := 0, 0, 0
	for k := range gcuts {
		a := binary.BigEndian.Uint64(bidx[8+8*k:])
		z := uint64(len(body))
		if k+1 < len(gcuts) {
			z = binary.BigEndian.Uint64(bidx[8+8*(k+1):])
		}
		if body[a] != codecCols {
			continue
		}
		tested++
		end := uint64(len(groups))
		if k+1 < len(gcuts) {
			end = gcuts[k+1]
		}
		want := groups[gcuts[k]:end]
		for i := a + 1; i < z; i += 1 + (i-a)/64 {
			for _, x := range []byte{0x01, 0x80, 0xff} {
				bad := slices.Clone(body)
				bad[i] ^= x
				bs := &blockSec{name: "groups", packed: bad, bidx: bidx, raw: uint64(len(groups)), cols: tables}
				got, err := bs.block("x.seg", k, gcuts[k], end)
				if err == nil {
					// The same bytes (a bit the decoding does not use), or
					// a Huffman stream decoded to other symbols that still
					// join into records: only the file's checksum can tell,
					// as for raw blocks.
					if !bytes.Equal(got, want) {
						silent++
					}
					continue
				}
				caught++
				if !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), "x.seg") || !strings.Contains(err.Error(), "groups block") {
					t.Fatalf("block %d byte %d ^%#x: err = %v", k, i-a, x, err)
				}
			}
		}
		short := append(slices.Clone(body[:z-1]), body[z:]...)
		bs := &blockSec{name: "groups", packed: short, bidx: bidx, raw: uint64(len(groups)), cols: tables}
		if _, err := bs.block("x.seg", k, gcuts[k], end); err == nil {
			t.Fatalf("block %d cut short by a byte: no error", k)
		}
	}
	if tested == 0 {
		t.Fatal("no block in the column codec")
	}
	t.Logf("%d blocks: %d changes caught, %d decoded to other records", tested, caught, silent)
	if caught == 0 {
		t.Error("no change caught")
	}
	// A column block in a section without tables (a format-3 file).
	k := 0
	for ; body[binary.BigEndian.Uint64(bidx[8+8*k:])] != codecCols; k++ {
	}
	bs := &blockSec{name: "groups", packed: body, bidx: bidx, raw: uint64(len(groups))}
	if _, err := bs.block("x.seg", k, gcuts[k], gcuts[k+1]); err == nil || !errors.Is(err, errCorrupt) {
		t.Fatalf("a column block without tables: err = %v", err)
	}
}

// TestColHeadDamage: a section head that does not parse is an error of the
// segment's open.
func TestColHeadDamage(t *testing.T) {
	groups, gcuts, _, _ := colSections(colWorld(4, 600))
	packed, hdr, _ := packSection(groups, gcuts, colGroups)
	if _, _, err := parseColTables(colSpent, packed, false); err == nil {
		t.Error("a groups head read as a spent head")
	}
	for i := 0; i < hdr; i++ {
		bad := slices.Clone(packed[:hdr])
		bad[i] ^= 0x55
		parseColTables(colGroups, bad, false) // an error or tables: no panic
	}
	if _, _, err := parseColTables(colGroups, packed[:hdr-1], false); err == nil {
		t.Error("a head cut short parsed")
	}
}

// TestOutSameReference: an amount out equal to the group's last amount in
// (before the entry) is a flag and no bytes; the same amount equal only to
// an earlier amount in, or to the entry's own, is written; the digest's
// form (nil lastIn) never refers; every form decodes to the entries.
func TestOutSameReference(t *testing.T) {
	d := &segData{start: 10, end: 20}
	big := new(uint256.Int).Lsh(uint256.NewInt(7), 200)
	add := func(tx uint64, in, out *uint256.Int) { d.addAdj(1, tx, 0, 1, 1, in, out) }
	add(10, uint256.NewInt(500), new(uint256.Int))    // in 500
	add(11, new(uint256.Int), uint256.NewInt(500))    // out 500: the last in → flag
	add(12, uint256.NewInt(700), uint256.NewInt(700)) // out = its own in: written
	add(13, uint256.NewInt(900), new(uint256.Int))    // in 900
	add(14, new(uint256.Int), uint256.NewInt(700))    // out = an earlier in: written
	add(15, big, new(uint256.Int))                    // a wide in
	add(16, new(uint256.Int), big.Clone())            // out = the wide last in → flag
	add(17, new(uint256.Int), big.Clone())            // again: still the last in → flag
	wantFlag := []bool{false, true, false, false, false, false, true, true}
	var lastIn uint256.Int
	var ref, plain []byte
	prev := d.start
	for i := range d.adj {
		e := &d.adj[i]
		before := len(ref)
		ref = appendSegEntry(ref, d, e, prev, &lastIn)
		plain = appendSegEntry(plain, d, e, prev, nil)
		f := ref[before+1]
		if got := f&efOutSame != 0; got != wantFlag[i] {
			t.Errorf("entry %d: flag %v, want %v", i, got, wantFlag[i])
		}
		prev = d.entTx(e)
	}
	if len(ref) >= len(plain) {
		t.Fatalf("with references %d bytes, without %d", len(ref), len(plain))
	}
	for _, form := range [][]byte{ref, plain} {
		r := &reader{b: form}
		var li uint256.Int
		prev := d.start
		for i := range d.adj {
			e := r.segEntry(prev, &li)
			want := d.entry(&d.adj[i])
			if r.err != nil || e.txnum != want.txnum || e.in != want.in || e.out != want.out {
				t.Fatalf("entry %d: %+v, want %+v (%v)", i, e, want, r.err)
			}
			prev = e.txnum
		}
	}
	// A reference with nothing to refer to, or a sweep that spends
	// nothing, is an error.
	for _, f := range []byte{efOutSame, efSweep} {
		r := &reader{b: []byte{0, f}}
		li := uint256.NewInt(3)
		if f == efOutSame {
			li.Clear()
		}
		r.segEntry(d.start, li)
		if r.err == nil {
			t.Errorf("flags %#x: no error", f)
		}
	}
	// A sweep (SPSEG005) spends what it says it does, the last amount in.
	r := &reader{b: []byte{4, efSweep | 1<<efOutShift}}
	li := uint256.NewInt(3)
	if e := r.segEntry(d.start, li); r.err != nil || !e.sweep || e.out.Uint64() != 3 || e.nOut != 1 || len(r.b) != 0 {
		t.Errorf("a sweep read as %+v, %v", e, r.err)
	}
	// A consolidation's sweep writes its amount out and says so in ext
	// (asset << 1 | 1); an asset's ext without the bit is no sweep.
	for _, c := range []struct {
		ext   byte
		asset uint32
		sweep bool
	}{{1, 0, true}, {5, 2, true}, {4, 2, false}} {
		r = &reader{b: []byte{4, efExt | efOut | 2<<efOutShift, c.ext, 1, 9}}
		if e := r.segEntry(d.start, li); r.err != nil || e.sweep != c.sweep || e.asset != c.asset || e.out.Uint64() != 9 || len(r.b) != 0 {
			t.Errorf("ext %d read as %+v, %v", c.ext, e, r.err)
		}
	}
	r = &reader{b: []byte{4, efExt | efOut, 1, 1, 9}} // a sweep that spends nothing
	if r.segEntry(d.start, li); r.err == nil {
		t.Error("a sweep without inputs: no error")
	}
}

// FuzzColBlock decodes arbitrary bytes as a column block of the groups
// and of the spends, with tables of a real section: an error or exactly
// the length asked for, never a panic; and splits arbitrary bytes both
// ways (the walker and the straight code agree).
func FuzzColBlock(f *testing.F) {
	groups, gcuts, spent, scuts := colSections(colWorld(6, 400))
	type sec struct {
		k      colKind
		tables *colTables
	}
	var secs []sec
	for _, c := range []struct {
		k    colKind
		raw  []byte
		cuts []uint64
	}{{colGroups, groups, gcuts}, {colSpent, spent, scuts}} {
		packed, hdr, bidx := packSection(c.raw, c.cuts, c.k)
		tables, _, err := parseColTables(c.k, packed, false)
		if err != nil {
			f.Fatal(err)
		}
		secs = append(secs, sec{c.k, tables})
		body := packed[hdr:]
		for k := range c.cuts {
			a := binary.BigEndian.Uint64(bidx[8+8*k:])
			z := uint64(len(body))
			if k+1 < len(c.cuts) {
				z = binary.BigEndian.Uint64(bidx[8+8*(k+1):])
			}
			f.Add(uint8(c.k), body[a+1:z], uint64(len(blockOf(c.raw, c.cuts, k))))
			f.Add(uint8(c.k), blockOf(c.raw, c.cuts, k), uint64(0))
			if k < 4 {
				// The block's own streams, cut as the join check reads them.
				var st [colMaxStreams][]byte
				var w colWalk
				colSplit(c.k, blockOf(c.raw, c.cuts, k), &w)
				st = w.st
				var cut []byte
				for i := 0; i < c.k.streams(); i++ {
					x := st[i][:min(len(st[i]), 255)]
					cut = append(append(cut, byte(len(x))), x...)
				}
				f.Add(uint8(c.k), cut, uint64(0))
			}
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, p []byte, want uint64) {
		s := secs[int(kind)%len(secs)]
		if want > 0 && want <= 1<<20 {
			got, err := colUnpack(s.tables, p, int(want))
			if err == nil && uint64(len(got)) != want {
				t.Fatalf("decoded %d bytes, want %d", len(got), want)
			}
		}
		// p cut into streams (a length byte before each): the straight-code
		// join and the walker's agree.
		var js [colMaxStreams][]byte
		total, rest := 0, p
		for i := 0; i < s.k.streams() && len(rest) > 0; i++ {
			n := min(int(rest[0]), len(rest)-1)
			js[i], rest = rest[1:1+n], rest[1+n:]
			total += n
		}
		jw := colWalk{join: true, st: js}
		wok := jw.walk(s.k, total)
		var got []byte
		var jok bool
		if s.k == colGroups {
			got, _, jok = joinGroups(nil, &js, -1)
		} else {
			got, _, jok = joinSpent(nil, &js, -1)
		}
		if jok != wok || jok && !bytes.Equal(got, jw.out) {
			t.Fatalf("join %v (%d bytes), walker %v (%d bytes)", jok, len(got), wok, len(jw.out))
		}
		{
			// A lookup's skip by counting, then its run: never a panic;
			// where the block joins, the bytes the full join has there.
			for g := 0; g < 4; g++ {
				var rest [colMaxStreams][]byte
				var raw uint64
				var ok, rok bool
				var run []byte
				if s.k == colGroups {
					rest, raw, ok = skipGroups(&js, g)
				} else {
					rest, raw, ok = skipSpent(&js, g)
				}
				if !ok {
					continue
				}
				if s.k == colGroups {
					run, _, rok = joinGroups(nil, &rest, 2)
				} else {
					run, _, rok = joinSpent(nil, &rest, 2)
				}
				if jok && raw <= uint64(len(got)) && rok && !bytes.HasPrefix(got[raw:], run) {
					t.Fatalf("skip %d groups (%d bytes): the run differs from the block's bytes there", g, raw)
				}
			}
		}

		var st [colMaxStreams][]byte
		var ok bool
		if s.k == colGroups {
			ok = splitGroups(p, &st)
		} else {
			ok = splitSpent(p, &st)
		}
		var w colWalk
		if wok := colSplit(s.k, p, &w); wok != ok {
			t.Fatalf("split %v, walker %v", ok, wok)
		}
		if !ok {
			return
		}
		var cnt [colMaxStreams][256]uint64
		for i := range st {
			if !bytes.Equal(st[i], w.st[i]) {
				t.Fatalf("stream %d differs", i)
			}
			for _, b := range st[i] {
				cnt[i][b]++
			}
		}
		// Packed with tables of its own counts, it reads back.
		enc, _, err := parseColTables(s.k, colHead(s.k, &cnt), true)
		if err != nil {
			t.Fatal(err)
		}
		dec, _, _ := parseColTables(s.k, colHead(s.k, &cnt), false)
		out, err := colUnpack(dec, colPack(nil, enc, &st), len(p))
		if len(p) > 0 && (err != nil || !bytes.Equal(out, p)) {
			t.Fatalf("round trip: %d of %d bytes, %v", len(out), len(p), err)
		}
	})
}

// TestGroupRuns: in a segment whose group blocks are in the column codec,
// every address's lookup (the run of its index point joined from the
// block's streams, the groups before it skipped by counting) answers as
// the same segment with raw blocks does, in any order of lookups and full
// block reads (which join the cached streams); a skip that does not come to
// the index's offset is an error naming the file.
func TestGroupRuns(t *testing.T) {
	d := colWorld(8, 30000)
	d.times = make([]int64, d.end-d.start)
	for i := range d.times {
		d.times[i] = 1600000000 + int64(i/50)
	}
	for a := d.addrStart; a < d.addrEnd; a++ {
		d.addrs = append(d.addrs, hashEnt{hash: a * 0x9e3779b97f4a7c15, num: a})
	}
	img, err := encodeSeg(d)
	if err != nil {
		t.Fatal(err)
	}
	seg, err := parseSegment(img, "x.seg")
	if err != nil {
		t.Fatal(err)
	}
	cols := 0
	for k := 0; k < seg.groups.blocks(); k++ {
		if seg.groups.packed[binary.BigEndian.Uint64(seg.groups.bidx[8+8*k:])] == codecCols {
			cols++
		}
	}
	if cols < seg.groups.blocks()/2 {
		t.Fatalf("%d of %d group blocks in the column codec", cols, seg.groups.blocks())
	}
	// The reference: every group of the segment, from full blocks.
	type grp struct {
		n, prev uint64
		entries []byte
	}
	want := map[uint64]grp{}
	if err := seg.eachGroup(func(id, n, prev uint64, entries []byte) error {
		want[id] = grp{n, prev, slices.Clone(entries)}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if uint64(len(want)) != seg.nAddr {
		t.Fatalf("%d groups, the footer says %d", len(want), seg.nAddr)
	}
	rng := rand.New(rand.NewPCG(2, 2))
	ids := make([]uint64, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for pass := 0; pass < 2; pass++ {
		fresh, err := parseSegment(img, "x.seg")
		if err != nil {
			t.Fatal(err)
		}
		order := slices.Clone(ids)
		if pass == 1 {
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		for i, id := range order {
			n, prev, entries, ok, err := fresh.group(id)
			w := want[id]
			if err != nil || !ok || n != w.n || prev != w.prev || !bytes.Equal(entries, w.entries) {
				t.Fatalf("pass %d: group %d: %d entries after %d, %d bytes, %v %v; want %d after %d, %d bytes", pass, id, n, prev, len(entries), ok, err, w.n, w.prev, len(w.entries))
			}
			if _, _, _, ok, err := fresh.group(id + 1<<40); ok || err != nil {
				t.Fatalf("an absent id: %v %v", ok, err)
			}
			if i%1500 == 0 { // a full read of the block a lookup cached as streams
				if _, err := fresh.load(nil); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// An index offset the streams do not come to.
	bad := slices.Clone(img)
	body := len(bad) - segFooterLen
	off := binary.BigEndian.Uint64(bad[body+8*(segHeadVals+2*3):]) // the gindex section
	// The second index point of the second block: its offset + 1.
	e := off + uint64(seg.gw)*(blockStride+1) + uint64(seg.gw/2)
	if seg.gw == 8 {
		binary.BigEndian.PutUint32(bad[e:], binary.BigEndian.Uint32(bad[e:])+1)
	} else {
		binary.BigEndian.PutUint64(bad[e:], binary.BigEndian.Uint64(bad[e:])+1)
	}
	binary.BigEndian.PutUint32(bad[body+(segHeadVals+2*segSections)*8:], crc32.Checksum(bad[:body], castagnoli))
	bs, err := parseSegment(bad, "x.seg")
	if err != nil {
		t.Fatal(err)
	}
	id := bs.gindexID(blockStride + 1)
	if _, _, _, _, err := bs.group(id); err == nil || !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), "x.seg") {
		t.Fatalf("an index offset off by one: err = %v", err)
	}
}

// TestSpentRuns: in a segment whose spent blocks are in the column codec,
// every spend's lookup (the run of its index point joined from the block's
// streams, the spends before it skipped by counting) finds its spender, in
// order and shuffled, with full reads of the blocks between; outputs not
// spent are not found.
func TestSpentRuns(t *testing.T) {
	d := colWorld(9, 60000)
	d.times = make([]int64, d.end-d.start)
	for a := d.addrStart; a < d.addrEnd; a++ {
		d.addrs = append(d.addrs, hashEnt{hash: a * 0x9e3779b97f4a7c15, num: a})
	}
	spends := slices.Clone(d.spent)
	img, err := encodeSeg(d)
	if err != nil {
		t.Fatal(err)
	}
	seg, err := parseSegment(img, "x.seg")
	if err != nil {
		t.Fatal(err)
	}
	cols := 0
	for k := 0; k < seg.spent.blocks(); k++ {
		if seg.spent.packed[binary.BigEndian.Uint64(seg.spent.bidx[8+8*k:])] == codecCols {
			cols++
		}
	}
	if seg.spent.blocks() < 4 || cols < seg.spent.blocks()/2 {
		t.Fatalf("%d of %d spent blocks in the column codec", cols, seg.spent.blocks())
	}
	rng := rand.New(rand.NewPCG(3, 3))
	for pass := 0; pass < 2; pass++ {
		fresh, err := parseSegment(img, "x.seg")
		if err != nil {
			t.Fatal(err)
		}
		order := slices.Clone(spends)
		if pass == 1 {
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		} else {
			slices.SortFunc(order, cmpSpent)
		}
		for i, sp := range order {
			got, ok, err := fresh.spentBy(sp.prevTx, sp.vout)
			if err != nil || !ok || got != sp.spender {
				t.Fatalf("pass %d: output %d:%d spent by %d %v %v, want %d", pass, sp.prevTx, sp.vout, got, ok, err, sp.spender)
			}
			if _, ok, err := fresh.spentBy(sp.prevTx, sp.vout+1<<30); ok || err != nil {
				t.Fatalf("an output not spent: %v %v", ok, err)
			}
			if i%3000 == 0 {
				if err := fresh.eachSpent(func(spentEnt) {}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}
