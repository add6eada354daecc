package pebblestore

import (
	"unsafe"

	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/prefetch"
	"github.com/spoor-dev/spoor/internal/store"
)

// Resolving a transaction is a chain of random reads into tables far larger
// than the CPU's caches: an address's slot in the address cache (and, once
// that is full, its block of the closed segments' address filter,
// segfilter.go), a txid's slot in the open segment's index and its block of
// the txid filter, an outpoint's slot in the UTXO set and then its entry.
// One after the other, each waits out a full memory latency, and they were
// most of an Apply's time (Bitcoin: the UTXO set and the address cache
// ≈ 60 % of the resolve step; ETL: the address cache and the txid index
// ≈ 70 %). prefetch reads the first line of each of those probes for the
// next few transactions, so that the resolve step finds them in cache. It
// hashes first (keeping the hashes, which the resolve step then uses rather
// than hashing again), then reads in loops of a few instructions a read,
// where nothing depends on a read's result and the CPU has many misses in
// flight at once: a loop that hashed and read in turn kept too few in
// flight (the reorder buffer filled up behind the first miss) and gained
// little. It changes nothing: the reads go into a.sink, so that the
// compiler keeps them. The UTXO set's slots and entries and the address
// cache's slots (tenth session) are asked for with prefetch instructions
// instead (internal/prefetch), which retire at once: the loop does not
// stall once the reorder buffer is full of waiting loads, and the resolve
// step starts while the lines arrive (10⁶ and 10⁷ CLI ingests 2–5 % less
// CPU, 12 and 6 interleaved rounds). Reading an input's slot to find its
// entry still waits for that slot's line.
//
// On a Linked Apply of a UTXO chain the address stage (addrstage.go) does
// the hashing and the address reads, ahead of the resolve step, which
// takes the hashes from it and reads the UTXO set's lines only.

// prefetchTxs is the number of transactions read ahead at once: their
// lines (a few hundred for Bitcoin) stay in the first two cache levels.
const prefetchTxs = 32

// txHashes are prefetch's hashes of the transactions of a window, in
// transaction order; hashesOf hands each transaction its share.
type txHashes struct {
	txid []uint64 // txidHash of each tx
	in   []uint64 // utxoHash of each input's outpoint (UTXO chains; none for a coinbase)
	out  []uint64 // utxoHash of each output's outpoint (UTXO chains)
	addr []uint64 // addrHash of each output's address (UTXO chains) or of each transfer's from and to (account chains); 0 for none
	// Cursors: what the txs resolved so far used.
	nt, ni, no, na int
}

// txHash is one transaction's share of a window's hashes.
type txHash struct {
	txid          uint64
	in, out, addr []uint64
}

// next returns the hashes of tx, the next transaction of the window;
// addrs: whether the window has its outputs' address hashes (UTXO chains:
// not when the address stage resolves them, addrstage.go).
func (w *txHashes) next(tx *model.Tx, utxo, addrs bool) txHash {
	h := txHash{txid: w.txid[w.nt]}
	w.nt++
	if utxo {
		if !tx.Coinbase {
			n := len(tx.Inputs)
			h.in = w.in[w.ni : w.ni+n]
			w.ni += n
		}
		n := len(tx.Outputs)
		h.out = w.out[w.no : w.no+n]
		w.no += n
		if addrs {
			h.addr = w.addr[w.na : w.na+n]
			w.na += n
		}
		return h
	}
	n := 2 * len(tx.Transfers)
	h.addr = w.addr[w.na : w.na+n]
	w.na += n
	return h
}

// addrHashOr is addrHash of b, 0 for no address.
func addrHashOr(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	return addrHash(b)
}

