package ingest

// A real btcd regtest node, started by the test: mine, send spends signed in
// Go, ingest over RPC, then force a reorg with a second node that mined a
// longer competing chain and check the store rolled back exactly to the fork
// point. The test needs btcd and btcctl v0.24.2:
//
//	go install github.com/btcsuite/btcd@v0.24.2 github.com/btcsuite/btcd/cmd/btcctl@v0.24.2
//
// and skips with that message when they are not on PATH nor in GOPATH/bin.

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/spoor-dev/spoor/internal/address"
	"github.com/spoor-dev/spoor/internal/chain/btc"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

const btcdInstall = "go install github.com/btcsuite/btcd@v0.24.2 github.com/btcsuite/btcd/cmd/btcctl@v0.24.2"

// findTool looks for a binary on PATH, then in GOPATH/bin.
func findTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// regtestNode is one btcd process with its own data directory.
type regtestNode struct {
	t       testing.TB
	name    string
	ctl     string
	conf    string
	rpcAddr string
	p2pAddr string
	dir     string
	cmd     *exec.Cmd
	rpc     *btc.RPC
	exited  chan struct{}
	exitErr error
	logFile string
}

// startBtcd starts btcd as BRIEF §3 says: empty -C file, temp datadir,
// loopback RPC on a free port, --regtest --notls --txindex --miningaddr. The
// node listens for peers on a loopback port when listen is set. The process
// is killed and its directory removed when the test ends.
func startBtcd(t testing.TB, name, miningAddr string, listen bool) *regtestNode {
	t.Helper()
	bin, ctl := findTool("btcd"), findTool("btcctl")
	if bin == "" || ctl == "" {
		t.Skipf("btcd/btcctl not found on PATH or in GOPATH/bin; install with: %s", btcdInstall)
	}
	dir := t.TempDir()
	n := &regtestNode{t: t, name: name, ctl: ctl, dir: dir, conf: filepath.Join(dir, "empty.conf"),
		rpcAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), logFile: filepath.Join(dir, "stdout.log"), exited: make(chan struct{})}
	if err := os.WriteFile(n.conf, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-C", n.conf, "--datadir", filepath.Join(dir, "data"), "--logdir", filepath.Join(dir, "logs"),
		"--regtest", "--notls", "--rpclisten=" + n.rpcAddr, "--rpcuser=spoor", "--rpcpass=regtest",
		"--miningaddr=" + miningAddr, "--txindex"}
	if listen {
		n.p2pAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		args = append(args, "--listen="+n.p2pAddr)
	} else {
		args = append(args, "--nolisten")
	}
	out, err := os.Create(n.logFile)
	if err != nil {
		t.Fatal(err)
	}
	n.cmd = exec.Command(bin, args...)
	n.cmd.Stdout, n.cmd.Stderr = out, out
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		n.exitErr = n.cmd.Wait()
		out.Close()
		close(n.exited)
	}()
	t.Cleanup(func() {
		n.cmd.Process.Kill()
		<-n.exited
	})
	n.rpc = btc.NewRPC("http://"+n.rpcAddr, "spoor", "regtest")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := n.rpc.BlockCount(); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("%s: RPC not ready after 20 s: %v\n%s", name, err, n.log())
		}
		select {
		case <-n.exited:
			t.Fatalf("%s: btcd exited: %v\n%s", name, n.exitErr, n.log())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return n
}

func (n *regtestNode) log() string {
	b, _ := os.ReadFile(n.logFile)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// btcctl runs a btcctl command against the node and returns its output.
func (n *regtestNode) btcctl(args ...string) string {
	n.t.Helper()
	full := append([]string{"-C", n.conf, "--regtest", "--notls", "--rpcserver=" + n.rpcAddr, "--rpcuser=spoor", "--rpcpass=regtest"}, args...)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(n.ctl, full...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		n.t.Fatalf("%s: btcctl %s: %v: %s%s", n.name, args[0], err, stderr.String(), stdout.String())
	}
	return strings.TrimSpace(stdout.String())
}

// generate mines blocks and returns their hashes.
func (n *regtestNode) generate(k int) []string {
	n.t.Helper()
	var hashes []string
	if err := json.Unmarshal([]byte(n.btcctl("generate", fmt.Sprint(k))), &hashes); err != nil || len(hashes) != k {
		n.t.Fatalf("%s: generate %d: %v (%d hashes)", n.name, k, err, len(hashes))
	}
	return hashes
}

func (n *regtestNode) send(tx *wire.MsgTx) {
	n.t.Helper()
	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		n.t.Fatal(err)
	}
	if got := n.btcctl("sendrawtransaction", hex.EncodeToString(buf.Bytes())); got != tx.TxHash().String() {
		n.t.Fatalf("%s: sendrawtransaction returned %q, want %s", n.name, got, tx.TxHash())
	}
}

