package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCLIEthETLTraces runs the binary on an Ethereum export with a traces
// file: a mixer-like contract pays out inside a deposit's tx; the payout
// is the tx's LogIndex -2 transfer, the block reward row is skipped and
// said to be.
func TestCLIEthETLTraces(t *testing.T) {
	const (
		user  = "0xa0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0"
		mixer = "0xb0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"
		payee = "0xc0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0"
		miner = "0xd0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0"
		tx    = "0x1111111111111111111111111111111111111111111111111111111111111111"
	)
	files := map[string]string{
		"blocks.csv": "number,hash,parent_hash,timestamp\n15000000,0x2222222222222222222222222222222222222222222222222222222222222222,,1655000000\n",
		"transactions.csv": "hash,block_number,transaction_index,from_address,to_address,value,gas_price,receipt_gas_used,receipt_status\n" +
			tx + ",15000000,0," + user + "," + mixer + ",100000000000000000000,10,50000,1\n",
		"traces.csv": "block_number,transaction_hash,transaction_index,from_address,to_address,value,trace_type,call_type,reward_type,trace_address,error,status\n" +
			"15000000," + tx + ",0," + user + "," + mixer + ",100000000000000000000,call,call,,,,1\n" +
			"15000000," + tx + ",0," + mixer + "," + payee + ",99000000000000000000,call,call,,0,,1\n" +
			"15000000,,," + "," + miner + ",2000000000000000000,reward,,block,,,1\n",
	}
	dir := writeDir(t, files)
	data := t.TempDir()
	out, e, code := run(t, nil, "--data", data, "ingest", "eth", "--etl", dir)
	if code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, e)
	}
	if !strings.Contains(out, "1 reward/genesis/daofork trace rows skipped") {
		t.Fatalf("ingest output does not say the reward row was skipped:\n%s", out)
	}
	out, e, code = run(t, nil, "--data", data, "tx", "eth", tx, "--json")
	if code != 0 {
		t.Fatalf("tx: exit %d: %s", code, e)
	}
	var v struct {
		Transfers []struct {
			From, To, Value string
			LogIndex        int32 `json:"log_index"`
		}
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(v.Transfers) != 2 || v.Transfers[1].LogIndex != -2 || !strings.EqualFold(v.Transfers[1].To, payee) ||
		v.Transfers[1].Value != "99000000000000000000" {
		t.Fatalf("tx %s", out)
	}
	// Again with --json: the counters.
	out, e, code = run(t, nil, "--data", t.TempDir(), "ingest", "eth", "--etl", dir, "--json")
	if code != 0 {
		t.Fatalf("ingest --json: exit %d: %s", code, e)
	}
	var ing map[string]any
	if err := json.Unmarshal([]byte(out), &ing); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if ing["skipped_reward_traces"] != 1.0 || ing["dropped_failed_traces"] != 0.0 || ing["new_transfers"] != 2.0 {
		t.Fatalf("ingest result %s", out)
	}
}
