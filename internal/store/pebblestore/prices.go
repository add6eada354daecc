package pebblestore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/cockroachdb/pebble/v2"
	"github.com/spoor-dev/spoor/internal/store"
)

// Prices live under their own table byte, apart from chain data:
//
//	p asset 0x00 time8 → uvarint len ‖ usd ‖ uvarint len ‖ source
//
// time8 is the unix time with its sign bit flipped, so keys sort by time.
const tPrice = 'p'

func priceKey(asset string, t int64) []byte {
	k := make([]byte, 0, len(asset)+10)
	k = append(k, tPrice)
	k = append(k, asset...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, uint64(t)^(1<<63))
}

func priceAssetPrefix(asset string) []byte {
	return append(append([]byte{tPrice}, asset...), 0)
}

// PutPrices implements store.PriceStore.
func (s *Store) PutPrices(points []store.PricePoint) error {
	b := s.db.NewBatch()
	defer b.Close()
	for i := range points {
		p := &points[i]
		if p.Asset == "" || bytes.IndexByte([]byte(p.Asset), 0) >= 0 {
			return fmt.Errorf("pebblestore: price asset %q: empty or contains NUL", p.Asset)
		}
		v := pfBytes(nil, []byte(p.USD))
		v = pfBytes(v, []byte(p.Source))
		if err := b.Set(priceKey(p.Asset, p.Time), v, nil); err != nil {
			return err
		}
	}
	return b.Commit(pebble.Sync)
}

// Prices implements store.PriceStore.
func (s *Store) Prices(asset string) ([]store.PricePoint, error) {
	lo := priceAssetPrefix(asset)
	var out []store.PricePoint
	err := scan(s.db, lo, prefixUpper(lo), func(k, v []byte) error {
		if len(k) != len(lo)+8 {
			return fmt.Errorf("%w: price key length %d", errCorrupt, len(k))
		}
		t := int64(binary.BigEndian.Uint64(k[len(lo):]) ^ (1 << 63))
		r := &pfReader{b: v}
		usd := string(r.bytes())
		src := string(r.bytes())
		if r.bad {
			return fmt.Errorf("%w: price record", errCorrupt)
		}
		out = append(out, store.PricePoint{Asset: asset, Time: t, USD: usd, Source: src})
		return nil
	})
	return out, err
}

// PriceAssets implements store.PriceStore.
func (s *Store) PriceAssets() ([]string, error) {
	seen := map[string]bool{}
	err := scan(s.db, []byte{tPrice}, []byte{tPrice + 1}, func(k, _ []byte) error {
		if i := bytes.IndexByte(k[1:], 0); i >= 0 {
			seen[string(k[1:1+i])] = true
		}
		return nil
	})
	out := make([]string, 0, len(seen))
	for a := range seen {
		out = append(out, a)
	}
	sort.Strings(out)
	return out, err
}

// pfBytes appends a uvarint length and the bytes (price and fact records).
func pfBytes(b, v []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(v))), v...)
}

// pfReader decodes price and fact records; bad sticks.
type pfReader struct {
	b   []byte
	bad bool
}

func (r *pfReader) next(n int) []byte {
	if r.bad || n < 0 || n > len(r.b) {
		r.bad = true
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *pfReader) bytes() []byte {
	n, k := binary.Uvarint(r.b)
	if k <= 0 || n > uint64(len(r.b)) {
		r.bad = true
		return nil
	}
	r.b = r.b[k:]
	return r.next(int(n))
}

// scan calls fn for every key in [lo, hi).
func scan(r pebble.Reader, lo, hi []byte, fn func(k, v []byte) error) error {
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

// prefixUpper is the smallest key above every key starting with p.
func prefixUpper(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}
