package pebblestore

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/spoor-dev/spoor/internal/cputime"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// BenchmarkRecordSkip measures what a read pays to pass the records before
// the one it wants in its index group (up to 31): the length prefix each
// record has (1–2 bytes of the tx log's ~59 a Bitcoin tx), against
// parsing the compact record to find its end, which dropping the prefix
// would need (logRecOutputs parses all of a Bitcoin record but its
// transfers, which Bitcoin records have none of, into a reused slice: the
// cheapest such parse). Records of a Bitcoin-shaped world of 1–2 inputs and
// 2 outputs a tx (the synthetic chain averages more, which only widens the
// gap). ns/op is per record passed.
func BenchmarkRecordSkip(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	w := newUTXOWorld(3, 600)
	if err := s.Apply(model.BTC, store.Linked, w.blocks); err != nil {
		b.Fatal(err)
	}
	s.Close()
	log, err := os.ReadFile(txLogPath(dir, model.BTC))
	if err != nil {
		b.Fatal(err)
	}
	type rec struct {
		body []byte
		n    uint64
		g    groupRef
	}
	var recs []rec
	var g groupRef
	for off, n := 0, uint64(1); off < len(log); n++ {
		m, k := binary.Uvarint(log[off:])
		body := log[off+k : off+k+int(m)]
		if groupFirst(n) {
			g, _ = firstRef(body)
		}
		recs = append(recs, rec{body, n, g})
		off += k + int(m)
	}
	b.Logf("%d records, %.1f bytes a record with its length prefix", len(recs), float64(len(log))/float64(len(recs)))
	b.Run("length-prefix", func(b *testing.B) {
		off := 0
		for i := 0; i < b.N; i++ {
			if off >= len(log) {
				off = 0
			}
			m, k := binary.Uvarint(log[off:])
			off += k + int(m)
		}
	})
	b.Run("parse", func(b *testing.B) {
		var outs []outRec
		for i := 0; i < b.N; i++ {
			r := &recs[i%len(recs)]
			var err error
			if _, outs, err = logRecOutputs(r.body, r.n, r.g, outs); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAppendLogRec encodes tx log records of Bitcoin shape (1–3
// inputs and 1–4 outputs, derived fee and index, amounts up to 2⁴⁰ and
// address ids up to 2²⁴, a group of txIdxStride at one height), as the
// indexer does: CPU ns a record.
func BenchmarkAppendLogRec(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	recs := make([]txRec, 4096)
	for i := range recs {
		r := &recs[i]
		r.Height, r.Derive = 1000, deriveFee|deriveIndex
		r.ID[0], r.ID[31] = byte(i), byte(i>>8)
		for k := 0; k < 1+rng.IntN(3); k++ {
			r.Inputs = append(r.Inputs, inRec{PrevTx: 1 + rng.Uint64N(1<<20), PrevIndex: uint32(rng.IntN(5))})
		}
		for k := 0; k < 1+rng.IntN(4); k++ {
			r.Outputs = append(r.Outputs, outRec{Addr: 1 + rng.Uint64N(1<<24), Value: rng.Uint64N(1 << 40), Script: byte(rng.IntN(4))})
		}
	}
	buf := make([]byte, 0, 1<<20)
	n := uint64(1 << 21)
	c0 := cputime.Process()
	for b.Loop() {
		if len(buf) > 1<<20-4096 {
			buf = buf[:0]
		}
		buf = appendLogRec(buf, &recs[n%4096], n, groupRef{h: 1000, a: 1 << 23})
		n++
	}
	b.ReportMetric(float64((cputime.Process()-c0).Nanoseconds())/float64(b.N), "cpu-ns/rec")
}
