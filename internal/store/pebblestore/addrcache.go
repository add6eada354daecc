package pebblestore

import (
	"bytes"
	"encoding/binary"
	"unsafe"

	"github.com/spoor-dev/spoor/internal/pages"
)

// addrCache maps canonical address bytes to ids: an open-addressing table
// with linear probing over 32-byte slots, placed by the address's addrHash
// (which the caller computes once per address and also needs for the
// segment index). An address of up to 23 bytes (Bitcoin P2PKH/P2SH/P2WPKH
// with their kind byte, Tron, Ethereum: nearly all of them) is held whole in
// its slot, length first, so a lookup reads one slot, usually one cache line,
// and compares three words: exact, with no second read. A longer one (P2WSH,
// P2TR, script pseudo-addresses) keeps its hash and an offset into an arena
// of bytes in the slot, and a hash match is settled by comparing the bytes.
type addrCache struct {
	slots []addrSlot
	shift uint // 64 − log2(len(slots))
	n     int
	arena []byte // long addresses' bytes
	top   uint64 // at least the highest id put since the cache was empty
}

type addrSlot struct {
	// Short: the length in the low byte of k[0], then the bytes, zero
	// padded. Long: k[0] = addrLong | length<<8, k[1] = hash, k[2] = offset
	// in the arena.
	k  [3]uint64
	id uint64 // 0: an empty slot (address ids start at 1)
}

const (
	addrInline = 23
	addrLong   = 0xff
	// The table doubles past addrCacheLoad/8 full, the load the txid index
	// measured best at (hashIndexLoad; not measured separately here): ETL
	// and Bitcoin ingests look new addresses up all the time, and a miss
	// reads ½(1 + 1/(1−α)²) slots, two per 64-byte cache line.
	addrCacheLoad = 5
	addrCacheMin  = 1 << 10
)

// newAddrCache returns a cache with room for n addresses before it grows.
func newAddrCache(n int) *addrCache {
	c := &addrCache{}
	if n > 0 {
		c.resize(max(addrCacheMin, 1<<log2(n*8/addrCacheLoad+1)))
	}
	return c
}

// addrKey is the slot key of a (h: its addrHash); arena is only read for a
// long address already in the cache.
func addrKey(a []byte, h uint64) (k [3]uint64, long bool) {
	k[0], k[1], k[2], long = addrKeyWords(a, h)
	return k, long
}

// addrKeyWords is addrKey as three words. The cache's lookups pass keys as
// words, not arrays: Go returns and passes a [3]uint64 through memory, and
// the caller copied it with 16-byte loads of the callee's 8-byte stores,
// which the CPU cannot forward (a stall of each copy: ≈ 10 % of an Apply's
// resolve step in CPU profiles, BENCHMARKS.md, eighth session); words go in
// registers.
func addrKeyWords(a []byte, h uint64) (k0, k1, k2 uint64, long bool) {
	n := len(a)
	if n > addrInline {
		return addrLong | uint64(n)<<8, h, 0, true
	}
	le := binary.LittleEndian
	if n >= 16 {
		// Read straight from a (most addresses: 20 to 23 bytes). Writing
		// the bytes into an array and reading it back as words, as below,
		// stalled on each read, as above.
		return uint64(n) | le.Uint64(a)<<8, le.Uint64(a[7:]), le.Uint64(a[n-8:]) >> (8 * (23 - n)), false
	}
	var b [24]byte
	b[0] = byte(n)
	copy(b[1:], a)
	return le.Uint64(b[0:]), le.Uint64(b[8:]), le.Uint64(b[16:]), false
}

// find returns the slot of a (hash h, key k0 k1 k2), or the empty slot that ends
// its run, with found false.
func (c *addrCache) find(a []byte, h uint64, k0, k1, k2 uint64, long bool) (i uint64, found bool) {
	mask := uint64(len(c.slots) - 1)
	for i = h >> c.shift; ; i = (i + 1) & mask {
		s := &c.slots[i]
		if s.id == 0 {
			return i, false
		}
		if s.k[0] == k0 && s.k[1] == k1 && (long && bytes.Equal(c.arena[s.k[2]:s.k[2]+uint64(len(a))], a) || !long && s.k[2] == k2) {
			return i, true
		}
	}
}

// get returns the id of address a, whose addrHash is h.
func (c *addrCache) get(a []byte, h uint64) (uint64, bool) {
	if c.n == 0 {
		return 0, false
	}
	k0, k1, k2, long := addrKeyWords(a, h)
	i, ok := c.find(a, h, k0, k1, k2, long)
	return c.slots[i].id, ok
}

