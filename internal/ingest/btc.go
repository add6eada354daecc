package ingest

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/spoor-dev/spoor/internal/chain/btc"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// job is one raw block to decode; its result goes to out (buffered 1).
// A block read from blk files is lent by rd (rb; raw is rb.Bytes, often a
// slice of the file's mapping): the decoder releases it once decoded.
type job struct {
	raw    []byte
	rd     *btc.Reader
	rb     btc.RawBlock
	height uint64
	want   chainhash.Hash
	where  string
	bad    error // sentinel wrapped into decode errors (btc.ErrBadBlockFile, btc.ErrRPC)
	size   int   // raw bytes counted against the pipeline's budget
	out    chan item
}

// inflight bounds the raw bytes of blocks read but not yet handed to the
// applier, so memory does not grow with block size or chain length.
type inflight struct {
	mu   sync.Mutex
	cond *sync.Cond
	used int
	max  int
}

// maxInflight is the raw-block budget of the decode pipeline: blocks read
// but not yet handed to the applier, which holds a batch besides (20,000
// txs: ≈ 13 MB of the synthetic chain's blocks, 10–12 MB of recent
// mainnet's). A decoded block takes about its raw size (0.9× on the
// synthetic chain). 16 MiB decodes a batch ahead while Apply runs: the
// applier waited as long for blocks as with 32 MiB (≈ 50–120 ms of an
// ingest of the 10⁶-transfer chain, mostly the first batch), twice as
// long with 8 MiB, and the decoded blocks held ≈ 14 MB less (BENCHMARKS.md,
// seventh session). btc.Reader's dropBehind follows it.
const maxInflight = 16 << 20

// jobsQueued is how many raw blocks wait for a decoder. A block is charged
// its decoded size only once decoded, so the blocks admitted but not yet
// decoded can take the budget past its bound by this many blocks; 2 cost
// ≈ 5 % of the CPU of an ingest of mainnet's one-tx blocks (more hand-overs
// between the reader and the decoders), 8 does not.
const jobsQueued = 8

// inflightBudget is the budget of new pipelines (tests lower it).
var inflightBudget = maxInflight

func newInflight(max int) *inflight {
	f := &inflight{max: max}
	f.cond = sync.NewCond(&f.mu)
	return f
}

// acquire waits until n bytes fit (a block larger than the budget passes
// alone).
func (f *inflight) acquire(n int) {
	f.mu.Lock()
	for f.used > 0 && f.used+n > f.max {
		f.cond.Wait()
	}
	f.used += n
	f.mu.Unlock()
}

// charge adds n (possibly negative) to what is used, without waiting: a
// decoder charges a block's decoded size against the budget in place of
// its raw size.
func (f *inflight) charge(n int) {
	f.mu.Lock()
	f.used += n
	f.mu.Unlock()
	if n < 0 {
		f.cond.Broadcast()
	}
}

func (f *inflight) release(n int) {
	f.mu.Lock()
	f.used -= n
	f.mu.Unlock()
	f.cond.Broadcast()
}

// pipeline carries raw blocks to the decoders: the producer calls send for
// each block in chain order and close at the end.
// Decoded blocks are built in memory lent by rc (nil: fresh memory), which
// the applier gives back once it applied them (see btc.Recycler).
type pipeline struct {
	jobs    chan *job
	ordered chan *job
	budget  *inflight
	rc      *btc.Recycler
}

func newPipeline() *pipeline {
	p := &pipeline{jobs: make(chan *job, jobsQueued), ordered: make(chan *job, 4096), budget: newInflight(inflightBudget)}
	if !noRecycle {
		p.rc = btc.NewRecycler(checkRecycle)
		if recycledBTC != nil {
			recycledBTC(p.rc)
		}
	}
	return p
}

// recycledBTC, when set, sees the recycler of each Bitcoin ingest (tests).
var recycledBTC func(*btc.Recycler)

// lender returns the applier's blocks to rc, when there is one.
func (p *pipeline) lender() lender {
	if p.rc == nil {
		return nil
	}
	return p.rc
}

func (p *pipeline) send(j *job) {
	j.size = len(j.raw)
	p.budget.acquire(j.size)
	p.ordered <- j
	p.jobs <- j
}

