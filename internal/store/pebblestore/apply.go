package pebblestore

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime/trace"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// applier holds the state of one Apply call: the tx records for the log,
// the block and address records for their logs, the Pebble batch being
// built (new assets, the chain meta) and the chain's in-memory parts it changes directly (the
// open segment, the UTXO set), with what it takes to put those back if the
// Apply fails.
type applier struct {
	s      *Store
	st     *chainState
	c      byte
	chain  model.Chain
	m      meta
	b      *pebble.Batch
	assets map[string]uint32
	// The last token contract looked up and its asset: decoders share one
	// contract slice between a token's transfers, so most transfers are
	// settled by comparing a pointer and a length.
	lastCt    []byte
	lastAsset model.AssetID
	batchIDs  [][32]byte // txids this batch stored, by txnum − first (Unordered dedupe)
	hs        heightSet  // the chain's stored heights (Unordered), or nil
	newH      []uint64   // heights of the blocks this batch stores
	first     uint64     // the chain's NextTx when the Apply started
	firstA    uint64     // and its NextAddr
	txGets    int        // tx records read to settle a txid hash match (for tests)
	rec       []byte     // a block record being encoded
	// group: the heights and hashes of the block log group read last
	// (an export applied again reads each group once, not once a block).
	group []heightHash
	// The indexing stage (pipeline.go), which encodes the tx log records,
	// and the chunk of resolved txs being filled for it.
	ix  *indexer
	cur *txChunk
	// prefetch's (prefetch.go) hashes of the txs being resolved, and its
	// reads' sum, which keeps them from being optimised away.
	pf   txHashes
	sink uint64
	// as: the address stage (addrstage.go), which hashes the txids and
	// outpoints and resolves the outputs' address ids ahead of tx on a
	// Linked Apply of a UTXO chain; nil otherwise (prefetch hashes, tx
	// resolves the addresses itself).
	as *addrStage

	// The block being applied: its first tx number, and whether its txs'
	// positions derive from the record it gets (txRec.Derive): not when a
	// record at its height is already stored, or the batch holds the
	// height twice (Unordered; batchH counts the batch's blocks by height).
	blkFirst  uint64
	blkDerive bool
	batchH    map[uint64]int
}

// part is one address's share of one transaction in one asset.
type part struct {
	addr    uint64
	asset   uint32
	in, out uint256.Int
	nIn     uint64
	nOut    uint64
}

// Apply implements store.Writer. The tx records, the new addresses' bytes
// and the block records are written at the ends of the chain's tx, address
// and block logs and synced; then the Pebble batch (assets, and the meta
// naming the logs' new ends) commits atomically and synced: the commit
// point. The derived indexes go to the
// open segment and the UTXO set in memory, which a crash rebuilds from those
// records.
func (s *Store) Apply(c model.Chain, mode store.ApplyMode, blocks []*model.Block) error {
	return s.apply(c, mode, blocks, false)
}

