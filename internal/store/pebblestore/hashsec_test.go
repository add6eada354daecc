package pebblestore

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestHashSection: every pair is found by its hash, also when pairs of one
// hash run across blocks; absent hashes find nothing; each returns the
// pairs sorted; structural damage is an error at parse naming the section
// (a changed delta that keeps the order is the file checksum's to catch).
func TestHashSection(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 63, 64, 65, 1000} {
		var ents []hashEnt
		for i := 0; i < n; i++ {
			h := rng.Uint64()
			if i%7 == 0 && i > 0 {
				h = ents[i-1].hash // a run of one hash
			}
			if n == 1000 && i >= 100 && i < 300 {
				h = 0xdead_beef << 32 // 200 pairs of one hash: across blocks
			}
			ents = append(ents, hashEnt{hash: h, num: 500 + uint64(i)})
		}
		sec := appendHashSection(nil, ents, 500)
		h, err := parseHashSec(sec, uint64(n), uint64(n), "txid")
		if err != nil {
			t.Fatalf("%d pairs: %v", n, err)
		}
		if n >= 64 && len(sec) >= 8*n {
			t.Errorf("%d pairs in %d bytes: no smaller than fixed pairs", n, len(sec))
		}
		// 1,000 pairs: hash differences of about 2³²/800 (22 bits and the
		// Rice code's 1–2; the 300 repeats take as many) and 10-bit numbers,
		// where uvarints took about 6 bytes.
		if n == 1000 && len(sec) > 9*n/2 {
			t.Errorf("%d pairs in %d bytes: not bit-packed", n, len(sec))
		}
		want := map[uint32][]uint64{}
		for _, e := range ents {
			want[uint32(e.hash>>32)] = append(want[uint32(e.hash>>32)], e.num)
		}
		for k, nums := range want {
			got := h.find(uint64(k)<<32|0xffff, 500)
			slices.Sort(got)
			slices.Sort(nums)
			if !slices.Equal(got, nums) {
				t.Fatalf("%d pairs: hash %x found %v, want %v", n, k, got, nums)
			}
		}
		for i := 0; i < 50; i++ {
			k := rng.Uint32()
			if _, ok := want[k]; !ok && len(h.find(uint64(k)<<32, 500)) != 0 {
				t.Fatalf("absent hash %x found", k)
			}
		}
		var prev uint32
		cnt := 0
		h.each(func(hv uint32, num uint64) {
			if hv < prev {
				t.Fatalf("each out of order at %d", cnt)
			}
			prev = hv
			cnt++
		})
		if cnt != n {
			t.Fatalf("each gave %d of %d pairs", cnt, n)
		}
		if n < 64 {
			continue
		}
		for _, dmg := range []struct {
			name string
			f    func(b []byte)
		}{
			{"block count", func(b []byte) { binary.BigEndian.PutUint32(b, 99) }},
			{"Rice parameter", func(b []byte) { b[4] = 33 }},
			{"first hash", func(b []byte) { b[hashSecHead] ^= 0x80 }},
			{"block offset", func(b []byte) { binary.BigEndian.PutUint32(b[hashSecHead+8*((n-1)/hashStride)+4:], 3) }},
			{"cut", func(b []byte) {}},
			{"a byte more", func(b []byte) {}},
		} {
			bad := append([]byte(nil), sec...)
			dmg.f(bad)
			switch dmg.name {
			case "cut":
				bad = bad[:len(bad)-1]
			case "a byte more":
				bad = append(bad, 0)
			}
			if _, err := parseHashSec(bad, uint64(n), uint64(n), "txid"); err == nil || !strings.Contains(err.Error(), "txid") {
				t.Errorf("%d pairs, damaged %s: err = %v", n, dmg.name, err)
			}
		}
	}
}

