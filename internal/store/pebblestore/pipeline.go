package pebblestore

import "github.com/spoor-dev/spoor/internal/model"

// An Apply runs in two stages on two goroutines. The caller's goroutine
// resolves each transaction: the duplicate check, address ids, the UTXO
// set, assets, the txid entry of the open segment. It hands resolved
// transactions, in chunks, to an indexing goroutine that writes the rest of
// the open segment (times, adjacency, spent outputs) and encodes the tx
// records for the log, with the log's index entries. The two stages touch disjoint parts of the
// open segment (indexTxID and indexAdj), and Apply waits for the indexer
// before it commits, so an Apply is exactly as atomic as when one goroutine
// did both. A small Apply (one chunk or less) never starts the goroutine.

// chunkTxs is the number of transactions handed over at once: large enough
// that a channel operation per chunk costs nothing, small enough that the
// indexer starts early.
const chunkTxs = 256

// chunkParts bounds a chunk's inputs, outputs and transfers: a chunk is
// handed over before a tx that would take one of its arenas past it
// (unless the chunk is empty). Without it a chunk's arenas grew, by
// doubling, to whatever 256 transactions held: on the synthetic chain
// 15,000 inputs, ≈ 19 MB of fresh memory touched by growth in the first
// Apply.
const chunkParts = 1024

// txJob is one resolved transaction: its number, block time and record.
type txJob struct {
	n   uint64
	t   int64
	rec txRec
}

// txChunk is a group of resolved transactions; their records' inputs,
// outputs and transfers are slices of the chunk's arenas. A chunk is reused
// once indexed: a record's slices may point into an arena's older backing
// array after a growth, which is left as it was and stays valid.
type txChunk struct {
	jobs  []txJob
	ins   []inRec
	outs  []outRec
	xfers []xferRec
}

func (ch *txChunk) reset() {
	ch.jobs, ch.ins, ch.outs, ch.xfers = ch.jobs[:0], ch.ins[:0], ch.outs[:0], ch.xfers[:0]
}

func newChunk() *txChunk { return &txChunk{jobs: make([]txJob, 0, chunkTxs)} }

// fits reports whether tx's parts fit in ch within chunkParts.
func (ch *txChunk) fits(tx *model.Tx) bool {
	return len(ch.ins)+len(tx.Inputs) <= chunkParts && len(ch.outs)+len(tx.Outputs) <= chunkParts &&
		len(ch.xfers)+len(tx.Transfers) <= chunkParts
}

// indexer is an Apply's second stage.
type indexer struct {
	d     *segData
	log   *txLog
	parts []part
	// The batch's tx log records, to be written at the log's end logBase,
	// and the index entries of its txs 1+k·txIdxStride.
	logBuf  []byte
	logBase uint64
	logIdx  []idxEnt
	// group: the reference of the current index group (its first
	// record's height and address base: the compact records are relative
	// to it); groupOK once known.
	group   groupRef
	groupOK bool
	err     error // the first failure; later chunks are not indexed
	// Set once the goroutine runs: work carries chunks to it, free brings
	// them back, done closes when it has indexed everything sent.
	work    chan *txChunk
	free    chan *txChunk
	done    chan struct{}
	started bool
	// spare: indexed chunks kept from earlier Applies (chainState.chunks),
	// lent before new ones are made; stop gives every chunk back to it.
	spare []*txChunk
}

// maxSpareChunks bounds the chunks kept between Applies: more than one
// Apply has in circulation (work, free, the one filling and the one
// indexing).
const maxSpareChunks = 16

func newIndexer(d *segData, log *txLog, logEnd uint64, spare []*txChunk) *indexer {
	return &indexer{d: d, log: log, logBuf: log.buf[:0], logBase: logEnd, spare: spare}
}

// index writes the open-segment entries and the log records of ch's jobs.
func (x *indexer) index(ch *txChunk) {
	for i := range ch.jobs {
		if x.err != nil {
			return
		}
		j := &ch.jobs[i]
		x.parts = indexAdj(x.d, j.n, &j.rec, j.t, x.parts)
		if groupFirst(j.n) {
			x.err = x.indexLog()
			x.group, x.groupOK = refOf(&j.rec), true
		} else if !x.groupOK {
			// The Apply starts inside a group whose first record is
			// committed: one read of it.
			x.group, x.err = x.log.groupRef(j.n)
			x.groupOK = x.err == nil
			if x.err != nil {
				return
			}
		}
		x.logBuf = appendLogRec(x.logBuf, &j.rec, j.n, x.group)
	}
}

// indexLog adds the log index entry of the tx about to be encoded (a
// multiple of txIdxStride after tx 1), with the checksum of the group of
// records before it.
func (x *indexer) indexLog() error {
	off := x.logBase + uint64(len(x.logBuf))
	e := idxEnt{off: off}
	prev, ok := idxEnt{}, false
	if n := len(x.logIdx); n > 0 {
		prev, ok = x.logIdx[n-1], true
	} else {
		prev, ok = x.log.lastIdx()
	}
	if ok {
		crc, err := x.log.groupCRC(prev.off, off, x.logBase, x.logBuf)
		if err != nil {
			return err
		}
		e.crc = crc
	}
	x.logIdx = append(x.logIdx, e)
	return nil
}

// chunk returns an empty chunk, reusing an indexed one when there is one:
// one this Apply's indexer is done with, or one kept from an earlier
// Apply, so that an Apply's records are written into memory already
// touched.
func (x *indexer) chunk() *txChunk {
	if x.started {
		select {
		case ch := <-x.free:
			ch.reset()
			return ch
		default:
		}
	}
	if n := len(x.spare); n > 0 {
		ch := x.spare[n-1]
		x.spare[n-1] = nil
		x.spare = x.spare[:n-1]
		ch.reset()
		return ch
	}
	return newChunk()
}

// keep adds an indexed chunk to the spares, up to maxSpareChunks.
func (x *indexer) keep(ch *txChunk) {
	if ch != nil && len(x.spare) < maxSpareChunks {
		x.spare = append(x.spare, ch)
	}
}

// send hands a full chunk to the goroutine, starting it on the first.
func (x *indexer) send(ch *txChunk) {
	if !x.started {
		x.started = true
		x.work = make(chan *txChunk, 4)
		x.free = make(chan *txChunk, maxSpareChunks)
		x.done = make(chan struct{})
		go func() {
			defer close(x.done)
			for ch := range x.work {
				x.index(ch)
				select {
				case x.free <- ch:
				default:
				}
			}
		}()
	}
	x.work <- ch
}

// finish indexes the last, partial chunk (on this goroutine when no other
// was started), waits until everything sent is indexed, and returns the
// first failure.
func (x *indexer) finish(last *txChunk) error {
	if last != nil && len(last.jobs) > 0 {
		if x.started {
			x.work <- last
		} else {
			x.index(last)
			x.keep(last)
		}
	} else {
		x.keep(last)
	}
	x.stop()
	return x.err
}

// stop waits for the goroutine to index what it was sent, and ends it. An
// Apply that fails calls it before putting the open segment back. The
// chunks the goroutine gave back become spares: nothing reads them any
// more.
func (x *indexer) stop() {
	if x.started {
		close(x.work)
		<-x.done
		x.started = false
		for len(x.free) > 0 {
			x.keep(<-x.free)
		}
	}
}
