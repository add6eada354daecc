package ingest

// Internal ETH transfers (value moved by contracts) read from call traces of
// a real go-ethereum node: the simulated backend's stack (eth service and
// simulated beacon, test-only GPL dependency) with the debug tracer API
// registered, which ethclient/simulated leaves out. Contracts are tiny
// hand-assembled EVM programs, so no compiler is needed.

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/catalyst"
	"github.com/ethereum/go-ethereum/eth/tracers"
	_ "github.com/ethereum/go-ethereum/eth/tracers/native" // registers callTracer
	"github.com/spoor-dev/spoor/internal/chain/evmrpc"
	"github.com/spoor-dev/spoor/internal/model"
)

// deployCode wraps runtime code in init code that returns it.
func deployCode(runtime []byte) []byte {
	l := byte(len(runtime))
	// PUSH1 l PUSH1 12 PUSH1 0 CODECOPY PUSH1 l PUSH1 0 RETURN
	return append([]byte{0x60, l, 0x60, 12, 0x60, 0, 0x39, 0x60, l, 0x60, 0, 0xf3}, runtime...)
}

var (
	// forwarder: CALL(gas, calldata[0:32], callvalue, no args, no return),
	// ignoring whether the call succeeded.
	forwarderCode = []byte{0x60, 0, 0x60, 0, 0x60, 0, 0x60, 0, 0x34, 0x60, 0, 0x35, 0x5a, 0xf1, 0x50, 0x00}
	// reverter: REVERT(0, 0).
	reverterCode = []byte{0x60, 0, 0x80, 0xfd}
	// destructor: SELFDESTRUCT(calldata[0:32]).
	destructorCode = []byte{0x60, 0, 0x35, 0xff}
	// factory: CREATE(callvalue, no code): a new empty contract holding
	// the value.
	factoryCode = []byte{0x60, 0, 0x60, 0, 0x34, 0xf0, 0x50, 0x00}
)

// delegatorCode: DELEGATECALL(gas, target, calldata, no return): runs
// target's code (the forwarder's) in its own context, so the forwarder's
// CALL sends the delegator's ETH.
func delegatorCode(target common.Address) []byte {
	c := []byte{0x36, 0x60, 0, 0x60, 0, 0x37, 0x60, 0, 0x60, 0, 0x36, 0x60, 0, 0x73}
	c = append(c, target.Bytes()...)
	return append(c, 0x5a, 0xf4, 0x50, 0x00)
}

// newTracingChain is newSimChain's chain on a node that also serves
// debug_traceBlockByHash.
func newTracingChain(t *testing.T) *simChain {
	t.Helper()
	alloc := core.SystemContractAllocs()
	s := newAccounts(t, alloc, "spoor trace key ", 1, "alice", "bob", "carol")
	stack, backend, port := newGethNode(t, alloc, "eth", "debug")
	stack.RegisterAPIs(tracers.APIs(backend.APIBackend))
	if err := stack.Start(); err != nil {
		t.Fatal(err)
	}
	// Tips go to a fee recipient of their own, not to 0x0, which the
	// nested payout pays.
	beacon, err := catalyst.NewSimulatedBeacon(0, common.HexToAddress("0xfee0000000000000000000000000000000000fee"), backend)
	if err != nil {
		t.Fatal(err)
	}
	s.useBeacon(stack, backend, beacon, port)
	return s
}

// word is an address as a 32-byte call argument.
func word(a common.Address) []byte { return common.LeftPadBytes(a.Bytes(), 32) }

// traceScenario deploys the test contracts and sends the transactions
// whose value contracts move on (named in the map; the contracts in
// s.addrs, with "created", the factory's new contract, and "zero").
func (s *simChain) traceScenario() map[string]common.Hash {
	t := s.t
	t.Helper()
	a := s.addrs
	deploy := func(name string, code []byte) {
		h := s.send("alice", nil, big.NewInt(0), deployCode(code))
		s.commit()
		a[name] = s.receipt(h).ContractAddress
	}
	deploy("forwarder", forwarderCode)
	deploy("reverter", reverterCode)
	deploy("destructor", destructorCode)
	deploy("factory", factoryCode)
	deploy("delegator", delegatorCode(a["forwarder"]))
	a["zero"] = common.Address{}
	a["created"] = crypto.CreateAddress(a["factory"], 1) // a contract's first nonce is 1 (EIP-161)
	h := map[string]common.Hash{}
	h["pay"] = s.send("alice", ptr(a["forwarder"]), eth(1), word(a["bob"]))             // forwarder → bob 1 ETH
	h["bounce"] = s.send("alice", ptr(a["forwarder"]), eth(0.3), word(a["reverter"]))   // inner call reverts: forwarder keeps it
	h["destroy"] = s.send("alice", ptr(a["destructor"]), eth(0.2), word(a["carol"]))    // SELFDESTRUCT → carol
	h["nested"] = s.send("alice", ptr(a["forwarder"]), eth(0.05), word(a["forwarder"])) // forwarder → forwarder → 0x0
	h["failed"] = s.send("alice", ptr(a["reverter"]), eth(0.1), nil)                    // reverts: nothing moves
	h["create"] = s.send("alice", ptr(a["factory"]), eth(0.4), []byte{1})               // CREATE with value → created (calldata ignored: gas for a call)
	h["delegate"] = s.send("alice", ptr(a["delegator"]), eth(0.25), word(a["carol"]))   // DELEGATECALL (moves nothing), then delegator → carol
	s.commit()
	for k, x := range h {
		want := uint64(1)
		if k == "failed" {
			want = 0
		}
		if r := s.receipt(x); r.Status != want {
			t.Fatalf("tx %s: status %d", k, r.Status)
		}
	}
	return h
}

