package btc

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/spoor-dev/spoor/internal/chain/btc/btctestdata"
)

// shrinkSetup writes the real blocks 1–255 as one plain blk file and as a
// blocks/ folder obfuscated with a key, and returns both paths and the
// file's records.
func shrinkSetup(t *testing.T) (plain, dir string, recs [][]byte) {
	_, data := btctestdata.Blocks1To255(t)
	recs = btctestdata.SplitRecords(data)
	tmp := t.TempDir()
	plain = filepath.Join(tmp, "plain.dat")
	if err := os.WriteFile(plain, data, 0o600); err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(tmp, "blocks")
	os.Mkdir(dir, 0o700)
	key := []byte{0x5a, 0x01, 0xc3, 0x02, 0x7e, 0x03, 0x99, 0x04}
	obf := append([]byte(nil), data...)
	for i := range obf {
		obf[i] ^= key[i%8]
	}
	if err := os.WriteFile(filepath.Join(dir, "xor.dat"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "blk00000.dat"), obf, 0o600); err != nil {
		t.Fatal(err)
	}
	return plain, dir, recs
}

// recordAt returns the index of the first record starting at or after off,
// and that record's body offset.
func recordAt(recs [][]byte, off int) (int, int64) {
	pos := 0
	for i, r := range recs {
		if pos >= off {
			return i, int64(pos + 8)
		}
		pos += len(r)
	}
	return -1, 0
}

// A blk file cut short after it was indexed (mid-record), read mapped or
// with pread, plain or obfuscated: the blocks before the cut read back
// exactly, and the first block past it is a FileError naming the file and
// the block's byte offset (as before the mapping: "unexpected EOF").
func TestReaderFileCutAfterIndexing(t *testing.T) {
	bothReads(t, func(t *testing.T) {
		plain, dir, recs := shrinkSetup(t)
		for _, path := range []string{plain, dir} {
			bf, plan := openPlan(t, path)
			file := bf.files[0].path
			k, off := recordAt(recs, 20_000)
			if err := os.Truncate(file, off+100); err != nil { // mid-record k
				t.Fatal(err)
			}
			rd := bf.NewReader()
			for h := 1; h <= len(recs); h++ { // plan[0] is the genesis block from parameters
				rb, err := rd.Read(plan[h])
				if h-1 < k {
					if err != nil || !bytes.Equal(rb.Bytes, recs[h-1][8:]) {
						t.Fatalf("%s: block %d before the cut: %v", path, h, err)
					}
					rd.Release(&rb)
					continue
				}
				var fe *FileError
				if !errors.As(err, &fe) || !errors.Is(err, ErrBadBlockFile) || fe.File != file || fe.Offset != off || !strings.Contains(err.Error(), "unexpected EOF") {
					t.Fatalf("%s: block %d past the cut: %v, want a FileError of %s at offset %d", path, h, err, file, off)
				}
				break
			}
			rd.Close()
		}
	})
}

// A blk file that shrinks while it is mapped (nothing Bitcoin Core does,
// but a user can): reading the lent bytes past the new end faults, and
// the fault is an error, not a crash. Obfuscated, Read copies the block
// and returns a FileError naming the file and offset; plain, Read lends a
// slice of the mapping, and CopyGuard (what a decoder reading it does with
// SetPanicOnFault; ingest's decode is tested the same way) reports the
// fault.
func TestReaderFileShrinksWhileMapped(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("blk files are mapped on Linux only")
	}
	plain, dir, recs := shrinkSetup(t)
	for _, path := range []string{plain, dir} {
		bf, plan := openPlan(t, path)
		file := bf.files[0].path
		rd := bf.NewReader()
		first, err := rd.Read(plan[1]) // maps the file
		if err != nil || first.src == nil && first.buf == nil {
			t.Fatalf("%s: first block: %v", path, err)
		}
		rd.Release(&first)
		// Cut at a page boundary; a record wholly in a later page is gone
		// from the mapping.
		if err := os.Truncate(file, 8192); err != nil {
			t.Fatal(err)
		}
		k, off := recordAt(recs, 8192+4096)
		rb, err := rd.Read(plan[k+1])
		if path == dir {
			var fe *FileError
			if !errors.As(err, &fe) || fe.File != file || fe.Offset != off || !strings.Contains(err.Error(), "shrank while it was mapped") {
				t.Fatalf("obfuscated: %v, want a FileError of %s at %d saying the file shrank", err, file, off)
			}
		} else {
			if err != nil {
				t.Fatalf("plain: %v (the file was mapped at its full size)", err)
			}
			dst := make([]byte, len(rb.Bytes))
			if err := CopyGuard(dst, rb.Bytes); !errors.Is(err, ErrFileShrank) {
				t.Fatalf("plain: reading a block past the new end: %v, want the fault as an error", err)
			}
			rd.Release(&rb)
		}
		rd.Close()
	}
}

// Lent bytes stay valid after Close until released: the mapping is
// unmapped with the last release, not before.
func TestReaderCloseWaitsForRelease(t *testing.T) {
	plain, _, recs := shrinkSetup(t)
	bf, plan := openPlan(t, plain)
	rd := bf.NewReader()
	rb, err := rd.Read(plan[200])
	if err != nil {
		t.Fatal(err)
	}
	s := rb.src
	rd.Close()
	if !bytes.Equal(rb.Bytes, recs[199][8:]) {
		t.Fatal("lent bytes changed when the reader closed")
	}
	if s != nil && s.data == nil {
		t.Fatal("mapping unmapped while a block was lent")
	}
	rd.Release(&rb)
	if s != nil && s.data != nil {
		t.Fatal("mapping kept after the last release of a closed reader")
	}
	if _, err := rd.Read(plan[1]); err == nil {
		t.Fatal("read after Close succeeded")
	}
}

// A blk file that grows while it is mapped (Bitcoin Core appends blocks to
// its last file): the indexed blocks read back exactly, mapped or not;
// the appended ones are not in this index (the next ingest's).
func TestReaderFileGrowsWhileMapped(t *testing.T) {
	bothReads(t, func(t *testing.T) {
		_, data := btctestdata.Blocks1To255(t)
		recs := btctestdata.SplitRecords(data)
		path := filepath.Join(t.TempDir(), "blk00000.dat")
		if err := os.WriteFile(path, bytes.Join(recs[:100], nil), 0o600); err != nil {
			t.Fatal(err)
		}
		bf, err := OpenBlockFiles(path)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := bf.BestChain(nil, 0)
		if err != nil || len(plan) != 101 {
			t.Fatalf("plan of %d blocks: %v", len(plan), err)
		}
		rd := bf.NewReader()
		defer rd.Close()
		for h := 1; h < len(plan); h++ {
			if h == 50 { // the file is open (mapped) now: append the rest
				f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.Write(bytes.Join(recs[100:], nil)); err != nil {
					t.Fatal(err)
				}
				f.Close()
			}
			rb, err := rd.Read(plan[h])
			if err != nil || !bytes.Equal(rb.Bytes, recs[h-1][8:]) {
				t.Fatalf("block %d: %v", h, err)
			}
			rd.Release(&rb)
		}
		// The grown file indexes every block.
		grown, err := OpenBlockFiles(path)
		if err != nil || grown.Blocks() != len(recs) {
			t.Fatalf("grown file: %v", err)
		}
	})
}

// openPlan indexes path and orders its blocks from genesis.
func openPlan(t testing.TB, path string) (*BlockFiles, []Planned) {
	t.Helper()
	bf, err := OpenBlockFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := bf.BestChain(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	return bf, plan
}
