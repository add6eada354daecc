package pebblestore

import (
	"fmt"

	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// The block and address logs' readers (the logs are in reclog.go).

// blocksIn decodes the records of group k of a block log (the first is
// record k·recStride) for fn, which must copy a record it keeps. Callers
// hold l.mu.
func (l *recLog) blocksIn(k uint64, fn func(r uint64, b *blockRec) bool) error {
	bp := groupBufs.Get().(*[]byte)
	defer groupBufs.Put(bp)
	g, err := l.group(k, (*bp)[:0])
	if err != nil {
		return err
	}
	if cap(g) <= 1<<16 {
		*bp = g[:0]
	}
	base := l.idx[k].off
	var prev *[32]byte
	var bs [2]blockRec // the current record and the one before
	r := k * recStride
	for p := uint64(0); p < uint64(len(g)); r++ {
		rec, next, err := l.frame(g, p, base)
		if err != nil {
			return err
		}
		b := &bs[r&1]
		if err := b.decodeLog(rec, prev, r); err != nil {
			return fmt.Errorf("%s %s record %d (offset %d): %w", l.name, l.path, r, base+p, err)
		}
		if !fn(r, b) {
			return nil
		}
		prev = &b.Hash
		p = next
	}
	return nil
}

// blockAt returns the stored block at height h (store.ErrNotFound when
// there is none). With group, it also calls group with every block of the
// group that holds it (to fill a cache).
func (l *recLog) blockAt(h uint64, group func(b *blockRec)) (*blockRec, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var found *blockRec
	var err error
	l.groupsOf(h, func(k uint64) bool {
		err = l.blocksIn(k, func(_ uint64, b *blockRec) bool {
			if b.Height == h {
				c := *b
				found = &c
			}
			if group != nil {
				group(b)
			}
			return found == nil || group != nil
		})
		return err == nil && found == nil
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("block %d: %w", h, store.ErrNotFound)
	}
	return found, nil
}

// eachBlock calls fn with every block record [from, to) in ingest order.
// Callers hold the store's mutex.
func (l *recLog) eachBlock(from, to uint64, fn func(r uint64, b *blockRec) error) error {
	var prev [32]byte
	return l.scan(from-from%recStride, to, func(r uint64, rec []byte) error {
		p := &prev
		if r%recStride == 0 {
			p = nil
		}
		b, err := decodeBlockLogRec(rec, p, r)
		if err != nil {
			return fmt.Errorf("%s %s record %d: %w", l.name, l.path, r, err)
		}
		prev = b.Hash
		if r < from {
			return nil
		}
		return fn(r, b)
	})
}

// recLogs returns chain c's address and block logs, loading the chain's
// state when needed. It does not need the store's mutex once the chain is
// loaded (callers holding the mutex always have it loaded).
func (s *Store) recLogs(c model.Chain) (addrs, blocks *recLog, err error) {
	if a, b := s.addrLogs[c].Load(), s.blockLogs[c].Load(); a != nil && b != nil {
		return a, b, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.state(c)
	if err != nil {
		return nil, nil, err
	}
	return st.addrLog, st.blockLog, nil
}

// blockAt returns chain c's stored block at height h.
func (s *Store) blockAt(c model.Chain, h uint64) (*blockRec, error) {
	_, bl, err := s.recLogs(c)
	if err != nil {
		return nil, err
	}
	return bl.blockAt(h, nil)
}
