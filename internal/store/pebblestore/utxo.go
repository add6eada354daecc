package pebblestore

// The UTXO set of a UTXO chain lives in memory while the store writes (its
// memory is the set, not the chain), persisted as a snapshot file at a
// segment close once the txs since the last snapshot outnumber the set: the
// set as of the list's utxoAt. Loading it reads the snapshot and replays
// the tx log's records after utxoAt, so a crash loses nothing and the snapshot is
// never ahead of the committed chain.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"

	"github.com/spoor-dev/spoor/internal/model"
)

const utxoMagic = "SPUTXO01"

type outpoint struct {
	id   [32]byte
	vout uint32
}

// utxoSet maps an unspent output to its record.
type utxoSet map[outpoint]utxoRec

// encodeUTXOSnapshot writes the set with overlay applied (a nil overlay
// value deletes the output).
func encodeUTXOSnapshot(m utxoSet, overlay map[outpoint]*utxoRec) []byte {
	b := make([]byte, 0, 16+len(m)*56)
	b = append(b, utxoMagic...)
	put := func(op *outpoint, u *utxoRec) {
		b = append(b, op.id[:]...)
		b = putUvarint(b, uint64(op.vout))
		b = putUvarint(b, u.TxNum)
		b = putUvarint(b, u.Addr)
		b = putUvarint(b, u.Value)
		b = append(b, u.Script)
	}
	for op, u := range m {
		if _, ok := overlay[op]; ok {
			continue
		}
		put(&op, &u)
	}
	for op, u := range overlay {
		if u != nil {
			put(&op, u)
		}
	}
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	return append(b, utxoMagic...)
}

func decodeUTXOSnapshot(data []byte, path string) (utxoSet, error) {
	bad := func(what string) error { return fmt.Errorf("%w: UTXO snapshot %s: %s", errCorrupt, path, what) }
	if len(data) < 2*len(utxoMagic)+4 || !bytes.HasPrefix(data, []byte(utxoMagic)) || !bytes.HasSuffix(data, []byte(utxoMagic)) {
		return nil, bad("bad magic")
	}
	body := data[:len(data)-len(utxoMagic)-4]
	if binary.BigEndian.Uint32(data[len(body):]) != crc32.Checksum(body, castagnoli) {
		return nil, bad("checksum mismatch")
	}
	m := utxoSet{}
	r := &reader{b: body[len(utxoMagic):]}
	for len(r.b) > 0 && r.err == nil {
		var op outpoint
		op.id = r.hash()
		op.vout = uint32(r.uvarint())
		u := utxoRec{TxNum: r.uvarint(), Addr: r.uvarint(), Value: r.uvarint(), Script: r.byte1()}
		m[op] = u
	}
	if r.err != nil {
		return nil, bad(r.err.Error())
	}
	return m, nil
}

// ensureUTXO loads the chain's UTXO set into memory. Callers hold s.mu.
func (s *Store) ensureUTXO(c model.Chain, st *chainState) error {
	if st.utxo != nil {
		return nil
	}
	m := utxoSet{}
	if f := st.seg.list.utxoFile; f != 0 {
		p := utxoPath(s.dir, c, f)
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("pebblestore: %w", err)
		}
		if m, err = decodeUTXOSnapshot(data, p); err != nil {
			return err
		}
	}
	recs := map[uint64]*txRec{}
	err := st.log.scan(st.seg.list.utxoAt, st.meta.NextTx, func(n uint64, v []byte) error {
		rec, err := decodeTx(v)
		if err != nil {
			return fmt.Errorf("chain %s tx %d: %w", c, n, err)
		}
		if err := s.resolveInputs(c, rec, recs); err != nil {
			return fmt.Errorf("chain %s tx %d: %w", c, n, err)
		}
		cacheRec(recs, n, rec) // recent outputs are spent soonest
		for _, in := range rec.Inputs {
			delete(m, outpoint{in.PrevID, in.PrevIndex})
		}
		for i, o := range rec.Outputs {
			m[outpoint{rec.ID, uint32(i)}] = utxoRec{TxNum: n, Addr: o.Addr, Value: o.Value, Script: o.Script}
		}
		return nil
	})
	if err != nil {
		return err
	}
	st.utxo = m
	return nil
}

// utxoUndo is one change an Apply made to the in-memory set, kept so that a
// failed Apply can put the set back.
type utxoUndo struct {
	op    outpoint
	rec   utxoRec
	added bool // true: the Apply added op; false: it removed op (rec)
}

func (m utxoSet) rollback(log []utxoUndo) {
	for i := len(log) - 1; i >= 0; i-- {
		u := &log[i]
		if u.added {
			delete(m, u.op)
		} else {
			m[u.op] = u.rec
		}
	}
}