func (p *pipeline) close() {
	close(p.jobs)
	close(p.ordered)
}

// decodeBlocks runs decoders on all cores and returns the items in job order.
func decodeBlocks(p *pipeline) <-chan item {
	workers := runtime.GOMAXPROCS(0)
	for w := 0; w < workers; w++ {
		go func() {
			for j := range p.jobs {
				it := decodeOne(j, p.rc)
				if it.blk != nil {
					// The budget holds the decoded block from now on
					// (read by the orderer after it receives the item).
					d := decodedSize(it.blk)
					p.budget.charge(d - j.size)
					j.size, it.size = d, d
				}
				j.out <- it
			}
		}()
	}
	out := make(chan item, 2)
	go func() {
		defer close(out)
		for j := range p.ordered {
			it := <-j.out
			out <- it
			p.budget.release(j.size)
			if it.err != nil {
				for j := range p.ordered { // let the producer finish
					<-j.out
					p.budget.release(j.size)
				}
				return
			}
		}
	}()
	return out
}

func decodeOne(j *job, rc *btc.Recycler) item {
	if j.raw == nil {
		return item{err: errors.New(j.where)}
	}
	bad := j.bad
	if bad == nil {
		bad = btc.ErrBadBlockFile
	}
	// DecodeBlock: btcd's wire stays the reference decoder; DecodeBlock is
	// differential-tested and fuzzed against it (internal/chain/btc).
	blk, hdr, err := decodeGuarded(j, rc)
	if j.rd != nil {
		// The decoded block holds no reference into the raw bytes
		// (DecodeBlock copies addresses into its arena).
		j.rd.Release(&j.rb)
	}
	j.raw = nil
	var de *btc.DecodeError
	if errors.As(err, &de) || errors.Is(err, btc.ErrFileShrank) {
		return item{err: fmt.Errorf("%w: %s: block %d %s: %v", bad, j.where, j.height, j.want, err)}
	}
	if hdr.Hash != j.want {
		return item{err: fmt.Errorf("%s: block %d: content hashes to %s, expected %s", j.where, j.height, hdr.Hash, j.want)}
	}
	if err != nil { // the transactions do not hash to the header's merkle root
		return item{err: fmt.Errorf("%w: %s: block %d %s: %v", bad, j.where, j.height, j.want, err)}
	}
	// where is described only when a batch fails (a Sprintf per block
	// cost about 8 % of the CPU of a chain of one-tx blocks).
	want := j.want // not &j.want: that would keep the raw block alive
	return item{blk: blk, src: j.where, hash: &want}
}

// decodedSize is about the memory a decoded Bitcoin block takes: its
// Txs, Inputs and Outputs arrays and ≈ 24 address bytes an output. It is
// about the raw size for most blocks (0.9× on the synthetic chain), but
// an output of a tiny script takes 11 raw bytes and ≈ 80 decoded: the
// synthetic chains' funding blocks, a tx of 2,500 such outputs each,
// decode to 7× their raw size, and counted by their raw size a pipeline
// and a batch of them held 62 MB of decoded blocks (BENCHMARKS.md,
// seventh session).
func decodedSize(b *model.Block) int {
	var ins, outs int
	for i := range b.Txs {
		ins += len(b.Txs[i].Inputs)
		outs += len(b.Txs[i].Outputs)
	}
	return len(b.Txs)*int(unsafe.Sizeof(model.Tx{})) + ins*int(unsafe.Sizeof(model.Input{})) + outs*(int(unsafe.Sizeof(model.Output{}))+24)
}

// decodeGuarded decodes j.raw; a raw block lent from a file mapping faults
// when the file shrank under it, and that becomes a decode error.
func decodeGuarded(j *job, rc *btc.Recycler) (blk *model.Block, hdr btc.Header, err error) {
	if j.rd == nil {
		return rc.DecodeBlock(j.raw, j.height)
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if e := recover(); e != nil {
			ferr, ok := btc.Faulted(e)
			if !ok {
				panic(e)
			}
			blk, err = nil, ferr
		}
	}()
	return rc.DecodeBlock(j.raw, j.height)
}

