package pebblestore

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// RollbackTo implements store.Writer: it undoes every block above height.
func (s *Store) RollbackTo(c model.Chain, height uint64) error {
	s.mu.Lock()
	st, err := s.state(c)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	if !st.meta.HasBlocks || height >= st.meta.Height {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	v, err := s.get(blockKey(byte(c), height+1))
	if err != nil {
		return fmt.Errorf("pebblestore: rollback %s to %d: block %d: %w", c, height, height+1, err)
	}
	rec, err := decodeBlock(height+1, v)
	if err != nil {
		return err
	}
	return s.Undo(c, rec.Before.Mark)
}

// Undo implements store.Writer.
func (s *Store) Undo(c model.Chain, mark store.Mark) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.state(c)
	if err != nil {
		return err
	}
	cur := st.meta
	if mark.NextTx > cur.NextTx || mark.NextAddr > cur.NextAddr || mark.NextAsset > cur.NextAsset {
		return fmt.Errorf("pebblestore: undo %s: mark is ahead of the store", c)
	}
	if mark == cur.Mark {
		return nil
	}
	cb := byte(c)
	b := s.db.NewIndexedBatch()
	defer b.Close()

	affected := map[uint64]bool{}
	txCache := map[uint64]*txRec{}
	loadTx := func(n uint64) (*txRec, error) {
		if t, ok := txCache[n]; ok {
			return t, nil
		}
		v, err := s.get(txKey(cb, n))
		if err != nil {
			return nil, fmt.Errorf("undo: tx %d: %w", n, err)
		}
		t, err := decodeTx(v)
		if err != nil {
			return nil, err
		}
		txCache[n] = t
		return t, nil
	}
	touch := func(id, txnum uint64) {
		if id == 0 {
			return
		}
		b.DeleteRange(adjKey(cb, id, txnum, 0), adjKey(cb, id, txnum+1, 0), nil)
		if id < mark.NextAddr {
			affected[id] = true
		}
	}
	for n := cur.NextTx - 1; n >= mark.NextTx && n > 0; n-- {
		t, err := loadTx(n)
		if errors.Is(err, store.ErrNotFound) {
			continue // a tx number skipped by nothing; keep going
		}
		if err != nil {
			return err
		}
		if v, err := s.get(txidKey(cb, &t.ID)); err == nil {
			if got, _ := binary.Uvarint(v); got == n {
				b.Delete(txidKey(cb, &t.ID), nil)
			}
		}
		for _, in := range t.Inputs {
			touch(in.Addr, n)
			if in.PrevTx >= mark.NextTx {
				continue // its creator is undone too
			}
			prev, err := loadTx(in.PrevTx)
			if err != nil {
				return err
			}
			b.Set(utxoKey(cb, &prev.ID, in.PrevIndex), encodeUTXO(&utxoRec{TxNum: in.PrevTx, Addr: in.Addr, Value: in.Value, Script: in.Script}), nil)
			b.Delete(spentKey(cb, in.PrevTx, in.PrevIndex), nil)
		}
		for i, o := range t.Outputs {
			touch(o.Addr, n)
			b.Delete(utxoKey(cb, &t.ID, uint32(i)), nil)
		}
		for _, x := range t.Transfers {
			touch(x.From, n)
			touch(x.To, n)
		}
		touch(t.FeePayer, n)
		b.Delete(txKey(cb, n), nil)
		delete(txCache, n)
	}
	// Spent markers of outputs created after the mark.
	b.DeleteRange(spentKey(cb, mark.NextTx, 0), prefixEnd(key(tSpent, cb, 0)), nil)
	// Addresses created after the mark.
	if err := s.each(b, addrRevKey(cb, mark.NextAddr), prefixEnd(key(tAddrRev, cb, 0)), func(k, v []byte) error {
		b.Delete(addrKey(cb, v), nil)
		return nil
	}); err != nil {
		return err
	}
	b.DeleteRange(addrRevKey(cb, mark.NextAddr), prefixEnd(key(tAddrRev, cb, 0)), nil)
	b.DeleteRange(adjKey(cb, mark.NextAddr, 0, 0), prefixEnd(key(tAdj, cb, 0)), nil)
	b.DeleteRange(aggKey(cb, mark.NextAddr), prefixEnd(key(tAgg, cb, 0)), nil)
	// Assets created after the mark.
	if err := s.each(b, assetRevKey(cb, mark.NextAsset), prefixEnd(key(tAssetRev, cb, 0)), func(k, v []byte) error {
		a, err := decodeAssetRec(v)
		if err != nil {
			return err
		}
		b.Delete(assetKey(cb, a.Contract), nil)
		return nil
	}); err != nil {
		return err
	}
	b.DeleteRange(assetRevKey(cb, mark.NextAsset), prefixEnd(key(tAssetRev, cb, 0)), nil)
	// Blocks applied after the mark.
	if err := s.each(b, orderKey(cb, mark.NextTx), prefixEnd(key(tOrder, cb, 0)), func(k, v []byte) error {
		b.Delete(blockKey(cb, binary.BigEndian.Uint64(v)), nil)
		return nil
	}); err != nil {
		return err
	}
	b.DeleteRange(orderKey(cb, mark.NextTx), prefixEnd(key(tOrder, cb, 0)), nil)
	// Recompute the totals of older addresses the undone txs touched.
	times := map[uint64]int64{}
	for id := range affected {
		g, err := s.recomputeAgg(b, cb, id, times)
		if err != nil {
			return err
		}
		b.Delete(aggKey(cb, id), nil)
		if g.TxCount > 0 {
			b.Set(aggKey(cb, id), encodeAgg(nil, g), nil)
		}
	}
	m := meta{Mark: mark, Network: cur.Network}
	b.Set(key(tMeta, cb, 0), encodeMeta(&m), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("pebblestore: commit undo of %s: %w", c, err)
	}
	st.meta = m
	st.addrs, st.complete, st.loadTried = map[string]uint64{}, false, false
	// The undone batches may have allocated asset ids that this undo
	// deleted: drop the asset cache (it refills from Pebble).
	st.assets = map[string]uint32{}
	return nil
}

