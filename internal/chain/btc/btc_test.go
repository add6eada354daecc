package btc

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/spoor-dev/spoor/internal/address"
	"github.com/spoor-dev/spoor/internal/chain/btc/btctestdata"
	"github.com/spoor-dev/spoor/internal/model"
)

// TestRealBlocks checks the decoder and script classifier on two full
// mainnet blocks (540,107 and 574,200): the txids must rebuild each block's
// merkle root, and every standard output must get the address btcd's own
// txscript extracts.
func TestRealBlocks(t *testing.T) {
	for _, tc := range []struct {
		name string
		txs  int // counted from each block's tx-count varint, independently of the decoder
	}{
		{"block-0000000000000000001602407ac49862a7bca9d00f7f402db20b7be2f5de59d2.blk", 3315},
		{"block-00000000000000000021868c2cefc52a480d173c849412fe81c4e5ab806f94ab.blk", 230},
	} {
		name := tc.name
		raw, err := os.ReadFile(btctestdata.Path(t, filepath.Join("wire/testdata", name)))
		if err != nil {
			t.Fatal(err)
		}
		var mb wire.MsgBlock
		if err := mb.Deserialize(bytes.NewReader(raw)); err != nil {
			t.Fatal(err)
		}
		b := ConvertBlock(&mb, 1)
		if len(b.Txs) != tc.txs {
			t.Fatalf("%s: %d txs, want %d", name, len(b.Txs), tc.txs)
		}
		var txs []*btcutil.Tx
		for i := range b.Txs {
			h := WireHash(b.Txs[i].ID)
			if h != mb.Transactions[i].TxHash() {
				t.Fatalf("%s tx %d: id differs", name, i)
			}
			txs = append(txs, btcutil.NewTx(mb.Transactions[i]))
		}
		merkles := blockchain.BuildMerkleTreeStore(txs, false)
		if *merkles[len(merkles)-1] != mb.Header.MerkleRoot {
			t.Fatalf("%s: merkle root of the txids differs from the header", name)
		}
		if WireHash(b.Hash).String() != name[len("block-"):len(name)-len(".blk")] {
			t.Fatalf("block hash %x does not match file name %s", b.Hash, name)
		}
		if !b.Txs[0].Coinbase || b.Txs[1].Coinbase {
			t.Fatalf("%s: coinbase flags wrong", name)
		}
		checked := 0
		for i, mtx := range mb.Transactions {
			for j, out := range mtx.TxOut {
				cls, addrs, _, err := txscript.ExtractPkScriptAddrs(out.PkScript, &chaincfg.MainNetParams)
				if err != nil || len(addrs) != 1 {
					continue
				}
				var want string
				switch cls {
				case txscript.PubKeyHashTy, txscript.ScriptHashTy, txscript.WitnessV0PubKeyHashTy, txscript.WitnessV0ScriptHashTy, txscript.WitnessV1TaprootTy:
					want = addrs[0].EncodeAddress()
				case txscript.PubKeyTy:
					want = addrs[0].(*btcutil.AddressPubKey).AddressPubKeyHash().EncodeAddress()
				default:
					continue
				}
				got, err := address.For(model.BTC).Encode(b.Txs[i].Outputs[j].Address)
				if err != nil || got != want {
					t.Fatalf("%s tx %d out %d: address %s (%v), txscript says %s", name, i, j, got, err, want)
				}
				checked++
			}
		}
		if checked < tc.txs {
			t.Fatalf("%s: only %d outputs compared", name, checked)
		}
	}
}

