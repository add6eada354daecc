package pebblestore

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	"github.com/cockroachdb/pebble/v2"
)

// Digest hashes every key and (merged) value in the store: two stores with
// the same logical contents have the same digest, however their data is
// laid out in files. Tests use it to prove undo, idempotence and crash
// recovery exact.
func (s *Store) Digest() (string, error) {
	h := sha256.New()
	it, err := s.db.NewIter(&pebble.IterOptions{})
	if err != nil {
		return "", err
	}
	var n [8]byte
	for it.First(); it.Valid(); it.Next() {
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
	return hex.EncodeToString(h.Sum(nil)), nil
}