// apply is Apply; pipelined, it leaves the batch's log syncs and commit to
// a commit job that runs after it returns (commit.go).
func (s *Store) apply(c model.Chain, mode store.ApplyMode, blocks []*model.Block, pipelined bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pipelined {
		// The previous batch's job may still run: it is waited for
		// before this one's commit, not now.
		if err := s.commitFailed(); err != nil {
			return err
		}
	} else if err := s.awaitCommit(); err != nil {
		return err
	}
	st, err := s.writeState(c)
	if err != nil {
		return err
	}
	st.seg.writing = true // the filters pay off (segfilter.go)
	if c.IsUTXO() {
		if err := s.ensureUTXO(c, st); err != nil {
			return err
		}
	}
	a := &applier{
		s: s, st: st, c: byte(c), chain: c, m: st.meta,
		b:      s.db.NewBatch(),
		assets: map[string]uint32{},
		first:  st.meta.NextTx,
		firstA: st.meta.NextAddr,
	}
	defer func() {
		if a.b != nil { // a pipelined Apply hands it to its commit job
			a.b.Close()
		}
	}()
	// At most one adjacency entry per (address, asset) a tx touches.
	need := 0
	for _, blk := range blocks {
		for i := range blk.Txs {
			tx := &blk.Txs[i]
			need += 1 + len(tx.Inputs) + len(tx.Outputs) + 2*len(tx.Transfers)
		}
	}
	st.seg.reserveAdj(need, s.segMax)
	a.ix = newIndexer(st.seg.open, st.log, st.meta.LogEnd, st.chunks)
	st.chunks = nil
	st.addrLog.begin()
	st.blockLog.begin()
	if mode == store.Unordered {
		if a.hs, err = s.heightsFor(c, st); err != nil {
			return err
		}
		n := 0
		a.batchH = make(map[uint64]int, len(blocks))
		for _, blk := range blocks {
			n += len(blk.Txs)
			a.batchH[blk.Height]++
		}
		a.batchIDs = make([][32]byte, 0, n) // once, not grown by copying
	}
	if st.utxo != nil {
		st.utxo.begin()
	}
	// New addresses go straight into the chain's address cache, which a
	// failed Apply takes them out of (the ids from firstA on).
	st.addrs.begin(a.firstA)
	done := false
	defer func() {
		if !done { // put the in-memory parts back
			a.ix.stop()
		}
		st.chunks = a.ix.spare
		if !done {
			st.seg.truncateOpen(a.first, a.firstA)
			st.addrs.abort()
			if st.utxo != nil {
				st.utxo.abort()
			}
		}
	}()
	// The regions show in an execution trace (SPOOR_TRACE).
	r := trace.StartRegion(context.Background(), "apply: resolve")
	if c.IsUTXO() && mode != store.Unordered && !noAddrStage {
		a.as = a.startAddrStage(blocks, &st.stageBufs)
	}
	for _, blk := range blocks {
		if err = a.block(blk, mode); err != nil {
			break
		}
	}
	if x := a.as; x != nil {
		if err != nil {
			x.stop()
		} else {
			err = x.finish()
		}
		if cap(x.ids) > 1<<20 {
			st.stageBufs = [4][]uint64{} // kept for the next Apply unless huge
		}
		if err == nil && a.m.NextAddr != x.next {
			err = fmt.Errorf("pebblestore: %s batch: the address stage handed out ids up to %d, the resolve step counted %d", c, x.next-1, a.m.NextAddr-1)
		}
		a.sink += x.sink
	}
	r.End()
	if err != nil {
		return err
	}
	r = trace.StartRegion(context.Background(), "apply: wait for the indexer")
	err = a.ix.finish(a.cur)
	r.End()
	if err != nil {
		return err
	}
	a.m.LogEnd = a.ix.logBase + uint64(len(a.ix.logBuf))
	// The records first (each log synced), then the meta naming their ends.
	region := "apply: write and sync the logs"
	if pipelined {
		// The previous batch's commit first: jobs commit in order, and
		// writes that met its fdatasyncs waited for them in the kernel (the
		// file system's journal commit), ≈ 30 % longer in 3 of 3 traces of
		// the 10⁷ chain; by now it is nearly always done.
		r = trace.StartRegion(context.Background(), "apply: wait for the last commit")
		err = s.awaitCommit()
		r.End()
		if err != nil {
			return err
		}
		region = "apply: write the logs"
	}
	r = trace.StartRegion(context.Background(), region)
	sync := !pipelined
	err = st.log.write(a.ix.logBuf, sync)
	if err == nil {
		err = st.addrLog.write(sync)
	}
	if err == nil {
		err = st.blockLog.write(sync)
	}
	r.End()
	if err != nil {
		return err
	}
	var syncs []func() error
	if pipelined {
		if len(a.ix.logBuf) > 0 {
			syncs = append(syncs, st.log.syncData)
		}
		if st.addrLog.pn > 0 {
			syncs = append(syncs, st.addrLog.syncData)
		}
		if st.blockLog.pn > 0 {
			syncs = append(syncs, st.blockLog.syncData)
		}
	}
	var n uint64
	a.m.AddrEnd, n = st.addrLog.pending()
	if n != a.m.NextAddr-1 {
		return fmt.Errorf("pebblestore: %s batch: %d address records for %d addresses", c, n, a.m.NextAddr-1)
	}
	a.m.BlockEnd, n = st.blockLog.pending()
	if n != a.m.Blocks {
		return fmt.Errorf("pebblestore: %s batch: %d block records for %d blocks", c, n, a.m.Blocks)
	}
	a.m.AddrIdx, a.m.BlockIdx = st.addrLog.pdurable, st.blockLog.pdurable
	a.b.Set(key(tMeta, a.c, 0), encodeMeta(&a.m), nil)
	if pipelined {
		s.startCommit(c, a.b, syncs)
		a.b = nil // the job's now
	} else {
		r = trace.StartRegion(context.Background(), "apply: commit")
		err = a.b.Commit(pebble.Sync)
		r.End()
		if err != nil {
			return fmt.Errorf("pebblestore: commit %s batch: %w", c, err)
		}
	}
	done = true
	if st.utxo != nil {
		st.utxo.commit()
	}
	st.log.commit(a.m.LogEnd, a.m.NextTx, a.ix.logIdx)
	st.addrLog.commit()
	st.blockLog.commit()
	if cap(a.ix.logBuf) <= 64<<20 {
		st.log.buf = a.ix.logBuf[:0]
	}
	st.meta = a.m
	if st.heights != nil {
		for _, h := range a.newH {
			st.heights.add(h)
		}
	}
	s.txGets += a.txGets
	st.addrs.commit()
	for k, v := range a.assets {
		st.cacheAsset(k, v)
	}
	// A full open segment is closed in the background (after the previous
	// close, if one is still running); a finished close is settled now, to
	// free its memory.
	if len(st.seg.open.adj) >= s.segMax || st.seg.pending != nil && st.seg.settled() {
		// A segment close starts from durable batches only, and settling
		// one commits to Pebble: after this batch's commit.
		if err := s.awaitCommit(); err != nil {
			return err
		}
		if err := s.settle(c, st); err != nil {
			return err
		}
	}
	if len(st.seg.open.adj) >= s.segMax {
		s.startClose(c, st)
	}
	return nil
}

