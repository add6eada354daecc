package pebblestore

// Amounts in left to the tx records (segment format 5, layout 11).
//
// An adjacency entry's amount in is the sum of the outputs its tx pays the
// address: the tx log holds those values already, and on the synthetic
// chain the amounts in were 1.5 of the 25 bytes a transfer a store took. In
// a UTXO chain's closed segment, a group of at most deriveMax entries (an
// address the segment saw a few times: nearly every one) writes no amount
// in for an entry with outputs (flag efIn clear, nIn > 0), and a reader
// adds up the tx record's outputs to the address instead: a read of an
// address's entries costs a tx record per such entry (one pread of its
// 32-record group, or the group cache), bounded by deriveMax a segment. A
// busier address's groups keep their amounts, so that its totals do not
// read thousands of txs. A zero amount in of an entry with outputs is
// written, so that "no amount" means "the record's". Amounts out that
// refer to the last amount in (efOutSame) follow it (resolveGroup). The
// open segment, in memory, keeps every amount; account chains' segments
// write every amount.

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/holiman/uint256"
)

// deriveMax is the most entries a group may hold for its amounts in to be
// left to the tx records.
const deriveMax = 8

// useDerive is false only in tests that compare with segments that write
// every amount.
var useDerive = true

// recordIn is the amount tx record t (number n) pays address id addr, the
// sum of its outputs to it, which must be nIn outputs.
func recordIn(t *txRec, n, addr, nIn uint64) (uint256.Int, error) {
	var v uint256.Int
	k := uint64(0)
	for _, o := range t.Outputs {
		if o.Addr == addr {
			v.AddUint64(&v, o.Value)
			k++
		}
	}
	if k != nIn {
		return v, fmt.Errorf("%w: tx %d pays address %d %d outputs, its adjacency entry says %d", errCorrupt, n, addr, k, nIn)
	}
	return v, nil
}

// resolveGroup fills in the derived amounts in of a group's entries
// (decoded in order) with in's, and the amounts out that refer to the last
// amount in (following the references again, as the encoder made them).
func resolveGroup(ents []segEntry, in func(e *segEntry) (uint256.Int, error)) error {
	var last uint256.Int
	for i := range ents {
		e := &ents[i]
		if e.inDerived {
			v, err := in(e)
			if err != nil {
				return err
			}
			e.in = v
		}
		if e.outSame {
			if last.IsZero() {
				return fmt.Errorf("%w: tx %d: an amount out the same as no amount in", errCorrupt, e.txnum)
			}
			e.out = last
		}
		if !e.in.IsZero() {
			last = e.in
		}
	}
	return nil
}

// decodeGroup decodes a group's n entries (with the txnum its first one is
// a difference from) into ents, checking they lie in [prev, end).
func decodeGroup(ents []segEntry, n, prev, end uint64, entries []byte) ([]segEntry, bool, error) {
	r := &reader{b: entries}
	var lastIn uint256.Int
	derived := false
	for k := uint64(0); k < n; k++ {
		e := r.segEntry(prev, &lastIn)
		if r.err != nil {
			return ents, false, r.err
		}
		if e.txnum < prev || e.txnum >= end {
			return ents, false, fmt.Errorf("%w: entry outside the segment", errCorrupt)
		}
		prev = e.txnum
		derived = derived || e.inDerived
		ents = append(ents, e)
	}
	if derived && n > deriveMax {
		return ents, false, fmt.Errorf("%w: amounts in left to the records in a group of %d entries", errCorrupt, n)
	}
	return ents, derived, nil
}

// resolveFromLog resolves a group of address addr whose entries have
// derived amounts in, reading their tx records from l.
func resolveFromLog(l *txLog, addr uint64, ents []segEntry) error {
	var nums []uint64
	for i := range ents {
		if ents[i].inDerived {
			nums = append(nums, ents[i].txnum)
		}
	}
	recs, err := l.txs(nums) // ascending: the entries are in tx order
	if err != nil {
		return err
	}
	k := 0
	return resolveGroup(ents, func(e *segEntry) (uint256.Int, error) {
		k++
		return recordIn(recs[k-1], e.txnum, addr, e.nIn)
	})
}

// derivedIns computes, for loaded segment s, the amount in of every entry
// left to the tx records, keyed by (txnum, address id), reading the records
// from l in ascending order a few thousand at a time.
func (s *segment) derivedIns(l *txLog) (map[[2]uint64]uint256.Int, error) {
	var need [][3]uint64 // txnum, address id, nIn
	var ents []segEntry
	err := s.eachGroup(func(id, n, prev uint64, entries []byte) error {
		var err error
		ents, _, err = decodeGroup(ents[:0], n, prev, s.end, entries)
		if err != nil {
			return fmt.Errorf("segment %s: %w", s.path, err)
		}
		for i := range ents {
			if ents[i].inDerived {
				need = append(need, [3]uint64{ents[i].txnum, id, ents[i].nIn})
			}
		}
		return nil
	})
	if err != nil || len(need) == 0 {
		return nil, err
	}
	if l == nil {
		return nil, fmt.Errorf("pebblestore: segment %s leaves amounts to the tx records, and none were given", s.path)
	}
	slices.SortFunc(need, func(a, b [3]uint64) int { return cmp.Compare(a[0], b[0]) })
	out := make(map[[2]uint64]uint256.Int, len(need))
	const chunk = 4096
	var nums []uint64
	for i := 0; i < len(need); {
		nums = nums[:0]
		j := i
		for ; j < len(need) && len(nums) < chunk; j++ {
			if len(nums) == 0 || nums[len(nums)-1] != need[j][0] {
				nums = append(nums, need[j][0])
			}
		}
		recs, err := l.txs(nums)
		if err != nil {
			return nil, err
		}
		k := 0
		for ; i < j; i++ {
			for nums[k] != need[i][0] {
				k++
			}
			v, err := recordIn(recs[k], need[i][0], need[i][1], need[i][2])
			if err != nil {
				return nil, fmt.Errorf("segment %s: %w", s.path, err)
			}
			out[[2]uint64{need[i][0], need[i][1]}] = v
		}
	}
	return out, nil
}
