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
	s := bytes.TrimSpace(f)
	s = bytes.TrimSuffix(bytes.TrimPrefix(s, []byte("[")), []byte("]"))
	if len(bytes.TrimSpace(s)) == 0 {
		return dst, 0, nil
	}
	n := 0
	for {
		part, rest, more := bytes.Cut(s, []byte(","))
		v, err := ParseUint(bytes.Trim(bytes.TrimSpace(part), `"'`))
		if err != nil || v >= 1<<32 {
			return dst, 0, fmt.Errorf("want comma-separated call indexes (e.g. 0,2,1), got %q", clip(f))
		}
		n++
		if n > maxTraceDepth {
			return dst, 0, fmt.Errorf("deeper than the EVM's call depth limit (%d)", maxTraceDepth)
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(v))
		if !more {
			return dst, n, nil
		}
		s = rest
	}
}

// trRow is a parsed traces row (pointer-free, in a batch).
type trRow struct {
	value    uint256.Int
	id       [32]byte
	bhash    [32]byte
	height   uint64
	time     int64
	index    int64  // transaction_index, -1 if none
	from, to uint32 // offsets in the batch's arena
	path     uint32 // offset of the path (4-byte indexes) in the arena
	plen     uint16
	line     int32 // chunk-relative
	skip     bool  // reward, genesis or daofork: no transaction
	moves    bool  // moves value: becomes an internal transfer
	hasTime  bool
	hasBHash bool
}

func (r *trRow) setLine(l int32) { r.line = l }

// trCols are the column indexes of a traces file (optional: -1).
type trCols struct {
	id, height, from, to, value, typ, path, status int
	call, err, index, time, bhash                  int
}

// readTraces reads a traces file in chunks, on all cores when it has more
// than one (chunk.go).
func (d *Decoder) readTraces(ch *chunker, cr *csvReader, first []byte, last bool, fi int32) error {
	c, err := cols(cr, "transaction_hash", "block_number", "from_address", "to_address", "value", "trace_type", "trace_address", "status")
	if err != nil {
		return err
	}
	tc := trCols{c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
		cr.optCol("call_type"), cr.optCol("error"), cr.optCol("transaction_index"), cr.optCol("block_timestamp"), cr.optCol("block_hash")}
	chain := d.chain
	return d.readChunked(ch, cr, first, last, chunkKind{
		parse: func(b *batch, cr *csvReader) {
			parseRowsInto(b, cr, &b.tr, func(r *trRow) (int8, error) { return parseTrace(chain, &tc, b, cr, r) })
		},
		merge: func(b *batch, base int) error {
			if err := d.mergeTraces(b, base, fi); err != nil {
				return err
			}
			return relocate(b.err, base)
		},
	})
}

