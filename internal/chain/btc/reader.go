package btc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sync"
)

// Reading the planned blocks' bytes. On Linux each blk file is mapped
// read-only (mmap) and a block without XOR obfuscation is lent as a slice
// of the mapping: no copy, and no fresh buffer for every block (pread into
// fresh buffers cost a page fault per 4 KiB of them, and the copy). An
// obfuscated block is de-XORed from the mapping into a buffer the Reader
// recycles. Where a file cannot be mapped (other systems, an empty file,
// mmap refused) it is read with pread through a 1 MiB window, as before.
//
// Lending protocol: Read lends a RawBlock; its Bytes are valid until the
// caller gives it back with Release (from any goroutine). A file's mapping
// is unmapped only once every block lent from it was released and the
// Reader no longer keeps the file open (it keeps maxOpenFiles, evicting
// the oldest) or was closed. The decoder copies what it keeps (addresses
// go into the block's own arena, ids are arrays), so a block can be
// released as soon as it is decoded.
//
// A mapped file that shrinks under the reader (nothing Bitcoin Core does:
// it only appends to its last file, and pruning deletes whole files, which
// leaves a mapping valid) makes reads past the new end fault (SIGBUS). The
// Reader's own copies and scans turn that fault into a FileError naming
// file and offset (debug.SetPanicOnFault); a decoder reading lent Bytes
// must do the same (CopyGuard and Faulted help). A file that grows is read
// up to the size it had when it was mapped: the index (OpenBlockFiles)
// never names records past the size it saw.

// dropStep is the least a Reader lets go of at once (one madvise call).
const dropStep = 4 << 20

// pageSize aligns populate calls (4 KiB divides every page size in use).
const pageSize = 4096

// maxOpenFiles is how many blk files a Reader keeps open (mapped).
const maxOpenFiles = 16

// mapBlockFiles turns mapping on (tests turn it off to test the pread path).
var mapBlockFiles = true

// Reader reads planned blocks' bytes; Release may be called concurrently
// with Read.
type Reader struct {
	bf     *BlockFiles
	mu     sync.Mutex
	open   map[int]*source
	order  []int
	bufs   classes[byte] // de-XOR and pread buffers, by capacity
	closed bool
	noMap  bool
}

// source is one open blk file: mapped (data), or read through a window.
type source struct {
	data  []byte // read-only mapping of the file; nil: not mapped
	f     *os.File
	w     *window
	refs  int   // blocks lent from data, not released yet
	ahead int64 // data[:ahead] was populated (populateAhead)
	// data[:dropped] was let go (dropBehind): its pages no longer count
	// in the process's resident memory.
	dropped int64
	gone    bool // no longer kept open: unmap at refs 0
}

func (s *source) close() {
	if s.data != nil {
		unmapFile(s.data)
		s.data = nil
	}
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
}

// RawBlock is a block's serialized bytes lent by Reader.Read: Bytes is
// valid until Release.
type RawBlock struct {
	Bytes   []byte
	File    string // the blk file; "" for the genesis block from chain parameters
	Offset  int64  // byte offset of the block's record (its magic) in File
	genesis string
	src     *source // the mapping Bytes is a slice of
	buf     []byte  // the Reader's buffer Bytes is in
}

// Where says where the block came from, for errors.
func (b *RawBlock) Where() string {
	if b.File == "" {
		return b.genesis
	}
	return fmt.Sprintf("%s at byte offset %d", b.File, b.Offset)
}

// NewReader returns a reader over bf.
func (bf *BlockFiles) NewReader() *Reader {
	return &Reader{bf: bf, open: map[int]*source{}, noMap: !mapBlockFiles}
}

// Close closes the files; a mapping with blocks still lent is unmapped
// when the last of them is released.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for _, s := range r.open {
		s.gone = true
		if s.refs == 0 {
			s.close()
		}
	}
	r.open, r.order = map[int]*source{}, nil
	r.bufs = classes[byte]{}
	return nil
}

// Release gives back a block lent by Read; b is emptied.
func (r *Reader) Release(b *RawBlock) {
	if b.src == nil && b.buf == nil {
		*b = RawBlock{}
		return
	}
	r.mu.Lock()
	if s := b.src; s != nil {
		if s.refs--; s.refs == 0 && s.gone {
			s.close()
		}
	}
	if b.buf != nil && !r.closed {
		r.bufs.put(b.buf)
	}
	r.mu.Unlock()
	*b = RawBlock{}
}