func blockErr(b *model.Block, format string, args ...any) error {
	return fmt.Errorf("%w: %s block %d (%s): "+format,
		append([]any{store.ErrChain, b.Chain, b.Height, hashHex(b.Hash)}, args...)...)
}

// hashHex shows a hash the way explorers do (byte-reversed for Bitcoin is the
// adapter's job: model hashes are already in display byte order).
func hashHex(h [32]byte) string { return hex.EncodeToString(h[:]) }

func (a *applier) block(blk *model.Block, mode store.ApplyMode) error {
	before := a.m
	exists := false
	switch mode {
	case store.Linked:
		if a.m.HasBlocks {
			if blk.Height != a.m.Height+1 {
				return blockErr(blk, "expected height %d", a.m.Height+1)
			}
			if blk.PrevHash != a.m.Hash {
				return blockErr(blk, "previous hash %s does not match stored tip %s", hashHex(blk.PrevHash), hashHex(a.m.Hash))
			}
		}
	case store.Unordered:
		if !a.hs.has(blk.Height) {
			break // not stored: no lookup
		}
		hash, ok, err := a.storedHash(blk.Height)
		if err != nil {
			return err
		}
		if ok {
			if hash != blk.Hash {
				return blockErr(blk, "stored block at this height has hash %s", hashHex(hash))
			}
			exists = true
		}
	}
	firstTx := a.m.NextTx
	// Two records at one height (a batch holding a block twice) would
	// leave a reader to pick one: neither derives.
	a.blkFirst, a.blkDerive = firstTx, !exists && (mode != store.Unordered || a.batchH[blk.Height] == 1)
	for i := range blk.Txs {
		if i%prefetchTxs == 0 {
			a.prefetch(blk.Txs[i:min(i+prefetchTxs, len(blk.Txs))], mode)
		}
		if err := a.tx(blk, &blk.Txs[i], mode); err != nil {
			return err
		}
	}
	if !exists {
		rec := &blockRec{
			BlockInfo: store.BlockInfo{Height: blk.Height, Hash: blk.Hash, PrevHash: blk.PrevHash, Time: blk.Time, NTx: a.m.NextTx - firstTx},
			FirstTx:   firstTx,
			Before:    before,
		}
		l := a.st.blockLog
		_, r := l.pending()
		a.rec = appendBlockLogRec(a.rec[:0], rec, l.prevInGroup(), r)
		l.add(a.rec, blk.Height, &blk.Hash)
		a.newH = append(a.newH, blk.Height)
		a.m.Blocks++
	}
	if !a.m.HasBlocks || blk.Height >= a.m.Height {
		a.m.HasBlocks = true
		a.m.Height = blk.Height
		a.m.Hash = blk.Hash
	}
	return nil
}

