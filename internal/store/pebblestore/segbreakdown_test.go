package pebblestore

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// TestSegmentBreakdown reports where a store's segment bytes go, by section
// (stored, and the adjacency and spends before their block compression)
// and, within the uncompressed adjacency, by field, and checks that the
// sections add up to the files and the fields to the groups. A diagnostic
// for the footprint work (BENCHMARKS.md, "Footprint (sixth session)"): it
// runs on the store folder named by SPOOR_SEG_BREAKDOWN (the store inside
// --data, e.g. DATA/chain), or, without it, on a small linked chain it
// writes 20 blocks an Apply in segments of about 400 entries.
func TestSegmentBreakdown(t *testing.T) {
	dir := os.Getenv("SPOOR_SEG_BREAKDOWN")
	if dir == "" {
		dir = t.TempDir()
		s, err := OpenWith(dir, Options{SegmentEntries: 400})
		if err != nil {
			t.Fatal(err)
		}
		blocks := newUTXOWorld(8, 300).blocks
		for i := 0; i < len(blocks); i += 20 {
			if err := s.Apply(model.BTC, store.Linked, blocks[i:i+20]); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	paths, err := filepath.Glob(filepath.Join(dir, "seg", "*.seg"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no segments under %s: %v", dir, err)
	}
	names := []string{"txids", "times", "groups", "gindex", "spent", "sindex", "addrs", "gblocks", "sblocks"}
	stored := map[string]uint64{}
	fields := map[string]uint64{}
	var total, rawGroups, rawSpent, nTx, nAdj, nSpent, nAddr uint64
	for _, p := range paths {
		s, err := openSegment(p)
		if err != nil {
			t.Fatal(err)
		}
		data := s.data
		total += uint64(len(data))
		body := len(data) - segFooterLen
		ft := data[body:]
		for i, name := range names {
			stored[name] += binary.BigEndian.Uint64(ft[8*(segHeadVals+1+2*i):])
		}
		stored["magic+footer"] += uint64(len(segMagic) + segFooterLen)
		rawGroups += binary.BigEndian.Uint64(s.groups.bidx)
		rawSpent += binary.BigEndian.Uint64(s.spent.bidx)
		nTx += s.end - s.start
		nAdj += s.nAdj
		nSpent += s.nSpent
		nAddr += s.nAddr
		err = s.eachGroup(func(id, n, _ uint64, entries []byte) error {
			fields["group head (id delta, length, count)"] += uint64(uvarintLen(id)) // bounded below; exact head sizes summed next
			r := &reader{b: entries}
			var prev uint64
			for k := uint64(0); k < n; k++ {
				b0 := len(r.b)
				d := r.uvarint()
				fields["entry txnum delta"] += uint64(b0 - len(r.b))
				f := r.byte1()
				fields["entry flags"]++
				b1 := len(r.b)
				if f&efExt != 0 {
					r.uvarint()
				}
				if f&efInMask == 3 {
					r.uvarint()
				}
				if f>>efOutShift&efInMask == 3 {
					r.uvarint()
				}
				fields["entry asset and counts past 2"] += uint64(b1 - len(r.b))
				if f&efIn != 0 {
					b2 := len(r.b)
					r.amount()
					fields["entry amount in"] += uint64(b2 - len(r.b))
				}
				if outWritten(f) {
					b2 := len(r.b)
					r.amount()
					fields["entry amount out"] += uint64(b2 - len(r.b))
				}
				prev += d
			}
			if r.err != nil || len(r.b) != 0 {
				return fmt.Errorf("group %d: %v, %d bytes left", id, r.err, len(r.b))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		s.close()
	}
	// The group heads are what the entries leave of the raw groups.
	var entries uint64
	for k, v := range fields {
		if strings.HasPrefix(k, "entry") {
			entries += v
		}
	}
	fields["group head (id delta, length, count)"] = rawGroups - entries
	var sum uint64
	for _, v := range stored {
		sum += v
	}
	if sum != total {
		t.Fatalf("sections add up to %d bytes, the files hold %d", sum, total)
	}
	per := func(v uint64) string {
		return fmt.Sprintf("%10d B  %6.3f B/adj", v, float64(v)/float64(nAdj))
	}
	t.Logf("%d segments, %d bytes; %d txs, %d adjacency entries, %d address groups, %d spends", len(paths), total, nTx, nAdj, nAddr, nSpent)
	keys := make([]string, 0, len(stored))
	for k := range stored {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return stored[keys[i]] > stored[keys[j]] })
	for _, k := range keys {
		t.Logf("stored %-14s %s", k, per(stored[k]))
	}
	t.Logf("raw groups  %s (stored %.1f %%)", per(rawGroups), 100*float64(stored["groups"])/float64(rawGroups))
	t.Logf("raw spent   %s (stored %.1f %%; %.2f B a spend raw)", per(rawSpent), 100*float64(stored["spent"])/float64(rawSpent), float64(rawSpent)/float64(nSpent))
	keys = keys[:0]
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("raw groups: %-40s %s", k, per(fields[k]))
	}
}

func uvarintLen(v uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], v)
}

// TestSegmentIndexWidths: a segment's group and spent indexes are written
// with 32-bit fields where every id, tx number and offset fits (8 and 12
// bytes an entry), with 64-bit ones otherwise (16 and 20), and read back
// the same either way: every address's entries and every spend.
func TestSegmentIndexWidths(t *testing.T) {
	for _, c := range []struct {
		name   string
		base   uint64 // of address ids and spent tx numbers
		gw, sw int
	}{{"narrow", 1, 8, 12}, {"ids past 2^32", 1 << 33, 16, 20}} {
		t.Run(c.name, func(t *testing.T) {
			d := &segData{start: 1 << 34, end: 1<<34 + 500, addrStart: 1, addrEnd: 1}
			for n := d.start; n < d.end; n++ {
				d.times = append(d.times, 1_600_000_000)
				for k := uint64(0); k < 3; k++ {
					d.add(tEnt{addr: c.base + (n*7+k*13)%300, txnum: n, out: n + k, nOut: 1})
				}
				d.spent = append(d.spent, spentEnt{prevTx: c.base + (n*37)%500, vout: uint32(n % 5), spender: n})
			}
			img, err := encodeSeg(d)
			if err != nil {
				t.Fatal(err)
			}
			s, err := parseSegment(img, "w.seg")
			if err != nil {
				t.Fatal(err)
			}
			if s.gw != c.gw || s.sw != c.sw {
				t.Fatalf("index widths %d and %d, want %d and %d", s.gw, s.sw, c.gw, c.sw)
			}
			want := map[uint64]uint64{}
			for _, e := range d.ents() {
				want[e.addr]++
			}
			for id, n := range want {
				got, _, _, ok, err := s.group(id)
				if err != nil || !ok || got != n {
					t.Fatalf("address %d: %d entries, %v, %v; want %d", id, got, ok, err, n)
				}
			}
			if _, _, _, ok, _ := s.group(c.base + 1000); ok {
				t.Fatal("an absent address found")
			}
			for _, sp := range d.spent {
				got, ok, err := s.spentBy(sp.prevTx, sp.vout)
				if err != nil || !ok || got != sp.spender {
					t.Fatalf("spend of %d:%d: %d, %v, %v; want %d", sp.prevTx, sp.vout, got, ok, err, sp.spender)
				}
			}
			n := 0
			if err := s.eachSpent(func(spentEnt) { n++ }); err != nil || n != len(d.spent) {
				t.Fatalf("eachSpent: %d of %d, %v", n, len(d.spent), err)
			}
		})
	}
}
