package btc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/spoor-dev/spoor/internal/chain/btc/btctestdata"
	"github.com/spoor-dev/spoor/internal/chain/btc/sha256d"
	"github.com/spoor-dev/spoor/internal/model"
)

// realBlock is one real mainnet block from btcd's module test data.
type realBlock struct {
	name string
	raw  []byte
}

const (
	segwitBlockFile = "wire/testdata/block-00000000000000000021868c2cefc52a480d173c849412fe81c4e5ab806f94ab.blk" // 574,200
	block540107File = "wire/testdata/block-0000000000000000001602407ac49862a7bca9d00f7f402db20b7be2f5de59d2.blk"
)

// realBlocks returns every block of btcd's test data: blocks 1-255
// (database/testdata), 0-14,131 (blockchain/testdata), 277,647 and the
// fork files blk_*A, and the full blocks 540,107 and 574,200 (segwit).
func realBlocks(tb testing.TB) []realBlock {
	tb.Helper()
	var out []realBlock
	addRecords := func(src string, data []byte) {
		for i, rec := range btctestdata.SplitRecords(data) {
			out = append(out, realBlock{fmt.Sprintf("%s record %d", src, i), rec[8:]})
		}
	}
	_, d := btctestdata.Blocks1To255(tb)
	addRecords("blocks1-256", d)
	big, err := os.ReadFile(btctestdata.Path(tb, "blockchain/testdata/blk_0_to_14131.dat"))
	if err != nil {
		tb.Fatal(err)
	}
	addRecords("blk_0_to_14131", big)
	for _, f := range []string{"277647.dat.bz2", "blk_0_to_4.dat.bz2", "blk_3A.dat.bz2", "blk_4A.dat.bz2", "blk_5A.dat.bz2"} {
		addRecords(f, btctestdata.Bunzip(tb, btctestdata.Path(tb, filepath.Join("blockchain/testdata", f))))
	}
	for _, f := range []string{block540107File, segwitBlockFile} {
		b, err := os.ReadFile(btctestdata.Path(tb, f))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, realBlock{filepath.Base(f), b})
	}
	return out
}

// viaWire is the reference: today's ingest path.
func viaWire(raw []byte, height uint64) (*model.Block, *wire.MsgBlock, error) {
	var mb wire.MsgBlock
	if err := mb.Deserialize(bytes.NewReader(raw)); err != nil {
		return nil, nil, err
	}
	b := ConvertBlock(&mb, height)
	return b, &mb, CheckMerkleRoot(&mb.Header, b)
}

func sameHeader(h Header, w *wire.BlockHeader) error {
	if h.Version != w.Version || h.PrevBlock != w.PrevBlock || h.MerkleRoot != w.MerkleRoot ||
		int64(h.Timestamp) != w.Timestamp.Unix() || h.Bits != w.Bits || h.Nonce != w.Nonce || h.Hash != w.BlockHash() {
		return fmt.Errorf("header %+v, wire says %+v (hash %s)", h, *w, w.BlockHash())
	}
	return nil
}

