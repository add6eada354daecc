package pebblestore

// addrCache maps canonical address bytes to ids. Addresses of up to 21
// bytes (Bitcoin P2PKH/P2SH/P2WPKH with their kind byte, Tron, Ethereum)
// are keyed by a fixed array held inside the map, so a lookup touches one
// place in memory; a string key would point to bytes elsewhere, a second
// cache miss per lookup on a map of millions. Longer ones (P2WSH, P2TR,
// script pseudo-addresses) use a string-keyed map.
type addrCache struct {
	short map[[22]byte]uint64 // [0] = length, then the bytes
	long  map[string]uint64
}

func newAddrCache(n int) *addrCache {
	return &addrCache{short: make(map[[22]byte]uint64, n), long: map[string]uint64{}}
}

func shortKey(a []byte) (k [22]byte, ok bool) {
	if len(a) > 21 {
		return k, false
	}
	k[0] = byte(len(a))
	copy(k[1:], a)
	return k, true
}

func (c *addrCache) get(a []byte) (uint64, bool) {
	if k, ok := shortKey(a); ok {
		id, ok := c.short[k]
		return id, ok
	}
	id, ok := c.long[string(a)]
	return id, ok
}

func (c *addrCache) put(a []byte, id uint64) {
	if k, ok := shortKey(a); ok {
		c.short[k] = id
		return
	}
	c.long[string(a)] = id
}

func (c *addrCache) remove(a []byte) {
	if k, ok := shortKey(a); ok {
		delete(c.short, k)
		return
	}
	delete(c.long, string(a))
}

func (c *addrCache) len() int { return len(c.short) + len(c.long) }