func TestETHRPCTracesInternalTransfers(t *testing.T) {
	s := newTracingChain(t)
	a := s.addrs
	h := s.traceScenario()

	st := openStore(t)
	if _, err := ETHRPC(st, s.url, RPCRange{}, true, Options{}); err != nil {
		t.Fatal(err)
	}
	// Every address, contracts included, holds exactly what the chain says.
	s.checkBalances(st)

	// The internal transfers, numbered -2, -3, … in each tx, depth first.
	type xfer struct {
		from, to string
		value    *big.Int
		idx      int32
	}
	name := map[string]string{}
	for k, v := range a {
		name[string(v.Bytes())] = k
	}
	internal := func(tx common.Hash) []xfer {
		v, err := st.Tx(model.ETH, tx)
		if err != nil {
			t.Fatal(err)
		}
		var out []xfer
		for _, x := range v.Transfers {
			if x.LogIndex <= -2 {
				out = append(out, xfer{name[string(x.From)], name[string(x.To)], x.Value.ToBig(), x.LogIndex})
			}
		}
		return out
	}
	for _, c := range []struct {
		tx   string
		want []xfer
	}{
		{"pay", []xfer{{"forwarder", "bob", eth(1), -2}}},
		{"bounce", nil},
		{"destroy", []xfer{{"destructor", "carol", eth(0.2), -2}}},
		{"nested", []xfer{{"forwarder", "forwarder", eth(0.05), -2}, {"forwarder", "zero", eth(0.05), -3}}},
		{"failed", nil},
		{"create", []xfer{{"factory", "created", eth(0.4), -2}}},
		{"delegate", []xfer{{"delegator", "carol", eth(0.25), -2}}},
	} {
		got := internal(h[c.tx])
		if len(got) != len(c.want) {
			t.Errorf("%s: internal transfers %v, want %v", c.tx, got, c.want)
			continue
		}
		for i := range got {
			g, w := got[i], c.want[i]
			if g.from != w.from || g.to != w.to || g.value.Cmp(w.value) != 0 || g.idx != w.idx {
				t.Errorf("%s: internal transfer %d = %v, want %v", c.tx, i, g, w)
			}
		}
	}

	// Without traces the same blocks leave carol's and bob's ETH out: the
	// gap --traces closes.
	plain := openStore(t)
	if _, err := ETHRPC(plain, s.url, RPCRange{}, false, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"bob", "carol"} {
		if fl := flows(t, plain, a[who]); fl[""][0] != nil && fl[""][0].Sign() != 0 {
			t.Errorf("untraced ingest: %s received %s wei", who, fl[""][0])
		}
		if fl := flows(t, st, a[who]); fl[""][0] == nil || fl[""][0].Sign() == 0 {
			t.Errorf("traced ingest: %s received nothing", who)
		}
	}
}

// A node without the debug API: a clear error, the store unchanged.
func TestETHRPCTracesNeedDebugAPI(t *testing.T) {
	s := newSimChain(t) // ethclient/simulated: no tracer API
	s.script()
	st := openStore(t)
	if _, err := ETHRPC(st, s.url, RPCRange{To: 2, HasTo: true}, false, Options{}); err != nil {
		t.Fatal(err)
	}
	before := digest(t, st)
	_, err := ETHRPC(st, s.url, RPCRange{}, true, Options{})
	if err == nil || !errors.Is(err, evmrpc.ErrNoTracing) {
		t.Fatalf("err = %v, want ErrNoTracing", err)
	}
	if after := digest(t, st); after != before {
		t.Fatal("a failed traced ingest changed the store")
	}
}
