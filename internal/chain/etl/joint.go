package etl

import (
	"errors"
	"io"
	"slices"
	"sort"

	"github.com/spoor-dev/spoor/internal/model"
)

// A joined streaming decode (see stream.go): a unit's transactions and
// token_transfers files are parsed side by side and merged height range by
// height range, so that blocks are handed over from the first chunks of
// both files on.

// streamErr is an error of the Stream's functions: the decode returns it
// as it is, without starting over.
type streamErr struct{ err error }

func (e streamErr) Error() string { return e.err.Error() }

// decodeJoint decodes u with its transactions and token_transfers files
// streamed together, when it has one of each (ok false otherwise: nothing
// was read). On an error of the files it starts over with decodeSeparate
// (after a Reset when it handed blocks over), which reports the error
// DecodeUnit would.
func (d *Decoder) decodeJoint(u Unit, s Stream) (r *Result, ok bool, err error) {
	ti, xi := -1, -1
	for i, f := range u.Files {
		switch f.Kind {
		case KindTransactions:
			if ti >= 0 {
				return nil, false, nil
			}
			ti = i
		case KindTokenTransfers:
			if xi >= 0 {
				return nil, false, nil
			}
			xi = i
		}
	}
	if ti < 0 || xi < 0 {
		return nil, false, nil
	}
	js := Stream{
		Blocks: func(b []*model.Block) error {
			if err := s.Blocks(b); err != nil {
				return streamErr{err}
			}
			return nil
		},
		Reset: func() error {
			if err := s.Reset(); err != nil {
				return streamErr{err}
			}
			return nil
		},
		Recycler: s.Recycler,
	}
	r, err = d.readJoint(u, js, u.Files[ti], u.Files[xi])
	if err == nil {
		return r, true, nil
	}
	var se streamErr
	if errors.As(err, &se) {
		return nil, true, se.err
	}
	// Start over: the files' first error in DecodeUnit's order.
	sent := d.st != nil && d.st.sent
	d.restart()
	if sent {
		if err := s.Reset(); err != nil {
			return nil, true, err
		}
	}
	r, err = d.decodeSeparate(u, s)
	return r, true, err
}

// restart makes d a new decoder with the same settings.
func (d *Decoder) restart() {
	n := NewDecoder(d.chain)
	n.chunk, n.workers, n.streamRows, n.openFile, n.rc = d.chunk, d.workers, d.streamRows, d.openFile, d.rc
	n.restarts = d.restarts + 1
	*d = *n
}

// readJoint reads the unit's other files (blocks first), then its
// transactions file tf and token_transfers file xf together, handing
// blocks over to s while both are in block order.
func (d *Decoder) readJoint(u Unit, s Stream, tf, xf File) (*Result, error) {
	files := append([]File(nil), u.Files...)
	sort.SliceStable(files, func(i, j int) bool { return files[i].Kind < files[j].Kind })
	for _, f := range files {
		if f.Kind == KindTransactions || f.Kind == KindTokenTransfers {
			continue
		}
		if err := d.ReadFile(f); err != nil {
			return nil, err
		}
	}
	every := d.streamRows
	if every <= 0 {
		every = streamRows
	}
	keys := d.blockKeys(0)
	slices.Sort(keys)
	d.st = &streamState{s: s, on: true, keys: keys, every: every, joint: true}

	tc, err := d.openCursor(tf)
	if err != nil {
		return nil, err
	}
	defer tc.close()
	xc, err := d.openCursor(xf)
	if err != nil {
		return nil, err
	}
	defer xc.close()
	tparse, tm, err := d.txReader(tc.cr, tc.fi)
	if err != nil {
		return nil, err
	}
	tm.st = d.st
	xparse, xm, err := d.xferReader(xc.cr, xc.fi)
	if err != nil {
		return nil, err
	}
	tc.start(d, tparse, func(b *batch) int { return len(b.tx) }, func(b *batch, i int) uint64 { return b.tx[i].height },
		tm.begin, tm.rows)
	tc.done = func(b *batch) { putTxRows(d.rc, b) }
	xc.start(d, xparse, func(b *batch) int { return len(b.xf) }, func(b *batch, i int) uint64 { return b.xf[i].height },
		xm.begin, xm.rows)

	st := d.st
	for {
		h := ^uint64(0)
		if st.on {
			if h = xc.target(); h < st.target {
				// The token transfers are not in block order.
				st.on, h = false, ^uint64(0)
			}
			st.target = h
		}
		if err := tc.mergeBelow(h); err != nil {
			return nil, err
		}
		if err := xc.mergeBelow(h); err != nil {
			return nil, err
		}
		if h == ^uint64(0) {
			break
		}
		if err := d.streamJoint(h); err != nil {
			return nil, err
		}
	}
	tc.close()
	xc.close()
	// Both files counted, also without a row (as DecodeUnit counts them).
	d.res.Rows[KindTransactions] += 0
	d.res.Rows[KindTokenTransfers] += 0
	return d.finishStream()
}

