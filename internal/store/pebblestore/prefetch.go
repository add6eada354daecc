package pebblestore

import (
	"github.com/spoor-dev/spoor/internal/model"
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
// next few transactions in one tight pass, where nothing depends on a
// read's result, so the CPU has many misses in flight at once; the resolve
// step then finds the lines in cache. It changes nothing: a line it reads
// for a tx the resolve never gets to (an error) was merely read.
//
// The reads go into a.sink so that the compiler keeps them.

// prefetchTxs is the number of transactions read ahead at once: their
// lines (a few hundred for Bitcoin) stay in the first two cache levels.
const prefetchTxs = 32

// prefetch reads the lines that resolving txs will probe first. It hashes
// first, then reads in loops of a few instructions a read: a loop that
// also hashed kept too few reads in flight (the reorder buffer filled up
// behind the first miss), and gained little.
func (a *applier) prefetch(txs []model.Tx, mode store.ApplyMode) {
	st := a.st
	ac := st.addrs
	ah, uh := a.pfAddr[:0], a.pfUTXO[:0] // address and outpoint hashes
	var sink uint64
	if a.chain.IsUTXO() {
		u := st.utxo
		if u == nil || len(u.slots) == 0 {
			return
		}
		nIn := 0
		for i := range txs {
			tx := &txs[i]
			if !tx.Coinbase {
				for j := range tx.Inputs {
					in := &tx.Inputs[j]
					op := outpoint{in.PrevTxID, in.PrevIndex}
					uh = append(uh, utxoHash(&op))
				}
			}
		}
		nIn = len(uh)
		for i := range txs {
			tx := &txs[i]
			for j := range tx.Outputs {
				o := &tx.Outputs[j]
				if len(o.Address) > 0 {
					ah = append(ah, addrHash(o.Address))
				}
				op := outpoint{tx.ID, uint32(j)}
				uh = append(uh, utxoHash(&op))
			}
		}
		shift := u.shift
		for _, h := range uh {
			sink += u.slots[h>>shift]
		}
		if ac.n > 0 {
			for _, h := range ah {
				sink += ac.slots[h>>ac.shift].id
			}
		}
		if f := st.seg.addrF; f != nil && !st.complete {
			for _, h := range ah {
				sink += f.line(uint32(h >> 32))
			}
		}
		// Then the entries the inputs' slots name (the first slot of each
		// run only).
		for _, h := range uh[:nIn] {
			if s := u.slots[h>>shift]; s != 0 && s>>32 == h>>32 {
				sink += u.ent(uint32(s) - 1).txNum
			}
		}
	} else {
		g := st.seg
		if mode == store.Unordered {
			for i := range txs {
				uh = append(uh, txidHash(&txs[i].ID))
			}
			if x := &g.openX; len(x.slots) > 0 {
				for _, h := range uh {
					sink += x.slots[h>>x.shift]
				}
			}
			if f := g.txF; f != nil {
				for _, h := range uh {
					sink += f.line(uint32(h >> 32))
				}
			}
		}
		if ac.n > 0 || g.addrF != nil && !st.complete {
			for i := range txs {
				tx := &txs[i]
				for j := range tx.Transfers {
					t := &tx.Transfers[j]
					if len(t.From) > 0 {
						ah = append(ah, addrHash(t.From))
					}
					if len(t.To) > 0 {
						ah = append(ah, addrHash(t.To))
					}
				}
			}
			if ac.n > 0 {
				for _, h := range ah {
					sink += ac.slots[h>>ac.shift].id
				}
			}
			// An address the full cache misses is looked up in the
			// address filter next.
			if f := g.addrF; f != nil && !st.complete {
				for _, h := range ah {
					sink += f.line(uint32(h >> 32))
				}
			}
		}
	}
	a.pfAddr, a.pfUTXO = ah, uh
	a.sink += sink
}
