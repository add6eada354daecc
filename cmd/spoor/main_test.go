package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spoor-dev/spoor/internal/chain/btc/btctestdata"
	"github.com/spoor-dev/spoor/internal/store/pebblestore"
)

var spoorBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "spoor-bin")
	if err != nil {
		panic(err)
	}
	spoorBin = filepath.Join(dir, "spoor")
	out, err := exec.Command("go", "build", "-o", spoorBin, ".").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run runs the spoor binary and returns stdout, stderr and the exit code.
func run(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(spoorBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	err := waitOrDump(t, cmd, &errb, 3*time.Minute, args)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// waitOrDump waits for cmd; one that runs past limit is sent SIGQUIT, which
// makes a Go program print every goroutine's stack, and the test fails with
// that dump instead of hanging until the test binary's own timeout.
func waitOrDump(t *testing.T, cmd *exec.Cmd, errb *bytes.Buffer, limit time.Duration, args []string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		cmd.Process.Signal(syscall.SIGQUIT)
		<-done
		t.Fatalf("spoor %s did not finish in %v; its goroutines:\n%s", strings.Join(args, " "), limit, errb.String())
		return nil
	}
}

func storeDigest(t *testing.T, data string) string {
	t.Helper()
	s, err := pebblestore.Open(filepath.Join(data, "chain"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d, err := s.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestCLIContract checks the JSON shapes later issues and users script
// against, on real mainnet blocks 1-255.
func TestCLIContract(t *testing.T) {
	path, _ := btctestdata.Blocks1To255(t)
	data := t.TempDir()
	if _, e, code := run(t, nil, "--data", data, "ingest", "btc", "--blocks", path); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, e)
	}
	out, e, code := run(t, []string{"SPOOR_DATA=" + data}, "address", "btc", "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3", "--json")
	if code != 0 {
		t.Fatalf("address: exit %d: %s", code, e)
	}
	var addr struct {
		Chain, Address, FirstSeen, LastSeen string
		TxCount                             uint64 `json:"tx_count"`
		Assets                              []map[string]any
	}
	if err := json.Unmarshal([]byte(out), &addr); err != nil {
		t.Fatalf("address JSON %q: %v", out, err)
	}
	if addr.Chain != "btc" || addr.Address != "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3" || addr.TxCount < 1 || len(addr.Assets) != 1 {
		t.Fatalf("address: %+v", addr)
	}
	a := addr.Assets[0]
	for _, k := range []string{"asset", "received", "sent", "balance", "transfers_in", "transfers_out"} {
		if _, ok := a[k]; !ok {
			t.Fatalf("address asset lacks %q: %v", k, a)
		}
	}
	if a["asset"] != "BTC" || a["received"] != "1000000000" {
		t.Fatalf("Hal Finney received %v %v, want \"1000000000\" BTC", a["received"], a["asset"])
	}
	out, _, code = run(t, nil, "--data", data, "tx", "btc", "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16", "--json")
	var tx map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &tx) != nil {
		t.Fatalf("tx: exit %d, %q", code, out)
	}
	for _, k := range []string{"chain", "txid", "block_height", "time", "fee", "inputs", "outputs"} {
		if _, ok := tx[k]; !ok {
			t.Fatalf("tx lacks %q", k)
		}
	}
	outs := tx["outputs"].([]any)
	o0 := outs[0].(map[string]any)
	if o0["address"] != "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3" || o0["value"] != "1000000000" || o0["script_type"] != "p2pk" {
		t.Fatalf("output 0: %v", o0)
	}
	if _, ok := o0["spent_by"]; !ok {
		t.Fatal("output lacks spent_by")
	}
	in0 := tx["inputs"].([]any)[0].(map[string]any)
	if in0["prev_txid"] != "0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9" || in0["prev_index"] != float64(0) {
		t.Fatalf("input 0: %v", in0)
	}
	out, _, code = run(t, nil, "--data", data, "stats", "--json")
	var stats struct {
		Chains []map[string]any
	}
	if code != 0 || json.Unmarshal([]byte(out), &stats) != nil || len(stats.Chains) != 1 {
		t.Fatalf("stats: %q", out)
	}
	for _, k := range []string{"chain", "height", "blocks", "txs", "addresses", "transfers"} {
		if _, ok := stats.Chains[0][k]; !ok {
			t.Fatalf("stats lacks %q", k)
		}
	}
	// Errors: stderr, non-zero exit, nothing on stdout.
	for _, args := range [][]string{
		{"address", "btc", "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm4"}, // bad checksum
		{"address", "btc", "1BitcoinEaterAddressDontSendf59kuE"}, // valid, never seen
		{"tx", "btc", "00"},
		{"ingest", "btc", "--blocks", filepath.Join(data, "missing.dat")},
		{"nosuchcommand"},
	} {
		out, e, code := run(t, nil, append([]string{"--data", data}, args...)...)
		if code == 0 || out != "" || e == "" {
			t.Fatalf("%v: exit %d, stdout %q, stderr %q", args, code, out, e)
		}
	}
}

// TestCrashSafety kills an ingest with SIGKILL at random points, resumes it
// each time, and requires exactly the contents of one clean run; again with
// an address cache sized for 300 addresses (two generations of 160), which
// switches generations all the time and, resumed, loads the address log's
// last addresses, and whose clean run must store what the default's does.
func TestCrashSafety(t *testing.T) {
	blk := btctestdata.Path(t, "blockchain/testdata/blk_0_to_14131.dat") // real mainnet blocks 0-14,131
	// Small batches and segments: kills land in batch commits, segment
	// closes, tail merges, UTXO snapshot writes and (every 3 groups of 32
	// new addresses or blocks) syncs of the address and block logs' indexes.
	env := []string{"SPOOR_BATCH_TXS=40", "SPOOR_SEGMENT_ENTRIES=2000", "SPOOR_LOG_INDEX_EVERY=3"}
	var want string
	for _, cache := range []string{"default", "300"} {
		t.Run("addr-cache-"+cache, func(t *testing.T) {
			env := env
			if cache != "default" {
				env = append(slices.Clone(env), "SPOOR_ADDR_CACHE="+cache)
			}
			clean := t.TempDir()
			t0 := time.Now()
			if _, e, code := run(t, env, "--data", clean, "ingest", "btc", "--blocks", blk); code != 0 {
				t.Fatalf("clean ingest: %s", e)
			}
			// Kill points are spread over the time a whole ingest takes
			// here (timed again for each subtest: the machine's load
			// changes), so the test kills mid-ingest on a fast machine as
			// on a slow one.
			full := time.Since(t0)
			d := storeDigest(t, clean)
			if want == "" {
				want = d
			} else if d != want {
				t.Fatal("a clean ingest with this cache stores something else than with the default cache")
			}
			crashResume(t, env, blk, full, want)
		})
	}
}

// crashResume kills ingests of blk at random points within full, resuming
// each time, until one finishes after three kills; the store must then
// have digest want.
func crashResume(t *testing.T, env []string, blk string, full time.Duration, want string) {
	data := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	kills, restarts := 0, 0
	for attempt := 0; attempt < 300; attempt++ {
		cmd := exec.Command(spoorBin, "--data", data, "ingest", "btc", "--blocks", blk)
		cmd.Env = append(os.Environ(), env...)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		delay := max(time.Minute, 10*full) // enough kills: let it finish
		if kills < 12 {
			delay = full/20 + time.Duration(rng.Int64N(int64(full*9/10)))
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("ingest failed after %d kills: %v: %s", kills, err, errb.String())
			}
			if got := storeDigest(t, data); got != want {
				t.Fatalf("after %d SIGKILLs and resumes the store differs from a clean run", kills)
			}
			if kills < 3 {
				// It finished before three kills: exact, but not yet the
				// test; start over in a fresh folder.
				restarts++
				data, kills = t.TempDir(), 0
				continue
			}
			t.Logf("%d SIGKILLs (kill points within %v), resumed to the exact contents of a clean run; %d early finishes restarted", kills, full, restarts)
			return
		case <-time.After(delay):
			if kills >= 12 { // a resume meant to finish hangs: show where
				cmd.Process.Signal(syscall.SIGQUIT)
				<-done
				t.Fatalf("a resumed ingest did not finish in %v after %d kills; its goroutines:\n%s", delay, kills, errb.String())
			}
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			kills++
		}
	}
	t.Fatal("never got three kills and a resume to the end")
}

