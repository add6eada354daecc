package etl

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"sync"
)

// Parallel decoding of one big file. A producer cuts the input into chunks
// of whole records, workers parse chunks into pointer-free rows (batch), and
// the decoder merges the parsed chunks one by one in file order. Everything
// that depends on other rows (joins, conflicts) happens in the merge, and a
// chunk's parse stops at its first bad row, so the result and the first
// error are exactly those of a sequential read.

// defaultChunk is the size of a chunk: large enough that per-chunk costs
// vanish, small enough that a few in flight stay cheap.
const defaultChunk = 4 << 20

// chunker cuts a reader into chunks of whole records.
type chunker struct {
	r     io.Reader
	size  int
	carry []byte      // bytes read past the last cut: the start of the next chunk
	free  chan []byte // buffers whose chunk has been parsed
	// started is set once the first buffer is made.
	started bool
}

// safeCut returns the offset just after the last '\n' of b that ends a
// record, that is where the quotes since b's start (a record boundary) are
// balanced, or 0 when there is none. Only a quoted field can hold a newline
// or a quote, and every quote of a valid file opens, closes or escapes
// (doubled) inside one, so a newline after an even number of quotes is
// outside every field. A file that breaks this has an error at or before
// the offending quote, which the chunk holding it reports first.
func safeCut(b []byte) int {
	if bytes.IndexByte(b, '"') < 0 {
		return bytes.LastIndexByte(b, '\n') + 1
	}
	in, cut := false, 0
	for i, ch := range b {
		switch ch {
		case '"':
			in = !in
		case '\n':
			if !in {
				cut = i + 1
			}
		}
	}
	return cut
}

// next returns the next chunk: whole records, or at the end of the input
// whatever is left (last). A read error other than io.EOF is returned with
// the data read before it, as the last chunk.
func (c *chunker) next() (data []byte, last bool, err error) {
	var buf []byte
	select {
	case buf = <-c.free:
	default:
		// The first buffer starts small and grows: a small file never
		// costs a whole chunk.
		n := c.size
		if !c.started {
			n = min(n, 64<<10)
		}
		buf = make([]byte, 0, max(n, 2*len(c.carry)))
	}
	c.started = true
	buf = append(buf[:0], c.carry...)
	c.carry = c.carry[:0]
	for empty := 0; ; {
		if len(buf) == cap(buf) {
			nb := make([]byte, len(buf), 2*cap(buf))
			copy(nb, buf)
			buf = nb
		}
		n, rerr := c.r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if empty = empty + 1; n > 0 {
			empty = 0
		} else if rerr == nil && empty == 100 {
			rerr = io.ErrNoProgress
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				return buf, true, nil
			}
			return buf, true, rerr
		}
		if len(buf) < cap(buf) || len(buf) < c.size {
			continue
		}
		if cut := safeCut(buf); cut > 0 {
			c.carry = append(c.carry, buf[cut:]...)
			return buf[:cut], false, nil
		}
		// One record longer than any chunk: the parser reports it as too
		// long (a record holds at least half its bytes as content), so
		// nothing after it is needed.
		if len(buf) > 2*maxRecord+c.size {
			return buf, true, nil
		}
	}
}

// errReader replays a read error after the data before it.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// chunkJob is one chunk on its way through the pipeline.
type chunkJob struct {
	data []byte
	rerr error // read error after data (then data is the last chunk)
	b    batch
	done chan struct{}
}

// chunkKind is how a chunked file kind is parsed (by workers, any order)
// and merged (by the decoder, in file order, with the line number of the
// chunk's first line minus one).
type chunkKind struct {
	parse func(b *batch, cr *csvReader)
	merge func(b *batch, base int) error
}

// readChunked reads a file whose header cr has read from first, the first
// chunk (last: the whole input; rerr: a read error after it), then the
// rest from ch, parsing chunks on all cores when there is more than one.
func (d *Decoder) readChunked(ch *chunker, cr *csvReader, first []byte, last bool, k chunkKind) error {
	p := d.startChunked(ch, cr, first, last, k.parse)
	defer p.stop()
	for {
		j, base, ok := p.next()
		if !ok {
			return nil
		}
		if err := k.merge(&j.b, base); err != nil {
			return err
		}
	}
}