func TestClassifyNonStandard(t *testing.T) {
	for _, tc := range []struct {
		script []byte
		want   model.ScriptType
	}{
		{[]byte{0x6a, 0x04, 1, 2, 3, 4}, model.ScriptNullData},
		{[]byte{0x52, 0x02, 0xaa, 0xbb}, model.ScriptWitnessUnknown},
		{append(append([]byte{0x51, 33}, make([]byte, 33)...), 0x51, 0xae), model.ScriptMultisig},
		{[]byte{0xff, 0xfe}, model.ScriptNonStandard},
		{nil, model.ScriptNonStandard},
	} {
		a, st := ClassifyScript(tc.script)
		if st != tc.want || a[0] != address.BTCKindScript || len(a) != 33 {
			t.Fatalf("%x: type %s addr %x, want %s pseudo-address", tc.script, st, a, tc.want)
		}
		s, err := address.For(model.BTC).Encode(a)
		if err != nil {
			t.Fatal(err)
		}
		back, err := address.For(model.BTC).Decode(s)
		if err != nil || !bytes.Equal(back, a) {
			t.Fatalf("pseudo-address %s does not round-trip", s)
		}
	}
}

func planHeights(t *testing.T, plan []Planned) {
	t.Helper()
	for i, p := range plan {
		if p.Height != uint64(i) {
			t.Fatalf("plan[%d] has height %d", i, p.Height)
		}
	}
}