// prepareNetwork records the network on first ingest and refuses a mix.
func prepareNetwork(st store.Store, p *chaincfg.Params) error {
	return st.SetNetwork(model.BTC, p.Name)
}

// BTCFiles ingests a Bitcoin Core blocks folder or one blk file.
func BTCFiles(st store.Store, path string, opts Options) (*Result, error) {
	bf, err := btc.OpenBlockFiles(path)
	if err != nil {
		return nil, err
	}
	if err := prepareNetwork(st, bf.Params); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	mark, err := st.Mark(model.BTC)
	if err != nil {
		return nil, err
	}
	var root *chainhash.Hash
	if mark.HasBlocks {
		h := btc.WireHash(mark.Hash)
		root = &h
	}
	plan, err := bf.BestChain(root, mark.Height)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// Skip what is stored; roll back where the files' chain differs.
	res := &Result{Chain: model.BTC}
	start := 0
	for start < len(plan) && mark.HasBlocks && plan[start].Height <= mark.Height {
		stored, err := st.BlockHash(model.BTC, plan[start].Height)
		if err != nil {
			return nil, err
		}
		if btc.WireHash(stored) != plan[start].Hash {
			break
		}
		start++
	}
	res.Skipped = uint64(start)
	if mark.HasBlocks && (len(plan) == 0 || plan[0].Height == mark.Height+1) {
		// The plan continues from the stored tip: everything up to it is
		// already stored.
		res.Skipped = mark.Height + 1
	}
	if start < len(plan) && mark.HasBlocks && plan[start].Height <= mark.Height {
		fork := plan[start].Height - 1
		if plan[start].Height == 0 {
			return nil, fmt.Errorf("%s: genesis block differs from the stored chain", path)
		}
		if err := st.RollbackTo(model.BTC, fork); err != nil {
			return nil, err
		}
		res.RolledBack = mark.Height - fork
		if mark, err = st.Mark(model.BTC); err != nil {
			return nil, err
		}
	}
	plan = plan[start:]
	target := uint64(0)
	if len(plan) > 0 {
		target = plan[len(plan)-1].Height
	}
	rd := bf.NewReader()
	defer rd.Close()
	pl := newPipeline()
	go func() {
		defer pl.close()
		for _, p := range plan {
			rb, err := rd.Read(p)
			j := &job{raw: rb.Bytes, rd: rd, rb: rb, height: p.Height, want: p.Hash, out: make(chan item, 1)}
			if err != nil {
				j.raw, j.rd, j.where = nil, nil, err.Error()
			} else {
				j.where = rb.Where()
			}
			pl.send(j)
			if err != nil {
				return
			}
		}
	}()
	// The decoders start on the first blocks while the store sizes its
	// tables (≈ 20 ms of page faults on the 10⁶-transfer chain, which
	// left the other core idle).
	src := decodeBlocks(pl)
	if r, ok := st.(store.Reserver); ok {
		// Blocks hold about one transfer per 110–130 bytes and one new
		// address per 340–460 (the synthetic chains, mainnet's totals).
		n := bf.Bytes(plan)
		if err := r.Reserve(model.BTC, n/320, n/128); err != nil {
			for range src { // drain so the reader and decoders stop
			}
			return nil, err
		}
	}
	a := newApplier(st, model.BTC, store.Linked, &opts, target)
	a.rc = pl.lender()
	r, err := a.run(src, mark)
	if err != nil {
		return nil, err
	}
	r.Skipped, r.RolledBack = res.Skipped, res.RolledBack
	r.OffChain = bf.OffChain
	if r.Applied == 0 {
		r.Height = mark.Height
	}
	return r, nil
}

// RPCRange limits an RPC ingest; zero values mean "from the stored tip" and
// "to the node's tip".
type RPCRange struct {
	From, To      uint64
	HasFrom       bool
	HasTo         bool
	Confirmations uint64 // stay this many blocks behind the node's tip
}