// put sets the id (not 0) of address a, whose addrHash is h.
func (c *addrCache) put(a []byte, h, id uint64) {
	if (c.n+1)*8 > len(c.slots)*addrCacheLoad {
		c.resize(max(addrCacheMin, 2*len(c.slots)))
	}
	k0, k1, k2, long := addrKeyWords(a, h)
	i, ok := c.find(a, h, k0, k1, k2, long)
	if ok {
		c.slots[i].id = id
		c.top = max(c.top, id)
		return
	}
	if long {
		k2 = uint64(len(c.arena))
		c.arena = append(c.arena, a...)
	}
	s := &c.slots[i]
	s.k[0], s.k[1], s.k[2], s.id = k0, k1, k2, id
	c.n++
	c.top = max(c.top, id)
}

// slotBytes appends the address in slot s to dst.
func (c *addrCache) slotBytes(s *addrSlot, dst []byte) []byte {
	if s.k[0]&0xff == addrLong {
		return append(dst, c.arena[s.k[2]:s.k[2]+s.k[0]>>8]...)
	}
	var b [24]byte
	binary.LittleEndian.PutUint64(b[0:], s.k[0])
	binary.LittleEndian.PutUint64(b[8:], s.k[1])
	binary.LittleEndian.PutUint64(b[16:], s.k[2])
	return append(dst, b[1:1+b[0]]...)
}

// slotHash is the addrHash of the address in slot s.
func (c *addrCache) slotHash(s *addrSlot) uint64 {
	if s.k[0]&0xff == addrLong {
		return s.k[1]
	}
	var b [24]byte
	binary.LittleEndian.PutUint64(b[0:], s.k[0])
	binary.LittleEndian.PutUint64(b[8:], s.k[1])
	binary.LittleEndian.PutUint64(b[16:], s.k[2])
	return addrHash(b[1 : 1+b[0]])
}

func (c *addrCache) resize(size int) { c.resizeKeep(size, nil, false) }

// resizeKeep places the slots that keep accepts (all, if keep is nil) in
// a new table of size slots; with keep, the long addresses kept get a new
// arena. touch makes the new table's pages present first (populate).
func (c *addrCache) resizeKeep(size int, keep func(*addrSlot) bool, touch bool) {
	old, oldArena := c.slots, c.arena
	c.slots = make([]addrSlot, size)
	hugeArray(c.slots)
	if touch && size > 0 {
		// The kernel maps the fresh pages writable in one call.
		pages.Populate(unsafe.Pointer(&c.slots[0]), uintptr(size)*unsafe.Sizeof(addrSlot{}))
	}
	c.shift = uint(64 - log2(size))
	if keep != nil {
		c.arena = nil
	}
	mask := uint64(size - 1)
	for j := range old {
		s := &old[j]
		if s.id == 0 || keep != nil && !keep(s) {
			continue
		}
		if keep != nil && s.k[0]&0xff == addrLong {
			n := s.k[0] >> 8
			b := oldArena[s.k[2] : s.k[2]+n]
			s.k[2] = uint64(len(c.arena))
			c.arena = append(c.arena, b...)
		}
		i := c.slotHash(s) >> c.shift
		for c.slots[i].id != 0 {
			i = (i + 1) & mask
		}
		c.slots[i] = *s
	}
}

// removeFrom drops every address whose id is min or more (a failed Apply
// takes out the addresses it created) by placing the others again in a
// table of the same size: a failure is rare, and this spares every Apply
// a list of the addresses it added (which also kept the decoded blocks'
// bytes alive).
func (c *addrCache) removeFrom(min uint64) {
	if c.n == 0 {
		return
	}
	old := c.slots
	drop := 0
	for j := range old {
		if old[j].id >= min {
			drop++
		}
	}
	if drop == 0 {
		return
	}
	c.resizeKeep(len(old), func(s *addrSlot) bool { return s.id < min }, false)
	c.n -= drop
}

// empty drops every address, keeping the table's memory.
func (c *addrCache) empty() {
	if c.n > 0 {
		clearSlots(c.slots)
		c.n, c.arena, c.top = 0, c.arena[:0], 0
	}
}

func (c *addrCache) len() int { return c.n }

// clearSlots zeroes a table 256 KiB at a time. One clear of the whole
// table (32–64 MB) is a single runtime memclr that the goroutine cannot be
// preempted in: a collection starting meanwhile spun in suspendG until it
// ended (3–7 % of a 10⁶-transfer ingest's CPU in the runs where it
// happened); between the pieces the goroutine stops at once.
func clearSlots(s []addrSlot) {
	const piece = 256 << 10 / int(unsafe.Sizeof(addrSlot{}))
	for len(s) > piece {
		clear(s[:piece])
		s = s[piece:]
	}
	clear(s)
}
