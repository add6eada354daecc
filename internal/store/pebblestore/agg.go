package pebblestore

import (
	"sort"

	"github.com/holiman/uint256"
)

// agg is an address's totals, folded by Address from its adjacency entries.
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
