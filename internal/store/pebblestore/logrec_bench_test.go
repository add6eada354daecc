package pebblestore

import (
	"encoding/binary"
	"os"
	"testing"

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
	}
	var recs []rec
	for off, n := 0, uint64(1); off < len(log); n++ {
		m, k := binary.Uvarint(log[off:])
		recs = append(recs, rec{log[off+k : off+k+int(m)], n})
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
			if _, outs, err = logRecOutputs(r.body, r.n, 0, outs); err != nil {
				b.Fatal(err)
			}
		}
	})
}
