// Package pebblestore is spoor's embedded storage backend. The records are
// transactions with linked inputs, address bytes by id and blocks, each in
// an append-only log per chain, and in Pebble asset ids and the chain's
// cursor, written by each Apply as one atomic, synced batch after the log
// records it names.
// The derived indexes (txid and address lookup, per-address adjacency and
// totals ordered by transaction number, which is time order, and spent-by)
// live in immutable, memory-mapped segment files built in memory and
// written when a segment fills or the store closes; the UTXO set of a
// Bitcoin-style chain lives in memory with a snapshot per segment. The
// segments are a pure function of the records, so a crash, an undo or a
// reorg rebuilds them exactly. See ARCHITECTURE.md for the layout and why.
package pebblestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/trace"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// Store is the Pebble-backed store.Store.
type Store struct {
	db       *pebble.DB
	dir      string
	segMax   int
	idxEvery int // see Options.LogIndexEvery
	addrMax  int // see Options.AddrCacheEntries

	mu     sync.Mutex
	chains map[model.Chain]*chainState
	txGets int // tx record reads done by Unordered applies to settle txid matches (for tests)
	// logs: each loaded chain's tx log (also in its chainState), for
	// readers that do not take mu.
	logs [256]atomic.Pointer[txLog]
	// addrLogs, blockLogs: each loaded chain's address and block logs
	// (reclog.go), likewise.
	addrLogs, blockLogs [256]atomic.Pointer[recLog]
	// commit: the last pipelined Apply's commit job (commit.go), until a
	// call sees it done; a failed one stays.
	commit atomic.Pointer[commitJob]
}

// chainState is the in-memory view of one chain: its committed meta and a
// bounded cache of address ids.
type chainState struct {
	meta meta
	// addrs: the address ids used most recently (addrgens.go). While it is
	// complete (it holds every address of the chain), a miss means a new
	// address and needs no lookup in the segments and the address log (a
	// negative lookup costs microseconds: most of an ingest's time on
	// fresh addresses).
	addrs *addrGens
	// loadTried: loadAddrs ran since the cache was last dropped.
	loadTried bool
	// assets caches token asset ids by contract. It holds only ids whose
	// asset key is committed in Pebble (an Apply adds the ids it allocated
	// after its commit), and Undo drops it, since an undone batch may have
	// allocated ids that the undo deletes. An asset's id never changes
	// otherwise, so a hit is always what Pebble would answer.
	assets map[string]uint32
	// seg: the chain's segments (closed and open); see segstate.go.
	seg *segState
	// log: the chain's tx records (txlog.go).
	log *txLog
	// addrLog, blockLog: the chain's address bytes by id and its block
	// records in ingest order (reclog.go).
	addrLog, blockLog *recLog
	// utxo: the unspent outputs of a UTXO chain, nil until a write needs
	// them (see utxo.go).
	utxo *utxoSet
	// heights: the stored block heights, nil until an Unordered Apply
	// needs them (see heights.go).
	heights heightSet
	// chunks: the Apply pipeline's indexed chunks, kept for the next Apply
	// (pipeline.go).
	chunks []*txChunk
	// stageBufs: the address stage's arrays of the last Apply, kept for
	// the next (addrstage.go).
	stageBufs [4][]uint64
}

// assetCacheMax bounds the asset-id cache; past it, further contracts are
// looked up in Pebble (a chain with that many tokens is rare).
const assetCacheMax = 1 << 18

// cacheAsset records a committed asset id.
func (st *chainState) cacheAsset(contract string, id uint32) {
	if len(st.assets) < assetCacheMax {
		st.assets[contract] = id
	}
}

// addrCacheMax is the default size of the address-id cache
// (Options.AddrCacheEntries): two generations in its memory (addrgens.go)
// keep the addresses used most recently, and misses are looked up in the
// segments and the address log, so memory stays flat on any chain size.
var addrCacheMax = 1 << 21 // a variable so that tests can exercise the incomplete cache

var _ store.Store = (*Store)(nil)