// parseTrace parses a traces row. Every field it reads is checked, also
// in rows that move nothing.
func parseTrace(chain model.Chain, c *trCols, b *batch, cr *csvReader, r *trRow) (int8, error) {
	var err error
	if r.height, err = parseHeightField(cr, c.height, "block_number"); err != nil {
		return 0, err
	}
	tt := string(cr.fields[c.typ])
	switch tt {
	case "reward", "genesis", "daofork":
		r.skip = true
		return 0, nil
	case "call":
		if c.call < 0 {
			return 0, cr.errf("call_type", "column missing: a call row needs it (call, delegatecall, staticcall, callcode)")
		}
		switch string(cr.fields[c.call]) {
		case "call":
			r.moves = true
		case "delegatecall", "staticcall", "callcode":
		default:
			return 0, cr.errf("call_type", "want call, delegatecall, staticcall or callcode, got %q", clip(cr.fields[c.call]))
		}
	case "create", "suicide":
		r.moves = true
	default:
		return 0, cr.errf("trace_type", "want call, create, suicide, reward, genesis or daofork, got %q", clip(cr.fields[c.typ]))
	}
	if r.id, err = parseHashField(cr, c.id, "transaction_hash"); err != nil {
		return 0, err
	}
	off := len(b.arena)
	var plen int
	if b.arena, plen, err = parseTraceAddress(b.arena, cr.fields[c.path]); err != nil {
		b.arena = b.arena[:off]
		return 0, cr.errf("trace_address", "%v", err)
	}
	r.path, r.plen = uint32(off), uint16(plen)
	status, err := parseStatus(cr, c.status, "status")
	if err != nil {
		return 0, err
	}
	if status < 0 {
		return 0, cr.errf("status", "empty: want 1 (the frame succeeded) or 0 (it or a frame above it failed)")
	}
	r.from, r.to = noAddr, noAddr
	if len(cr.fields[c.from]) > 0 {
		if r.from, err = b.addr(chain, cr, c.from, "from_address"); err != nil {
			return 0, err
		}
	}
	if len(cr.fields[c.to]) > 0 {
		if r.to, err = b.addr(chain, cr, c.to, "to_address"); err != nil {
			return 0, err
		}
	}
	if len(cr.fields[c.value]) > 0 || r.moves {
		if r.value, err = parseAmountField(cr, c.value, "value"); err != nil {
			return 0, err
		}
	}
	if r.index, err = txIndexField(cr, c.index); err != nil {
		return 0, err
	}
	if _, err := blockFields(cr, c.time, c.bhash, &r.time, &r.hasTime, &r.bhash, &r.hasBHash); err != nil {
		return 0, err
	}
	failed := status == 0 || (c.err >= 0 && len(cr.fields[c.err]) > 0)
	if !r.moves || plen == 0 || failed || r.value.IsZero() {
		r.moves = false // moves nothing, or is the tx's own value
		return 0, nil
	}
	if r.from == noAddr || r.to == noAddr {
		field := "from_address"
		if r.from != noAddr {
			field = "to_address"
		}
		return 0, cr.errf(field, "empty, but this %s frame moves %s", tt, r.value.Dec())
	}
	return 0, nil
}

// mergeTraces joins the parsed rows of a traces chunk: block fields, and
// the rows that move value to their transactions.
func (d *Decoder) mergeTraces(b *batch, base int, fi int32) error {
	// The chunk's arena is not kept: most rows move nothing, so the
	// addresses of those that do are copied to the decoder's own slab.
	a := uint32(d.alen)
	var blk *blockAcc
	var blkH uint64
	for i := range b.tr {
		r := &b.tr[i]
		d.res.Rows[KindTraces]++
		if r.skip {
			d.res.SkippedTraces++
			continue
		}
		w := loc{fi, int32(base) + r.line}
		if r.hasTime || r.hasBHash {
			if blk == nil || blkH != r.height {
				blk, blkH = d.block(r.height), r.height
			}
			if err := d.mergeBlockFields(blk, r.height, r.hasTime, r.time, r.hasBHash, r.bhash, w, false, b, base); err != nil {
				return err
			}
		}
		if !r.moves {
			continue
		}
		ti := d.tx(&r.id, idHash(&r.id), r.height, w)
		t := d.txAt(ti)
		if t.height != r.height {
			return d.errAt(w, "block_number", "transaction %x is in block %d here but block %d at %s", r.id, r.height, t.height, d.where(t.where))
		}
		if t.index < 0 && r.index >= 0 {
			t.index = r.index
		}
		if uint64(len(d.paths))+4*uint64(r.plen) >= 1<<32 {
			return d.errAt(w, "trace_address", "too many trace rows in one partition")
		}
		d.traces = append(d.traces, traceRow{value: r.value, from: d.alloc(b.arena[r.from : r.from+a]), to: d.alloc(b.arena[r.to : r.to+a]),
			path: uint32(len(d.paths)), plen: r.plen, tx: ti, line: w.line, file: fi})
		d.paths = append(d.paths, b.arena[r.path:r.path+4*uint32(r.plen)]...)
		t.nTrace++
	}
	b.tr, b.arena = nil, nil
	return nil
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
