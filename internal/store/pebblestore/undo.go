package pebblestore

import (
	"fmt"
	"sort"

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
	rec, err := s.blockAt(c, height+1)
	if err != nil {
		return fmt.Errorf("pebblestore: rollback %s to %d: block %d: %w", c, height, height+1, err)
	}
	return s.Undo(c, rec.Before.Mark)
}

// Undo implements store.Writer. The Pebble part deletes the asset records
// made after the mark in one synced batch, whose meta ends the tx, address
// and block logs at the first undone tx, address and block; the logs are
// truncated there after the commit (on open, a log longer than its meta
// says is cut to it). The
// derived parts follow: the UTXO set gets back the outputs the undone txs
// spent; an undo inside the open segment truncates it, and an undo into a
// closed segment rewrites that segment's kept part and a UTXO snapshot as
// new files before the same batch commits the new segment list, so a crash
// leaves either the old state or the new one.
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
	if c.IsUTXO() {
		if err := s.ensureUTXO(c, st); err != nil {
			return err
		}
	}
	cb := byte(c)
	b := s.db.NewIndexedBatch()
	defer b.Close()

	// The UTXO changes, newest tx first: outputs the undone txs created
	// go, outputs they spent that older txs created come back.
	overlay := map[outpoint]*utxoRec{}
	recs := map[uint64]*txRec{}
	for n := cur.NextTx - 1; n >= mark.NextTx && n > 0; n-- {
		t, err := s.txByNum(c, n)
		if err != nil {
			return fmt.Errorf("undo: %w", err)
		}
		for i := range t.Outputs {
			overlay[outpoint{t.ID, uint32(i)}] = nil
		}
		if err := s.resolveInputs(c, t, recs); err != nil {
			return fmt.Errorf("undo: %w", err)
		}
		for _, in := range t.Inputs {
			if in.PrevTx >= mark.NextTx {
				continue // its creator is undone too
			}
			overlay[outpoint{in.PrevID, in.PrevIndex}] = &utxoRec{TxNum: in.PrevTx, Addr: in.Addr, Value: in.Value, Script: in.Script}
		}
	}
	logEnd, err := st.log.offset(mark.NextTx)
	if err != nil {
		return fmt.Errorf("undo: %w", err)
	}
	// Addresses created and blocks stored after the mark: the ends of
	// their logs at the mark.
	if mark.NextAddr < 1 || mark.Blocks > cur.Blocks {
		return fmt.Errorf("pebblestore: undo %s: mark is ahead of the store", c)
	}
	addrEnd, err := st.addrLog.offset(mark.NextAddr - 1)
	if err != nil {
		return fmt.Errorf("undo: %w", err)
	}
	blockEnd, err := st.blockLog.offset(mark.Blocks)
	if err != nil {
		return fmt.Errorf("undo: %w", err)
	}
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
	m := meta{Mark: mark, Network: cur.Network, LogEnd: logEnd, AddrEnd: addrEnd, BlockEnd: blockEnd,
		AddrIdx: min(cur.AddrIdx, recIdxLen(mark.NextAddr-1)), BlockIdx: min(cur.BlockIdx, recIdxLen(mark.Blocks))}
	b.Set(key(tMeta, cb, 0), encodeMeta(&m), nil)

	g := st.seg
	var newList *segList
	var newSeg *segment
	var dropped []*segment
	if mark.NextTx < g.list.segEnd {
		// The undo reaches into closed segments: the first one it touches
		// is rewritten with the txs it keeps, the later ones go.
		k := sort.Search(len(g.list.segs), func(i int) bool { return g.list.segs[i].end > mark.NextTx })
		l := g.list
		l.segs = append([]segRef(nil), g.list.segs[:k]...)
		dropped = append([]*segment(nil), g.segs[k:]...)
		from := g.list.segs[k].start
		if mark.NextTx > from {
			as := g.segs[k].addrStart
			d := &segData{start: from, end: from, addrStart: as, addrEnd: as, utxo: c.IsUTXO()}
			if err := s.replay(c, d, from, mark.NextTx, mark.NextAddr); err != nil {
				return err
			}
			img, err := encodeSeg(d)
			if err != nil {
				return err
			}
			ref := segRef{file: l.nextFile, start: from, end: mark.NextTx, nAdj: uint64(len(d.adj))}
			l.nextFile++
			if err := writeFile(segPath(s.dir, c, ref.file), img); err != nil {
				return fmt.Errorf("pebblestore: undo: write segment: %w", err)
			}
			if newSeg, err = openSegment(segPath(s.dir, c, ref.file)); err != nil {
				return err
			}
			l.segs = append(l.segs, ref)
		}
		l.segEnd = mark.NextTx
		l.addrEnd = mark.NextAddr
		l.utxoFile, l.utxoAt = 0, 1
		if c.IsUTXO() {
			l.utxoFile, l.utxoAt = l.nextFile, mark.NextTx
			l.nextFile++
			img, err := encodeUTXOSnapshot(utxoSnapshotKeys(st.utxo, overlay), mark.NextTx)
			if err == nil {
				err = writeFile(utxoPath(s.dir, c, l.utxoFile), img)
			}
			if err != nil {
				if newSeg != nil {
					newSeg.close()
				}
				return fmt.Errorf("pebblestore: undo: write UTXO snapshot: %w", err)
			}
		}
		newList = &l
		b.Set(key(tSegList, cb, 0), encodeSegList(newList), nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		if newSeg != nil {
			newSeg.close()
		}
		return fmt.Errorf("pebblestore: commit undo of %s: %w", c, err)
	}
	st.meta = m
	st.log.truncate(mark.NextTx, logEnd)
	if err := st.addrLog.truncate(mark.NextAddr-1, addrEnd); err != nil {
		s.forget(c, st) // reloaded from disk at the next use
		return err
	}
	if err := st.blockLog.truncate(mark.Blocks, blockEnd); err != nil {
		s.forget(c, st)
		return err
	}
	for op, u := range overlay {
		if u == nil {
			st.utxo.del(op)
		} else if err := st.utxo.set(op, *u); err != nil {
			return err
		}
	}
	if newList != nil {
		g.segs = g.segs[:len(g.segs)-len(dropped)]
		if newSeg != nil {
			g.segs = append(g.segs, newSeg)
		}
		g.list = *newList
		for _, x := range dropped {
			x.close()
		}
		s.removeOrphans(c, &g.list)
		g.resetOpen(mark.NextTx, mark.NextAddr)
		g.dropFilters()
	} else {
		g.truncateOpen(mark.NextTx, mark.NextAddr)
	}
	st.addrs, st.loadTried = newAddrGens(s.addrMax), false // loaded again from the cut address log
	st.heights = nil                                       // rebuilt from the block keys when next needed
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
