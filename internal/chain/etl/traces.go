package etl

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
)

// A traces file (ethereum-etl export_traces, BigQuery crypto_ethereum.traces)
// lists every call frame of every transaction in Parity's flat form: a row
// per frame, located in its transaction's call tree by trace_address (the
// comma-separated child indexes from the outermost frame, empty for the
// outermost one). The value such frames move inside a transaction becomes
// the transaction's internal transfers, by the rules of the node source
// (evmrpc.DecodeTracedBlock), so that an export and a tracing node give the
// same transfers of the same chain:
//
//   - the outermost frame (empty trace_address) is the transaction's own
//     value, the LogIndex -1 transfer from transactions.csv: not repeated;
//   - a frame that failed, or is below one that did (status 0, or an error),
//     was reverted and moves nothing;
//   - call with call_type call, create (from the creator to the new
//     contract) and suicide (a SELFDESTRUCT: from the contract to its
//     refund address) move their value when it is not zero; delegatecall,
//     staticcall and callcode move nothing (a delegatecall shows its
//     caller's value; callcode sends to the caller itself);
//   - the n-th such frame of a transaction (from 0), in trace_address order
//     (lexicographic on the integer path: depth first, callTracer's order),
//     is LogIndex -2-n;
//   - reward, genesis and daofork rows belong to no transaction: they are
//     skipped and counted (Result.SkippedTraces), never stored;
//   - a transaction whose receipt_status is 0 keeps no internal transfer
//     even when a row claims status 1: those rows are dropped and counted
//     (Result.DroppedFailedTraces), as token transfers of failed
//     transactions are.
//
// A row that moves value creates its transaction when no other file lists
// it, as a token_transfers row does (a traces-only export then gives
// transactions with internal transfers, no fee and no own value). Rows that
// move nothing create nothing.

// traceRow is a traces row that moves value (its own fields say so; the
// transaction's status is applied when blocks are built).
type traceRow struct {
	value    uint256.Int
	from, to addrRef
	path     uint32 // offset of the path in Decoder.paths: 4-byte big-endian indexes
	plen     uint16 // number of indexes
	tx       int32
	line     int32
	file     int32
	li       int32 // LogIndex, set when blocks are built
	dup      bool  // an exact duplicate of the row before it (same tx and path)
}

// maxTraceDepth bounds trace_address: the EVM's call depth limit is 1024.
const maxTraceDepth = 1100

// parseTraceAddress parses a trace_address field ("0,3,1", "[0, 3, 1]" or
// empty) into 4-byte big-endian indexes appended to dst.
func parseTraceAddress(dst []byte, f []byte) ([]byte, int, error) {
	s := strings.TrimSpace(string(f))
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if strings.TrimSpace(s) == "" {
		return dst, 0, nil
	}
	n := 0
	for part := range strings.SplitSeq(s, ",") {
		p := strings.Trim(strings.TrimSpace(part), `"'`)
		v, err := ParseUint([]byte(p))
		if err != nil || v >= 1<<32 {
			return dst, 0, fmt.Errorf("want comma-separated call indexes (e.g. 0,2,1), got %q", clip(f))
		}
		n++
		if n > maxTraceDepth {
			return dst, 0, fmt.Errorf("deeper than the EVM's call depth limit (%d)", maxTraceDepth)
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(v))
	}
	return dst, n, nil
}