// Options tunes the store; zero values pick defaults.
type Options struct {
	CacheBytes int64
	// SegmentEntries is the adjacency entries an open segment collects
	// before it is written (default segMaxEntries).
	SegmentEntries int
	// LogIndexEvery is the number of new address or block log index
	// entries (one per 32 records) after which an Apply syncs the log's
	// index file (default 1,024; tests set it small).
	LogIndexEvery int
	// AddrCacheEntries sizes the address-id cache of each chain: the
	// memory of a table of that many addresses (default 2²¹: 128 MB), as
	// two generations that keep the addresses used most recently (1.3 to
	// 2.6 M by default; addrgens.go). An address the cache misses is looked
	// up in the segments' address sections: an operator with the memory can
	// raise it (≈ 64 bytes an address) for chains with more addresses.
	AddrCacheEntries int
}

// Open opens (creating if needed) the store in dir.
func Open(dir string) (*Store, error) { return OpenWith(dir, Options{}) }

// OpenWith opens the store with options.
func OpenWith(dir string, o Options) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("pebblestore: create %s: %w", dir, err)
	}
	if o.CacheBytes == 0 {
		// Reads go to the segments (memory-mapped, the OS caches them) and
		// to the tx and address records: a modest block cache will do.
		o.CacheBytes = 64 << 20
	}
	cache := pebble.NewCache(o.CacheBytes)
	defer cache.Unref()
	opts := &pebble.Options{
		Cache:                       cache,
		MemTableSize:                64 << 20,
		MemTableStopWritesThreshold: 4,
		L0CompactionThreshold:       8,
		L0StopWritesThreshold:       36,
		LBaseMaxBytes:               512 << 20,
		Logger:                      quietLogger{},
		// Damage found on disk is an error of the read (or of the
		// background compaction) that met it, not Pebble's default of
		// Logger.Fatalf, which would end the process in a panic.
		EventListener: &pebble.EventListener{DataCorruption: func(pebble.DataCorruptionInfo) {}},
	}
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		opts.Levels[i].BlockSize = 32 << 10
	}
	opts.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionBalanced })
	db, err := pebble.Open(dir, opts)
	if err != nil {
		if strings.Contains(err.Error(), `merger name from file "spoor.agg.v1"`) {
			// Layout 1 kept totals as merge operands under this merger.
			return nil, fmt.Errorf("%w (layout 1): %s", ErrOldLayout, dir)
		}
		return nil, fmt.Errorf("pebblestore: open %s: %w", dir, err)
	}
	if o.SegmentEntries <= 0 {
		o.SegmentEntries = segMaxEntries
	}
	if o.LogIndexEvery <= 0 {
		o.LogIndexEvery = recIdxSyncEvery
	}
	if o.AddrCacheEntries <= 0 {
		o.AddrCacheEntries = addrCacheMax
	}
	return &Store{db: db, dir: dir, segMax: o.SegmentEntries, idxEvery: o.LogIndexEvery, addrMax: o.AddrCacheEntries, chains: map[model.Chain]*chainState{}}, nil
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}

// Close writes the open segments, then closes the segments and the
// database.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer trace.StartRegion(context.Background(), "store: close").End()
	// A failed commit job leaves memory ahead of the disk: nothing of it
	// is written; the store reopens as of its last committed batch.
	err := s.awaitCommit()
	if err == nil {
		err = s.closeAllOpen()
	}
	for c, st := range s.chains {
		if st.seg != nil {
			st.seg.closeAll()
		}
		s.dropLogs(c, st)
		if lerr := st.log.close(); err == nil {
			err = lerr
		}
		if lerr := st.addrLog.close(); err == nil {
			err = lerr
		}
		if lerr := st.blockLog.close(); err == nil {
			err = lerr
		}
	}
	s.chains = map[model.Chain]*chainState{}
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	return err
}

// closeAllOpen writes every chain's open segment. Callers hold s.mu.
func (s *Store) closeAllOpen() error {
	for _, c := range model.AllChains {
		if st, ok := s.chains[c]; ok && st.seg != nil {
			if err := s.closeOpen(c, st); err != nil {
				return err
			}
		}
	}
	return nil
}

