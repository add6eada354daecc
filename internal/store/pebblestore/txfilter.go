package pebblestore

import (
	"hash/maphash"

	"github.com/spoor-dev/spoor/internal/model"
)

// txFilter is a Bloom filter over the txids a chain has stored, kept in
// memory so that Unordered mode (exports) can skip its per-transaction
// duplicate lookup in Pebble when the filter says a txid was never stored.
//
// Why this is exact: the filter only answers "maybe stored" or "certainly
// not stored", and it is a superset of the chain's stored txids at all
// times. It is built by scanning every txid key of the chain; after an
// Unordered Apply commits, every txid that batch stored is added (the
// applier's txids map holds exactly the txid keys it wrote). Undo and
// RollbackTo only delete txid keys, which leaves the filter a superset (a
// deleted txid costs a lookup, never a wrong answer). A Linked Apply writes
// txids the applier does not collect, so it drops the filter, and a new
// process rebuilds it from Pebble. "Maybe" falls back to the Pebble lookup,
// so a false positive costs time, never a double count or a lost
// transaction.
type txFilter struct {
	bits []uint64
	m    uint64 // number of bits
	n    uint64 // txids added
	cap  uint64 // txids it was sized for (10 bits each, about 1% false positives)
	seed maphash.Seed
}

const txFilterHashes = 7

// txFilterMax bounds the filter (12 MB of bits at 10 bits per txid); a
// chain with more stored txs keeps looking every txid up in Pebble.
var txFilterMax uint64 = 10 << 20 // a variable so that tests can exercise the fallback

// txFilterScanRatio: the filter is built only for a batch of at least
// 1/txFilterScanRatio of the stored txs (a scanned key costs far less than a
// point lookup, so the scan pays for itself within the batch).
const txFilterScanRatio = 16

// txFilterMin is the smallest capacity built (a variable so that tests can
// force rebuilds).
var txFilterMin uint64 = 1 << 20

func newTxFilter(capacity uint64) *txFilter {
	m := (capacity*10 + 63) &^ 63
	return &txFilter{bits: make([]uint64, m/64), m: m, cap: capacity, seed: maphash.MakeSeed()}
}

func (f *txFilter) hashes(id *[32]byte) (h1, h2 uint64) {
	h := maphash.Bytes(f.seed, id[:])
	return h, (h>>29 | h<<35) | 1
}

func (f *txFilter) add(id *[32]byte) {
	h1, h2 := f.hashes(id)
	for i := uint64(0); i < txFilterHashes; i++ {
		b := (h1 + i*h2) % f.m
		f.bits[b/64] |= 1 << (b % 64)
	}
	f.n++
}

// mayHave reports whether id may have been added; false is certain.
func (f *txFilter) mayHave(id *[32]byte) bool {
	h1, h2 := f.hashes(id)
	for i := uint64(0); i < txFilterHashes; i++ {
		b := (h1 + i*h2) % f.m
		if f.bits[b/64]&(1<<(b%64)) == 0 {
			return false
		}
	}
	return true
}

// txFilterFor returns the chain's txid filter with room for more txids, or
// nil when the chain is too large for one (then every txid is looked up).
// It (re)builds the filter from Pebble's txid keys when there is none or it
// is full. Callers hold s.mu.
func (s *Store) txFilterFor(c model.Chain, st *chainState, more uint64) (*txFilter, error) {
	if f := st.txf; f != nil && f.n+more <= f.cap {
		return f, nil
	}
	st.txf = nil
	need := st.meta.Txs + more
	if need > txFilterMax {
		return nil, nil
	}
	if more*txFilterScanRatio < st.meta.Txs {
		// A small batch into a large store: scanning every stored txid
		// costs more than looking this batch's txids up.
		return nil, nil
	}
	f := newTxFilter(min(max(2*need, txFilterMin), txFilterMax))
	p := key(tTxID, byte(c), 0)
	var id [32]byte
	err := s.each(s.db, p, prefixEnd(p), func(k, v []byte) error {
		if len(k) == 2+32 {
			copy(id[:], k[2:])
			f.add(&id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if f.n+more > f.cap { // more keys than the meta counts: do without
		return nil, nil
	}
	st.txf = f
	return f, nil
}
