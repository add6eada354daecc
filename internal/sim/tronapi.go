package sim

import (
	"encoding/hex"
	"strconv"
)

// writeTronAPI writes block h as one java-tron HTTP API JSON line:
// {"block": <getblockbynum>, "info": <gettransactioninfobyblocknum>}.
func (s *Sim) writeTronAPI(a *acctChain, h uint64, hx, px string, bt int64) {
	ms := bt * 1000
	b := a.buf[:0]
	b = append(b, `{"block":{"blockID":"`...)
	b = append(b, hx...)
	b = append(b, `","block_header":{"raw_data":{"number":`...)
	b = strconv.AppendUint(b, h, 10)
	b = append(b, `,"txTrieRoot":"`...)
	b = append(b, hx[:16]...)
	b = append(b, px[16:]...)
	b = append(b, `","witness_address":"`...)
	b = append(b, hex.EncodeToString(s.minerOf(a, h))...)
	b = append(b, `","parentHash":"`...)
	b = append(b, px...)
	b = append(b, `","version":25,"timestamp":`...)
	b = strconv.AppendInt(b, ms, 10)
	b = append(b, `}},"transactions":[`...)
	for i := range a.txs {
		t := &a.txs[i]
		if i > 0 {
			b = append(b, ',')
		}
		ret := "SUCCESS"
		if t.failed {
			ret = "REVERT"
		}
		b = append(b, `{"ret":[{"contractRet":"`...)
		b = append(b, ret...)
		b = append(b, `"}],"txID":"`...)
		b = append(b, hex.EncodeToString(t.id[:])...)
		b = append(b, `","raw_data":{"contract":[{"parameter":{"value":{`...)
		from, to := s.addrs[t.from].raw, s.addrs[t.to].raw
		if t.slot == native {
			b = append(b, `"amount":`...)
			b = append(b, t.value.Dec()...)
			b = append(b, `,"owner_address":"`...)
			b = append(b, hex.EncodeToString(from)...)
			b = append(b, `","to_address":"`...)
			b = append(b, hex.EncodeToString(to)...)
			b = append(b, `"},"type_url":"type.googleapis.com/protocol.TransferContract"},"type":"TransferContract"}]`...)
		} else {
			b = append(b, `"data":"`...)
			b = append(b, transferCall(a, to, &t.value)...)
			b = append(b, `","owner_address":"`...)
			b = append(b, hex.EncodeToString(from)...)
			b = append(b, `","contract_address":"`...)
			b = append(b, hex.EncodeToString(a.contract)...)
			b = append(b, `"},"type_url":"type.googleapis.com/protocol.TriggerSmartContract"},"type":"TriggerSmartContract"}],"fee_limit":`...)
			b = strconv.AppendUint(b, t.gasLimit, 10)
		}
		b = append(b, `,"ref_block_bytes":"`...)
		b = append(b, hx[12:16]...)
		b = append(b, `","ref_block_hash":"`...)
		b = append(b, hx[16:32]...)
		b = append(b, `","expiration":`...)
		b = strconv.AppendInt(b, ms+60_000, 10)
		b = append(b, `,"timestamp":`...)
		b = strconv.AppendInt(b, ms-int64(i%3)*1000, 10)
		b = append(b, `}}`...)
	}
	b = append(b, `]},"info":[`...)
	for i := range a.txs {
		t := &a.txs[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":"`...)
		b = append(b, hex.EncodeToString(t.id[:])...)
		b = append(b, '"')
		if t.fee > 0 {
			b = append(b, `,"fee":`...)
			b = strconv.AppendUint(b, t.fee, 10)
		}
		b = append(b, `,"blockNumber":`...)
		b = strconv.AppendUint(b, h, 10)
		b = append(b, `,"blockTimeStamp":`...)
		b = strconv.AppendInt(b, ms, 10)
		if t.slot == token {
			b = append(b, `,"contractResult":[""],"contract_address":"`...)
			b = append(b, hex.EncodeToString(a.contract)...)
			b = append(b, '"')
		}
		b = append(b, `,"receipt":{`...)
		first := true
		field := func(name string, v uint64) {
			if v == 0 {
				return
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, '"')
			b = append(b, name...)
			b = append(b, `":`...)
			b = strconv.AppendUint(b, v, 10)
		}
		if t.slot == token {
			field("energy_fee", t.fee-t.netFee)
			field("energy_usage_total", t.gasUsed)
			if t.fee-t.netFee == 0 {
				field("energy_usage", t.gasUsed)
			}
		}
		field("net_usage", t.netUsage)
		field("net_fee", t.netFee)
		if t.slot == token {
			if !first {
				b = append(b, ',')
			}
			if t.failed {
				b = append(b, `"result":"REVERT"`...)
			} else {
				b = append(b, `"result":"SUCCESS"`...)
			}
		}
		b = append(b, '}')
		if t.slot == token && !t.failed {
			from, to := s.addrs[t.from].raw, s.addrs[t.to].raw
			b = append(b, `,"log":[{"address":"`...)
			b = append(b, hex.EncodeToString(a.contract[1:])...)
			b = append(b, `","topics":["`+transferTopic+`","000000000000000000000000`...)
			b = append(b, hex.EncodeToString(from[1:])...)
			b = append(b, `","000000000000000000000000`...)
			b = append(b, hex.EncodeToString(to[1:])...)
			b = append(b, `"],"data":"`...)
			var w [32]byte
			t.value.WriteToSlice(w[:])
			b = append(b, hex.EncodeToString(w[:])...)
			b = append(b, `"}]`...)
		}
		if t.failed {
			b = append(b, `,"result":"FAILED","resMessage":"5452414e534645525f4641494c4544"`...)
		}
		b = append(b, '}')
	}
	b = append(b, "]}\n"...)
	a.api.Write(b)
	a.buf = b
}
