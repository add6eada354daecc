package btc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// ErrBadBlockFile marks malformed blk files; the message names file and offset.
var ErrBadBlockFile = errors.New("btc: bad block file")

// maxBlockSize bounds a record's length before anything is allocated (the
// consensus limit is 4 MB of weight; 8 MiB leaves room for test networks).
const maxBlockSize = 8 << 20

// FileError locates a problem in a blk file.
type FileError struct {
	File   string
	Offset int64
	Msg    string
}

func (e *FileError) Error() string {
	return fmt.Sprintf("%s at byte offset %d: %s", e.File, e.Offset, e.Msg)
}

func (e *FileError) Unwrap() error { return ErrBadBlockFile }

// blkFile is one blk*.dat file and its XOR key (zero key: not obfuscated).
type blkFile struct {
	path string
	xor  [8]byte
}

// record locates one block inside a blk file.
type record struct {
	file   int   // index into BlockFiles.files
	offset int64 // offset of the block bytes (after magic and length)
	size   uint32
	hash   chainhash.Hash
	prev   chainhash.Hash
	bits   uint32
}

// BlockFiles is an index of the blocks in a set of blk files.
type BlockFiles struct {
	Params  *chaincfg.Params
	files   []blkFile
	records []record
	byHash  map[chainhash.Hash]int
	// OffChain is set by BestChain: how many blocks of the files are not on
	// the chain it chose (side branches, and blocks whose ancestry is missing
	// or damaged). They are not ingested; callers should say so.
	OffChain int
}

// blkNames lists a blocks/ folder's blk*.dat files in number order.
func blkNames(dir string) ([]string, error) {
	names, err := filepath.Glob(filepath.Join(dir, "blk*.dat"))
	if err != nil {
		return nil, err
	}
	sort.Slice(names, func(i, j int) bool { return blkNum(names[i]) < blkNum(names[j]) })
	return names, nil
}

// FilesSize is the size of what OpenBlockFiles(path) reads: the file, or
// the folder's blk*.dat files (0 where path cannot be read: OpenBlockFiles
// reports that).
func FilesSize(path string) uint64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	if !fi.IsDir() {
		return uint64(fi.Size())
	}
	names, _ := blkNames(path)
	var n uint64
	for _, name := range names {
		if fi, err := os.Stat(name); err == nil {
			n += uint64(fi.Size())
		}
	}
	return n
}

// OpenBlockFiles indexes path: a Bitcoin Core blocks/ folder (blk*.dat, with
// xor.dat when present) or a single file of blk records. It reads every
// record header and validates the framing; block bodies are read later.
func OpenBlockFiles(path string) (*BlockFiles, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("btc: %w", err)
	}
	bf := &BlockFiles{byHash: map[chainhash.Hash]int{}}
	if fi.IsDir() {
		names, err := blkNames(path)
		if err != nil {
			return nil, err
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("btc: no blk*.dat files in %s", path)
		}
		var key [8]byte
		if k, err := os.ReadFile(filepath.Join(path, "xor.dat")); err == nil {
			if len(k) != 8 {
				return nil, fmt.Errorf("btc: %s: xor key is %d bytes, want 8", filepath.Join(path, "xor.dat"), len(k))
			}
			copy(key[:], k)
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("btc: %w", err)
		}
		for _, n := range names {
			bf.files = append(bf.files, blkFile{path: n, xor: key})
		}
	} else {
		bf.files = []blkFile{{path: path}}
	}
	for i := range bf.files {
		// A fifo, socket or device named like a blk file would block or
		// never end: only regular files hold blocks.
		if fi, err := os.Stat(bf.files[i].path); err != nil {
			return nil, fmt.Errorf("btc: %w", err)
		} else if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("btc: %s is not a regular file (%s): not a blk file", bf.files[i].path, fi.Mode().Type())
		}
		if err := bf.scan(i); err != nil {
			return nil, err
		}
	}
	if bf.Params == nil {
		return nil, fmt.Errorf("btc: %s holds no blocks", path)
	}
	return bf, nil
}

func blkNum(name string) int {
	var n int
	fmt.Sscanf(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(name), "blk"), ".dat"), "%d", &n)
	return n
}

// xorAt de-obfuscates b, which was read at file offset off.
func xorAt(b []byte, key *[8]byte, off int64) {
	if *key == ([8]byte{}) {
		return
	}
	for i := range b {
		b[i] ^= key[(off+int64(i))%8]
	}
}

// scanFar: after a block of this many bytes or more, scan reads the next
// record header alone rather than a window.
const scanFar = 64 << 10

