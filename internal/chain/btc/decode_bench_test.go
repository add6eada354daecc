package btc

import (
	"bytes"
	"crypto/sha256"
	"os"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire"
	"github.com/spoor-dev/spoor/internal/chain/btc/btctestdata"
	"github.com/spoor-dev/spoor/internal/chain/btc/hash160"
	"github.com/spoor-dev/spoor/internal/chain/btc/sha256d"
	"github.com/spoor-dev/spoor/internal/cputime"
	"github.com/spoor-dev/spoor/internal/model"
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
// merkle check included). Throughput is reported in tx per wall-clock
// second and per CPU second of the process (the fairer measure on a shared
// machine, and it charges garbage collection to whoever allocates).
func BenchmarkDecode(b *testing.B) {
	for _, set := range benchSets(b) {
		var cpu0 time.Duration
		start := func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 = cputime.Process()
		}
		report := func(b *testing.B) {
			n := float64(set.txs) * float64(b.N)
			b.ReportMetric(n/(cputime.Process()-cpu0).Seconds(), "tx/cpu-s")
			b.ReportMetric(n/b.Elapsed().Seconds(), "tx/s")
			b.ReportMetric(0, "ns/op")
		}
		b.Run(set.name+"/wire", func(b *testing.B) {
			start(b)
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
			start(b)
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
		// The hashes DecodeBlock must compute and wire does not: the block
		// hash, every txid (over the stripped serialization), the merkle
		// root over them and the Hash160 of every P2PK key, with the same
		// functions DecodeBlock uses (sha256d, hash160). Their time is a
		// floor under any decoder that produces what ingest needs and
		// checks the merkle root.
		type hashBlock struct {
			header   []byte
			stripped [][3][]byte
			keys     [][]byte
		}
		var blocks []hashBlock
		for _, raw := range set.blocks {
			var mb wire.MsgBlock
			if err := mb.Deserialize(bytes.NewReader(raw)); err != nil {
				b.Fatal(err)
			}
			hb := hashBlock{header: raw[:headerSize]}
			for _, tx := range mb.Transactions {
				var buf bytes.Buffer
				if err := tx.SerializeNoWitness(&buf); err != nil {
					b.Fatal(err)
				}
				hb.stripped = append(hb.stripped, [3][]byte{buf.Bytes()})
				for _, o := range tx.TxOut {
					if st, _, key := classify(o.PkScript); st == model.ScriptP2PK {
						hb.keys = append(hb.keys, key)
					}
				}
			}
			blocks = append(blocks, hb)
		}
		b.Run(set.name+"/hashes-only", func(b *testing.B) {
			var ids [][32]byte
			start(b)
			for i := 0; i < b.N; i++ {
				for _, hb := range blocks {
					sha256d.Sum(hb.header)
					ids = append(ids[:0], make([][32]byte, len(hb.stripped))...)
					sha256d.Sum256Each(ids, hb.stripped)
					sha256d.Rehash(ids)
					sha256d.MerkleRoot(ids)
					for _, k := range hb.keys {
						hash160.Sum(k)
					}
				}
			}
			report(b)
		})
		b.Run(set.name+"/spoor", func(b *testing.B) {
			start(b)
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

// BenchmarkWitnessTxid measures ways to hash a witness transaction's txid
// from the raw slices (version, inputs+outputs, locktime) over the witness
// transactions of block 574,200: three Writes into a reused crypto/sha256
// hash, copying the pieces into a reused scratch buffer and one
// sha256.Sum256 (both then sha256.Sum256 again), or what DecodeBlock does:
// sha256d.Sum256Parts, then the second round (sha256d.Rehash, one at a
// time here; DecodeBlock does a block's two at a time).
func BenchmarkWitnessTxid(b *testing.B) {
	raw, err := os.ReadFile(btctestdata.Path(b, segwitBlockFile))
	if err != nil {
		b.Fatal(err)
	}
	var mb wire.MsgBlock
	if err := mb.Deserialize(bytes.NewReader(raw)); err != nil {
		b.Fatal(err)
	}
	type pieces struct{ version, io, lock []byte }
	var txs []pieces
	var want [][32]byte
	for _, tx := range mb.Transactions {
		if !tx.HasWitness() {
			continue
		}
		var buf bytes.Buffer
		if err := tx.SerializeNoWitness(&buf); err != nil {
			b.Fatal(err)
		}
		s := buf.Bytes()
		txs = append(txs, pieces{s[:4], s[4 : len(s)-4], s[len(s)-4:]})
		want = append(want, tx.TxHash())
	}
	sh := sha256.New()
	b.Run("writes", func(b *testing.B) {
		var sum []byte
		for i := 0; i < b.N; i++ {
			for k, p := range txs {
				sh.Reset()
				sh.Write(p.version)
				sh.Write(p.io)
				sh.Write(p.lock)
				sum = sh.Sum(sum[:0])
				if sha256.Sum256(sum) != want[k] {
					b.Fatal("wrong txid")
				}
			}
		}
	})
	b.Run("sha256d", func(b *testing.B) {
		ids := make([][32]byte, 1)
		for i := 0; i < b.N; i++ {
			for k, p := range txs {
				ids[0] = sha256d.Sum256Parts(p.version, p.io, p.lock)
				sha256d.Rehash(ids)
				if ids[0] != want[k] {
					b.Fatal("wrong txid")
				}
			}
		}
	})
	b.Run("scratch", func(b *testing.B) {
		var buf []byte
		for i := 0; i < b.N; i++ {
			for k, p := range txs {
				buf = append(append(append(buf[:0], p.version...), p.io...), p.lock...)
				first := sha256.Sum256(buf)
				if sha256.Sum256(first[:]) != want[k] {
					b.Fatal("wrong txid")
				}
			}
		}
	})
}