// source returns the open file i, opening (mapping) it. r.mu is held.
func (r *Reader) source(i int) (*source, error) {
	if s, ok := r.open[i]; ok {
		return s, nil
	}
	if len(r.order) >= maxOpenFiles {
		old := r.order[0]
		r.order = r.order[1:]
		s := r.open[old]
		delete(r.open, old)
		if s.gone = true; s.refs == 0 {
			s.close()
		}
	}
	path := r.bf.files[i].path
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("btc: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("btc: %w", err)
	}
	s := &source{}
	if !r.noMap {
		if data, err := mapFile(f, fi.Size()); err == nil && data != nil {
			s.data = data
			f.Close() // the mapping stays valid
		}
	}
	if s.data == nil {
		s.f = f
		s.w = &window{f: f, size: fi.Size(), buf: make([]byte, 1<<20)}
	}
	r.open[i] = s
	r.order = append(r.order, i)
	return s, nil
}

// Read lends the serialized block p (see the lending protocol above).
func (r *Reader) Read(p Planned) (RawBlock, error) {
	if p.rec < 0 {
		var buf bytes.Buffer
		if err := r.bf.Params.GenesisBlock.Serialize(&buf); err != nil {
			return RawBlock{}, err
		}
		return RawBlock{Bytes: buf.Bytes(), genesis: "genesis block of " + r.bf.Params.Name}, nil
	}
	rec := &r.bf.records[p.rec]
	bf := &r.bf.files[rec.file]
	fail := func(err error) (RawBlock, error) {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return RawBlock{}, &FileError{bf.path, rec.offset, "read block: " + err.Error()}
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return RawBlock{}, errors.New("btc: block reader closed")
	}
	s, err := r.source(rec.file)
	if err != nil {
		r.mu.Unlock()
		return RawBlock{}, err
	}
	b := RawBlock{File: bf.path, Offset: rec.offset - 8}
	n := int64(rec.size)
	if s.data != nil {
		if rec.offset+n > int64(len(s.data)) {
			r.mu.Unlock()
			return fail(io.ErrUnexpectedEOF)
		}
		s.refs++ // the mapping stays while the block is lent
		b.src = s
		var pop, drop []byte // madvised once the lock is released
		if end := rec.offset + n; populateAhead > 0 && end > s.ahead {
			from := max(s.ahead, rec.offset) &^ (pageSize - 1)
			s.ahead = min(int64(len(s.data)), end+populateAhead)
			pop = s.data[from:s.ahead]
		}
		if behind := (rec.offset - dropBehind) &^ (pageSize - 1); dropBehind > 0 && behind > s.dropped+dropStep {
			drop = s.data[s.dropped:behind]
			s.dropped = behind
		}
		m := s.data[rec.offset : rec.offset+n : rec.offset+n]
		if bf.xor != ([8]byte{}) {
			b.buf, _ = r.bufs.get(int(n))
		}
		r.mu.Unlock()
		populate(pop)
		release(drop)
		if b.buf == nil {
			b.Bytes = m
			return b, nil
		}
		err := CopyGuard(b.buf, m)
		// The copy is de-obfuscated in the buffer: the mapping is free.
		src := b.src
		b.src = nil
		r.Release(&RawBlock{src: src})
		if err != nil {
			r.Release(&b)
			return fail(err)
		}
		xorAt(b.buf, &bf.xor, rec.offset)
		b.Bytes = b.buf
		return b, nil
	}
	defer r.mu.Unlock()
	b.buf, _ = r.bufs.get(int(n))
	if n <= int64(len(s.w.buf)) {
		var src []byte
		if src, err = s.w.at(rec.offset, n); err == nil {
			copy(b.buf, src)
		}
	} else {
		_, err = s.f.ReadAt(b.buf, rec.offset)
	}
	if err != nil {
		r.bufs.put(b.buf)
		return fail(err)
	}
	xorAt(b.buf, &bf.xor, rec.offset)
	b.Bytes = b.buf
	return b, nil
}

// ErrFileShrank is what a read of a mapping past the end of a file that shrank
// under it becomes.
var ErrFileShrank = errors.New("the file shrank while it was mapped (memory fault): it was truncated or replaced")

// Faulted reports whether e, a recovered panic value, is a memory fault of
// a goroutine with debug.SetPanicOnFault on (a mapped file that shrank),
// and if so returns an error saying so.
func Faulted(e any) (error, bool) {
	if f, ok := e.(interface{ Addr() uintptr }); ok {
		return fmt.Errorf("%w (at %#x)", ErrFileShrank, f.Addr()), true
	}
	return nil, false
}

// CopyGuard copies src, which may be a slice of a file mapping, into dst;
// a memory fault (the file shrank) is an error, not a crash.
func CopyGuard(dst, src []byte) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if e := recover(); e != nil {
			var ok bool
			if err, ok = Faulted(e); !ok {
				panic(e)
			}
		}
	}()
	copy(dst, src)
	return nil
}