// readTraces reads a traces file row by row.
func (d *Decoder) readTraces(cr *csvReader, fi int32) error {
	c, err := cols(cr, "transaction_hash", "block_number", "from_address", "to_address", "value", "trace_type", "trace_address", "status")
	if err != nil {
		return err
	}
	iCall, iErr, iIndex := cr.optCol("call_type"), cr.optCol("error"), cr.optCol("transaction_index")
	iTime, iHash := cr.optCol("block_timestamp"), cr.optCol("block_hash")
	var path []byte
	return d.rows(cr, KindTraces, func() error {
		w := loc{fi, int32(cr.line)}
		h, err := d.height(cr, c[1], "block_number")
		if err != nil {
			return err
		}
		tt := string(cr.fields[c[5]])
		moves := false // the frame's kind can move value
		switch tt {
		case "reward", "genesis", "daofork":
			d.res.SkippedTraces++
			return nil
		case "call":
			if iCall < 0 {
				return cr.errf("call_type", "column missing: a call row needs it (call, delegatecall, staticcall, callcode)")
			}
			switch ct := string(cr.fields[iCall]); ct {
			case "call":
				moves = true
			case "delegatecall", "staticcall", "callcode":
			default:
				return cr.errf("call_type", "want call, delegatecall, staticcall or callcode, got %q", clip(cr.fields[iCall]))
			}
		case "create", "suicide":
			moves = true
		default:
			return cr.errf("trace_type", "want call, create, suicide, reward, genesis or daofork, got %q", clip(cr.fields[c[5]]))
		}
		id, err := d.hash(cr, c[0], "transaction_hash")
		if err != nil {
			return err
		}
		var plen int
		path, plen, err = parseTraceAddress(path[:0], cr.fields[c[6]])
		if err != nil {
			return cr.errf("trace_address", "%v", err)
		}
		status, err := parseStatus(cr, c[7], "status")
		if err != nil {
			return err
		}
		if status < 0 {
			return cr.errf("status", "empty: want 1 (the frame succeeded) or 0 (it or a frame above it failed)")
		}
		var from, to []byte
		if f := cr.fields[c[2]]; len(f) > 0 {
			if from, err = ParseAddress(d.chain, f); err != nil {
				return cr.errf("from_address", "%v", err)
			}
		}
		if f := cr.fields[c[3]]; len(f) > 0 {
			if to, err = ParseAddress(d.chain, f); err != nil {
				return cr.errf("to_address", "%v", err)
			}
		}
		var value uint256.Int
		if len(cr.fields[c[4]]) > 0 || moves {
			if value, err = d.amount(cr, c[4], "value"); err != nil {
				return err
			}
		}
		var index int64 = -1
		if iIndex >= 0 && len(cr.fields[iIndex]) > 0 {
			n, err := d.uint(cr, iIndex, "transaction_index")
			if err != nil {
				return err
			}
			if n > 1<<31 {
				return cr.errf("transaction_index", "index %d out of range", n)
			}
			index = int64(n)
		}
		if iTime >= 0 || iHash >= 0 {
			var t int64
			var bh [32]byte
			var hasT, hasH bool
			if _, err := blockFields(cr, iTime, iHash, &t, &hasT, &bh, &hasH); err != nil {
				return err
			}
			if hasT || hasH {
				blk := d.block(h)
				if hasT {
					if err := d.setBlockTime(blk, t, "block_timestamp", w); err != nil {
						return err
					}
				}
				if hasH {
					if err := d.setBlockHash(blk, h, bh, "block_hash", w); err != nil {
						return err
					}
				}
			}
		}
		failed := status == 0 || (iErr >= 0 && len(cr.fields[iErr]) > 0)
		if !moves || plen == 0 || failed || value.IsZero() {
			return nil // moves nothing, or is the tx's own value
		}
		if from == nil || to == nil {
			field := "from_address"
			if from != nil {
				field = "to_address"
			}
			return cr.errf(field, "empty, but this %s frame moves %s", tt, value.Dec())
		}
		ti := d.tx(&id, idHash(&id), h, w)
		t := d.txAt(ti)
		if t.height != h {
			return d.errAt(w, "block_number", "transaction %x is in block %d here but block %d at %s", id, h, t.height, d.where(t.where))
		}
		if t.index < 0 && index >= 0 {
			t.index = index
		}
		if len(d.paths)+len(path) >= 1<<32 {
			return cr.errf("trace_address", "too many trace rows in one partition")
		}
		r := traceRow{value: value, from: d.alloc(from), to: d.alloc(to), path: uint32(len(d.paths)), plen: uint16(plen),
			tx: ti, line: w.line, file: fi}
		d.paths = append(d.paths, path...)
		d.traces = append(d.traces, r)
		t.nTrace++
		return nil
	})
}

// tracePath returns the path bytes of r.
func (d *Decoder) tracePath(r *traceRow) []byte {
	return d.paths[r.path : r.path+4*uint32(r.plen)]
}

// numberTraces orders the kept trace rows by transaction and path, marks
// exact duplicates (an overlapping export listing a row twice), rejects
// two different rows at one path, and gives each row its LogIndex: -2-n
// for its transaction's n-th path. It runs once, before the blocks are
// built.
func (d *Decoder) numberTraces() error {
	if d.tracesNumbered || len(d.traces) == 0 {
		d.tracesNumbered = true
		return nil
	}
	d.tracesNumbered = true
	rs := d.traces
	slices.SortStableFunc(rs, func(a, b traceRow) int {
		if a.tx != b.tx {
			return int(a.tx) - int(b.tx)
		}
		return bytes.Compare(d.tracePath(&a), d.tracePath(&b))
	})
	n := int32(0)
	for i := range rs {
		r := &rs[i]
		if i > 0 && rs[i-1].tx == r.tx {
			p := &rs[i-1]
			if bytes.Equal(d.tracePath(p), d.tracePath(r)) {
				if !bytesEq(d.addrBytes(p.from), d.addrBytes(r.from)) || !bytesEq(d.addrBytes(p.to), d.addrBytes(r.to)) || !p.value.Eq(&r.value) {
					return &Error{File: d.files[r.file], Line: int(r.line), Field: "trace_address",
						Msg: fmt.Sprintf("transaction %x trace %s listed twice with different content (first at %s:%d)",
							d.txAt(r.tx).id, pathString(d.tracePath(r)), d.files[p.file], p.line)}
				}
				r.dup, r.li = true, p.li
				d.txAt(r.tx).nTrace--
				continue
			}
		} else {
			n = 0
		}
		if n > 1<<30 {
			return &Error{File: d.files[r.file], Line: int(r.line), Msg: "more than 2^30 internal transfers in one transaction"}
		}
		r.li = -2 - n
		n++
	}
	return nil
}

// pathString renders path bytes as trace_address does.
func pathString(p []byte) string {
	parts := make([]string, 0, len(p)/4)
	for i := 0; i+4 <= len(p); i += 4 {
		parts = append(parts, fmt.Sprint(binary.BigEndian.Uint32(p[i:])))
	}
	return strings.Join(parts, ",")
}

// hasTraces reports whether a unit has a traces file.
func hasTraces(u Unit) bool {
	for _, f := range u.Files {
		if f.Kind == KindTraces {
			return true
		}
	}
	return false
}

// traceTransfer is row r as a transfer.
func (d *Decoder) traceTransfer(r *traceRow) model.Transfer {
	return model.Transfer{From: d.addrBytes(r.from), To: d.addrBytes(r.to), Value: r.value, LogIndex: r.li}
}