type heightHash struct {
	h    uint64
	hash [32]byte
}

// storedHash returns the hash of the stored block at height h, if any.
func (a *applier) storedHash(h uint64) ([32]byte, bool, error) {
	for i := range a.group {
		if a.group[i].h == h {
			return a.group[i].hash, true, nil
		}
	}
	a.group = a.group[:0]
	old, err := a.st.blockLog.blockAt(h, func(b *blockRec) { a.group = append(a.group, heightHash{b.Height, b.Hash}) })
	if errors.Is(err, store.ErrNotFound) {
		return [32]byte{}, false, nil
	}
	if err != nil {
		return [32]byte{}, false, err
	}
	return old.Hash, true, nil
}

// addrID returns the id of canonical address bytes, allocating when new.
func (a *applier) addrID(addr []byte) (uint64, error) {
	return a.addrIDHash(addr, addrHashOr(addr))
}

// addrIDHash is addrID of addr, whose addrHash is h.
func (a *applier) addrIDHash(addr []byte, h uint64) (uint64, error) {
	return resolveAddr(a, &a.m.NextAddr, addr, h)
}

// resolveAddr is addrIDHash with the next new id at *next: the meta's
// NextAddr, or the address stage's copy of it.
func resolveAddr(a *applier, next *uint64, addr []byte, h uint64) (uint64, error) {
	if len(addr) == 0 {
		return 0, nil
	}
	g := a.st.addrs
	if id, ok := g.get(addr, h); ok {
		return id, nil
	}
	// The cache holds every address from id g.floor on (all of them, when
	// complete: this one is new) and those this Apply created.
	if limit := min(g.floor, a.firstA); limit > 1 {
		g.lookups++
		id, err := a.s.lookupAddr(a.st, a.chain, addr, h, limit)
		if err != nil {
			return 0, err
		}
		if id != 0 {
			g.found++
			g.put(addr, h, id)
			return id, nil
		}
	}
	id := *next
	*next++
	a.st.addrLog.add(addr, 0, nil)
	a.st.seg.addAddr(h, id)
	g.put(addr, h, id)
	return id, nil
}

