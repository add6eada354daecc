package btc

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/btcsuite/btcd/wire"
	"github.com/spoor-dev/spoor/internal/chain/btc/btctestdata"
)

// FuzzBlockFiles feeds a Bitcoin Core blocks/ folder built from fuzz input:
// the records split across two blk files at a fuzzed point, XOR-obfuscated
// with a fuzzed key (or a xor.dat of a wrong size). The reader must never
// panic; an error must be a FileError inside the file it names (or a clear
// refusal of the key); and obfuscation must not change what is read: the
// folder gives exactly the blocks, plan and bytes of the same records in
// one plain file.
func FuzzBlockFiles(f *testing.F) {
	_, data := btctestdata.Blocks1To255(f)
	recs := btctestdata.SplitRecords(data)
	key := []byte{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}
	real := bytes.Join(recs[:6], nil)
	f.Add(real, key, uint16(len(recs[0])+len(recs[1])))
	f.Add(real, []byte{}, uint16(100))                                    // no xor.dat
	f.Add(real, []byte{1, 2, 3}, uint16(0))                               // xor.dat of a wrong size
	f.Add(append(bytes.Join(recs[3:5], nil), recs[0]...), key, uint16(9)) // out of order, split inside a record
	f.Add(append(real, make([]byte, 300)...), make([]byte, 8), uint16(len(real)))
	trunc := bytes.Join(recs[:3], nil)
	f.Add(trunc[:len(trunc)-7], key, uint16(len(recs[0])))
	bad := append([]byte(nil), real...)
	bad[len(recs[0])+4] = 0xff // a record length far past the data
	bad[len(recs[0])+7] = 0x7f
	f.Add(bad, key, uint16(len(recs[0])))
	tmp := f.TempDir()
	n := 0
	f.Fuzz(func(t *testing.T, data, key []byte, split uint16) {
		n++
		dir := filepath.Join(tmp, "d", string(rune('a'+n%26)))
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		cut := int(split)
		if cut > len(data) {
			cut = len(data)
		}
		parts := [][]byte{data[:cut], data[cut:]}
		for i, p := range parts {
			obf := append([]byte(nil), p...)
			if len(key) == 8 {
				for j := range obf {
					obf[j] ^= key[j%8]
				}
			}
			if err := os.WriteFile(filepath.Join(dir, []string{"blk00000.dat", "blk00001.dat"}[i]), obf, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if len(key) > 0 {
			if err := os.WriteFile(filepath.Join(dir, "xor.dat"), key, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		bf, err := OpenBlockFiles(dir)
		if len(key) > 0 && len(key) != 8 {
			if err == nil {
				t.Fatalf("xor.dat of %d bytes accepted", len(key))
			}
			return
		}
		if err != nil {
			var fe *FileError
			if errors.As(err, &fe) {
				fi, serr := os.Stat(fe.File)
				if serr != nil || fe.Offset < 0 || fe.Offset > fi.Size() {
					t.Fatalf("error names offset %d in %s (%v): %v", fe.Offset, fe.File, serr, err)
				}
			}
			return
		}
		// The same records in plain files must read identically.
		plainDir := filepath.Join(tmp, "p", string(rune('a'+n%26)))
		os.RemoveAll(plainDir)
		os.MkdirAll(plainDir, 0o700)
		for i, p := range parts {
			os.WriteFile(filepath.Join(plainDir, []string{"blk00000.dat", "blk00001.dat"}[i]), p, 0o600)
		}
		plain, err := OpenBlockFiles(plainDir)
		if err != nil {
			t.Fatalf("obfuscated folder opens, plain copy fails: %v", err)
		}
		if plain.Blocks() != bf.Blocks() {
			t.Fatalf("obfuscated folder has %d blocks, plain %d", bf.Blocks(), plain.Blocks())
		}
		plan, err := bf.BestChain(nil, 0)
		plan2, err2 := plain.BestChain(nil, 0)
		if (err == nil) != (err2 == nil) || len(plan) != len(plan2) {
			t.Fatalf("plans differ: %d blocks (%v) vs %d (%v)", len(plan), err, len(plan2), err2)
		}
		rd, rd2 := bf.NewReader(), plain.NewReader()
		defer rd.Close()
		defer rd2.Close()
		for i, pl := range plan {
			if plan2[i].Hash != pl.Hash || plan2[i].Height != pl.Height || pl.Height != uint64(i) {
				t.Fatalf("plan entry %d differs", i)
			}
			rb, err := rd.Read(pl)
			rb2, err2 := rd2.Read(plan2[i])
			if err != nil || err2 != nil || !bytes.Equal(rb.Bytes, rb2.Bytes) {
				t.Fatalf("block %d reads differently: %v %v", i, err, err2)
			}
			var mb wire.MsgBlock
			if mb.Deserialize(bytes.NewReader(rb.Bytes)) == nil {
				ConvertBlock(&mb, pl.Height)
			}
			rd.Release(&rb)
			rd2.Release(&rb2)
		}
	})
}