// DiskUsage reports the bytes the store occupies on disk.
func (s *Store) DiskUsage() uint64 {
	s.awaitCommit() // a failed commit leaves the sizes as they are
	return s.db.Metrics().DiskSpaceUsage() + s.segBytes("")
}

// segBytes is the size of the segment directory's files with the suffix
// (all when empty).
func (s *Store) segBytes(suffix string) uint64 {
	var n uint64
	ents, _ := os.ReadDir(segDir(s.dir))
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), suffix) {
			n += uint64(fi.Size())
		}
	}
	return n
}

// TableBytes reports the bytes of the database's sstables and the segment
// and snapshot files: the store's data without the write-ahead log (which
// DiskUsage includes).
func (s *Store) TableBytes() uint64 {
	m := s.db.Metrics()
	var n int64
	for i := range m.Levels {
		n += m.Levels[i].TablesSize
	}
	return uint64(n) + s.segBytes(".seg") + s.segBytes(".utxo") + s.segBytes(".txlog") + s.segBytes(".txidx") +
		s.segBytes(".addr") + s.segBytes(".addridx") + s.segBytes(".blocks") + s.segBytes(".blkidx")
}

// DiskUsageByTable estimates the bytes on disk of each Pebble keyspace (by
// table byte, see codec.go), of the tx logs and their indexes ("t", the
// records' table before layout 4), of the address and block logs ("i" and
// "b", their tables before layout 5), and of the segment ("seg") and UTXO
// snapshot ("utxo") files, for footprint measurements after Flush and
// Compact.
func (s *Store) DiskUsageByTable() (map[string]uint64, error) {
	out := map[string]uint64{}
	for _, t := range []byte{tMeta, tAsset, tAssetRev} {
		n, err := s.db.EstimateDiskUsage([]byte{t}, []byte{t + 1})
		if err != nil {
			return nil, err
		}
		out[string(rune(t))] = n
	}
	out["t"] = s.segBytes(".txlog") + s.segBytes(".txidx")
	out["i"] = s.segBytes(".addr") + s.segBytes(".addridx")
	out["b"] = s.segBytes(".blocks") + s.segBytes(".blkidx") // and "o", the block order, which they hold
	out["seg"] = s.segBytes(".seg")
	out["utxo"] = s.segBytes(".utxo")
	return out, nil
}

// UTXOBytes is the logical size (outpoint and record) of a chain's unspent
// outputs: the working set an ingest holds in memory.
func (s *Store) UTXOBytes(c model.Chain) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.state(c)
	if err != nil || !c.IsUTXO() || s.ensureUTXO(c, st) != nil {
		return 0
	}
	return uint64(st.utxo.len()) * (36 + 25)
}

// Flush writes the open segments and the memtables (for footprint
// measurements).
func (s *Store) Flush() error {
	s.mu.Lock()
	err := s.awaitCommit()
	if err == nil {
		err = s.closeAllOpen()
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.db.Flush()
}

// Compact fully compacts the database (for footprint measurements).
func (s *Store) Compact() error {
	if err := s.awaitCommit(); err != nil {
		return err
	}
	return s.db.Compact(context.Background(), []byte{0}, []byte{0xff, 0xff}, true)
}

// get returns a copy of the value at k, or ErrNotFound.
func (s *Store) get(k []byte) ([]byte, error) {
	v, closer, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), v...)
	closer.Close()
	return out, nil
}

// state returns the chain's in-memory state, loading it on first use, with
// no segment close pending (see startClose). Callers hold s.mu.
func (s *Store) state(c model.Chain) (*chainState, error) {
	// Settling a segment close commits to Pebble, and callers see the
	// chain as it is durable: after a pipelined batch's commit.
	if err := s.awaitCommit(); err != nil {
		return nil, err
	}
	st, err := s.loadState(c)
	if err != nil {
		return nil, err
	}
	if err := s.settle(c, st); err != nil {
		return nil, err
	}
	return st, nil
}

// forget drops the chain's in-memory state (its segments unmapped, its log
// closed): the next use loads it again from disk. Callers hold s.mu.
func (s *Store) forget(c model.Chain, st *chainState) {
	if st.seg != nil {
		st.seg.closeAll()
	}
	s.dropLogs(c, st)
	st.log.close()
	st.addrLog.close()
	st.blockLog.close()
	delete(s.chains, c)
}

