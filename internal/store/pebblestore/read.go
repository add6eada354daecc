package pebblestore

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// BlockHash implements store.Reader.
func (s *Store) BlockHash(c model.Chain, height uint64) ([32]byte, error) {
	b, err := s.Block(c, height)
	if err != nil {
		return [32]byte{}, err
	}
	return b.Hash, nil
}

// Block implements store.Reader.
func (s *Store) Block(c model.Chain, height uint64) (*store.BlockInfo, error) {
	rec, err := s.blockAt(c, height)
	if err != nil {
		return nil, err
	}
	return &rec.BlockInfo, nil
}

func (s *Store) addrIDOf(c model.Chain, addr []byte) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.state(c)
	if err != nil {
		return 0, err
	}
	id, err := s.lookupAddr(st, c, addr, addrHash(addr), st.meta.NextAddr)
	if err == nil && id == 0 {
		err = store.ErrNotFound
	}
	return id, err
}

func (s *Store) addrBytes(c model.Chain, id uint64) ([]byte, error) {
	if id == 0 {
		return nil, nil
	}
	al, _, err := s.recLogs(c)
	if err != nil {
		return nil, err
	}
	return al.get(id-1, nil)
}

// asset returns the asset with id on chain c.
func (s *Store) asset(c model.Chain, id uint32) (model.Asset, error) {
	if id == 0 {
		return model.Asset{Chain: c, Symbol: c.NativeSymbol(), Decimals: c.NativeDecimals()}, nil
	}
	if err := s.awaitCommit(); err != nil { // a pipelined batch's new assets
		return model.Asset{}, err
	}
	v, err := s.get(assetRevKey(byte(c), id))
	if err != nil {
		return model.Asset{}, fmt.Errorf("asset %d: %w", id, err)
	}
	a, err := decodeAssetRec(v)
	if err != nil {
		return model.Asset{}, err
	}
	return model.Asset{Chain: c, ID: model.AssetID(id), Contract: a.Contract, Symbol: a.Symbol, Decimals: a.Decimals}, nil
}

// adjacency calls fn for every adjacency entry of address id with txnum
// after `after`, in txnum order: the closed segments' groups, then the open
// segment. fn returns false to stop. Callers hold s.mu.
func (s *Store) adjacency(st *chainState, id, after uint64, fn func(e *segEntry, t int64) bool) error {
	g := st.seg
	for _, seg := range g.segs {
		if seg.end <= after+1 {
			continue
		}
		n, prev, entries, ok, err := seg.group(id)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if n <= deriveMax {
			// A group that may leave its amounts in to the tx records:
			// decoded whole and resolved first (recordins.go).
			ents, derived, err := decodeGroup(nil, n, prev, seg.end, entries)
			if err == nil && derived {
				err = resolveFromLog(st.log, id, ents)
			}
			if err != nil {
				return fmt.Errorf("segment %s: %w", seg.path, err)
			}
			for i := range ents {
				if e := &ents[i]; e.txnum > after && !fn(e, seg.txTime(e.txnum)) {
					return nil
				}
			}
			continue
		}
		r := &reader{b: entries}
		var lastIn uint256.Int
		for k := uint64(0); k < n; k++ {
			e := r.segEntry(prev, &lastIn)
			if r.err != nil {
				return fmt.Errorf("segment %s: %w", seg.path, r.err)
			}
			if e.txnum < prev || e.txnum >= seg.end {
				return fmt.Errorf("%w: segment %s: entry outside the segment", errCorrupt, seg.path)
			}
			if e.inDerived {
				return fmt.Errorf("%w: segment %s: amounts in left to the records in a group of %d entries", errCorrupt, seg.path, n)
			}
			prev = e.txnum
			if e.txnum <= after {
				continue
			}
			if !fn(&e, seg.txTime(e.txnum)) {
				return nil
			}
		}
	}
	d := g.open
	for _, i := range g.openAdj(id) {
		a := &d.adj[i]
		if d.entTx(a) <= after {
			continue
		}
		e := d.entry(a)
		if !fn(&e, d.times[e.txnum-d.start]) {
			return nil
		}
	}
	return nil
}