// scan indexes the records of file i. It reads only record headers (88
// bytes each) and skips the block bodies, so memory stays flat however
// large the file is: with pread through a 1 MiB window, many small records
// a read, or, after a block of scanFar bytes or more, the next header alone
// (4 KiB). Until the eleventh session it read the headers from a mapping of
// the file: a page fault a header for large blocks, which in an ingest,
// beside the store's first page work, took ≈ 0.1 s of the 10⁷ chain's
// start (BenchmarkBestChain alone: 17 ms).
func (bf *BlockFiles) scan(i int) (err error) {
	f := &bf.files[i]
	fh, err := os.Open(f.path)
	if err != nil {
		return fmt.Errorf("btc: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return fmt.Errorf("btc: %w", err)
	}
	size := fi.Size()
	w := &window{f: fh, size: size, buf: make([]byte, 1<<20)}
	var off int64
	var hb [88]byte
	for off < size {
		left := size - off
		n := int64(len(hb))
		if left < n {
			n = left
		}
		rest := hb[:n]
		src, err := w.at(off, n)
		if err != nil {
			return &FileError{f.path, off, "read: " + err.Error()}
		}
		copy(rest, src)
		xorAt(rest, &f.xor, off)
		if len(rest) < 8 {
			if allZero(rest) {
				return nil
			}
			return &FileError{f.path, off, fmt.Sprintf("truncated record header (%d bytes left)", len(rest))}
		}
		magic := wire.BitcoinNet(binary.LittleEndian.Uint32(rest))
		if magic == 0 {
			zero, err := zeroTail(fh, &f.xor, off, size)
			if err != nil {
				return &FileError{f.path, off, "read: " + err.Error()}
			}
			if zero {
				return nil // Core pre-allocates files with zeros
			}
		}
		params, ok := netsByMagic[magic]
		if !ok {
			return &FileError{f.path, off, fmt.Sprintf("unknown magic %08x", uint32(magic))}
		}
		if bf.Params == nil {
			bf.Params = params
		} else if bf.Params != params {
			return &FileError{f.path, off, fmt.Sprintf("magic of %s in a %s file set", params.Name, bf.Params.Name)}
		}
		bsize := binary.LittleEndian.Uint32(rest[4:])
		if bsize < 80 || bsize > maxBlockSize {
			return &FileError{f.path, off + 4, fmt.Sprintf("block length %d outside [80, %d]", bsize, maxBlockSize)}
		}
		if int64(bsize) > left-8 {
			return &FileError{f.path, off, fmt.Sprintf("truncated block: record says %d bytes, %d remain", bsize, left-8)}
		}
		var hdr wire.BlockHeader
		if err := hdr.Deserialize(bytes.NewReader(rest[8:88])); err != nil {
			return &FileError{f.path, off + 8, "block header: " + err.Error()}
		}
		r := record{file: i, offset: off + 8, size: bsize, hash: hdr.BlockHash(), prev: hdr.PrevBlock, bits: hdr.Bits}
		if _, dup := bf.byHash[r.hash]; !dup {
			bf.byHash[r.hash] = len(bf.records)
			bf.records = append(bf.records, r)
		}
		off += 8 + int64(bsize)
		// After a large block the next header is far: read just it, not a
		// window of the block's bytes.
		w.span = 0
		if bsize >= scanFar {
			w.span = 4 << 10
		}
	}
	return nil
}

// window reads a file through a buffer, so that many small records cost
// one read system call per buffer, not one each (early mainnet blocks are a
// few hundred bytes).
type window struct {
	f     *os.File
	size  int64
	buf   []byte
	start int64
	n     int
	span  int64 // bytes read on a miss (at least the ones asked for); 0: the whole buffer
}

// at returns the file's bytes [off, off+n), valid until the next call; n
// must not exceed the buffer.
func (w *window) at(off, n int64) ([]byte, error) {
	if off >= w.start && off+n <= w.start+int64(w.n) {
		return w.buf[off-w.start : off-w.start+n], nil
	}
	m := min(int64(len(w.buf)), w.size-off)
	if w.span > 0 {
		m = min(m, max(w.span, n))
	}
	if m < n {
		return nil, io.ErrUnexpectedEOF
	}
	got, err := w.f.ReadAt(w.buf[:m], off)
	if int64(got) < n {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		w.n = 0
		return nil, err
	}
	w.start, w.n = off, got
	return w.buf[:n], nil
}

// zeroTail reports whether the file holds only zeros (once de-obfuscated)
// from off to its end, reading it in bounded chunks.
func zeroTail(fh *os.File, key *[8]byte, off, size int64) (bool, error) {
	buf := make([]byte, 64<<10)
	for off < size {
		n := int64(len(buf))
		if size-off < n {
			n = size - off
		}
		b := buf[:n]
		if _, err := fh.ReadAt(b, off); err != nil {
			return false, err
		}
		xorAt(b, key, off)
		if !allZero(b) {
			return false, nil
		}
		off += n
	}
	return true, nil
}

// allZero reports whether b holds only zero bytes: compared against a
// zero array with bytes.Equal, whose vector loop checks a 16 MB file's
// preallocated tail in well under a millisecond (a byte loop took ≈ 10 ms
// of the 25 ms that indexing mainnet blocks 0–14,131 cost).
func allZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeroBytes))
		if !bytes.Equal(b[:n], zeroBytes[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

var zeroBytes [64 << 10]byte

// Blocks returns the number of distinct blocks indexed.
func (bf *BlockFiles) Blocks() int { return len(bf.records) }

// Planned is a block of the best chain: its height and where to read it.
type Planned struct {
	Height uint64
	Hash   chainhash.Hash
	rec    int // -1: the genesis block from chain parameters
}

// Bytes is the size of the planned blocks' records in the files (a
// genesis block taken from the chain parameters counts nothing).
func (bf *BlockFiles) Bytes(plan []Planned) uint64 {
	var n uint64
	for _, p := range plan {
		if p.rec >= 0 {
			n += uint64(bf.records[p.rec].size)
		}
	}
	return n
}

// BestChain orders the indexed blocks by previous hash into the chain with
// the most work that starts at the genesis block or at root (a block already
// stored, at rootHeight). The genesis block is taken from the chain
// parameters when the files do not hold it (a file starting at block 1).
// Blocks on side branches and blocks that connect to nothing are left out.
func (bf *BlockFiles) BestChain(root *chainhash.Hash, rootHeight uint64) ([]Planned, error) {
	genesis := *bf.Params.GenesisHash
	type node struct {
		height uint64
		work   *big.Int
		ok     bool
		done   bool
	}
	nodes := make([]node, len(bf.records))
	rootInFiles := false
	if root != nil {
		_, rootInFiles = bf.byHash[*root]
	}
	// workOf is blockchain.CalcWork (a big-integer division) of the last
	// bits asked for, kept: the target changes once in 2,016 blocks.
	var lastBits uint32
	var lastWork *big.Int
	workOf := func(bits uint32) *big.Int {
		if lastWork == nil || bits != lastBits {
			lastBits, lastWork = bits, blockchain.CalcWork(bits)
		}
		return lastWork
	}
	// resolve walks back to a known ancestor, then fills heights and
	// cumulative work forward (iteratively: chains are long).
	resolve := func(i int) node {
		var stack []int
		j := i
		var base node
		for {
			if nodes[j].done {
				base = nodes[j]
				break
			}
			r := &bf.records[j]
			if r.hash == genesis {
				nodes[j] = node{height: 0, work: workOf(r.bits), ok: true, done: true}
				base = nodes[j]
				break
			}
			stack = append(stack, j)
			if r.prev == genesis {
				base = node{height: 0, work: workOf(bf.Params.GenesisBlock.Header.Bits), ok: true}
				break
			}
			if root != nil && !rootInFiles && r.prev == *root {
				base = node{height: rootHeight, work: big.NewInt(0), ok: true}
				break
			}
			p, ok := bf.byHash[r.prev]
			if !ok {
				break // connects to nothing we know
			}
			j = p
		}
		for k := len(stack) - 1; k >= 0; k-- {
			idx := stack[k]
			if !base.ok {
				nodes[idx] = node{done: true}
			} else {
				w := new(big.Int).Add(base.work, workOf(bf.records[idx].bits))
				nodes[idx] = node{height: base.height + 1, work: w, ok: true, done: true}
			}
			base = nodes[idx]
		}
		return nodes[i]
	}
	// Resolve the stored tip first, from the genesis block when the files
	// hold its ancestry, so that blocks after it carry cumulative work on the
	// same scale as every other branch; only when its ancestry is not in the
	// files does it become a base of its own (work counted from there).
	if root != nil {
		if i, ok := bf.byHash[*root]; ok {
			if n := resolve(i); !n.ok {
				nodes[i] = node{height: rootHeight, work: big.NewInt(0), ok: true, done: true}
			} else if n.height != rootHeight {
				return nil, fmt.Errorf("btc: stored tip %s is at height %d but the files place it at %d", root, rootHeight, n.height)
			}
		}
	}
	best := -1
	for i := range bf.records {
		n := resolve(i)
		if !n.ok {
			continue
		}
		if best < 0 || n.work.Cmp(nodes[best].work) > 0 {
			best = i
		}
	}
	if best < 0 {
		return nil, fmt.Errorf("btc: no block connects to the %s genesis block%s", bf.Params.Name, rootNote(root))
	}
	// Count the files' blocks that are not on the chosen chain: walk it back
	// through every ancestor the files hold (past root too).
	onChain := 0
	for i, ok := best, true; ok; {
		onChain++
		i, ok = bf.byHash[bf.records[i].prev]
	}
	bf.OffChain = len(bf.records) - onChain
	var chain []Planned
	for i := best; ; {
		r := &bf.records[i]
		if root != nil && r.hash == *root {
			break // the files hold nothing above the stored tip
		}
		chain = append(chain, Planned{Height: nodes[i].height, Hash: r.hash, rec: i})
		if r.hash == genesis {
			break
		}
		if root != nil && r.prev == *root {
			break
		}
		if r.prev == genesis {
			chain = append(chain, Planned{Height: 0, Hash: genesis, rec: -1})
			break
		}
		i = bf.byHash[r.prev]
	}
	for l, r := 0, len(chain)-1; l < r; l, r = l+1, r-1 {
		chain[l], chain[r] = chain[r], chain[l]
	}
	return chain, nil
}

func rootNote(root *chainhash.Hash) string {
	if root == nil {
		return ""
	}
	return " nor to the stored tip " + root.String()
}