// dropLogs unpublishes the chain's logs for lock-free readers.
func (s *Store) dropLogs(c model.Chain, st *chainState) {
	s.logs[c].Store(nil)
	s.addrLogs[c].Store(nil)
	s.blockLogs[c].Store(nil)
}

// loadState is state without settling a pending segment close: Apply's
// view, which finds a pending segment's txids and addresses through its
// hash indexes. Callers hold s.mu.
func (s *Store) loadState(c model.Chain) (*chainState, error) {
	if st, ok := s.chains[c]; ok {
		return st, nil
	}
	st := &chainState{addrs: newAddrGens(s.addrMax), assets: map[string]uint32{}}
	v, err := s.get(key(tMeta, byte(c), 0))
	switch {
	case errors.Is(err, store.ErrNotFound):
		st.meta = *emptyMeta()
	case err != nil:
		return nil, err
	default:
		m, err := decodeMeta(v)
		if err != nil {
			return nil, fmt.Errorf("chain %s meta: %w", c, err)
		}
		st.meta = *m
	}
	if st.log, err = openTxLog(s.dir, c, &st.meta); err != nil {
		return nil, err
	}
	if st.addrLog, err = openAddrLog(s.dir, c, &st.meta); err == nil {
		st.blockLog, err = openBlockLog(s.dir, c, &st.meta)
	}
	if err == nil {
		st.addrLog.syncEvery, st.blockLog.syncEvery = s.idxEvery, s.idxEvery
	}
	if err != nil {
		st.log.close()
		st.addrLog.close()
		return nil, err
	}
	s.logs[c].Store(st.log)
	s.addrLogs[c].Store(st.addrLog)
	s.blockLogs[c].Store(st.blockLog)
	if err := s.loadSegs(c, st); err != nil {
		s.dropLogs(c, st)
		st.log.close()
		st.addrLog.close()
		st.blockLog.close()
		return nil, err
	}
	s.chains[c] = st
	return st, nil
}

// loadAddrs fills the address cache with the chain's last addresses (the
// most recent ones, which an ingest is likeliest to see again), as many as
// a generation holds: all of them, making it complete, when they fit.
// Callers hold s.mu.
func (s *Store) loadAddrs(c model.Chain, st *chainState) error {
	if st.loadTried {
		return nil
	}
	st.loadTried = true
	n := st.meta.NextAddr - 1
	g := newAddrGens(s.addrMax)
	k := min(n, uint64(g.cap))
	g.reserve(int(k))
	if err := st.addrLog.scan(n-k, n, func(r uint64, v []byte) error {
		g.cur.put(v, addrHash(v), r+1)
		return nil
	}); err != nil {
		return err
	}
	if uint64(g.cur.len()) != k {
		return fmt.Errorf("%w: chain %s: %d distinct addresses in the address log's last %d records", errCorrupt, c, g.cur.len(), k)
	}
	g.loaded(n-k+1, n)
	st.addrs = g
	return nil
}

// writeState is chain c's state with its address cache loaded, as a write
// needs it. Callers hold s.mu.
func (s *Store) writeState(c model.Chain) (*chainState, error) {
	st, err := s.loadState(c)
	if err != nil {
		return nil, err
	}
	if err := s.loadAddrs(c, st); err != nil {
		return nil, err
	}
	return st, nil
}

