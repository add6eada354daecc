package pebblestore

import (
	"io"
	"sort"

	"github.com/cockroachdb/pebble/v2"
	"github.com/holiman/uint256"
)

// agg is an address's running totals. It is written as Pebble merge operands
// (blind writes: no read per address during ingest) and combined on read or
// compaction by aggMerger.
type agg struct {
	TxCount uint64
	First   int64
	Last    int64
	Assets  []assetAgg // sorted by Asset
}

type assetAgg struct {
	Asset    uint32
	Received uint256.Int
	Sent     uint256.Int
	NIn      uint64
	NOut     uint64
}

func (a *agg) asset(id uint32) *assetAgg {
	i := sort.Search(len(a.Assets), func(i int) bool { return a.Assets[i].Asset >= id })
	if i == len(a.Assets) || a.Assets[i].Asset != id {
		a.Assets = append(a.Assets, assetAgg{})
		copy(a.Assets[i+1:], a.Assets[i:])
		a.Assets[i] = assetAgg{Asset: id}
	}
	return &a.Assets[i]
}

// add folds o into a.
func (a *agg) add(o *agg) {
	if o.TxCount > 0 {
		if a.TxCount == 0 || o.First < a.First {
			a.First = o.First
		}
		if a.TxCount == 0 || o.Last > a.Last {
			a.Last = o.Last
		}
	}
	a.TxCount += o.TxCount
	for i := range o.Assets {
		x := &o.Assets[i]
		y := a.asset(x.Asset)
		y.Received.Add(&y.Received, &x.Received)
		y.Sent.Add(&y.Sent, &x.Sent)
		y.NIn += x.NIn
		y.NOut += x.NOut
	}
}

func encodeAgg(b []byte, a *agg) []byte {
	b = putUvarint(b, a.TxCount)
	b = putVarint(b, a.First)
	b = putVarint(b, a.Last)
	b = putUvarint(b, uint64(len(a.Assets)))
	for i := range a.Assets {
		x := &a.Assets[i]
		b = putUvarint(b, uint64(x.Asset))
		b = putAmount(b, &x.Received)
		b = putAmount(b, &x.Sent)
		b = putUvarint(b, x.NIn)
		b = putUvarint(b, x.NOut)
	}
	return b
}

func decodeAgg(v []byte) (*agg, error) {
	r := &reader{b: v}
	a := &agg{TxCount: r.uvarint(), First: r.varint(), Last: r.varint()}
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail("agg asset count")
		return nil, r.err
	}
	a.Assets = make([]assetAgg, n)
	for i := range a.Assets {
		x := &a.Assets[i]
		x.Asset = uint32(r.uvarint())
		x.Received = r.amount()
		x.Sent = r.amount()
		x.NIn = r.uvarint()
		x.NOut = r.uvarint()
	}
	return a, r.err
}

// aggMerger combines agg operands. Addition is commutative, so the order of
// MergeNewer/MergeOlder does not matter.
var aggMerger = &pebble.Merger{
	Name: "spoor.agg.v1",
	Merge: func(key, value []byte) (pebble.ValueMerger, error) {
		m := &aggValueMerger{}
		return m, m.MergeNewer(value)
	},
}

type aggValueMerger struct{ sum agg }

func (m *aggValueMerger) MergeNewer(value []byte) error {
	a, err := decodeAgg(value)
	if err != nil {
		return err
	}
	m.sum.add(a)
	return nil
}

func (m *aggValueMerger) MergeOlder(value []byte) error { return m.MergeNewer(value) }

func (m *aggValueMerger) Finish(includesBase bool) ([]byte, io.Closer, error) {
	return encodeAgg(nil, &m.sum), nil, nil
}