// TestDecodeBlockMatchesWire decodes every real block of btcd's test data
// (about 14,400 blocks, among them the segwit block 574,200) with
// DecodeBlock and with wire.Deserialize + ConvertBlock + CheckMerkleRoot:
// the canonical blocks must be deep-equal and the header fields equal.
func TestDecodeBlockMatchesWire(t *testing.T) {
	blocks := realBlocks(t)
	var txs, witnessTxs, p2pk int
	for i, rb := range blocks {
		height := uint64(i)
		want, mb, err := viaWire(rb.raw, height)
		if err != nil {
			t.Fatalf("%s: wire: %v", rb.name, err)
		}
		got, h, err := DecodeBlock(rb.raw, height)
		if err != nil {
			t.Fatalf("%s: %v", rb.name, err)
		}
		if err := sameHeader(h, &mb.Header); err != nil {
			t.Fatalf("%s: %v", rb.name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: DecodeBlock differs from wire + ConvertBlock:\n%s", rb.name, firstDiff(got, want))
		}
		txs += len(got.Txs)
		for j, tx := range mb.Transactions {
			if tx.HasWitness() {
				witnessTxs++
			}
			for _, o := range got.Txs[j].Outputs {
				if o.ScriptType == model.ScriptP2PK {
					p2pk++
				}
			}
		}
	}
	// The data must exercise what the decoder special-cases.
	if len(blocks) < 14_000 || witnessTxs < 1000 || p2pk < 10_000 {
		t.Fatalf("test data too thin: %d blocks, %d txs, %d witness txs, %d P2PK outputs", len(blocks), txs, witnessTxs, p2pk)
	}
	t.Logf("%d blocks, %d txs (%d with witnesses), %d P2PK outputs: identical", len(blocks), txs, witnessTxs, p2pk)
}

// firstDiff names the first transaction where two blocks differ.
func firstDiff(got, want *model.Block) string {
	if len(got.Txs) != len(want.Txs) {
		return fmt.Sprintf("%d txs, want %d", len(got.Txs), len(want.Txs))
	}
	for i := range got.Txs {
		if !reflect.DeepEqual(got.Txs[i], want.Txs[i]) {
			return fmt.Sprintf("tx %d:\n got %+v\nwant %+v", i, got.Txs[i], want.Txs[i])
		}
	}
	return fmt.Sprintf("block fields: got %+v %x\nwant %+v %x", got.Height, got.Hash, want.Height, want.Hash)
}

// TestDecodeBlockMegaTx decodes btcd's megatx test transaction (about 1 MB,
// 5,569 inputs) wrapped in a block with a correct
// merkle root, against wire, and checks the result does not alias the raw
// bytes (the ingest reuses nothing, but DecodeBlock promises it).
func TestDecodeBlockMegaTx(t *testing.T) {
	raw := btctestdata.Bunzip(t, btctestdata.Path(t, "wire/testdata/megatx.bin.bz2"))
	var tx wire.MsgTx
	if err := tx.Deserialize(bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	blk := blockOf(t, &tx)
	want, mb, err := viaWire(blk, 1)
	if err != nil {
		t.Fatal(err)
	}
	got, h, err := DecodeBlock(blk, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := sameHeader(h, &mb.Header); err != nil {
		t.Fatal(err)
	}
	for i := range blk {
		blk[i] = 0 // the decoded block must not alias the raw bytes
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatal(firstDiff(got, want))
	}
	t.Logf("megatx: %d inputs, %d outputs, %d bytes", len(got.Txs[0].Inputs), len(got.Txs[0].Outputs), len(blk))
	if len(got.Txs[0].Inputs)+len(got.Txs[0].Outputs) < 1000 {
		t.Fatalf("megatx has %d inputs, %d outputs", len(got.Txs[0].Inputs), len(got.Txs[0].Outputs))
	}
}

// blockOf serializes a block of the given transactions with a correct
// merkle root (computed with wire's txids, not DecodeBlock's).
func blockOf(tb testing.TB, txs ...*wire.MsgTx) []byte {
	tb.Helper()
	ids := make([][32]byte, len(txs))
	for i, tx := range txs {
		ids[i] = tx.TxHash()
	}
	mb := wire.MsgBlock{Header: wire.BlockHeader{Version: 4, MerkleRoot: refMerkle(ids), Bits: 0x1d00ffff}, Transactions: txs}
	var buf bytes.Buffer
	if err := mb.Serialize(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// refMerkle is the merkle root written out the textbook way, independent of
// sha256d.MerkleRoot's in-place computation.
func refMerkle(ids [][32]byte) chainhash.Hash {
	level := append([][32]byte(nil), ids...)
	for len(level) > 1 {
		if len(level)%2 == 1 {
			level = append(level, level[len(level)-1])
		}
		var next [][32]byte
		for i := 0; i < len(level); i += 2 {
			next = append(next, chainhash.DoubleHashH(append(level[i][:], level[i+1][:]...)))
		}
		level = next
	}
	return level[0]
}

func TestMerkleRootInPlace(t *testing.T) {
	for n := 1; n <= 33; n++ {
		ids := make([][32]byte, n)
		for i := range ids {
			ids[i] = chainhash.HashH([]byte{byte(i), byte(n)})
		}
		want := refMerkle(ids)
		if got := chainhash.Hash(sha256d.MerkleRoot(append([][32]byte(nil), ids...))); got != want {
			t.Fatalf("%d txids: merkle root %s, want %s", n, got, want)
		}
	}
}

// smallSegwitBlock is a real-data block small enough for fuzz seeds: the
// coinbase and two witness transactions of block 574,200.
func smallSegwitBlock(tb testing.TB) []byte {
	tb.Helper()
	raw, err := os.ReadFile(btctestdata.Path(tb, segwitBlockFile))
	if err != nil {
		tb.Fatal(err)
	}
	var mb wire.MsgBlock
	if err := mb.Deserialize(bytes.NewReader(raw)); err != nil {
		tb.Fatal(err)
	}
	txs := []*wire.MsgTx{mb.Transactions[0]}
	for _, tx := range mb.Transactions[1:] {
		if tx.HasWitness() && len(txs) < 3 {
			txs = append(txs, tx)
		}
	}
	return blockOf(tb, txs...)
}

// TestDecodeBlockErrors damages real blocks in specific ways: each must be
// refused with an error naming what was wrong and the exact byte offset,
// and (except trailing bytes, which wire ignores) wire must refuse it too.
func TestDecodeBlockErrors(t *testing.T) {
	_, d := btctestdata.Blocks1To255(t)
	recs := btctestdata.SplitRecords(d)
	b1 := recs[0][8:] // block 1: header, 1 tx
	sw := smallSegwitBlock(t)
	// Offsets in block 1 (one coinbase tx, 1 input with a 7-byte script, 1 output of 67 bytes).
	const (
		tx0     = 81
		in0Scr  = tx0 + 4 + 1 + 36 // script length of tx 0 input 0
		out0Scr = in0Scr + 1 + 7 + 4 + 1 + 8
	)
	if b1[in0Scr] != 7 || b1[out0Scr] != 67 {
		t.Fatalf("block 1 layout is not what the table assumes: %x %x", b1[in0Scr], b1[out0Scr])
	}
	// Block 574,200 subset: tx 1 is a witness tx; find its marker.
	var mb wire.MsgBlock
	if err := mb.Deserialize(bytes.NewReader(sw)); err != nil {
		t.Fatal(err)
	}
	swTx1 := 81 + mb.Transactions[0].SerializeSize()
	if sw[swTx1+4] != 0 || sw[swTx1+5] != 1 {
		t.Fatalf("segwit subset: tx 1 has no marker at %d", swTx1+4)
	}
	// Offset of tx 1's witness section: after version, marker, flag and the
	// stripped inputs+outputs.
	swWit := swTx1 + 2 + mb.Transactions[1].SerializeSizeStripped() - 4
	set := func(b []byte, at int, v ...byte) []byte {
		c := append([]byte(nil), b...)
		copy(c[at:], v)
		return c
	}
	for _, tc := range []struct {
		name     string
		raw      []byte
		want     string
		offset   int
		wireToo  bool
		isDecErr bool
	}{
		{"empty", nil, "header: 0 bytes", 0, true, true},
		{"header only", b1[:80], "tx count: missing", 80, true, true},
		{"truncated header", b1[:50], "header: 50 bytes", 0, true, true},
		{"no transactions", append(append([]byte(nil), b1[:80]...), 0), "block has no transactions", 80, false, true},
		{"tx count too large", set(b1, 80, 0xfe, 0x00, 0x00, 0x01, 0x00), "tx count 65536 needs at least 655360 bytes", 80, true, true},
		{"tx count over wire's limit", set(b1, 80, 0xfe, 0x00, 0x00, 0x10, 0x00), "exceeds the most a block can hold", 80, true, true},
		{"non-canonical tx count", set(b1, 80, 0xfd, 0x01, 0x00), "tx count: non-canonical varint 1", 80, true, true},
		{"script length beyond the block", set(b1, in0Scr, 0xfe, 0x00, 0x00, 0x01, 0x00), "tx 0 input 0: script length 65536 exceeds remaining 88 bytes", in0Scr, true, true},
		{"script length over wire's limit", set(b1, in0Scr, 0xfe, 0x01, 0x09, 0x3d, 0x00), "tx 0 input 0: script length 4000001 exceeds wire's limit", in0Scr, true, true},
		{"pk script past the end", set(b1, out0Scr, 0xfd, 0xff, 0x00), "tx 0 output 0: script length 255 exceeds remaining 69 bytes", out0Scr, true, true},
		{"truncated locktime", b1[:len(b1)-2], "tx 0: locktime truncated (2 bytes remain)", len(b1) - 4, true, true},
		{"trailing bytes", append(append([]byte(nil), b1...), 1, 2, 3), "3 bytes after the last transaction", len(b1), false, true},
		{"input count too large", set(b1, tx0+4, 0xfd, 0x00, 0x10), "tx 0: input count 4096 needs at least 167936 bytes", tx0 + 4 + 3, true, true},
		{"bad segwit flag", set(sw, swTx1+5, 0x02), "tx 1: segwit marker followed by flag 0x02", swTx1 + 5, true, true},
		{"witness item count beyond the block", set(sw, swWit, 0xfd, 0xff, 0xff), "tx 1 input 0: witness item count 65535 exceeds remaining", swWit, true, true},
		{"damaged output value", set(b1, out0Scr-8, 0x01), "transactions hash to merkle root", 0, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := DecodeBlock(tc.raw, 1)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			var de *DecodeError
			if errors.As(err, &de) != tc.isDecErr {
				t.Fatalf("error %v: DecodeError %v, want %v", err, !tc.isDecErr, tc.isDecErr)
			}
			if de != nil && de.Offset != tc.offset {
				t.Fatalf("error %v: offset %d, want %d", err, de.Offset, tc.offset)
			}
			var mb wire.MsgBlock
			werr := mb.Deserialize(bytes.NewReader(tc.raw))
			if tc.wireToo && werr == nil {
				t.Fatalf("wire accepts what the table says it refuses")
			}
		})
	}
}

// TestClassifyScriptAppend checks the arena variant against ClassifyScript
// for every output script of the real blocks 540,107 and 574,200 and the
// P2PK outputs of the first blocks.
func TestClassifyScriptAppend(t *testing.T) {
	var scripts [][]byte
	for _, rb := range realBlocks(t)[:300] {
		var mb wire.MsgBlock
		if err := mb.Deserialize(bytes.NewReader(rb.raw)); err != nil {
			t.Fatal(err)
		}
		for _, tx := range mb.Transactions {
			for _, o := range tx.TxOut {
				scripts = append(scripts, o.PkScript)
			}
		}
	}
	for _, f := range []string{block540107File, segwitBlockFile} {
		raw, err := os.ReadFile(btctestdata.Path(t, f))
		if err != nil {
			t.Fatal(err)
		}
		var mb wire.MsgBlock
		if err := mb.Deserialize(bytes.NewReader(raw)); err != nil {
			t.Fatal(err)
		}
		for _, tx := range mb.Transactions {
			for _, o := range tx.TxOut {
				scripts = append(scripts, o.PkScript)
			}
		}
	}
	arena := []byte{0xee}
	types := map[model.ScriptType]int{}
	for _, s := range scripts {
		want, wst := ClassifyScript(s)
		before := len(arena)
		var st model.ScriptType
		arena, st = AppendScriptAddress(arena, s)
		if st != wst || !bytes.Equal(arena[before:], want) || len(want) != addrLen(s) {
			t.Fatalf("script %x: appended %x (%v), ClassifyScript %x (%v), addrLen %d", s, arena[before:], st, want, wst, addrLen(s))
		}
		types[st]++
	}
	if arena[0] != 0xee || len(types) < 5 {
		t.Fatalf("arena prefix overwritten or too few script types: %v", types)
	}
}

// TestDecodeBlockAllocations checks the allocation discipline: a constant
// number of allocations per block, whatever its transaction count.
func TestDecodeBlockAllocations(t *testing.T) {
	raw, err := os.ReadFile(btctestdata.Path(t, block540107File))
	if err != nil {
		t.Fatal(err)
	}
	DecodeBlock(raw, 1) // warm the scratch pool
	allocs := testing.AllocsPerRun(5, func() {
		if _, _, err := DecodeBlock(raw, 1); err != nil {
			t.Fatal(err)
		}
	})
	// block, txs, inputs, outputs, arena (+ a scratch refill if the pool was emptied by GC).
	if allocs > 7 {
		t.Fatalf("%v allocations for a 3,315-tx block, want at most 7", allocs)
	}
	t.Logf("%v allocations per block", allocs)
}

// FuzzDecodeBlock is a differential fuzzer against btcd's wire: for any
// bytes, DecodeBlock never panics, and either both refuse them or both
// decode them to the same canonical block and header, and agree on whether
// the txids hash to the header's merkle root. The documented differences:
// bytes after the last transaction (wire ignores them; DecodeBlock must
// refuse them at exactly the offset where wire stopped reading), and a
// transaction with more than 4 MiB of scripts (wire panics; DecodeBlock must
// refuse it).
func FuzzDecodeBlock(f *testing.F) {
	_, d := btctestdata.Blocks1To255(f)
	recs := btctestdata.SplitRecords(d)
	f.Add(recs[0][8:])                                    // block 1: a P2PK coinbase
	f.Add(recs[169][8:])                                  // block 170: the first payment
	f.Add(append(append([]byte(nil), recs[0][8:]...), 0)) // trailing byte
	f.Add(smallSegwitBlock(f))
	for _, name := range []string{"blk_3A.dat.bz2", "277647.dat.bz2"} {
		for _, rec := range btctestdata.SplitRecords(btctestdata.Bunzip(f, btctestdata.Path(f, filepath.Join("blockchain/testdata", name)))) {
			if len(rec) < 64<<10 {
				f.Add(rec[8:])
			}
		}
	}
	// The blocks are built in recycled memory (check mode: returned memory
	// is poisoned and checked when lent again), so every input is also
	// decoded into the stale arrays of earlier ones.
	rc := NewRecycler(true)
	f.Fuzz(func(t *testing.T, raw []byte) {
		sc := scratchPool.Get().(*scratch)
		defer scratchPool.Put(sc)
		got, h, err := decodeBlock(raw, 7, sc, rc)
		if got != nil {
			defer func() {
				if err := rc.Return([]*model.Block{got}); err != nil {
					t.Fatal(err)
				}
			}()
		}
		var de *DecodeError
		if err != nil && (!errors.As(err, &de) || de.Offset < 0 || de.Offset > len(raw)) {
			t.Fatalf("error %v does not locate a byte of the %d-byte block", err, len(raw))
		}
		var mb wire.MsgBlock
		r := bytes.NewReader(raw)
		werr := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("wire panicked: %v", p)
				}
			}()
			return mb.Deserialize(r)
		}()
		switch {
		case werr != nil && err == nil:
			t.Fatalf("wire refuses (%v), DecodeBlock accepts", werr)
		case werr != nil:
			return
		case err != nil && r.Len() > 0:
			if !strings.Contains(err.Error(), "after the last transaction") || de.Offset != len(raw)-r.Len() {
				t.Fatalf("wire stops at offset %d of %d; DecodeBlock: %v", len(raw)-r.Len(), len(raw), err)
			}
			return
		case err != nil:
			t.Fatalf("wire accepts, DecodeBlock refuses: %v", err)
		case r.Len() > 0:
			t.Fatalf("DecodeBlock accepts %d bytes after the last transaction", r.Len())
		}
		want := ConvertBlock(&mb, 7)
		if err := sameHeader(h, &mb.Header); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("DecodeBlock differs from wire + ConvertBlock:\n%s", firstDiff(got, want))
		}
		wireOK := CheckMerkleRoot(&mb.Header, want) == nil
		_, _, derr := DecodeBlock(raw, 7)
		if (derr == nil) != wireOK {
			t.Fatalf("merkle check: DecodeBlock says %v, wire's txids say ok=%v", derr, wireOK)
		}
	})
}
