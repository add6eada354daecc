package evmrpc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/spoor-dev/spoor/internal/model"
)

// callFrame is one frame of go-ethereum's callTracer output, as
// debug_traceBlockByHash returns it (also served by Erigon, Reth and
// Nethermind in the same shape).
type callFrame struct {
	TxHash *[32]byte // from the {"txHash","result"} wrapper, when the node gives it
	Type   string
	From   []byte
	To     []byte
	Value  *string
	Error  string
	Calls  []callFrame
}

type rawFrame struct {
	Type  string     `json:"type"`
	From  *string    `json:"from"`
	To    *string    `json:"to"`
	Value *string    `json:"value"`
	Error string     `json:"error"`
	Calls []rawFrame `json:"calls"`
}

// decodeTraces parses a block's traces: n entries, each {"txHash","result":
// frame} or {"result": frame} (go-ethereum before 1.11) or, from some
// nodes, the bare frame.
func decodeTraces(raw json.RawMessage, n int) ([]callFrame, error) {
	var entries []json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("want an array of call traces (debug_traceBlockByHash with the callTracer): %v", err)
	}
	if len(entries) != n {
		return nil, fmt.Errorf("%d traces for %d transactions", len(entries), n)
	}
	out := make([]callFrame, n)
	for i, e := range entries {
		var w struct {
			Type   string          `json:"type"`
			TxHash *string         `json:"txHash"`
			Result json.RawMessage `json:"result"`
			Error  *string         `json:"error"`
		}
		if err := json.Unmarshal(e, &w); err != nil {
			return nil, fmt.Errorf("[%d]: malformed trace JSON: %v", i, err)
		}
		body := w.Result
		if w.Type != "" {
			body, w.TxHash = e, nil // a bare frame: its error is the call's
		} else if w.Error != nil && w.Result == nil {
			return nil, fmt.Errorf("[%d]: the node could not trace the transaction: %s", i, *w.Error)
		}
		var rf rawFrame
		if err := json.Unmarshal(body, &rf); err != nil {
			return nil, fmt.Errorf("[%d]: malformed call frame: %v", i, err)
		}
		if rf.Type == "" {
			return nil, fmt.Errorf("[%d]: not a callTracer frame (no type): %.80s", i, bytes.TrimSpace(body))
		}
		if err := convertFrame(&out[i], &rf, "["+strconv.Itoa(i)+"]"); err != nil {
			return nil, err
		}
		if w.TxHash != nil {
			h, err := hash32(w.TxHash)
			if err != nil {
				return nil, fmt.Errorf("[%d].txHash: %v", i, err)
			}
			out[i].TxHash = &h
		}
	}
	return out, nil
}

func convertFrame(f *callFrame, r *rawFrame, where string) error {
	f.Type, f.Value, f.Error = r.Type, r.Value, r.Error
	var err error
	if r.From != nil {
		if f.From, err = addr20(r.From); err != nil {
			return fmt.Errorf("%s.from: %v", where, err)
		}
	}
	if r.To != nil {
		if f.To, err = addr20(r.To); err != nil {
			return fmt.Errorf("%s.to: %v", where, err)
		}
	}
	if len(r.Calls) > 0 {
		f.Calls = make([]callFrame, len(r.Calls))
		for k := range r.Calls {
			if err := convertFrame(&f.Calls[k], &r.Calls[k], where+".calls["+strconv.Itoa(k)+"]"); err != nil {
				return err
			}
		}
	}
	return nil
}

type frameErr struct {
	field string
	err   error
}

// internalTransfers appends to tx the value moved by the frames below the
// outermost one (see DecodeTracedBlock for the rules).
func internalTransfers(tx *model.Tx, top *callFrame, where string) *frameErr {
	n := int32(0)
	var walk func(f *callFrame, where string) *frameErr
	walk = func(f *callFrame, where string) *frameErr {
		for k := range f.Calls {
			c := &f.Calls[k]
			cw := where + ".calls[" + strconv.Itoa(k) + "]"
			if c.Error != "" {
				continue // reverted, with everything it called
			}
			switch c.Type {
			case "CALL", "CREATE", "CREATE2", "SELFDESTRUCT":
				if c.Value == nil {
					break
				}
				v, err := u256Ptr(c.Value)
				if err != nil {
					return &frameErr{cw + ".value", err}
				}
				if v.IsZero() {
					break
				}
				if c.From == nil || c.To == nil {
					return &frameErr{cw, fmt.Errorf("%s frame moving %s wei names no sender or recipient", c.Type, v.Dec())}
				}
				if n > 1<<30 {
					return &frameErr{cw, fmt.Errorf("more than 2^30 internal transfers in one transaction")}
				}
				tx.Transfers = append(tx.Transfers, model.Transfer{From: c.From, To: c.To, Value: v, LogIndex: -2 - n})
				n++
			case "DELEGATECALL", "STATICCALL", "CALLCODE":
			default:
				return &frameErr{cw + ".type", fmt.Errorf("unknown call frame type %q", c.Type)}
			}
			if err := walk(c, cw); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(top, where)
}