// lookupAddr returns the id of stored address bytes (hash h) if below
// limit, or 0: the segments' address hashes name candidates, the address
// log's bytes settle it. Callers hold s.mu.
func (s *Store) lookupAddr(st *chainState, c model.Chain, addr []byte, h uint64, limit uint64) (uint64, error) {
	for _, id := range st.seg.addrCandidates(h, limit) {
		if id >= limit {
			continue // the address cache holds it (see addrIDHash)
		}
		var buf [64]byte
		v, err := st.addrLog.get(id-1, buf[:0])
		if err != nil {
			return 0, fmt.Errorf("address %d: %w", id, err)
		}
		if string(v) == string(addr) {
			return id, nil
		}
	}
	return 0, nil
}

func (a *applier) tx(blk *model.Block, tx *model.Tx, mode store.ApplyMode) error {
	hs := a.pf.next(tx, a.chain.IsUTXO(), a.as == nil)
	if a.as != nil {
		a.as.begin()
	}
	if mode == store.Unordered {
		dup, err := a.stored(&tx.ID, hs.txid)
		if err != nil || dup {
			return err
		}
		a.batchIDs = append(a.batchIDs, tx.ID)
	}
	if ch := a.cur; ch != nil && len(ch.jobs) > 0 && !ch.fits(tx) {
		a.ix.send(ch)
		a.cur = nil
	}
	if a.cur == nil {
		a.cur = a.ix.chunk()
	}
	ch := a.cur
	txnum := a.m.NextTx
	a.m.NextTx++
	rec := txRec{ID: tx.ID, Height: blk.Height, Index: tx.Index}
	if a.blkDerive && uint64(tx.Index) == txnum-a.blkFirst {
		rec.Derive = deriveIndex
	}
	if tx.Coinbase {
		rec.Flags |= flagCoinbase
	}
	if tx.Failed {
		rec.Flags |= flagFailed
	}
	var transfers uint64
	if a.chain.IsUTXO() {
		var inSum, outSum uint64
		if !tx.Coinbase {
			n0, n := len(ch.ins), len(tx.Inputs)
			ch.ins = slices.Grow(ch.ins, n)[:n0+n]
			rec.Inputs = ch.ins[n0 : n0+n : n0+n]
			for i := range tx.Inputs {
				in := &tx.Inputs[i]
				op := outpoint{in.PrevTxID, in.PrevIndex}
				u, ok := a.st.utxo.takeHash(op, hs.in[i])
				if !ok {
					return blockErr(blk, "tx %s input %d spends unknown or already spent output %s:%d", hashHex(tx.ID), i, hashHex(op.id), op.vout)
				}
				in.Value = u.Value
				in.ScriptType = model.ScriptType(u.Script)
				rec.Inputs[i] = inRec{Addr: u.Addr, Value: u.Value, Script: u.Script, PrevTx: u.TxNum, PrevIndex: op.vout}
				inSum += u.Value
				transfers++
			}
		}
		n0, n := len(ch.outs), len(tx.Outputs)
		ch.outs = slices.Grow(ch.outs, n)[:n0+n]
		rec.Outputs = ch.outs[n0 : n0+n : n0+n]
		for i := range tx.Outputs {
			o := &tx.Outputs[i]
			var id uint64
			var err error
			if a.as != nil {
				// The stage hands out new ids in order: one equal to
				// NextAddr is new, which keeps the meta (and the next
				// block record's Before) as it would be without the stage.
				if id, err = a.as.id(); id == a.m.NextAddr {
					a.m.NextAddr++
				}
			} else {
				id, err = a.addrIDHash(o.Address, hs.addr[i])
			}
			if err != nil {
				return err
			}
			rec.Outputs[i] = outRec{Addr: id, Value: o.Value, Script: byte(o.ScriptType)}
			op := outpoint{tx.ID, uint32(i)}
			added, err := a.st.utxo.addHash(op, hs.out[i], utxoRec{TxNum: txnum, Addr: id, Value: o.Value, Script: byte(o.ScriptType)})
			if err != nil {
				return err
			}
			if !added {
				return blockErr(blk, "tx %s output %d: an unspent output with that txid and index is already stored", hashHex(tx.ID), i)
			}
			outSum += o.Value
			transfers++
		}
		if !tx.Coinbase {
			if outSum > inSum {
				return blockErr(blk, "tx %s spends %d but its inputs hold %d", hashHex(tx.ID), outSum, inSum)
			}
			rec.Fee.SetUint64(inSum - outSum)
			if len(rec.Inputs) > 0 {
				rec.Derive |= deriveFee
			}
		}
	} else {
		moved := false
		if !tx.Failed {
			n0, n := len(ch.xfers), len(tx.Transfers)
			ch.xfers = slices.Grow(ch.xfers, n)[:n0+n]
			rec.Transfers = ch.xfers[n0 : n0+n : n0+n]
			for i := range tx.Transfers {
				t := &tx.Transfers[i]
				from, err := a.addrIDHash(t.From, hs.addr[2*i])
				if err != nil {
					return err
				}
				to, err := a.addrIDHash(t.To, hs.addr[2*i+1])
				if err != nil {
					return err
				}
				var asset model.AssetID
				if len(t.Contract) > 0 {
					if len(a.lastCt) == len(t.Contract) && &a.lastCt[0] == &t.Contract[0] {
						asset = a.lastAsset
					} else if asset, err = a.s.assetID(a.b, a.st, a.c, &a.m, t.Contract, a.assets); err != nil {
						return err
					} else {
						a.lastCt, a.lastAsset = t.Contract, asset
					}
				}
				rec.Transfers[i] = xferRec{From: from, To: to, Asset: uint32(asset), Value: t.Value, LogIndex: t.LogIndex}
				moved = moved || from != 0 || to != 0
				transfers++
			}
		}
		rec.Fee = tx.Fee
		// The fee payer is nearly always the first transfer's sender: its
		// id is known then, without a second look-up.
		payerID := func() (uint64, error) {
			if len(rec.Transfers) > 0 && bytes.Equal(tx.FeePayer, tx.Transfers[0].From) {
				return rec.Transfers[0].From, nil
			}
			return a.addrID(tx.FeePayer)
		}
		if !tx.Fee.IsZero() {
			payer, err := payerID()
			if err != nil {
				return err
			}
			if payer == 0 {
				return blockErr(blk, "tx %s pays a fee but names no payer", hashHex(tx.ID))
			}
			rec.FeePayer = payer
			moved = true
		}
		if !moved && len(tx.FeePayer) > 0 {
			// A transaction that moved nothing still belongs to its sender.
			payer, err := payerID()
			if err != nil {
				return err
			}
			rec.FeePayer = payer
		}
	}
	indexTxID(a.st.seg.open, txnum, hs.txid)
	if mode == store.Unordered {
		// The duplicate check just probed this txid's slot in the open
		// index: insert it now, while that line is in cache, rather than
		// at the next tx's check.
		a.st.seg.openX.catchUp(a.st.seg.open.txids)
	}
	ch.jobs = append(ch.jobs, txJob{n: txnum, t: blk.Time, rec: rec})
	if len(ch.jobs) == chunkTxs {
		a.ix.send(ch)
		a.cur = nil
	}
	a.m.Txs++
	a.m.Transfers += transfers
	if a.as != nil {
		a.as.end(tx)
	}
	return nil
}

// stored reports whether a transaction with this id (txidHash h) is already stored, by
// an earlier Apply or earlier in this one: the segments' txid hashes name
// the candidates; the batch's own txids or the tx records settle them.
func (a *applier) stored(id *[32]byte, h uint64) (bool, error) {
	for _, n := range a.st.seg.txHashCandidates(h) {
		if n >= a.first {
			if a.batchIDs[n-a.first] == *id {
				return true, nil
			}
			continue
		}
		a.txGets++
		rec, err := a.s.txByNum(a.chain, n)
		if err != nil {
			return false, err
		}
		if rec.ID == *id {
			return true, nil
		}
	}
	return false, nil
}