// prefetch hashes txs into a.pf and reads the lines that resolving them
// will probe first.
func (a *applier) prefetch(txs []model.Tx, mode store.ApplyMode) {
	st := a.st
	w := &a.pf
	w.txid, w.in, w.out, w.addr = w.txid[:0], w.in[:0], w.out[:0], w.addr[:0]
	w.nt, w.ni, w.no, w.na = 0, 0, 0, 0
	if x := a.as; x != nil {
		// The address stage hashed them (addrstage.go).
		ni, no := 0, 0
		for i := range txs {
			if !txs[i].Coinbase {
				ni += len(txs[i].Inputs)
			}
			no += len(txs[i].Outputs)
		}
		w.txid, w.in, w.out = x.window(len(txs), ni, no)
	} else {
		for i := range txs {
			w.txid = append(w.txid, txidHash(&txs[i].ID))
		}
	}
	var sink uint64
	if a.chain.IsUTXO() {
		for i := range txs {
			if a.as != nil {
				break // the address stage hashed them
			}
			hashUTXO(w, i, &txs[i])
		}
		u := st.utxo
		if u == nil || len(u.slots) == 0 {
			return
		}
		shift := u.shift
		slots := unsafe.Pointer(&u.slots[0])
		prefetch.Indexed(slots, w.in, shift, 3)
		prefetch.Indexed(slots, w.out, shift, 3)
		if a.as == nil { // else the address stage's, which owns the cache
			sink += prefetchAddrs(st, w.addr)
		}
		// Then the entries the inputs' slots name: the first slot of the
		// run with the input's fingerprint, among the first few (at the
		// set's load, an outpoint is often not in its home slot: reading
		// only that one's entry left ≈ a miss per input to the resolve).
		mask := uint64(len(u.slots) - 1)
		for _, h := range w.in {
			for i, k := h>>shift, 0; k < 4; i, k = (i+1)&mask, k+1 {
				s := u.slots[i]
				if s == 0 {
					break
				}
				if s>>32 == h>>32 {
					prefetch.Line(unsafe.Pointer(u.ent(uint32(s) - 1)))
					break
				}
			}
		}
		// And the free entries the outputs will be written to (an Apply
		// takes them from the free list's end, in order: the spent ones it
		// frees go to its journal until it commits).
		for k, f := 1, u.free; k <= len(w.out) && k <= len(f); k++ {
			prefetch.Line(unsafe.Pointer(u.ent(f[len(f)-k])))
		}
	} else {
		for i := range txs {
			tx := &txs[i]
			for j := range tx.Transfers {
				t := &tx.Transfers[j]
				w.addr = append(w.addr, addrHashOr(t.From), addrHashOr(t.To))
			}
		}
		g := st.seg
		if mode == store.Unordered {
			if x := &g.openX; len(x.slots) > 0 {
				for _, h := range w.txid {
					sink += x.slots[h>>x.shift]
				}
			}
			if f := g.txF; f != nil {
				for _, h := range w.txid {
					sink += f.line(uint32(h >> 32))
				}
			}
		}
		sink += prefetchAddrs(st, w.addr)
	}
	a.sink += sink
}

// hashUTXO appends the hashes of tx, the window's i-th, of a UTXO chain
// to w: its inputs' and outputs' outpoints and its outputs' addresses.
func hashUTXO(w *txHashes, i int, tx *model.Tx) {
	if !tx.Coinbase {
		for j := range tx.Inputs {
			in := &tx.Inputs[j]
			w.in = append(w.in, utxoHashOf(txidHash(&in.PrevTxID), in.PrevIndex))
		}
	}
	for j := range tx.Outputs {
		w.out = append(w.out, utxoHashOf(w.txid[i], uint32(j)))
		w.addr = append(w.addr, addrHashOr(tx.Outputs[j].Address))
	}
}

// prefetchAddrs reads the address cache's slots that looking up the
// addresses of hashes hs will probe first, and, when the cache is not
// complete, the address filter's lines, returning their sum.
func prefetchAddrs(st *chainState, hs []uint64) uint64 {
	ac, ao := st.addrs.cur, st.addrs.old
	var sink uint64
	if ac.n > 0 {
		prefetch.Indexed(unsafe.Pointer(&ac.slots[0]), hs, ac.shift, 5)
	}
	// A miss there is looked up in the old generation next.
	if ao.n > 0 {
		prefetch.Indexed(unsafe.Pointer(&ao.slots[0]), hs, ao.shift, 5)
	}
	// An address the full cache misses is looked up in the address filter
	// next.
	if f := st.seg.addrF; f != nil && !st.addrs.complete() {
		for _, h := range hs {
			sink += f.line(uint32(h >> 32))
		}
	}
	return sink
}
