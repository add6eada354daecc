package btc

import (
	"bytes"
	"os"
	"testing"

	"github.com/btcsuite/btcd/wire"
	"github.com/spoor-dev/spoor/internal/chain/btc/btctestdata"
)

// benchSet is a set of real raw blocks and their transaction count.
type benchSet struct {
	name   string
	blocks [][]byte
	txs    int
}

func benchSets(b *testing.B) []benchSet {
	b.Helper()
	data, err := os.ReadFile(btctestdata.Path(b, "blockchain/testdata/blk_0_to_14131.dat"))
	if err != nil {
		b.Fatal(err)
	}
	early := benchSet{name: "blocks0-14131"}
	for _, rec := range btctestdata.SplitRecords(data) {
		early.blocks = append(early.blocks, rec[8:])
	}
	modern := benchSet{name: "blocks277647+540107+574200"}
	for _, rec := range btctestdata.SplitRecords(btctestdata.Bunzip(b, btctestdata.Path(b, "blockchain/testdata/277647.dat.bz2"))) {
		modern.blocks = append(modern.blocks, rec[8:])
	}
	for _, f := range []string{block540107File, segwitBlockFile} {
		raw, err := os.ReadFile(btctestdata.Path(b, f))
		if err != nil {
			b.Fatal(err)
		}
		modern.blocks = append(modern.blocks, raw)
	}
	sets := []benchSet{early, modern}
	for i := range sets {
		for _, raw := range sets[i].blocks {
			var mb wire.MsgBlock
			if err := mb.Deserialize(bytes.NewReader(raw)); err != nil {
				b.Fatal(err)
			}
			sets[i].txs += len(mb.Transactions)
		}
	}
	return sets
}

// BenchmarkDecode compares, over the same real blocks, btcd's wire alone
// (Deserialize: no txids), today's ingest path before DecodeBlock (wire +
// ConvertBlock + CheckMerkleRoot) and DecodeBlock (txids, addresses and the
// merkle check included). Throughput is reported in tx/s.
func BenchmarkDecode(b *testing.B) {
	for _, set := range benchSets(b) {
		report := func(b *testing.B) {
			b.ReportMetric(float64(set.txs)*float64(b.N)/b.Elapsed().Seconds(), "tx/s")
			b.ReportMetric(0, "ns/op")
		}
		b.Run(set.name+"/wire", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				for _, raw := range set.blocks {
					var mb wire.MsgBlock
					if err := mb.Deserialize(bytes.NewReader(raw)); err != nil {
						b.Fatal(err)
					}
				}
			}
			report(b)
		})
		b.Run(set.name+"/wire+convert", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				for h, raw := range set.blocks {
					var mb wire.MsgBlock
					if err := mb.Deserialize(bytes.NewReader(raw)); err != nil {
						b.Fatal(err)
					}
					if err := CheckMerkleRoot(&mb.Header, ConvertBlock(&mb, uint64(h))); err != nil {
						b.Fatal(err)
					}
				}
			}
			report(b)
		})
		b.Run(set.name+"/spoor", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				for h, raw := range set.blocks {
					if _, _, err := DecodeBlock(raw, uint64(h)); err != nil {
						b.Fatal(err)
					}
				}
			}
			report(b)
		})
	}
}