func TestBlockFilesOrderXORAndPadding(t *testing.T) {
	path, data := btctestdata.Blocks1To255(t)
	bf, err := OpenBlockFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	if bf.Params != &chaincfg.MainNetParams || bf.Blocks() != 255 {
		t.Fatalf("params %s, %d blocks; want mainnet, 255", bf.Params.Name, bf.Blocks())
	}
	plan, err := bf.BestChain(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan) != 256 || plan[0].Hash != *chaincfg.MainNetParams.GenesisHash || plan[0].rec != -1 {
		t.Fatalf("plan of %d blocks starting %s", len(plan), plan[0].Hash)
	}
	planHeights(t, plan)
	if bf.OffChain != 0 {
		t.Fatalf("%d blocks off the chain in a clean file", bf.OffChain)
	}
	// Without block 100, blocks 101-255 connect to nothing: the plan ends at
	// 99 and the 155 left out are counted, so the ingest can say so.
	{
		recs := btctestdata.SplitRecords(data)
		gap := filepath.Join(t.TempDir(), "gap.dat")
		if err := os.WriteFile(gap, bytes.Join(append(append([][]byte{}, recs[:99]...), recs[100:]...), nil), 0o600); err != nil {
			t.Fatal(err)
		}
		g, err := OpenBlockFiles(gap)
		if err != nil {
			t.Fatal(err)
		}
		gp, err := g.BestChain(nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(gp) != 100 || g.OffChain != 155 {
			t.Fatalf("file without block 100: plan of %d blocks, %d off the chain; want 100 and 155", len(gp), g.OffChain)
		}
	}
	// Block 170 is the first person-to-person payment.
	if plan[170].Hash.String() != "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee" {
		t.Fatalf("block 170 = %s", plan[170].Hash)
	}
	// Shuffle the records, obfuscate with a key, pad with zeros, split in
	// two files: Core's layout. The plan must not change.
	recs := btctestdata.SplitRecords(data)
	rng := rand.New(rand.NewPCG(7, 7))
	rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	dir := t.TempDir()
	key := []byte{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}
	if err := os.WriteFile(filepath.Join(dir, "xor.dat"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	for f, part := range [][][]byte{recs[:100], recs[100:]} {
		blob := append(bytes.Join(part, nil), make([]byte, 4096)...)
		for i := range blob {
			blob[i] ^= key[i%8]
		}
		if err := os.WriteFile(filepath.Join(dir, []string{"blk00000.dat", "blk00001.dat"}[f]), blob, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bf2, err := OpenBlockFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	plan2, err := bf2.BestChain(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan2) != len(plan) {
		t.Fatalf("shuffled plan has %d blocks, want %d", len(plan2), len(plan))
	}
	rd := bf2.NewReader()
	defer rd.Close()
	for i := range plan {
		if plan2[i].Hash != plan[i].Hash {
			t.Fatalf("shuffled plan differs at %d", i)
		}
		rb, err := rd.Read(plan2[i])
		if err != nil {
			t.Fatal(err)
		}
		if h := chainhash.DoubleHashH(rb.Bytes[:80]); h != plan[i].Hash {
			t.Fatalf("block %d read back hashes to %s", i, h)
		}
		rd.Release(&rb)
	}
	// Continuing from a stored tip: only the blocks above it, up to the
	// files' tip, whatever order the records are in.
	for name, b := range map[string]*BlockFiles{"in order": bf, "shuffled": bf2} {
		for _, root := range []int{0, 1, 100, 254} {
			tail, err := b.BestChain(&plan[root].Hash, uint64(root))
			if err != nil {
				t.Fatal(err)
			}
			if len(tail) != 255-root || tail[0].Height != uint64(root+1) || tail[len(tail)-1].Hash != plan[255].Hash {
				t.Fatalf("%s, tail plan above %d: %d blocks from %d", name, root, len(tail), tail[0].Height)
			}
		}
		if tip, err := b.BestChain(&plan[255].Hash, 255); err != nil || len(tip) != 0 {
			t.Fatalf("%s, plan above the files' tip: %d blocks, %v", name, len(tip), err)
		}
	}
}

func TestBadBlockFiles(t *testing.T) {
	bothReads(t, testBadBlockFiles)
}

// bothReads runs test with blk files mapped (where the system maps them)
// and read with pread.
func bothReads(t *testing.T, test func(t *testing.T)) {
	defer func(m bool) { mapBlockFiles = m }(mapBlockFiles)
	for _, mapped := range []bool{true, false} {
		mapBlockFiles = mapped
		t.Run(map[bool]string{true: "mapped", false: "pread"}[mapped], test)
	}
}

func testBadBlockFiles(t *testing.T) {
	_, data := btctestdata.Blocks1To255(t)
	recs := btctestdata.SplitRecords(data)
	off2 := int64(len(recs[0]) + len(recs[1])) // start of record 2
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	wrongMagic := bytes.Join(recs[:4], nil)
	copy(wrongMagic[off2:], []byte{0xde, 0xad, 0xbe, 0xef})
	hugeLen := bytes.Join(recs[:4], nil)
	copy(hugeLen[off2+4:], []byte{0xff, 0xff, 0xff, 0x7f})
	for _, tc := range []struct {
		name string
		data []byte
		off  int64
	}{
		{"truncated.dat", data[:off2+100], off2},
		{"magic.dat", wrongMagic, off2},
		{"length.dat", hugeLen, off2 + 4},
		{"short-header.dat", append(bytes.Join(recs[:2], nil), 0xf9, 0xbe), off2},
	} {
		p := write(tc.name, tc.data)
		_, err := OpenBlockFiles(p)
		var fe *FileError
		if !errors.As(err, &fe) || !errors.Is(err, ErrBadBlockFile) {
			t.Fatalf("%s: err = %v, want a FileError", tc.name, err)
		}
		if fe.File != p || fe.Offset != tc.off {
			t.Fatalf("%s: error at %s:%d, want offset %d", tc.name, fe.File, fe.Offset, tc.off)
		}
	}
	// Blocks that connect to nothing.
	p := write("orphans.dat", bytes.Join(recs[5:9], nil))
	bf, err := OpenBlockFiles(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bf.BestChain(nil, 0); err == nil {
		t.Fatal("orphan blocks produced a chain")
	}
}

// FuzzOpenBlockFiles feeds arbitrary bytes to the blk-file reader: it must
// return blocks or an error, never panic or allocate past its bounds.
func FuzzOpenBlockFiles(f *testing.F) {
	f.Add([]byte{0xf9, 0xbe, 0xb4, 0xd9, 80, 0, 0, 0})
	f.Add(append([]byte{0xf9, 0xbe, 0xb4, 0xd9, 0x1d, 1, 0, 0}, make([]byte, 285)...))
	f.Add(make([]byte, 64))
	var gb bytes.Buffer
	chaincfg.MainNetParams.GenesisBlock.Serialize(&gb)
	rec := append([]byte{0xf9, 0xbe, 0xb4, 0xd9, byte(gb.Len()), byte(gb.Len() >> 8), 0, 0}, gb.Bytes()...)
	f.Add(rec)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "fuzz.dat")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		bf, err := OpenBlockFiles(p)
		if err != nil {
			return
		}
		plan, err := bf.BestChain(nil, 0)
		if err != nil {
			return
		}
		rd := bf.NewReader()
		defer rd.Close()
		for _, pl := range plan {
			rb, err := rd.Read(pl)
			if err != nil {
				return
			}
			var mb wire.MsgBlock
			if mb.Deserialize(bytes.NewReader(rb.Bytes)) == nil {
				ConvertBlock(&mb, pl.Height)
			}
			rd.Release(&rb)
		}
	})
}

// A fifo named like a blk file is refused at once, not read forever.
func TestBlockFilesNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "blk00000.dat")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	for _, p := range []string{dir, fifo} {
		_, err := OpenBlockFiles(p)
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("OpenBlockFiles(%s): %v", p, err)
		}
	}
}