// Address implements store.Reader. The totals are folded from the
// address's adjacency entries in every segment.
func (s *Store) Address(c model.Chain, addr []byte) (*store.AddressSummary, error) {
	id, err := s.addrIDOf(c, addr)
	if err != nil {
		return nil, err
	}
	g := &agg{}
	s.mu.Lock()
	st, err := s.state(c)
	if err == nil {
		lastTx := uint64(0)
		err = s.adjacency(st, id, 0, func(e *segEntry, t int64) bool {
			one := [1]assetAgg{{Asset: e.asset, Received: e.in, Sent: e.out, NIn: e.nIn, NOut: e.nOut}}
			x := agg{Assets: one[:]}
			if e.txnum != lastTx {
				x.TxCount, x.First, x.Last = 1, t, t
				lastTx = e.txnum
			}
			g.add(&x)
			return true
		})
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	sum := &store.AddressSummary{Chain: c, Address: addr, ID: id, TxCount: g.TxCount, FirstSeen: g.First, LastSeen: g.Last}
	for _, x := range g.Assets {
		a, err := s.asset(c, x.Asset)
		if err != nil {
			return nil, err
		}
		sum.Assets = append(sum.Assets, store.AssetTotals{Asset: a, Received: x.Received, Sent: x.Sent, TransfersIn: x.NIn, TransfersOut: x.NOut})
	}
	return sum, nil
}

// AddressTxs implements store.Reader.
func (s *Store) AddressTxs(c model.Chain, addr []byte, after uint64, limit int) ([]store.AddressTx, error) {
	id, err := s.addrIDOf(c, addr)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.state(c)
	if err != nil {
		return nil, err
	}
	var out []store.AddressTx
	err = s.adjacency(st, id, after, func(e *segEntry, t int64) bool {
		if limit > 0 && len(out) >= limit {
			return false
		}
		out = append(out, store.AddressTx{TxNum: e.txnum, Time: t, Asset: model.AssetID(e.asset), In: e.in, Out: e.out})
		return true
	})
	return out, err
}

// spentBy returns the number of the tx that spent output vout of tx n,
// which pays address id addr: the spend a segment stores, or the one a
// sweep in n's segment implies (sweeps.go).
func (s *Store) spentBy(c model.Chain, n uint64, vout uint32, addr uint64) (uint64, bool, error) {
	outs := []outRef{{n: n, vout: vout, addr: addr}}
	err := s.spentByMany(c, outs)
	return outs[0].spender, outs[0].spender != 0, err // tx numbers start at 1
}

// outRef is an output whose spender spentByMany finds (0: unspent).
type outRef struct {
	n       uint64
	vout    uint32
	addr    uint64
	spender uint64
}

// spentByMany is spentBy for outputs outs (in tx-number order, for the
// stored spends' blocks), which it fills in: the spends the segments store
// first, then the sweeps of the rest, looked up by address in address
// order (each address's group read once, and the groups' blocks in order).
func (s *Store) spentByMany(c model.Chain, outs []outRef) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.state(c)
	if err != nil {
		return err
	}
	type miss struct {
		seg  int
		addr uint64
		i    int
	}
	var misses []miss
	rcs := make([]runCache, len(st.seg.segs)) // a run of spends per segment: the lookups ascend in each
	// The open segment's spends of the outputs' txs, found once (a scan per
	// output was quadratic in a batch against a large open segment).
	open := map[[2]uint64]uint64{}
	if len(outs) > 0 {
		lo, hi := outs[0].n, outs[0].n
		for _, o := range outs {
			lo, hi = min(lo, o.n), max(hi, o.n)
		}
		for _, e := range st.seg.open.spent {
			if e.prevTx >= lo && e.prevTx <= hi {
				open[[2]uint64{e.prevTx, uint64(e.vout)}] = e.spender
			}
		}
	}
	for i := range outs {
		o := &outs[i]
		found, own := false, -1
		for k, seg := range st.seg.segs {
			if seg.end <= o.n {
				continue
			}
			if seg.start <= o.n {
				own = k
			}
			sp, ok, err := seg.spentVia(o.n, o.vout, &rcs[k])
			if err != nil {
				return err
			}
			if ok {
				o.spender, found = sp, true
				break
			}
		}
		if found {
			continue
		}
		if sp, ok := open[[2]uint64{o.n, uint64(o.vout)}]; ok {
			o.spender, found = sp, true
		}
		if !found && own >= 0 {
			misses = append(misses, miss{seg: own, addr: o.addr, i: i})
		}
	}
	slices.SortFunc(misses, func(a, b miss) int {
		return cmp.Or(cmp.Compare(a.seg, b.seg), cmp.Compare(a.addr, b.addr), cmp.Compare(a.i, b.i))
	})
	var rc runCache
	for j := 0; j < len(misses); {
		m := misses[j]
		seg := st.seg.segs[m.seg]
		k := j
		for k < len(misses) && misses[k].seg == m.seg && misses[k].addr == m.addr {
			k++
		}
		n, prev, entries, ok, err := seg.groupVia(m.addr, &rc)
		if err != nil {
			return err
		}
		for ; ok && j < k; j++ {
			o := &outs[misses[j].i]
			sp, found, err := sweepAfter(seg.path, n, prev, entries, o.n)
			if err != nil {
				return err
			}
			if found {
				o.spender = sp
			}
		}
		j = k
	}
	return nil
}

