package pebblestore

import "sync"

// groupCache keeps checked, complete groups of an append-only log (tx,
// address and block logs) in memory, so that a warm read needs no system
// call and no checksum. A complete group never changes but for an undo,
// which cuts the log and clears the cache first. Readers get a copy: a
// cached group is never handed out to be read into.
type groupCache struct {
	mu    sync.Mutex
	m     map[uint64][]byte
	bytes int
}

// groupCacheBytes bounds each log's cache (three logs a chain).
var groupCacheBytes = 8 << 20

// get appends group k to dst when cached.
func (c *groupCache) get(k uint64, dst []byte) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g, ok := c.m[k]
	if !ok {
		return dst, false
	}
	return append(dst, g...), true
}

// put caches a copy of group k, dropping arbitrary groups (Go's map order)
// when over budget.
func (c *groupCache) put(k uint64, g []byte) {
	if len(g) > groupCacheBytes/8 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[uint64][]byte{}
	}
	if _, ok := c.m[k]; ok {
		return
	}
	for old, v := range c.m {
		if c.bytes+len(g) <= groupCacheBytes {
			break
		}
		delete(c.m, old)
		c.bytes -= len(v)
	}
	c.m[k] = append([]byte(nil), g...)
	c.bytes += len(g)
}

func (c *groupCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m, c.bytes = nil, 0
}