// submitBlock hands a raw block to the node over JSON-RPC (btcctl takes the
// hex on its command line; a plain POST keeps 100 blocks fast).
func (n *regtestNode) submitBlock(raw []byte) {
	n.t.Helper()
	body, _ := json.Marshal(map[string]any{"jsonrpc": "1.0", "id": 1, "method": "submitblock", "params": []any{hex.EncodeToString(raw)}})
	req, _ := http.NewRequest(http.MethodPost, "http://"+n.rpcAddr, bytes.NewReader(body))
	req.SetBasicAuth("spoor", "regtest")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Result any
		Error  *struct{ Message string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || env.Error != nil || env.Result != nil {
		n.t.Fatalf("%s: submitblock: %v %+v %v", n.name, err, env.Error, env.Result)
	}
}

func (n *regtestNode) block(height uint64) *wire.MsgBlock {
	n.t.Helper()
	h, err := n.rpc.BlockHash(height)
	if err != nil {
		n.t.Fatal(err)
	}
	raw, err := n.rpc.RawBlock(h)
	if err != nil {
		n.t.Fatal(err)
	}
	var mb wire.MsgBlock
	if err := mb.Deserialize(bytes.NewReader(raw)); err != nil {
		n.t.Fatal(err)
	}
	return &mb
}

// regKey is a deterministic test key and its regtest P2PKH address.
type regKey struct {
	priv   *btcec.PrivateKey
	addr   string
	script []byte
}

func newRegKey(t testing.TB, seed byte) regKey {
	t.Helper()
	priv, _ := btcec.PrivKeyFromBytes(bytes.Repeat([]byte{seed}, 32))
	a, err := btcutil.NewAddressPubKeyHash(btcutil.Hash160(priv.PubKey().SerializeCompressed()), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := txscript.PayToAddrScript(a)
	if err != nil {
		t.Fatal(err)
	}
	return regKey{priv: priv, addr: a.EncodeAddress(), script: pk}
}

// spend builds a transaction spending one P2PKH output owned by k, signed
// with txscript.SignatureScript.
func spend(t *testing.T, k regKey, prev wire.OutPoint, outs ...*wire.TxOut) *wire.MsgTx {
	t.Helper()
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(wire.NewTxIn(&prev, nil, nil))
	for _, o := range outs {
		tx.AddTxOut(o)
	}
	sig, err := txscript.SignatureScript(tx, 0, k.script, txscript.SigHashAll, k.priv, true)
	if err != nil {
		t.Fatal(err)
	}
	tx.TxIn[0].SignatureScript = sig
	return tx
}

// display turns a wire hash into the display byte order model ids use.
func display(h chainhash.Hash) (d [32]byte) {
	for i := range d {
		d[i] = h[31-i]
	}
	return d
}

func regAddr(t *testing.T, s string) []byte {
	t.Helper()
	b, err := address.BTCDecode(s, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantTotals checks an address's native totals and counts.
func wantTotals(t *testing.T, s store.Reader, what string, addr []byte, received, sent int64, txCount, nIn, nOut uint64) {
	t.Helper()
	sum, err := s.Address(model.BTC, addr)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	a := sum.Assets[0]
	bal := a.Balance()
	if a.Received.Uint64() != uint64(received) || a.Sent.Uint64() != uint64(sent) || bal.Uint64() != uint64(received-sent) ||
		sum.TxCount != txCount || a.TransfersIn != nIn || a.TransfersOut != nOut {
		t.Fatalf("%s: received %d sent %d balance %d txs %d in %d out %d; want %d %d %d %d %d %d", what,
			a.Received.Uint64(), a.Sent.Uint64(), bal.Uint64(), sum.TxCount, a.TransfersIn, a.TransfersOut,
			received, sent, received-sent, txCount, nIn, nOut)
	}
}

func wantGone(t *testing.T, s store.Reader, what string, addr []byte) {
	t.Helper()
	if sum, err := s.Address(model.BTC, addr); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("%s still in the store after the reorg: %+v %v", what, sum, err)
	}
}

func TestRegtestNodeReorg(t *testing.T) {
	const coin = 50_0000_0000 // regtest block subsidy below height 150
	miner1, miner2 := newRegKey(t, 1), newRegKey(t, 2)
	alice, bob, wit := newRegKey(t, 3), newRegKey(t, 4), newRegKey(t, 5)
	n1 := startBtcd(t, "node1", miner1.addr, false)
	n2 := startBtcd(t, "node2", miner2.addr, true)

	// Shared history: 101 blocks mined by node1, handed to node2.
	n1.generate(101)
	for h := uint64(1); h <= 101; h++ {
		var buf bytes.Buffer
		n1.block(h).Serialize(&buf)
		n2.submitBlock(buf.Bytes())
	}
	if a, b := n1.btcctl("getbestblockhash"), n2.btcctl("getbestblockhash"); a != b {
		t.Fatalf("nodes disagree after sharing 101 blocks: %s vs %s", a, b)
	}
	cb1 := n1.block(1).Transactions[0]
	if cb1.TxOut[0].Value != coin || !bytes.Equal(cb1.TxOut[0].PkScript, miner1.script) {
		t.Fatalf("block 1 coinbase pays %d to %x", cb1.TxOut[0].Value, cb1.TxOut[0].PkScript)
	}
	cbOut := wire.OutPoint{Hash: cb1.TxHash(), Index: 0}

	// Node1's branch: miner1 pays alice 10 BTC; alice pays 3 BTC to a
	// P2WPKH address, writes an OP_RETURN and keeps the change.
	witAddr, _ := btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(wit.priv.PubKey().SerializeCompressed()), &chaincfg.RegressionNetParams)
	witScript, _ := txscript.PayToAddrScript(witAddr)
	opReturn, _ := txscript.NullDataScript([]byte("spoor regtest"))
	tx1 := spend(t, miner1, cbOut, wire.NewTxOut(10_0000_0000, alice.script), wire.NewTxOut(coin-10_0000_0000-10_000, miner1.script))
	tx2 := spend(t, alice, wire.OutPoint{Hash: tx1.TxHash(), Index: 0},
		wire.NewTxOut(3_0000_0000, witScript), wire.NewTxOut(0, opReturn), wire.NewTxOut(7_0000_0000-20_000, alice.script))
	n1.send(tx1)
	n1.send(tx2)
	n1.generate(1)
	if b := n1.block(102); len(b.Transactions) != 3 || b.Transactions[0].TxOut[0].Value != coin+30_000 {
		t.Fatalf("block 102 has %d txs, coinbase %d", len(b.Transactions), b.Transactions[0].TxOut[0].Value)
	}

	s := openStore(t)
	res, err := BTCRPC(s, n1.rpc, RPCRange{}, Options{BatchTxs: 10})
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 103 || res.Height != 102 || res.Txs != 105 || res.RolledBack != 0 {
		t.Fatalf("first ingest: %+v, want 103 blocks (0-102), 105 txs", res)
	}
	if net, _ := s.Network(model.BTC); net != chaincfg.RegressionNetParams.Name {
		t.Fatalf("network %q", net)
	}
	m1, a, w, b := regAddr(t, miner1.addr), regAddr(t, alice.addr), regAddr(t, witAddr.EncodeAddress()), regAddr(t, bob.addr)
	wantTotals(t, s, "alice", a, 10_0000_0000+7_0000_0000-20_000, 10_0000_0000, 2, 2, 1)
	wantTotals(t, s, "p2wpkh", w, 3_0000_0000, 0, 1, 1, 0)
	wantTotals(t, s, "miner1", m1, 102*coin+30_000+coin-10_0000_0000-10_000, coin, 103, 103, 1)
	tv, err := s.Tx(model.BTC, display(tx1.TxHash()))
	if err != nil {
		t.Fatal(err)
	}
	tx2id := display(tx2.TxHash())
	if tv.BlockHeight != 102 || tv.Fee.Uint64() != 10_000 || tv.Coinbase || len(tv.Inputs) != 1 || len(tv.Outputs) != 2 ||
		!bytes.Equal(tv.Inputs[0].Address, m1) || tv.Inputs[0].Value != coin || tv.Inputs[0].PrevTxID != display(cbOut.Hash) || tv.Inputs[0].PrevIndex != 0 ||
		!bytes.Equal(tv.Outputs[0].Address, a) || tv.Outputs[0].Value != 10_0000_0000 || tv.Outputs[0].ScriptType != model.ScriptP2PKH ||
		tv.Outputs[0].SpentBy == nil || *tv.Outputs[0].SpentBy != tx2id || tv.Outputs[1].SpentBy != nil {
		t.Fatalf("tx1 view: %+v", tv)
	}
	tv, err = s.Tx(model.BTC, tx2id)
	if err != nil {
		t.Fatal(err)
	}
	if tv.Fee.Uint64() != 20_000 || len(tv.Outputs) != 3 || tv.Outputs[0].ScriptType != model.ScriptP2WPKH || !bytes.Equal(tv.Outputs[0].Address, w) ||
		tv.Outputs[1].ScriptType != model.ScriptNullData || tv.Outputs[1].Value != 0 || tv.Outputs[2].Value != 7_0000_0000-20_000 {
		t.Fatalf("tx2 view: %+v", tv)
	}
	if tv, err := s.Tx(model.BTC, display(cb1.TxHash())); err != nil || tv.Outputs[0].SpentBy == nil || *tv.Outputs[0].SpentBy != display(tx1.TxHash()) {
		t.Fatalf("block 1 coinbase: %+v %v", tv, err)
	}

	// Node2's competing branch from height 101: the same coinbase output
	// pays bob instead (a double spend of tx1), then 3 blocks: more work.
	tx1b := spend(t, miner1, cbOut, wire.NewTxOut(20_0000_0000, bob.script), wire.NewTxOut(coin-20_0000_0000-10_000, miner1.script))
	n2.send(tx1b)
	n2.generate(3)
	tip2 := n2.btcctl("getbestblockhash")
	// Connect the nodes; node1 must switch to node2's chain.
	n1.btcctl("addnode", n2.p2pAddr, "add")
	deadline := time.Now().Add(20 * time.Second)
	for n1.btcctl("getbestblockhash") != tip2 {
		if time.Now().After(deadline) {
			t.Fatalf("node1 did not reorg to node2's tip %s\nnode1 log:\n%s", tip2, n1.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	fork, _ := s.BlockHash(model.BTC, 101)
	res, err = BTCRPC(s, n1.rpc, RPCRange{}, Options{BatchTxs: 10})
	if err != nil {
		t.Fatal(err)
	}
	if res.RolledBack != 1 || res.Applied != 3 || res.Height != 104 {
		t.Fatalf("ingest after the reorg: %+v, want 1 block rolled back, 3 applied, height 104", res)
	}
	if h, _ := s.BlockHash(model.BTC, 101); h != fork {
		t.Fatal("the fork point's block changed")
	}
	for h := uint64(100); h <= 104; h++ {
		nh, _ := n1.rpc.BlockHash(h)
		if sh, err := s.BlockHash(model.BTC, h); err != nil || btc.WireHash(sh) != nh {
			t.Fatalf("height %d: store %x, node %s (%v)", h, sh, nh, err)
		}
	}
	// The reorged-out spends are gone, the new one is there.
	wantGone(t, s, "alice", a)
	wantGone(t, s, "p2wpkh address", w)
	for _, id := range []chainhash.Hash{tx1.TxHash(), tx2.TxHash()} {
		if _, err := s.Tx(model.BTC, display(id)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("reorged-out tx %s: %v", id, err)
		}
	}
	wantTotals(t, s, "bob", b, 20_0000_0000, 0, 1, 1, 0)
	wantTotals(t, s, "miner1", m1, 101*coin+coin-20_0000_0000-10_000, coin, 102, 102, 1)
	wantTotals(t, s, "miner2", regAddr(t, miner2.addr), 3*coin+10_000, 0, 3, 3, 0)
	if tv, err := s.Tx(model.BTC, display(cb1.TxHash())); err != nil || tv.Outputs[0].SpentBy == nil || *tv.Outputs[0].SpentBy != display(tx1b.TxHash()) {
		t.Fatalf("block 1 coinbase after the reorg: %+v %v", tv, err)
	}

	// Exactly the store a fresh ingest of the new chain builds.
	fresh := openStore(t)
	if _, err := BTCRPC(fresh, n1.rpc, RPCRange{}, Options{}); err != nil {
		t.Fatal(err)
	}
	if digest(t, s) != digest(t, fresh) {
		ma, _ := s.Mark(model.BTC)
		mb, _ := fresh.Mark(model.BTC)
		t.Fatalf("reorged store differs from a fresh ingest of the new chain:\n%+v\n%+v", ma, mb)
	}
	// And ingesting again changes nothing.
	before := digest(t, s)
	if res, err := BTCRPC(s, n1.rpc, RPCRange{}, Options{}); err != nil || res.Applied != 0 || res.RolledBack != 0 || digest(t, s) != before {
		t.Fatalf("repeated ingest: %+v %v", res, err)
	}
}
