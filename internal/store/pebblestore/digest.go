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
// (except the segment list, which names files), the tx log's records as
// the `t` keys and values they were in Pebble before layout 4 (which sort
// after every other table), then per chain the derived
// indexes as one sorted sequence whatever the segment boundaries (adjacency
// entries, txid and address hashes, spends) and the UTXO set. Two stores with the same
// logical contents have the same digest, however their data is laid out in
// files and segments. Tests use it to prove undo, idempotence and crash
// recovery exact. It reads everything into memory: a test tool.
func (s *Store) Digest() (string, error) {
	h := sha256.New()
	it, err := s.db.NewIter(&pebble.IterOptions{})
	if err != nil {
		return "", err
	}
	var n [8]byte
	for it.First(); it.Valid(); it.Next() {
		if len(it.Key()) > 0 && it.Key()[0] == tSegList {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return "", err
		}
		binary.BigEndian.PutUint64(n[:], uint64(len(it.Key())))
		h.Write(n[:])
		h.Write(it.Key())
		binary.BigEndian.PutUint64(n[:], uint64(len(v)))
		h.Write(n[:])
		h.Write(v)
	}
	if err := it.Close(); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	chains := slices.Clone(model.AllChains)
	slices.Sort(chains) // key order
	var k, v []byte
	for _, c := range chains {
		st, err := s.state(c)
		if err != nil {
			return "", err
		}
		if err := st.log.scan(1, st.meta.NextTx, func(t uint64, rec *txRec) error {
			// The logical record, as layout 3 stored it under its key.
			v = appendTx(v[:0], rec)
			k = appendTxKey(k[:0], byte(c), t)
			binary.BigEndian.PutUint64(n[:], uint64(len(k)))
			h.Write(n[:])
			h.Write(k)
			binary.BigEndian.PutUint64(n[:], uint64(len(v)))
			h.Write(n[:])
			h.Write(v)
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
		d, err := seg.load()
		if err != nil {
			return err
		}
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
	sort.Slice(all.adj, func(i, j int) bool {
		a, b := &all.adj[i], &all.adj[j]
		if a.addr != b.addr {
			return a.addr < b.addr
		}
		if a.txnum != b.txnum {
			return a.txnum < b.txnum
		}
		return a.asset < b.asset
	})
	for i := range all.adj {
		e := &all.adj[i]
		b = appendSegEntry(binary.BigEndian.AppendUint64(b, e.addr), all, e, 0)
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
			b = appendUTXOEnt(append(b[:0], utxoMagic...), &outs[i].op, &outs[i].u)
			h.Write(sealUTXOSnapshot(b))
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