// chunkPipe parses the chunks of one file on worker goroutines and gives
// them back in file order (next), each with its line base: the line number
// of the chunk's first line minus one.
type chunkPipe struct {
	one   *chunkJob // the whole input, parsed inline (no goroutines)
	order chan *chunkJob
	quit  chan struct{}
	wg    sync.WaitGroup
	base  int
	prev  *chunkJob
	done  bool
}

// startChunked starts parsing a file whose header cr has read from first,
// the first chunk (last: the whole input), then the rest from ch, on all
// cores when there is more than one chunk.
func (d *Decoder) startChunked(ch *chunker, cr *csvReader, first []byte, last bool, parse func(b *batch, cr *csvReader)) *chunkPipe {
	p := &chunkPipe{base: cr.nextLn - 1}
	if last {
		p.one = &chunkJob{}
		parse(&p.one.b, cr)
		p.base = 0
		return p
	}
	workers := d.workers
	if workers <= 0 {
		workers = min(runtime.GOMAXPROCS(0), 8)
		if d.st != nil && d.st.joint {
			// Two files are parsed at once: the cores are shared.
			workers = max(1, workers/2)
		}
	}
	jobs := make(chan *chunkJob, workers)
	p.order = make(chan *chunkJob, 2*workers)
	p.quit = make(chan struct{})
	p.wg.Add(1 + workers)
	go func() { // producer
		defer p.wg.Done()
		defer close(jobs)
		defer close(p.order)
		data, last, rerr := first[cr.pos:], false, error(nil)
		for {
			j := &chunkJob{data: data, rerr: rerr, done: make(chan struct{})}
			select {
			case p.order <- j:
			case <-p.quit:
				return
			}
			jobs <- j
			if last {
				return
			}
			data, last, rerr = ch.next()
		}
	}()
	for range workers {
		go func() {
			defer p.wg.Done()
			for j := range jobs {
				select {
				case <-p.quit:
					close(j.done)
					continue
				default:
				}
				var r *csvReader
				if j.rerr != nil {
					// Replay the error through the streaming reader, which
					// reports it where the sequential read would.
					r = newCSVReader(io.MultiReader(bytes.NewReader(j.data), errReader{j.rerr}), cr.file)
				} else {
					r = newCSVBytes(j.data, cr.file)
				}
				r.header, r.cols = cr.header, cr.cols
				parse(&j.b, r)
				if cap(j.data) >= ch.size {
					select {
					case ch.free <- j.data[:0]:
					default:
					}
				}
				close(j.done)
			}
		}()
	}
	return p
}

// next returns the next parsed chunk and its line base, or false at the
// end of the file. A chunk is the caller's until the next call.
func (p *chunkPipe) next() (*chunkJob, int, bool) {
	if p.prev != nil {
		p.base += p.prev.b.lines
		p.prev = nil
	}
	if p.done {
		return nil, 0, false
	}
	if p.one != nil {
		p.done, p.prev = true, p.one
		return p.one, 0, true
	}
	j, ok := <-p.order
	if !ok {
		p.done = true
		return nil, 0, false
	}
	<-j.done
	p.prev = j
	return j, p.base, true
}

// stop ends the pipe's goroutines (all chunks read or not) and waits for
// them.
func (p *chunkPipe) stop() {
	if p.order == nil {
		return
	}
	if !p.done {
		close(p.quit)
		for j := range p.order {
			<-j.done
		}
		p.done = true
	}
	p.wg.Wait()
}

// relocate turns an error's chunk-relative line into the file's line.
func relocate(err error, base int) error {
	var e *Error
	if base != 0 && errors.As(err, &e) && e.Line > 0 {
		e.Line += base
	}
	return err
}
