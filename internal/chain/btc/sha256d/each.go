package sha256d

import "encoding/binary"

// Sum256Each sets dst[i] to sha256 of msgs[i]'s three pieces joined, for
// every i (dst must be as long as msgs): the first rounds of a whole block's
// txids. Two messages are hashed at a time, block by block through the
// two-lane block function; a lane whose message ends takes the next one, so
// messages of different lengths keep both lanes busy until the last.
func Sum256Each(dst [][32]byte, msgs [][3][]byte) {
	if !useSHANI {
		for i := range msgs {
			dst[i] = Sum256Parts(msgs[i][0], msgs[i][1], msgs[i][2])
		}
		return
	}
	var a, b lane
	next := 0
	start := func(l *lane) bool {
		if next == len(msgs) {
			return false
		}
		l.start(next, &msgs[next])
		next++
		return true
	}
	if !start(&a) {
		return
	}
	if !start(&b) { // one message
		a.finish(dst)
		return
	}
	for {
		pa, pb := a.next(), b.next()
		block2SHANI(&a.h, &b.h, pa, pb)
		if a.done() {
			dst[a.i] = put(&a.h)
			if !start(&a) {
				b.finish(dst)
				return
			}
		}
		if b.done() {
			dst[b.i] = put(&b.h)
			if !start(&b) {
				a.finish(dst)
				return
			}
		}
	}
}

// lane is one message of Sum256Each being hashed: the pieces left, then
// the last block or two (the data's tail and the padding) in buf.
type lane struct {
	h      [8]uint32
	i      int       // the message's index
	pieces [3][]byte // bytes not yet hashed; pieces[k] is the current one
	k      int
	n      uint64 // the message's length
	padded bool   // the data has ended: buf holds the tail and padding
	rest   int    // tail blocks not yet returned once padded (buf[64:])
	buf    [128]byte
}

func (l *lane) start(i int, m *[3][]byte) {
	l.h, l.i, l.pieces, l.k, l.padded, l.rest = iv, i, *m, 0, false, 0
	l.n = uint64(len(m[0]) + len(m[1]) + len(m[2]))
}

// done reports whether every block of the message has been returned.
func (l *lane) done() bool { return l.padded && l.rest == 0 }

// next returns the message's next block: in place when the current piece
// holds 64 more bytes, else gathered into buf (across pieces, or the data's
// tail with its padding). It must not be called once done.
func (l *lane) next() *[64]byte {
	if l.padded { // the second tail block
		l.rest--
		return (*[64]byte)(l.buf[64:])
	}
	for l.k < 3 && len(l.pieces[l.k]) == 0 {
		l.k++
	}
	if l.k < 3 && len(l.pieces[l.k]) >= 64 {
		p := l.pieces[l.k]
		l.pieces[l.k] = p[64:]
		return (*[64]byte)(p[:64])
	}
	n := 0
	for ; l.k < 3 && n < 64; l.k++ {
		c := copy(l.buf[n:64], l.pieces[l.k])
		l.pieces[l.k] = l.pieces[l.k][c:]
		n += c
		if len(l.pieces[l.k]) > 0 {
			break // buf is full, this piece goes on
		}
	}
	if n == 64 {
		return (*[64]byte)(l.buf[:64])
	}
	// The data ends in this block: 0x80, zeros, the length in bits, in one
	// block or, when fewer than 9 bytes are left in it, two.
	l.buf[n] = 0x80
	clear(l.buf[n+1:])
	end := 64
	if n >= 56 {
		end, l.rest = 128, 1
	}
	binary.BigEndian.PutUint64(l.buf[end-8:end], l.n<<3)
	l.padded = true
	return (*[64]byte)(l.buf[:64])
}

// finish hashes the rest of the message alone and stores its hash.
func (l *lane) finish(dst [][32]byte) {
	for !l.done() {
		blockSHANI(&l.h, l.next()[:])
	}
	dst[l.i] = put(&l.h)
}