// BenchmarkHashSection: writing a hash section of 2²⁰ random pairs (a
// segment close writes two), checking it at open, and looking pairs up.
func BenchmarkHashSection(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	ents := make([]hashEnt, 1<<20)
	for i := range ents {
		ents[i] = hashEnt{hash: rng.Uint64(), num: 1000 + uint64(i)}
	}
	sec := appendHashSection(nil, ents, 1000)
	b.Run("encode", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			appendHashSection(nil, ents, 1000)
		}
		b.ReportMetric(float64(len(sec))/float64(len(ents)), "B/pair")
	})
	b.Run("parse", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := parseHashSec(sec, uint64(len(ents)), uint64(len(ents)), "txid"); err != nil {
				b.Fatal(err)
			}
		}
	})
	h, _ := parseHashSec(sec, uint64(len(ents)), uint64(len(ents)), "txid")
	b.Run("find", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if len(h.find(ents[i%len(ents)].hash, 1000)) == 0 {
				b.Fatal("not found")
			}
		}
	})
}

// TestHashKeyIndex: a closing segment's sorted keys (hashKeys) find every
// number whose hash shares the looked-up hash's top 32 bits, in number
// order, with runs of one hash (also the smallest and largest), and nothing
// for absent hashes; and the section written from them is the one written
// from the entries.
func TestHashKeyIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 255, 256, 5000} {
		var ents []hashEnt
		for i := 0; i < n; i++ {
			h := rng.Uint64()
			switch {
			case i%5 == 0 && i > 0:
				h = ents[i-1].hash ^ 0xffff // the same top 32 bits
			case i%11 == 3:
				h = 0 // a run at the smallest hash
			case i%13 == 4:
				h = ^uint64(0) // and at the largest
			}
			ents = append(ents, hashEnt{hash: h, num: 900 + uint64(i)})
		}
		x := hashKeyIndex{keys: hashKeys(ents, 900), base: 900}
		want := map[uint64][]uint64{}
		for _, e := range ents {
			want[e.hash>>32] = append(want[e.hash>>32], e.num)
		}
		for fp, nums := range want {
			if got := x.get(fp<<32|0x1234, nil); !slices.Equal(got, nums) {
				t.Fatalf("%d keys: hash %x found %v, want %v", n, fp, got, nums)
			}
		}
		for i := 0; i < 200; i++ {
			h := rng.Uint64()
			if _, ok := want[h>>32]; !ok && len(x.get(h, nil)) != 0 {
				t.Fatalf("%d keys: absent hash %x found %v", n, h, x.get(h, nil))
			}
		}
		if got, want := appendHashKeys(nil, x.keys), appendHashSection(nil, ents, 900); !slices.Equal(got, want) {
			t.Fatalf("%d keys: the section from the sorted keys differs from the entries'", n)
		}
	}
}

// TestRiceParam: the one-pass choice of the Rice parameter is the k of
// fewest bits among the guess and its neighbours, counted one k at a time
// (ties to the smallest), for sections dense and sparse.
func TestRiceParam(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{2, 3, 50, 1000, 100_000} {
		for _, span := range []uint64{1, 1000, 1 << 20, 1 << 32} {
			keys := make([]uint64, n)
			for i := range keys {
				keys[i] = rng.Uint64N(span) << 32
			}
			slices.Sort(keys)
			mean := (keys[n-1]>>32 - keys[0]>>32) / uint64(n-1)
			guess := uint(bits.Len64(mean * 11 / 16))
			want, wantBits := guess, ^uint64(0)
			for k := max(guess, 1) - 1; k <= min(guess+1, 32); k++ {
				b := uint64(0)
				for i := 1; i < n; i++ {
					b += (keys[i]>>32-keys[i-1]>>32)>>k + 1 + uint64(k)
				}
				if b < wantBits {
					want, wantBits = k, b
				}
			}
			if got := riceParam(keys); got != want {
				t.Errorf("%d keys over %d: k = %d, want %d", n, span, got, want)
			}
		}
	}
}