// txNumOf returns the number of the tx with this id.
func (s *Store) txNumOf(c model.Chain, id *[32]byte) (uint64, error) {
	s.mu.Lock()
	st, err := s.state(c)
	var cands []uint64
	if err == nil {
		cands = st.seg.txCandidates(id)
	}
	s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	for _, n := range cands {
		t, err := s.txByNum(c, n)
		if err != nil {
			return 0, err
		}
		if t.ID == *id {
			return n, nil
		}
	}
	return 0, store.ErrNotFound
}

func (s *Store) txByNum(c model.Chain, n uint64) (*txRec, error) {
	l, err := s.logOf(c)
	if err != nil {
		return nil, err
	}
	return l.tx(n)
}

// resolveInputs fills t's inputs with the address, value, script type and
// txid of the outputs they spend, from those txs' records (recs, when not
// nil, caches decoded records by number), and then its fee where the
// record derives it from them.
func (s *Store) resolveInputs(c model.Chain, t *txRec, recs map[uint64]*txRec) error {
	for i := range t.Inputs {
		in := &t.Inputs[i]
		prev := recs[in.PrevTx]
		if prev == nil {
			var err error
			if prev, err = s.txByNum(c, in.PrevTx); err != nil {
				return err
			}
			if recs != nil {
				cacheRec(recs, in.PrevTx, prev)
			}
		}
		if int(in.PrevIndex) >= len(prev.Outputs) {
			return fmt.Errorf("%w: tx %x spends output %d of tx %d, which has %d", errCorrupt, t.ID, in.PrevIndex, in.PrevTx, len(prev.Outputs))
		}
		o := &prev.Outputs[in.PrevIndex]
		in.Addr, in.Value, in.Script, in.PrevID = o.Addr, o.Value, o.Script, prev.ID
	}
	return t.fillFee()
}

// cacheRec keeps a decoded tx record for resolveInputs, in a cache it
// empties past 65,536 records.
func cacheRec(recs map[uint64]*txRec, n uint64, t *txRec) {
	if len(recs) > 1<<16 {
		clear(recs)
	}
	recs[n] = t
}

// TxByNum returns a transaction by its number (as listed by AddressTxs).
func (s *Store) TxByNum(c model.Chain, n uint64) (*store.TxView, error) {
	t, err := s.txByNum(c, n)
	if err != nil {
		return nil, err
	}
	if err := s.resolveInputs(c, t, nil); err != nil {
		return nil, err
	}
	return s.view(c, n, t, nil)
}

