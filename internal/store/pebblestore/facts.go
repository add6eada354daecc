package pebblestore

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/cockroachdb/pebble/v2"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// Facts live under their own table byte, per chain and subject address:
//
//	f c len1 subject height8 txid32 logindex4 → fact record
//
// so one address's facts are one range scan, in block order. Facts are rare
// (blacklistings), so listing a kind or deleting above a height scans the
// chain's facts.
const tFact = 'f'

func factPrefix(c model.Chain) []byte { return []byte{tFact, byte(c)} }

func factSubjectPrefix(c model.Chain, subject []byte) []byte {
	k := append(factPrefix(c), byte(len(subject)))
	return append(k, subject...)
}

func factKey(c model.Chain, f *store.Fact) []byte {
	k := factSubjectPrefix(c, f.Subject)
	k = binary.BigEndian.AppendUint64(k, f.Height)
	k = append(k, f.TxID[:]...)
	return binary.BigEndian.AppendUint32(k, uint32(f.LogIndex)^(1<<31))
}

func encodeFact(f *store.Fact) []byte {
	v := []byte{1} // version
	v = pfBytes(v, []byte(f.Kind))
	v = pfBytes(v, f.Contract)
	a := f.Amount.Bytes()
	v = pfBytes(v, a)
	return binary.AppendVarint(v, f.Time)
}

func decodeFact(c model.Chain, k, v []byte) (store.Fact, error) {
	var f store.Fact
	if len(k) < 3 || len(k) != 3+int(k[2])+8+32+4 {
		return f, fmt.Errorf("%w: fact key", errCorrupt)
	}
	n := int(k[2])
	f.Subject = append([]byte(nil), k[3:3+n]...)
	rest := k[3+n:]
	f.Height = binary.BigEndian.Uint64(rest)
	copy(f.TxID[:], rest[8:40])
	f.LogIndex = int32(binary.BigEndian.Uint32(rest[40:]) ^ (1 << 31))
	r := &pfReader{b: v}
	if ver := r.next(1); len(ver) != 1 || ver[0] != 1 {
		return f, fmt.Errorf("%w: fact version", errCorrupt)
	}
	f.Kind = string(r.bytes())
	f.Contract = append([]byte(nil), r.bytes()...)
	a := r.bytes()
	if len(a) > 32 {
		r.bad = true
	}
	f.Amount.SetBytes(a)
	t, n := binary.Varint(r.b)
	if n <= 0 || r.bad {
		return f, fmt.Errorf("%w: fact record", errCorrupt)
	}
	f.Time = t
	return f, nil
}

// PutFacts implements store.FactStore.
func (s *Store) PutFacts(c model.Chain, facts []store.Fact) error {
	if len(facts) == 0 {
		return nil
	}
	if err := s.awaitCommit(); err != nil { // facts name txs of committed batches
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	for i := range facts {
		f := &facts[i]
		if len(f.Subject) == 0 || len(f.Subject) > 255 {
			return fmt.Errorf("pebblestore: fact %s: subject of %d bytes", f.Kind, len(f.Subject))
		}
		if err := b.Set(factKey(c, f), encodeFact(f), nil); err != nil {
			return err
		}
	}
	return b.Commit(pebble.Sync)
}

// Facts implements store.FactStore.
func (s *Store) Facts(c model.Chain, subject []byte) ([]store.Fact, error) {
	lo := factSubjectPrefix(c, subject)
	var out []store.Fact
	err := scan(s.db, lo, prefixUpper(lo), func(k, v []byte) error {
		f, err := decodeFact(c, k, v)
		if err != nil {
			return err
		}
		out = append(out, f)
		return nil
	})
	return out, err
}

// FactsOfKind implements store.FactStore.
func (s *Store) FactsOfKind(c model.Chain, kind string) ([]store.Fact, error) {
	lo := factPrefix(c)
	var out []store.Fact
	err := scan(s.db, lo, prefixUpper(lo), func(k, v []byte) error {
		f, err := decodeFact(c, k, v)
		if err != nil {
			return err
		}
		if kind == "" || f.Kind == kind {
			out = append(out, f)
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if a.Height != b.Height {
			return a.Height < b.Height
		}
		if a.TxID != b.TxID {
			return string(a.TxID[:]) < string(b.TxID[:])
		}
		return a.LogIndex < b.LogIndex
	})
	return out, err
}

// DeleteFactsAbove implements store.FactStore.
func (s *Store) DeleteFactsAbove(c model.Chain, height uint64) error {
	if err := s.awaitCommit(); err != nil {
		return err
	}
	lo := factPrefix(c)
	b := s.db.NewBatch()
	defer b.Close()
	n := 0
	err := scan(s.db, lo, prefixUpper(lo), func(k, _ []byte) error {
		if len(k) < 3 || len(k) < 3+int(k[2])+8 {
			return fmt.Errorf("%w: fact key", errCorrupt)
		}
		if binary.BigEndian.Uint64(k[3+int(k[2]):]) > height {
			n++
			return b.Delete(append([]byte(nil), k...), nil)
		}
		return nil
	})
	if err != nil || n == 0 {
		return err
	}
	return b.Commit(pebble.Sync)
}