func TestUsage(t *testing.T) {
	_, e, code := run(t, nil)
	if code != 2 || !strings.Contains(e, "ingest") {
		t.Fatalf("no args: exit %d, %q", code, e)
	}
}

// TestDemo runs the README's first command end to end: a simulated world,
// ingested through every format, walked through from the OSINT lead to its
// donors and cash-out, and checked against the world's truth.
func TestDemo(t *testing.T) {
	out, e, code := run(t, nil, "demo")
	if code != 0 {
		t.Fatalf("demo: exit %d: %s", code, e)
	}
	for _, want := range []string{
		"== btc blk files", "== tron ETL export", "== eth ETL export", "== attribution TagPack",
		"Campaign Falcon donation address", // the lead, from the starting TagPack
		"hot wallet [exchange",             // a tagged exchange among the donors
		"planted crowdfunding",             // the truth check
		"Not built yet",                    // honest about what is missing
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out)
		}
	}
}

// TestDemoMainnet walks through real Bitcoin blocks 0-14,131.
func TestDemoMainnet(t *testing.T) {
	btctestdata.Path(t, "blockchain/testdata/blk_0_to_14131.dat") // skips clearly when absent
	data := t.TempDir()
	out, e, code := run(t, nil, "--data", data, "demo", "--mainnet")
	if code != 0 {
		t.Fatalf("demo: exit %d: %s", code, e)
	}
	for _, want := range []string{
		"applied 14132 blocks (14247 txs)",
		"f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16",
		"1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out)
		}
	}
	// The demo's store answers like any other.
	out, _, code = run(t, nil, "--data", data, "address", "btc", "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3", "--json")
	if code != 0 || !strings.Contains(out, `"received":"1000000000"`) {
		t.Fatalf("address after demo: exit %d %s", code, out)
	}
}

// TestDemoInterrupt: Ctrl-C during the demo leaves no temporary world or
// store behind.
func TestDemoInterrupt(t *testing.T) {
	tmp := t.TempDir()
	cmd := exec.Command(spoorBin, "demo")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the demo has made its folder, then interrupt it.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the demo made no temporary folder")
		}
	}
	time.Sleep(100 * time.Millisecond)
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 1) {
		t.Fatalf("interrupted demo: %v (want exit 1: stopped at the next step)", err)
	}
	if err != nil && !strings.Contains(stderr.String(), "interrupted") {
		t.Fatalf("interrupted demo said %q", stderr.String())
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Fatalf("the interrupted demo left %d entries in its temporary folder", len(ents))
	}
}