// BTCRPC ingests from a Bitcoin Core or btcd node over JSON-RPC.
func BTCRPC(st store.Store, c *btc.RPC, rng RPCRange, opts Options) (*Result, error) {
	params, err := c.Params()
	if err != nil {
		return nil, err
	}
	if err := prepareNetwork(st, params); err != nil {
		return nil, fmt.Errorf("%s: %w", c.URL, err)
	}
	tip, err := c.BlockCount()
	if err != nil {
		return nil, err
	}
	if tip < rng.Confirmations {
		tip = 0
	} else {
		tip -= rng.Confirmations
	}
	mark, err := st.Mark(model.BTC)
	if err != nil {
		return nil, err
	}
	res := &Result{Chain: model.BTC}
	// Reorg: walk back until the node agrees with the store.
	if mark.HasBlocks {
		h := mark.Height
		if h > tip {
			h = tip
		}
		for {
			stored, err := st.BlockHash(model.BTC, h)
			if err != nil {
				return nil, err
			}
			nodeHash, err := c.BlockHash(h)
			if err != nil {
				return nil, err
			}
			if btc.WireHash(stored) == nodeHash {
				break
			}
			if h == 0 {
				return nil, fmt.Errorf("%s: the node's genesis block differs from the stored chain", c.URL)
			}
			h--
		}
		if h < mark.Height {
			if err := st.RollbackTo(model.BTC, h); err != nil {
				return nil, err
			}
			res.RolledBack = mark.Height - h
			if mark, err = st.Mark(model.BTC); err != nil {
				return nil, err
			}
		}
	}
	from := uint64(0)
	if mark.HasBlocks {
		from = mark.Height + 1
	}
	if rng.HasFrom {
		if rng.From > from {
			return nil, fmt.Errorf("--from %d: Bitcoin ingest links every input to the output it spends, so it must continue from height %d (the stored tip + 1)", rng.From, from)
		}
		if rng.From < from {
			res.Skipped = from - rng.From
		}
	}
	to := tip
	if rng.HasTo && rng.To < to {
		to = rng.To
	}
	pl := newPipeline()
	go func() {
		defer pl.close()
		if from <= to {
			fetchBlocks(c, from, to, pl)
		}
	}()
	a := newApplier(st, model.BTC, store.Linked, &opts, to)
	a.rc = pl.lender()
	r, err := a.run(decodeBlocks(pl), mark)
	if err != nil {
		return nil, err
	}
	r.Skipped, r.RolledBack = res.Skipped, res.RolledBack
	if r.Applied == 0 {
		r.Height = mark.Height
	}
	return r, nil
}

// The node is asked for blocks in batches (a JSON array of calls, which
// Bitcoin Core and btcd both serve): the hashes of hashBatch heights in one
// request, then their blocks, as many a request as come to about
// blockBatchBytes of raw block if all were as large as the largest of the
// previous batch, at most maxBlockBatch. One request a block cost a round trip
// each, two for a block (hash, then block), which bounded an ingest of
// small blocks by the node's latency.
//
// Blocks of a megabyte gain nothing from batches (btcd took 1.2–1.6× as long
// to answer 4 of them in one batch as one by one), so such blocks are asked
// one at a time; a batch whose answer passes the client's bound (blocks
// that grew at once) is asked again one block at a time, without giving up
// batches.
const (
	hashBatch       = 256
	blockBatchBytes = 1 << 20
	maxBlockBatch   = 64
)

// fetchesInFlight is how many requests for blocks the fetcher keeps
// open: while the node prepares one answer, the client reads and decodes
// the other's hex, and a node with several RPC threads (Bitcoin Core's
// default is 4; btcd serves each request on its own goroutine) answers both.
const fetchesInFlight = 2

// fetch is one request for blocks: m blocks from height h0, with their
// hashes when known (nil: the one block's hash is asked first).
type fetch struct {
	h0     uint64
	hashes []chainhash.Hash
	m      int
	raws   [][]byte
	err    error
	done   chan struct{}
}