// viewCache holds what the views of a batch of transactions share.
type viewCache struct {
	addrs  map[uint64][]byte
	blocks map[uint64]blockSpan // by height
	assets map[uint32]model.Asset
	recs   map[uint64]*txRec    // spent outputs' tx records (resolveInputs)
	ids    map[uint64][32]byte  // spenders' txids, by tx number
	spent  map[[2]uint64]uint64 // (tx, vout) → spender tx number, 0: unspent
	// groupTimes: keep the times of every block in a decoded group (worth
	// its decoding only when the batch is large enough to use them).
	groupTimes bool
}

func newViewCache() *viewCache {
	return &viewCache{addrs: map[uint64][]byte{}, blocks: map[uint64]blockSpan{}, assets: map[uint32]model.Asset{},
		recs: map[uint64]*txRec{}, ids: map[uint64][32]byte{}, spent: map[[2]uint64]uint64{}}
}

// readRecs reads the records of tx numbers nums (any order, repeats) in one
// sorted pass over the tx log and calls fn with each.
func (s *Store) readRecs(c model.Chain, nums []uint64, fn func(n uint64, t *txRec)) error {
	if len(nums) == 0 {
		return nil
	}
	slices.Sort(nums)
	nums = slices.Compact(nums)
	l, err := s.logOf(c)
	if err != nil {
		return err
	}
	recs, err := l.txs(nums)
	if err != nil {
		return err
	}
	for i, t := range recs {
		fn(nums[i], t)
	}
	return nil
}

// TxsByNum implements store.Reader: the records are read in number
// order, and address bytes, block times and assets once per call.
func (s *Store) TxsByNum(c model.Chain, nums []uint64, fn func(i int, tv *store.TxView) error) error {
	// byNum for the views in the order asked; sorted, for every lookup in
	// number order (spends are found in compressed blocks, kept one at a
	// time: lookups out of order would decode one per lookup).
	byNum := make(map[uint64]*txRec, len(nums))
	var sorted []uint64
	if err := s.readRecs(c, slices.Clone(nums), func(n uint64, t *txRec) { byNum[n] = t; sorted = append(sorted, n) }); err != nil {
		return err
	}
	vc := newViewCache()
	vc.groupTimes = len(sorted) >= 4*recStride
	// The txs whose outputs the batch spends, and the txs that spend the
	// batch's outputs, read in one sorted pass each.
	var more []uint64
	for _, n := range sorted {
		for _, in := range byNum[n].Inputs {
			more = append(more, in.PrevTx)
		}
	}
	if err := s.readRecs(c, more, func(n uint64, t *txRec) { vc.recs[n] = t }); err != nil {
		return err
	}
	more = more[:0]
	var outs []outRef
	for _, n := range sorted {
		for o, out := range byNum[n].Outputs {
			outs = append(outs, outRef{n: n, vout: uint32(o), addr: out.Addr})
		}
	}
	if err := s.spentByMany(c, outs); err != nil {
		return err
	}
	for _, o := range outs {
		vc.spent[[2]uint64{o.n, uint64(o.vout)}] = o.spender
		if o.spender != 0 {
			more = append(more, o.spender)
		}
	}
	if err := s.readRecs(c, more, func(n uint64, t *txRec) { vc.ids[n] = t.ID }); err != nil {
		return err
	}
	// Every address the views name, read from the address log group by
	// group rather than one read each.
	var ids []uint64
	for _, n := range sorted {
		t := byNum[n]
		if err := s.resolveInputs(c, t, vc.recs); err != nil {
			return err
		}
		ids = append(ids, t.FeePayer)
		for _, in := range t.Inputs {
			ids = append(ids, in.Addr)
		}
		for _, o := range t.Outputs {
			ids = append(ids, o.Addr)
		}
		for _, x := range t.Transfers {
			ids = append(ids, x.From, x.To)
		}
	}
	if err := s.prefetchAddrs(c, ids, vc); err != nil {
		return err
	}
	views := make([]*store.TxView, len(nums))
	for i, n := range nums {
		var err error
		if views[i], err = s.view(c, n, byNum[n], vc); err != nil {
			return err
		}
	}
	for i, v := range views {
		if err := fn(i, v); err != nil {
			return err
		}
	}
	return nil
}

