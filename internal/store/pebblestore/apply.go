package pebblestore

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

type outpoint struct {
	id   [32]byte
	vout uint32
}

// applier holds the state of one Apply call: the batch being built, the
// chain meta as it advances, and what this batch created that Pebble cannot
// see yet.
type applier struct {
	s      *Store
	st     *chainState
	c      byte
	chain  model.Chain
	m      meta
	b      *pebble.Batch
	addrs  map[string]uint64 // addresses created in this batch
	assets map[string]uint32
	utxo   map[outpoint]utxoRec // outputs created in this batch, still unspent
	spent  map[outpoint]bool    // stored outputs spent in this batch
	txids  map[[32]byte]bool    // txids stored in this batch (Unordered dedupe)
	txf    *txFilter            // Unordered: the chain's stored txids, or nil (see txFilter)
	txGets int                  // Pebble txid lookups done (for tests)
	// aggIdx and aggs fold the batch's totals per address (aggs[aggIdx[id]]),
	// written as one merge operand per address at the end of the batch.
	aggIdx map[uint64]int
	aggs   []aggOf
	// Scratch reused for every entry: Pebble copies keys and values into
	// the batch; ins, outs and xfers back the tx record being encoded (every
	// element is written before the record is encoded).
	buf, kbuf []byte
	ins       []inRec
	outs      []outRec
	xfers     []xferRec
	parts     []part
}

// part is one address's share of one transaction in one asset.
type part struct {
	addr    uint64
	asset   uint32
	in, out uint256.Int
	nIn     uint64
	nOut    uint64
}