// streamJoint hands over the blocks below h: every row merged so far is
// below h, and, while the files are in block order, every row to come is
// at h or above.
func (d *Decoder) streamJoint(h uint64) error {
	st := d.st
	if !st.on || st.rows < st.every || h <= st.wm {
		return nil
	}
	k1 := st.ki + sort.Search(len(st.keys)-st.ki, func(i int) bool { return st.keys[st.ki+i] >= h })
	keys := append([]uint64(nil), st.keys[st.ki:k1]...)
	xb, bi, ri := d.rowsBelow(^uint64(0))
	blocks, err := d.build(st.slot, d.txs.n, xb, keys)
	if err != nil {
		return err
	}
	st.wm, st.slot, st.bi, st.ri, st.ki, st.rows = h, d.txs.n, bi, ri, k1, 0
	if len(blocks) == 0 {
		return nil
	}
	st.sent = true
	return st.s.Blocks(blocks)
}

// cursor walks the parsed chunks of one streamed file, row by row.
type cursor struct {
	rc      io.ReadCloser
	ch      *chunker
	cr      *csvReader
	first   []byte
	last    bool
	fi      int32
	p       *chunkPipe
	jobs    []*chunkJob // parsed, not all merged; the first is being merged
	bases   []int
	i       int // next row of jobs[0]
	eof     bool
	st      *streamState
	lastH   uint64 // height of the last row fetched
	fetched bool   // some row was fetched
	nrows   func(b *batch) int
	hgt     func(b *batch, i int) uint64
	begin   func(b *batch)
	rows    func(b *batch, base, lo, hi int) error
	done    func(b *batch) // a batch is merged; nil: nothing to do
}

// openCursor opens f and reads its header.
func (d *Decoder) openCursor(f File) (*cursor, error) {
	rc, size, err := d.open(f)
	if err != nil {
		return nil, err
	}
	d.sizeHint = size
	ch, cr, first, last, fi, err := d.openBig(f.Kind, rc, f.Path)
	d.sizeHint = 0
	if err != nil {
		rc.Close()
		return nil, err
	}
	return &cursor{rc: rc, ch: ch, cr: cr, first: first, last: last, fi: fi}, nil
}

// start starts parsing the cursor's chunks.
func (c *cursor) start(d *Decoder, parse func(*batch, *csvReader), nrows func(*batch) int, hgt func(*batch, int) uint64,
	begin func(*batch), rows func(b *batch, base, lo, hi int) error) {
	c.nrows, c.hgt, c.begin, c.rows, c.st = nrows, hgt, begin, rows, d.st
	c.p = d.startChunked(c.ch, c.cr, c.first, c.last, parse)
}

// close stops the parsing and closes the file (again: nothing).
func (c *cursor) close() {
	if c.p != nil {
		c.p.stop()
		c.p = nil
	}
	if c.rc != nil {
		c.rc.Close()
		c.rc = nil
	}
}

// fetch queues the next parsed chunk; false at the end of the file.
func (c *cursor) fetch() bool {
	if c.eof {
		return false
	}
	j, base, ok := c.p.next()
	if !ok {
		c.eof = true
		return false
	}
	c.begin(&j.b)
	// Rows out of block order stop the hand-overs as soon as they are
	// parsed, before they are merged (where each row is checked).
	b := &j.b
	for i := range c.nrows(b) {
		h := c.hgt(b, i)
		if h < c.lastH && c.st != nil {
			c.st.on = false
		}
		c.lastH, c.fetched = h, true
	}
	c.jobs = append(c.jobs, j)
	c.bases = append(c.bases, base)
	return true
}

// target returns the height of the last row fetched once it is above the
// next row's (fetching chunks as needed), or ^0 at the end of the file:
// the rows below it can be merged, and at least the next one is. (While
// the file is in block order, the last row fetched has the highest
// height.)
func (c *cursor) target() uint64 {
	for {
		if next, ok := c.peek(); ok && c.fetched && c.lastH > next {
			return c.lastH
		}
		if !c.fetch() {
			return ^uint64(0)
		}
	}
}

// peek returns the height of the next row to merge among the queued
// chunks.
func (c *cursor) peek() (uint64, bool) {
	for k, j := range c.jobs {
		i := 0
		if k == 0 {
			i = c.i
		}
		if i < c.nrows(&j.b) {
			return c.hgt(&j.b, i), true
		}
	}
	return 0, false
}

// mergeBelow merges the rows from the next on until one at h or above (to
// the end of the file for ^0).
func (c *cursor) mergeBelow(h uint64) error {
	for {
		if len(c.jobs) == 0 && !c.fetch() {
			return nil
		}
		b := &c.jobs[0].b
		n := c.nrows(b)
		k := c.i
		for k < n && c.hgt(b, k) < h {
			k++
		}
		if k > c.i {
			if err := c.rows(b, c.bases[0], c.i, k); err != nil {
				return err
			}
		}
		c.i = k
		if k < n {
			return nil
		}
		if b.err != nil {
			return relocate(b.err, c.bases[0])
		}
		if c.done != nil {
			c.done(b)
		}
		c.jobs[0] = nil
		c.jobs, c.bases, c.i = c.jobs[1:], c.bases[1:], 0
	}
}