// TestBlockFilesWindowedReads: the indexer and the block reader go through
// a mapping of the file, or a 1 MiB read window; over the real 14,132-block
// file (several windows, record headers straddling their edges),
// obfuscated with an XOR key, every block read back equals the file's
// record byte for byte, both ways.
func TestBlockFilesWindowedReads(t *testing.T) {
	bothReads(t, testBlockFilesWindowedReads)
}

func testBlockFilesWindowedReads(t *testing.T) {
	src := btctestdata.Path(t, "blockchain/testdata/blk_0_to_14131.dat")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 3<<20 {
		t.Fatalf("test file is %d bytes: too small to cross read windows", len(data))
	}
	recs := btctestdata.SplitRecords(data)
	dir := t.TempDir()
	key := []byte{0xa1, 0x02, 0xb3, 0x04, 0xc5, 0x06, 0xd7, 0x08}
	if err := os.WriteFile(filepath.Join(dir, "xor.dat"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	blob := append([]byte(nil), data...)
	for i := range blob {
		blob[i] ^= key[i%8]
	}
	if err := os.WriteFile(filepath.Join(dir, "blk00000.dat"), blob, 0o600); err != nil {
		t.Fatal(err)
	}
	bf, err := OpenBlockFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := bf.BestChain(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan) != len(recs) {
		t.Fatalf("plan of %d blocks, file holds %d", len(plan), len(recs))
	}
	byHash := map[chainhash.Hash][]byte{}
	for _, r := range recs {
		byHash[chainhash.DoubleHashH(r[8:88])] = r[8:]
	}
	rd := bf.NewReader()
	defer rd.Close()
	for i, p := range plan {
		rb, err := rd.Read(p)
		if err != nil {
			t.Fatal(err)
		}
		if want := byHash[p.Hash]; !bytes.Equal(rb.Bytes, want) {
			t.Fatalf("block %d (%s): %d bytes read back differ from the file's %d", i, p.Hash, len(rb.Bytes), len(want))
		}
		rd.Release(&rb)
	}
}

// TestAllZero checks the zero-tail test of blk files on lengths around the
// zero array's size, with one non-zero byte at the edges and in between.
func TestAllZero(t *testing.T) {
	for _, n := range []int{0, 1, 7, len(zeroBytes) - 1, len(zeroBytes), len(zeroBytes) + 1, 3*len(zeroBytes) + 5} {
		b := make([]byte, n)
		if !allZero(b) {
			t.Fatalf("%d zero bytes: allZero = false", n)
		}
		for _, i := range []int{0, n / 2, n - 1, len(zeroBytes), len(zeroBytes) + 1} {
			if i < 0 || i >= n {
				continue
			}
			b[i] = 0x80
			if allZero(b) {
				t.Fatalf("%d bytes with byte %d set: allZero = true", n, i)
			}
			b[i] = 0
		}
	}
}
