package pebblestore

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"
	"sort"

	"github.com/cockroachdb/pebble/v2"
	"github.com/spoor-dev/spoor/internal/model"
)

// Digest hashes the store's logical contents: every Pebble key and value
// (except the segment list, which names files, and in the meta the count
// of durable log index entries), the address and block
// logs' records as the `i`, `b` and `o` keys and values they were in Pebble
// before layout 5, in key order among them, the tx log's records as the
// `t` keys and values they were in Pebble before layout 4 (which sort
// after every other table), then per chain the derived
// indexes as one sorted sequence whatever the segment boundaries (adjacency
// entries, txid and address hashes, spends) and the UTXO set. Two stores with the same
// logical contents have the same digest, however their data is laid out in
// files and segments. Tests use it to prove undo, idempotence and crash
// recovery exact. It reads everything into memory: a test tool.
func (s *Store) Digest() (string, error) {
	h := sha256.New()
	var n [8]byte
	put := func(k, v []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(k)))
		h.Write(n[:])
		h.Write(k)
		binary.BigEndian.PutUint64(n[:], uint64(len(v)))
		h.Write(n[:])
		h.Write(v)
	}
	s.mu.Lock()
	if err := s.awaitCommit(); err != nil {
		s.mu.Unlock()
		return "", err
	}
	defer s.mu.Unlock()
	chains := slices.Clone(model.AllChains)
	slices.Sort(chains) // key order
	// The address and block logs' records as the `i`, `b` and `o` keys
	// and values they were before layout 5, hashed where they sort among
	// the Pebble keys.
	logTables := []byte{tBlock, tAddrRev, tOrder} // key order
	emit := func(t byte) error {
		for _, c := range chains {
			st, err := s.state(c)
			if err != nil {
				return err
			}
			cb := byte(c)
			switch t {
			case tAddrRev:
				if err := st.addrLog.scan(0, st.meta.NextAddr-1, func(r uint64, v []byte) error {
					put(addrRevKey(cb, r+1), v)
					return nil
				}); err != nil {
					return err
				}
			case tBlock, tOrder:
				var recs []*blockRec
				if err := st.blockLog.eachBlock(0, st.meta.Blocks, func(_ uint64, b *blockRec) error {
					if t == tOrder && len(recs) > 0 && recs[len(recs)-1].FirstTx == b.FirstTx {
						recs = recs[:len(recs)-1] // one order key per first tx: the last block's
					}
					recs = append(recs, b)
					return nil
				}); err != nil {
					return err
				}
				if t == tOrder {
					for _, b := range recs {
						put(orderKey(cb, b.FirstTx), be64(nil, b.Height))
					}
					continue
				}
				sort.Slice(recs, func(i, j int) bool { return recs[i].Height < recs[j].Height })
				for _, b := range recs {
					put(blockKey(cb, b.Height), encodeBlock(b))
				}
			}
		}
		return nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{})
	if err != nil {
		return "", err
	}
	for it.First(); it.Valid(); it.Next() {
		if len(it.Key()) > 0 && it.Key()[0] == tSegList {
			continue
		}
		for len(logTables) > 0 && (len(it.Key()) == 0 || it.Key()[0] > logTables[0]) {
			if err := emit(logTables[0]); err != nil {
				it.Close()
				return "", err
			}
			logTables = logTables[1:]
		}
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return "", err
		}
		if it.Key()[0] == tMeta {
			// How much of the logs' indexes is durable is how the store
			// got there (an undo keeps what it synced), not its contents.
			m, err := decodeMeta(v)
			if err != nil {
				it.Close()
				return "", err
			}
			m.AddrIdx, m.BlockIdx = 0, 0
			v = encodeMeta(m)
		}
		put(it.Key(), v)
	}
	if err := it.Close(); err != nil {
		return "", err
	}
	for _, t := range logTables {
		if err := emit(t); err != nil {
			return "", err
		}
	}
	var k, v []byte
	for _, c := range chains {
		st, err := s.state(c)
		if err != nil {
			return "", err
		}
		vc := newViewCache()
		if err := st.log.scan(1, st.meta.NextTx, func(t uint64, rec *txRec) error {
			// The logical record, as layout 3 stored it under its key,
			// with what layout 8 derives derived as the readers do (the
			// spent records read through checked groups: the scan checks
			// a group once past it).
			if err := s.resolveInputs(c, rec, nil); err != nil {
				return fmt.Errorf("chain %s tx %d: %w", c, t, err)
			}
			if err := rec.fillIndex(t, s.viewBlock(c, rec.Height, vc)); err != nil {
				return err
			}
			v = appendTx(v[:0], rec)
			k = appendTxKey(k[:0], byte(c), t)
			put(k, v)
			return nil
		}); err != nil {
			return "", err
		}
	}
	for _, c := range model.AllChains {
		st, err := s.state(c)
		if err != nil {
			return "", err
		}
		if err := s.digestChain(h, c, st); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (s *Store) digestChain(h hash.Hash, c model.Chain, st *chainState) error {
	all := &segData{}
	for _, seg := range st.seg.segs {
		d, err := seg.load(st.log)
		if err != nil {
			return err
		}
		swept, err := sweptSpends(st.log, d)
		if err != nil {
			return err
		}
		d.spent = append(d.spent, swept...)
		all.appendRaw(d)
	}
	all.appendRaw(st.seg.open)
	if len(all.txids) == 0 && len(all.addrs) == 0 && !c.IsUTXO() {
		return nil
	}
	fmt.Fprintf(h, "chain %d", c)
	var b []byte
	sort.Slice(all.txids, func(i, j int) bool { return all.txids[i].num < all.txids[j].num })
	for _, t := range all.txids {
		b = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(b, t.num), t.hash>>32)
	}
	sort.Slice(all.addrs, func(i, j int) bool { return all.addrs[i].num < all.addrs[j].num })
	for _, t := range all.addrs {
		b = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(b, t.num), t.hash>>32)
	}
	sort.Slice(all.adj, func(i, j int) bool { return all.cmpAdj(&all.adj[i], &all.adj[j]) < 0 })
	for i := range all.adj {
		e := &all.adj[i]
		b = appendSegEntry(binary.BigEndian.AppendUint64(b, all.entAddr(e)), all, e, 0, nil)
	}
	sort.Slice(all.spent, func(i, j int) bool {
		a, b := all.spent[i], all.spent[j]
		return a.prevTx < b.prevTx || a.prevTx == b.prevTx && a.vout < b.vout
	})
	for _, e := range all.spent {
		b = binary.BigEndian.AppendUint64(b, e.prevTx)
		b = binary.BigEndian.AppendUint32(b, e.vout)
		b = binary.BigEndian.AppendUint64(b, e.spender)
	}
	h.Write(b)
	if c.IsUTXO() {
		if err := s.ensureUTXO(c, st); err != nil {
			return err
		}
		type out struct {
			op outpoint
			u  utxoRec
		}
		outs := make([]out, 0, st.utxo.len())
		st.utxo.each(func(op *outpoint, u *utxoRec) { outs = append(outs, out{*op, *u}) })
		sort.Slice(outs, func(i, j int) bool {
			if c := bytes.Compare(outs[i].op.id[:], outs[j].op.id[:]); c != 0 {
				return c < 0
			}
			return outs[i].op.vout < outs[j].op.vout
		})
		var b []byte
		for i := range outs {
			// Each output as the snapshot of a set holding it alone.
			b = appendUTXOEnt(append(b[:0], utxoMagicV1...), &outs[i].op, &outs[i].u)
			h.Write(sealUTXOSnapshot(b, utxoMagicV1))
		}
	}
	return nil
}

// appendRaw appends o's content to d without regard to ranges (for Digest).
func (d *segData) appendRaw(o *segData) {
	end := d.end
	d.appendData(o)
	if end > d.end {
		d.end = end
	}
}
