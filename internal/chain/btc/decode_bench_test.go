package btc

import (
	"bytes"
	"crypto/sha256"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/spoor-dev/spoor/internal/chain/btc/btctestdata"
	"github.com/spoor-dev/spoor/internal/model"
	"golang.org/x/crypto/ripemd160"
)

// cpuTime is the process's user+system CPU time so far (garbage collection
// on other threads included): on a shared machine it is steadier than wall
// time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

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
			cpu0 = cpuTime()
		}
		report := func(b *testing.B) {
			n := float64(set.txs) * float64(b.N)
			b.ReportMetric(n/(cpuTime()-cpu0).Seconds(), "tx/cpu-s")
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
		// hash, every txid (over the stripped serialization) and the
		// Hash160 of every P2PK key, with the same functions DecodeBlock
		// uses. Their time is a floor under any decoder that produces
		// what ingest needs.
		var headers, stripped, keys [][]byte
		for _, raw := range set.blocks {
			var mb wire.MsgBlock
			if err := mb.Deserialize(bytes.NewReader(raw)); err != nil {
				b.Fatal(err)
			}
			headers = append(headers, raw[:headerSize])
			for _, tx := range mb.Transactions {
				var buf bytes.Buffer
				if err := tx.SerializeNoWitness(&buf); err != nil {
					b.Fatal(err)
				}
				stripped = append(stripped, buf.Bytes())
				for _, o := range tx.TxOut {
					if st, _, key := classify(o.PkScript); st == model.ScriptP2PK {
						keys = append(keys, key)
					}
				}
			}
		}
		b.Run(set.name+"/hashes-only", func(b *testing.B) {
			rmd := ripemd160.New()
			var sum []byte
			start(b)
			for i := 0; i < b.N; i++ {
				for _, h := range headers {
					chainhash.DoubleHashH(h)
				}
				for _, tx := range stripped {
					first := sha256.Sum256(tx)
					sha256.Sum256(first[:])
				}
				for _, k := range keys {
					first := sha256.Sum256(k)
					rmd.Reset()
					rmd.Write(first[:])
					sum = rmd.Sum(sum[:0])
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

// BenchmarkWitnessTxid measures the two ways to hash a witness
// transaction's txid from the raw slices (version, inputs+outputs, locktime)
// over the witness transactions of block 574,200: three Writes into a
// reused sha256 hash, or copying the pieces into a reused scratch buffer
// and one sha256.Sum256. DecodeBlock uses the faster.
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