// prefetchAddrs puts the bytes of address ids (any order, repeats, 0
// allowed) into vc.
func (s *Store) prefetchAddrs(c model.Chain, ids []uint64, vc *viewCache) error {
	slices.Sort(ids)
	rs := ids[:0]
	for i, id := range ids {
		if id != 0 && (i == 0 || id != ids[i-1]) {
			if _, ok := vc.addrs[id]; !ok {
				rs = append(rs, id-1)
			}
		}
	}
	if len(rs) == 0 {
		return nil
	}
	al, _, err := s.recLogs(c)
	if err != nil {
		return err
	}
	return al.getMany(rs, func(r uint64, rec []byte) { vc.addrs[r+1] = append([]byte(nil), rec...) })
}

// addrOf is addrBytes through vc (nil: no cache).
func (s *Store) addrOf(c model.Chain, id uint64, vc *viewCache) ([]byte, error) {
	if vc == nil || id == 0 {
		return s.addrBytes(c, id)
	}
	if a, ok := vc.addrs[id]; ok {
		return a, nil
	}
	a, err := s.addrBytes(c, id)
	if err == nil && len(vc.addrs) < 1<<16 {
		vc.addrs[id] = a
	}
	return a, err
}

func (s *Store) assetOf(c model.Chain, id uint32, vc *viewCache) (model.Asset, error) {
	if vc == nil {
		return s.asset(c, id)
	}
	if a, ok := vc.assets[id]; ok {
		return a, nil
	}
	a, err := s.asset(c, id)
	if err == nil {
		vc.assets[id] = a
	}
	return a, err
}

// spenderID is the txid of the tx that spends output vout of tx n, nil
// while unspent (through vc's batch lookups when they hold it).
func (s *Store) spenderID(c model.Chain, n uint64, vout uint32, addr uint64, vc *viewCache) (*[32]byte, error) {
	if vc != nil {
		if sn, ok := vc.spent[[2]uint64{n, uint64(vout)}]; ok {
			if sn == 0 {
				return nil, nil
			}
			if id, ok := vc.ids[sn]; ok {
				return &id, nil
			}
		}
	}
	sn, ok, err := s.spentBy(c, n, vout, addr)
	if err != nil || !ok {
		return nil, err
	}
	sp, err := s.txByNum(c, sn)
	if err != nil {
		return nil, err
	}
	id := sp.ID
	return &id, nil
}

// viewBlock is the span of the block at height h (time 0 and ok false
// when it is not stored; the error too when it could not be read, which
// a view whose position derives from the block reports).
func (s *Store) viewBlock(c model.Chain, h uint64, vc *viewCache) blockSpan {
	if vc == nil {
		return s.readSpan(c, h, nil)
	}
	if b, ok := vc.blocks[h]; ok {
		return b
	}
	// In a large batch, keep every block of the group decoded to find the
	// block (its txs, in number order, mostly fall in the same groups).
	if len(vc.blocks) >= 1<<16 {
		clear(vc.blocks)
	}
	var fill func(b *blockRec)
	if vc.groupTimes {
		fill = func(b *blockRec) { vc.blocks[b.Height] = spanOf(b) }
	}
	sp := s.readSpan(c, h, fill)
	vc.blocks[h] = sp
	return sp
}

// readSpan reads the span of the block at height h from the block log
// (fill as blockAt's).
func (s *Store) readSpan(c model.Chain, h uint64, fill func(b *blockRec)) blockSpan {
	_, bl, err := s.recLogs(c)
	if err != nil {
		return blockSpan{err: err}
	}
	b, err := bl.blockAt(h, fill)
	if errors.Is(err, store.ErrNotFound) {
		return blockSpan{}
	}
	if err != nil {
		return blockSpan{err: err}
	}
	return spanOf(b)
}