// Reserve implements store.Reserver: the address cache is sized for the
// chain's addresses and the expected new ones (up to its cap), and the
// open segment's adjacency array for the expected transfers and a quarter
// more (up to a segment), so that an ingest does not rehash the cache and
// copy the array as they fill (on the 1 M-transfer chain the cache's
// doublings alone were ≈ 5 % of the ingest's CPU); the open segment's
// other arrays likewise (reserveRest, openreserve.go). The cache and the
// segment's arrays are sized on two goroutines at once: nearly all of it
// is the kernel mapping and clearing fresh pages, which runs on both cores
// (one had sat idle: the decoders stop once their budget is full), and
// the ingest's first Apply waits for it.
func (s *Store) Reserve(c model.Chain, addresses, transfers uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.writeState(c)
	if err != nil {
		return err
	}
	defer trace.StartRegion(context.Background(), "store: reserve").End()
	done := make(chan struct{})
	go func() {
		defer close(done)
		st.addrs.reserve(int(min(uint64(s.addrMax), addresses)))
	}()
	want := min(uint64(s.segMax+adjSlack(s.segMax)), transfers+transfers/4)
	if d := st.seg.open; want > uint64(cap(d.adj)) {
		d.adj = grow(d.adj, int(want)-len(d.adj))
	}
	st.seg.open.reserveRest(addresses, transfers, s.segMax)
	<-done
	return nil
}

// Mark implements store.Writer.
func (s *Store) Mark(c model.Chain) (store.Mark, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.loadState(c) // the meta only: no need to wait for a segment close
	if err != nil {
		return store.Mark{}, err
	}
	return st.meta.Mark, nil
}

// Network implements store.Reader.
func (s *Store) Network(c model.Chain) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.loadState(c) // the meta only: no need to wait for a segment close
	if err != nil {
		return "", err
	}
	return st.meta.Network, nil
}

// SetNetwork implements store.Writer.
func (s *Store) SetNetwork(c model.Chain, network string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.state(c)
	if err != nil {
		return err
	}
	if st.meta.Network == network {
		return nil
	}
	if st.meta.Network != "" {
		return fmt.Errorf("%w: store holds %s %s, input is %s", store.ErrChain, c, st.meta.Network, network)
	}
	m := st.meta
	m.Network = network
	if err := s.db.Set(key(tMeta, byte(c), 0), encodeMeta(&m), pebble.Sync); err != nil {
		return err
	}
	st.meta = m
	return nil
}

// PutAsset implements store.Writer.
func (s *Store) PutAsset(c model.Chain, contract []byte, symbol string, decimals int) (model.AssetID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.state(c)
	if err != nil {
		return 0, err
	}
	if len(contract) == 0 {
		return 0, fmt.Errorf("pebblestore: PutAsset needs a contract (the native asset is fixed)")
	}
	b := s.db.NewBatch()
	defer b.Close()
	m := st.meta
	fresh := map[string]uint32{}
	id, err := s.assetID(b, st, byte(c), &m, contract, fresh)
	if err != nil {
		return 0, err
	}
	b.Set(assetRevKey(byte(c), uint32(id)), encodeAssetRec(&assetRec{Contract: contract, Symbol: symbol, Decimals: decimals}), nil)
	b.Set(key(tMeta, byte(c), 0), encodeMeta(&m), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return 0, err
	}
	st.meta = m
	for k, v := range fresh {
		st.cacheAsset(k, v)
	}
	return id, nil
}

// assetID returns the id of a token contract, allocating it in b when new
// and recording it in fresh, the batch's map of new assets (the caller adds
// fresh to st's cache once b is committed).
func (s *Store) assetID(b *pebble.Batch, st *chainState, c byte, m *meta, contract []byte, fresh map[string]uint32) (model.AssetID, error) {
	if id, ok := fresh[string(contract)]; ok {
		return model.AssetID(id), nil
	}
	if id, ok := st.assets[string(contract)]; ok {
		return model.AssetID(id), nil
	}
	// An asset a pipelined batch allocated is in Pebble once its commit
	// job is done (the cache may not hold it).
	if err := s.awaitCommit(); err != nil {
		return 0, err
	}
	v, err := s.get(assetKey(c, contract))
	if err == nil {
		r := &reader{b: v}
		id := r.uvarint()
		if r.err != nil {
			return 0, r.err
		}
		st.cacheAsset(string(contract), uint32(id))
		return model.AssetID(id), nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	id := m.NextAsset
	m.NextAsset++
	b.Set(assetKey(c, contract), putUvarint(nil, uint64(id)), nil)
	b.Set(assetRevKey(c, id), encodeAssetRec(&assetRec{Contract: contract, Decimals: -1}), nil)
	fresh[string(contract)] = id
	return model.AssetID(id), nil
}