// Apply implements store.Writer.
func (s *Store) Apply(c model.Chain, mode store.ApplyMode, blocks []*model.Block) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.state(c)
	if err != nil {
		return err
	}
	if err := s.loadAddrs(c, st); err != nil {
		return err
	}
	a := &applier{
		s: s, st: st, c: byte(c), chain: c, m: st.meta,
		b:      s.db.NewBatch(),
		addrs:  map[string]uint64{},
		assets: map[string]uint32{},
		utxo:   map[outpoint]utxoRec{},
		spent:  map[outpoint]bool{},
		txids:  map[[32]byte]bool{},
		aggIdx: map[uint64]int{},
	}
	defer a.b.Close()
	if mode == store.Unordered {
		var n uint64
		for _, blk := range blocks {
			n += uint64(len(blk.Txs))
		}
		if a.txf, err = s.txFilterFor(c, st, n); err != nil {
			return err
		}
	} else {
		st.txf = nil // Linked txids are not collected: rebuild when needed
	}
	for _, blk := range blocks {
		if err := a.block(blk, mode); err != nil {
			return err
		}
	}
	a.writeAggs()
	for op, u := range a.utxo {
		a.b.Set(utxoKey(a.c, &op.id, op.vout), encodeUTXO(&u), nil)
	}
	a.b.Set(key(tMeta, a.c, 0), encodeMeta(&a.m), nil)
	if err := a.b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("pebblestore: commit %s batch: %w", c, err)
	}
	st.meta = a.m
	s.txGets += a.txGets
	if a.txf != nil {
		for id := range a.txids {
			a.txf.add(&id)
		}
	}
	if len(st.addrs)+len(a.addrs) > addrCacheMax {
		st.addrs, st.complete = map[string]uint64{}, false
	}
	for k, v := range a.addrs {
		st.addrs[k] = v
	}
	for k, v := range a.assets {
		st.cacheAsset(k, v)
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
		v, err := a.s.get(blockKey(a.c, blk.Height))
		if err == nil {
			old, err := decodeBlock(blk.Height, v)
			if err != nil {
				return err
			}
			if old.Hash != blk.Hash {
				return blockErr(blk, "stored block at this height has hash %s", hashHex(old.Hash))
			}
			exists = true
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	firstTx := a.m.NextTx
	for i := range blk.Txs {
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
		a.b.Set(blockKey(a.c, blk.Height), encodeBlock(rec), nil)
		a.b.Set(orderKey(a.c, firstTx), be64(nil, blk.Height), nil)
		a.m.Blocks++
	}
	if !a.m.HasBlocks || blk.Height >= a.m.Height {
		a.m.HasBlocks = true
		a.m.Height = blk.Height
		a.m.Hash = blk.Hash
	}
	return nil
}

// addrID returns the id of canonical address bytes, allocating when new.
func (a *applier) addrID(addr []byte) (uint64, error) {
	if len(addr) == 0 {
		return 0, nil
	}
	if id, ok := a.addrs[string(addr)]; ok {
		return id, nil
	}
	if id, ok := a.st.addrs[string(addr)]; ok {
		return id, nil
	}
	k := addrKey(a.c, addr)
	var (
		v      []byte
		closer io.Closer
		err    = pebble.ErrNotFound // a complete cache holds every address: this one is new
	)
	if !a.st.complete {
		v, closer, err = a.s.db.Get(k)
	}
	if err == nil {
		id, n := uvarint(v)
		closer.Close()
		if n <= 0 {
			return 0, fmt.Errorf("%w: address id", errCorrupt)
		}
		if len(a.st.addrs) < addrCacheMax {
			a.st.addrs[string(addr)] = id
		}
		return id, nil
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return 0, err
	}
	id := a.m.NextAddr
	a.m.NextAddr++
	a.b.Set(k, putUvarint(nil, id), nil)
	a.b.Set(addrRevKey(a.c, id), addr, nil)
	a.addrs[string(addr)] = id
	return id, nil
}

func (a *applier) part(addr uint64, asset uint32) *part {
	for i := range a.parts {
		if a.parts[i].addr == addr && a.parts[i].asset == asset {
			return &a.parts[i]
		}
	}
	a.parts = append(a.parts, part{addr: addr, asset: asset})
	return &a.parts[len(a.parts)-1]
}

func (a *applier) tx(blk *model.Block, tx *model.Tx, mode store.ApplyMode) error {
	if mode == store.Unordered {
		if a.txids[tx.ID] {
			return nil
		}
		// The filter answers "certainly not stored" for almost every new
		// txid; "maybe" is settled by Pebble.
		if a.txf == nil || a.txf.mayHave(&tx.ID) {
			a.txGets++
			if _, err := a.s.get(txidKey(a.c, &tx.ID)); err == nil {
				return nil
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		a.txids[tx.ID] = true
	}
	txnum := a.m.NextTx
	a.m.NextTx++
	a.parts = a.parts[:0]
	rec := txRec{ID: tx.ID, Height: blk.Height, Index: tx.Index}
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
			a.ins = slices.Grow(a.ins[:0], len(tx.Inputs))[:len(tx.Inputs)]
			rec.Inputs = a.ins
			for i := range tx.Inputs {
				in := &tx.Inputs[i]
				op := outpoint{in.PrevTxID, in.PrevIndex}
				u, ok := a.utxo[op]
				if ok {
					delete(a.utxo, op)
				} else {
					if a.spent[op] {
						return blockErr(blk, "tx %s input %d double-spends %s:%d", hashHex(tx.ID), i, hashHex(op.id), op.vout)
					}
					v, err := a.s.get(utxoKey(a.c, &op.id, op.vout))
					if errors.Is(err, store.ErrNotFound) {
						return blockErr(blk, "tx %s input %d spends unknown output %s:%d", hashHex(tx.ID), i, hashHex(op.id), op.vout)
					}
					if err != nil {
						return err
					}
					if u, err = decodeUTXO(v); err != nil {
						return err
					}
					a.spent[op] = true
					a.b.Delete(utxoKey(a.c, &op.id, op.vout), nil)
				}
				in.Value = u.Value
				in.ScriptType = model.ScriptType(u.Script)
				rec.Inputs[i] = inRec{Addr: u.Addr, Value: u.Value, Script: u.Script, PrevTx: u.TxNum, PrevIndex: op.vout}
				a.buf = putUvarint(a.buf[:0], txnum)
				a.b.Set(spentKey(a.c, u.TxNum, op.vout), a.buf, nil)
				p := a.part(u.Addr, 0)
				p.out.AddUint64(&p.out, u.Value)
				p.nOut++
				inSum += u.Value
				transfers++
			}
		}
		a.outs = slices.Grow(a.outs[:0], len(tx.Outputs))[:len(tx.Outputs)]
		rec.Outputs = a.outs
		for i := range tx.Outputs {
			o := &tx.Outputs[i]
			id, err := a.addrID(o.Address)
			if err != nil {
				return err
			}
			rec.Outputs[i] = outRec{Addr: id, Value: o.Value, Script: byte(o.ScriptType)}
			a.utxo[outpoint{tx.ID, uint32(i)}] = utxoRec{TxNum: txnum, Addr: id, Value: o.Value, Script: byte(o.ScriptType)}
			p := a.part(id, 0)
			p.in.AddUint64(&p.in, o.Value)
			p.nIn++
			outSum += o.Value
			transfers++
		}
		if !tx.Coinbase {
			if outSum > inSum {
				return blockErr(blk, "tx %s spends %d but its inputs hold %d", hashHex(tx.ID), outSum, inSum)
			}
			rec.Fee.SetUint64(inSum - outSum)
		}
	} else {
		if !tx.Failed {
			a.xfers = slices.Grow(a.xfers[:0], len(tx.Transfers))[:len(tx.Transfers)]
			rec.Transfers = a.xfers
			for i := range tx.Transfers {
				t := &tx.Transfers[i]
				from, err := a.addrID(t.From)
				if err != nil {
					return err
				}
				to, err := a.addrID(t.To)
				if err != nil {
					return err
				}
				var asset model.AssetID
				if len(t.Contract) > 0 {
					if asset, err = a.s.assetID(a.b, a.st, a.c, &a.m, t.Contract, a.assets); err != nil {
						return err
					}
				}
				rec.Transfers[i] = xferRec{From: from, To: to, Asset: uint32(asset), Value: t.Value, LogIndex: t.LogIndex}
				if from != 0 {
					p := a.part(from, uint32(asset))
					p.out.Add(&p.out, &t.Value)
					p.nOut++
				}
				if to != 0 {
					p := a.part(to, uint32(asset))
					p.in.Add(&p.in, &t.Value)
					p.nIn++
				}
				transfers++
			}
		}
		rec.Fee = tx.Fee
		if !tx.Fee.IsZero() {
			payer, err := a.addrID(tx.FeePayer)
			if err != nil {
				return err
			}
			if payer == 0 {
				return blockErr(blk, "tx %s pays a fee but names no payer", hashHex(tx.ID))
			}
			rec.FeePayer = payer
			p := a.part(payer, 0)
			p.out.Add(&p.out, &tx.Fee)
		}
		if len(a.parts) == 0 && len(tx.FeePayer) > 0 {
			// A transaction that moved nothing still belongs to its sender.
			payer, err := a.addrID(tx.FeePayer)
			if err != nil {
				return err
			}
			rec.FeePayer = payer
			a.part(payer, 0)
		}
	}
	// Adjacency and totals: one entry per (address, asset); the tx counts
	// once per address.
	seen := uint64(0)
	for i := range a.parts {
		p := &a.parts[i]
		a.kbuf = appendAdjKey(a.kbuf[:0], a.c, p.addr, txnum, p.asset)
		a.buf = appendAdj(a.buf[:0], &p.in, &p.out, p.nIn, p.nOut)
		a.b.Set(a.kbuf, a.buf, nil)
		one := [1]assetAgg{{Asset: p.asset, Received: p.in, Sent: p.out, NIn: p.nIn, NOut: p.nOut}}
		g := agg{First: blk.Time, Last: blk.Time, Assets: one[:]}
		if !a.countedBefore(i) {
			g.TxCount = 1
		}
		a.addAgg(p.addr, &g)
		seen++
	}
	a.kbuf = appendTxKey(a.kbuf[:0], a.c, txnum)
	a.buf = appendTx(a.buf[:0], &rec)
	a.b.Set(a.kbuf, a.buf, nil)
	a.kbuf = appendTxidKey(a.kbuf[:0], a.c, &tx.ID)
	a.buf = putUvarint(a.buf[:0], txnum)
	a.b.Set(a.kbuf, a.buf, nil)
	a.m.Txs++
	a.m.Transfers += transfers
	return nil
}

// aggOf is one address's totals folded over a batch.
type aggOf struct {
	id uint64
	g  agg
}

// addAgg folds one transaction's share of an address's totals into the
// batch's totals. The merge operator adds operands (counts and amounts
// summed, first/last seen the min/max over operands that count a tx), and
// that fold is associative, so one operand per address and batch merges to
// exactly the value of one operand per transaction (TestLayoutGolden pins
// the merged bytes), with a fraction of the batch entries to sort, flush and
// compact.
func (a *applier) addAgg(id uint64, g *agg) {
	i, ok := a.aggIdx[id]
	if !ok {
		i = len(a.aggs)
		a.aggIdx[id] = i
		a.aggs = append(a.aggs, aggOf{id: id})
	}
	a.aggs[i].g.add(g)
}

// writeAggs writes the batch's per-address totals as merge operands.
func (a *applier) writeAggs() {
	for i := range a.aggs {
		x := &a.aggs[i]
		a.buf = encodeAgg(a.buf[:0], &x.g)
		a.kbuf = appendAggKey(a.kbuf[:0], a.c, x.id)
		a.b.Merge(a.kbuf, a.buf, nil)
	}
}

// countedBefore reports whether parts[i]'s address appears in an earlier part
// (another asset of the same tx), so the tx is counted once per address.
func (a *applier) countedBefore(i int) bool {
	for j := 0; j < i; j++ {
		if a.parts[j].addr == a.parts[i].addr {
			return true
		}
	}
	return false
}