// Tx implements store.Reader.
func (s *Store) Tx(c model.Chain, txid [32]byte) (*store.TxView, error) {
	n, err := s.txNumOf(c, &txid)
	if err != nil {
		return nil, err
	}
	return s.TxByNum(c, n)
}

// view turns tx record t (number n, its inputs resolved) into a TxView;
// vc, when not nil, caches lookups across the views of a batch.
func (s *Store) view(c model.Chain, n uint64, t *txRec, vc *viewCache) (*store.TxView, error) {
	b := s.viewBlock(c, t.Height, vc)
	if err := t.fillIndex(n, b); err != nil {
		return nil, err
	}
	tv := &store.TxView{Chain: c, TxID: t.ID, TxNum: n, BlockHeight: t.Height, Index: t.Index,
		Coinbase: t.Flags&flagCoinbase != 0, Failed: t.Flags&flagFailed != 0, Fee: t.Fee, Time: b.time}
	var err error
	if tv.FeePayer, err = s.addrOf(c, t.FeePayer, vc); err != nil {
		return nil, err
	}
	for _, in := range t.Inputs {
		a, err := s.addrOf(c, in.Addr, vc)
		if err != nil {
			return nil, err
		}
		tv.Inputs = append(tv.Inputs, store.TxInput{Address: a, Value: in.Value, ScriptType: model.ScriptType(in.Script), PrevTxID: in.PrevID, PrevIndex: in.PrevIndex})
	}
	for i, o := range t.Outputs {
		a, err := s.addrOf(c, o.Addr, vc)
		if err != nil {
			return nil, err
		}
		out := store.TxOutput{Index: uint32(i), Address: a, Value: o.Value, ScriptType: model.ScriptType(o.Script)}
		if id, err := s.spenderID(c, n, uint32(i), o.Addr, vc); err != nil {
			return nil, err
		} else if id != nil {
			out.SpentBy = id
		}
		tv.Outputs = append(tv.Outputs, out)
	}
	for _, x := range t.Transfers {
		from, err := s.addrOf(c, x.From, vc)
		if err != nil {
			return nil, err
		}
		to, err := s.addrOf(c, x.To, vc)
		if err != nil {
			return nil, err
		}
		a, err := s.assetOf(c, x.Asset, vc)
		if err != nil {
			return nil, err
		}
		tv.Transfers = append(tv.Transfers, store.TxTransfer{From: from, To: to, Asset: a, Value: x.Value, LogIndex: x.LogIndex})
	}
	return tv, nil
}

// Assets implements store.Reader.
func (s *Store) Assets(c model.Chain) ([]model.Asset, error) {
	if err := s.awaitCommit(); err != nil {
		return nil, err
	}
	out := []model.Asset{{Chain: c, Symbol: c.NativeSymbol(), Decimals: c.NativeDecimals()}}
	err := s.each(s.db, assetRevKey(byte(c), 1), prefixEnd(key(tAssetRev, byte(c), 0)), func(k, v []byte) error {
		a, err := decodeAssetRec(v)
		if err != nil {
			return err
		}
		out = append(out, model.Asset{Chain: c, ID: model.AssetID(binary.BigEndian.Uint32(k[2:6])), Contract: a.Contract, Symbol: a.Symbol, Decimals: a.Decimals})
		return nil
	})
	return out, err
}

// Stats implements store.Reader.
func (s *Store) Stats() ([]store.ChainStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.ChainStats
	for _, c := range model.AllChains {
		st, err := s.loadState(c) // the meta only: no need to wait for a segment close
		if err != nil {
			return nil, err
		}
		m := st.meta
		if !m.HasBlocks && m.Txs == 0 {
			continue
		}
		out = append(out, store.ChainStats{Chain: c, Network: m.Network, Height: m.Height, Blocks: m.Blocks,
			Txs: m.Txs, Addresses: m.NextAddr - 1, Transfers: m.Transfers})
	}
	return out, nil
}