// each calls fn for every key in [lo, hi) as seen through r.
func (s *Store) each(r pebble.Reader, lo, hi []byte, fn func(k, v []byte) error) error {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			it.Close()
			return err
		}
	}
	return it.Close()
}

// recomputeAgg rebuilds an address's totals from its adjacency as seen
// through r (the undo batch over the database).
func (s *Store) recomputeAgg(r pebble.Reader, c byte, id uint64, times map[uint64]int64) (*agg, error) {
	g := &agg{}
	lastTx := uint64(0)
	err := s.each(r, adjKey(c, id, 0, 0), adjKey(c, id+1, 0, 0), func(k, v []byte) error {
		txnum := binary.BigEndian.Uint64(k[10:18])
		asset := binary.BigEndian.Uint32(k[18:22])
		in, out, nIn, nOut, err := decodeAdj(v)
		if err != nil {
			return err
		}
		one := agg{Assets: []assetAgg{{Asset: asset, Received: in, Sent: out, NIn: nIn, NOut: nOut}}}
		if txnum != lastTx {
			t, err := s.txTime(r, c, txnum, times)
			if err != nil {
				return err
			}
			one.TxCount, one.First, one.Last = 1, t, t
			lastTx = txnum
		}
		g.add(&one)
		return nil
	})
	return g, err
}

// txTime returns the block time of a transaction number.
func (s *Store) txTime(r pebble.Reader, c byte, txnum uint64, times map[uint64]int64) (int64, error) {
	v, closer, err := r.Get(txKey(c, txnum))
	if err != nil {
		return 0, fmt.Errorf("tx %d: %w", txnum, err)
	}
	rd := &reader{b: v}
	rd.hash()
	h := rd.uvarint()
	closer.Close()
	if rd.err != nil {
		return 0, rd.err
	}
	if t, ok := times[h]; ok {
		return t, nil
	}
	bv, closer, err := r.Get(blockKey(c, h))
	if err != nil {
		return 0, fmt.Errorf("block %d: %w", h, err)
	}
	rec, err := decodeBlock(h, bv)
	closer.Close()
	if err != nil {
		return 0, err
	}
	times[h] = rec.Time
	return rec.Time, nil
}