// fetchBlocks asks the node for the blocks at heights from … to and sends
// them down the pipeline in order, fetchesInFlight requests at a time. A
// batch that fails is asked again one call at a time, so that an error
// names the height (and hash) that failed as before; a node whose batch
// fails where the single calls then succeed is asked one call at a time
// from then on (it does not batch).
func fetchBlocks(c *btc.RPC, from, to uint64, pl *pipeline) {
	where := fmt.Sprintf("node %s", c.URL)
	var batching atomic.Bool
	batching.Store(true)
	var next atomic.Int64 // blocks in the next getblock batch
	next.Store(1)         // one, until a block's size is known
	sized := func(largest int) {
		next.Store(int64(max(1, min(maxBlockBatch, blockBatchBytes/max(1, largest)))))
	}
	run := func(f *fetch) {
		defer close(f.done)
		if f.m == 1 {
			var hash chainhash.Hash
			if f.hashes != nil {
				hash = f.hashes[0]
			} else if hash, f.err = c.BlockHash(f.h0); f.err != nil {
				return
			}
			f.hashes = []chainhash.Hash{hash}
			var raw []byte
			raw, f.err = c.RawBlock(hash)
			f.raws = [][]byte{raw}
			return
		}
		f.raws, f.err = c.RawBlocks(f.hashes)
	}
	// send hands the block to the pipeline, or the error that ends the
	// ingest; it says whether the fetcher goes on.
	send := func(h uint64, hash chainhash.Hash, raw []byte, err error) bool {
		j := &job{raw: raw, height: h, want: hash, where: where, bad: btc.ErrRPC, out: make(chan item, 1)}
		if err != nil {
			j.raw, j.where = nil, fmt.Sprintf("height %d: %v", h, err)
		}
		pl.send(j)
		return err == nil
	}
	// hashesAt asks for the hashes of heights h … h+n−1 in one batch, or one
	// call at a time when the batch's answer was too large; nil when that
	// failed (each block's fetch then asks for its own hash and names what
	// fails), and a node whose batch failed otherwise is not asked for
	// batches again (it does not batch).
	hashesAt := func(h uint64, n int) []chainhash.Hash {
		hashes, err := c.BlockHashes(h, n)
		if errors.Is(err, btc.ErrTooLarge) {
			hashes, err = make([]chainhash.Hash, n), nil
			for i := 0; i < n && err == nil; i++ {
				hashes[i], err = c.BlockHash(h + uint64(i))
			}
		} else if err != nil {
			batching.Store(false)
		}
		if err != nil {
			return nil
		}
		return hashes
	}
	// The planner asks for hashes and opens requests (slots bounds them);
	// this goroutine hands their answers over in order.
	queue := make(chan *fetch, fetchesInFlight)
	slots := make(chan struct{}, fetchesInFlight)
	stop := make(chan struct{})
	defer func() {
		close(stop)
		for f := range queue { // let the planner finish
			<-f.done
			<-slots
		}
	}()
	go func() {
		defer close(queue)
		open := func(f *fetch) bool {
			select {
			case <-stop:
				return false
			default:
			}
			select {
			case slots <- struct{}{}:
			case <-stop:
				return false
			}
			f.done = make(chan struct{})
			go run(f)
			queue <- f // room: a slot was free
			return true
		}
		for h := from; h <= to; {
			n := int(min(to-h+1, hashBatch))
			var hashes []chainhash.Hash
			if batching.Load() {
				hashes = hashesAt(h, n)
			}
			for i := 0; i < n; {
				m := min(int(next.Load()), n-i)
				if hashes == nil || !batching.Load() {
					m = 1
				}
				f := &fetch{h0: h + uint64(i), m: m}
				if hashes != nil {
					f.hashes = hashes[i : i+m]
				}
				if !open(f) {
					return
				}
				i += m
			}
			h += uint64(n)
		}
	}()
	for f := range queue {
		<-f.done
		<-slots
		if f.err == nil {
			largest := 0
			for k, raw := range f.raws {
				largest = max(largest, len(raw))
				send(f.h0+uint64(k), f.hashes[k], raw, nil)
			}
			sized(largest)
			continue
		}
		if f.m == 1 {
			var hash chainhash.Hash
			if f.hashes != nil {
				hash = f.hashes[0]
			}
			send(f.h0, hash, nil, f.err)
			return
		}
		// A batch failed: ask again one call at a time.
		for k := range f.m {
			raw, err := c.RawBlock(f.hashes[k])
			if !send(f.h0+uint64(k), f.hashes[k], raw, err) {
				return
			}
			sized(len(raw))
		}
		if errors.Is(f.err, btc.ErrTooLarge) {
			next.Store(1)
		} else {
			batching.Store(false)
		}
	}
}
