package pebblestore

// The reference the column codec's straight code is tested against: a
// walker that moves a block's fields between its bytes and its streams in
// one routine for both ways, so that a split and its join cannot disagree
// on the fields (TestColSplitMatchesWalker, FuzzColBlock).

// colWalk moves a block's fields between its bytes and its streams: split
// (join false) reads src and appends each field to its stream; join reads
// each field from its stream and appends it to out.
type colWalk struct {
	join bool
	src  []byte                // split: the block's bytes, consumed
	st   [colMaxStreams][]byte // split: appended; join: consumed
	out  []byte                // join: the block's bytes
	bad  bool
}

func (w *colWalk) next(s int) byte {
	var b []byte
	if w.join {
		b = w.st[s]
	} else {
		b = w.src
	}
	if len(b) == 0 {
		w.bad = true
		return 0
	}
	c := b[0]
	if w.join {
		w.st[s] = b[1:]
		w.out = append(w.out, c)
	} else {
		w.src = b[1:]
		w.st[s] = append(w.st[s], c)
	}
	return c
}

// uv moves a uvarint, its first byte through stream s and the others
// through more, and returns its value.
func (w *colWalk) uv(s, more int) uint64 {
	c := w.next(s)
	v := uint64(c & 0x7f)
	for shift := uint(7); c >= 0x80 && !w.bad; shift += 7 {
		if shift > 63 {
			w.bad = true
			return 0
		}
		c = w.next(more)
		v |= uint64(c&0x7f) << shift
	}
	return v
}

// amount moves an amount: its length byte, its leading byte, the rest.
func (w *colWalk) amount() {
	n := w.next(gsAmtLen)
	if n > 32 {
		w.bad = true
		return
	}
	if n > 0 {
		w.next(gsAmtLead)
	}
	for i := 1; i < int(n) && !w.bad; i++ {
		w.next(gsAmtMore)
	}
}

// done reports whether the walk is at the end of its input.
func (w *colWalk) done() bool {
	if !w.join {
		return len(w.src) == 0
	}
	for _, s := range w.st {
		if len(s) > 0 {
			return false
		}
	}
	return true
}

// walked returns the bytes moved so far on the block's side.
func (w *colWalk) pos(srcLen int) int {
	if w.join {
		return len(w.out)
	}
	return srcLen - len(w.src)
}

// walk moves every record of a block of kind k; want bounds what a join
// writes. It returns false where the block is not a run of whole records.
func (w *colWalk) walk(k colKind, want int) bool {
	srcLen := len(w.src)
	for !w.bad && !w.done() {
		if w.join && len(w.out) >= want {
			return false
		}
		switch k {
		case colGroups:
			w.uv(gsID, gsID)
			n := w.uv(gsLen, gsLen)
			at := w.pos(srcLen)
			c := w.uv(gsCount, gsCount)
			for e := c >> 1; e > 0 && !w.bad; e-- {
				w.uv(gsTx, gsTxMore)
				f := w.next(gsFlags)
				if f&efExt != 0 {
					w.uv(gsRare, gsRare)
				}
				if f&efInMask == 3 {
					w.uv(gsRare, gsRare)
				}
				if f>>efOutShift&efInMask == 3 {
					w.uv(gsRare, gsRare)
				}
				if f&efIn != 0 {
					w.amount()
				}
				if outWritten(f) {
					w.amount()
				}
				if w.pos(srcLen)-at > int(min(n, 1<<31)) {
					return false // past the group's length
				}
			}
			if uint64(w.pos(srcLen)-at) != n {
				return false
			}
		case colSpent:
			w.uv(ssPrev, ssPrevMore)
			w.uv(ssVout, ssVout)
			w.uv(ssSpender, ssSpenderMore)
		default:
			return false
		}
	}
	return !w.bad && (!w.join || len(w.out) == want)
}

// colSplit splits a block of kind k into w's streams (with the walker:
// the reference the fast splitters are tested against); false where the
// block is not a run of whole records.
func colSplit(k colKind, raw []byte, w *colWalk) bool {
	*w = colWalk{src: raw, st: w.st}
	for s := range w.st {
		w.st[s] = w.st[s][:0]
	}
	return w.walk(k, 0)
}
