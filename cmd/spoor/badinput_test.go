package main

// Bad input as a user meets it, through the built binary: every error goes
// to stderr with a non-zero exit (2 for usage, 1 otherwise) and nothing on
// stdout; every --json success prints exactly one JSON object; nothing a
// failed command touched changes what the store holds. The world is the
// simulator's (spoor sim --seed 5, the demo scale): real formats, known
// content. TestQA* tests are findings in code owned elsewhere, skipped until
// their owner fixes them.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// qaWorld simulates the seed-5 world and ingests all of it into a store.
func qaWorld(t *testing.T) (world, data string) {
	t.Helper()
	dir := t.TempDir()
	world, data = filepath.Join(dir, "world"), filepath.Join(dir, "data")
	if _, e, code := run(t, nil, "sim", "--seed", "5", "--out", world); code != 0 {
		t.Fatalf("sim: exit %d: %s", code, e)
	}
	if _, e, code := run(t, nil, "--data", data, "ingest", "all", world); code != 0 {
		t.Fatalf("ingest all: exit %d: %s", code, e)
	}
	return world, data
}

// copyTree copies the regular files under src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// oneJSONObject checks that out is exactly one JSON object.
func oneJSONObject(out string) error {
	dec := json.NewDecoder(strings.NewReader(out))
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	if _, ok := v.(map[string]any); !ok {
		return fmt.Errorf("a %T, not an object", v)
	}
	if dec.More() {
		return fmt.Errorf("more than one JSON value")
	}
	return nil
}

// storeState is what every read-only report says about a store.
func storeState(t *testing.T, data string) string {
	t.Helper()
	var b strings.Builder
	for _, args := range [][]string{{"stats"}, {"tags", "stats"}, {"prices", "list"}} {
		out, e, code := run(t, nil, append([]string{"--data", data, "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, e)
		}
		b.WriteString(out)
	}
	return b.String()
}

const (
	qaTagged  = "bcrt1q9v6yrmhmnxsjrrpgegrhkda4gulqncthcr3y28" // seed 5: the Norvik hot wallet of tagpack.yaml
	qaMainnet = "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3"           // Hal Finney: valid, but mainnet
)

func TestBadInput(t *testing.T) {
	world, data := qaWorld(t)
	before := storeState(t, data)
	tmp := t.TempDir()
	missing := filepath.Join(tmp, "missing")
	emptyDir := filepath.Join(tmp, "emptydir")
	aFile := filepath.Join(tmp, "afile")
	emptyFile := filepath.Join(tmp, "empty.jsonl")
	os.Mkdir(emptyDir, 0o755)
	os.WriteFile(aFile, []byte("x"), 0o644)
	os.WriteFile(emptyFile, nil, 0o644)
	// A data folder whose chain store is a file: the demo fails at its
	// ingest step, after printing two steps.
	chainFile := filepath.Join(tmp, "chainfile")
	os.MkdirAll(chainFile, 0o755)
	os.WriteFile(filepath.Join(chainFile, "chain"), []byte("x"), 0o644)
	// The world's TagPack under another file name.
	tp, _ := os.ReadFile(filepath.Join(world, "tagpack.yaml"))
	tpCopy := filepath.Join(tmp, "tagpack-copy.yaml")
	os.WriteFile(tpCopy, tp, 0o644)
	// An ETL export whose blocks.csv is a folder.
	etlFolder := filepath.Join(tmp, "etl")
	os.MkdirAll(filepath.Join(etlFolder, "blocks.csv"), 0o755)
	tx, _ := os.ReadFile(filepath.Join(world, "eth", "etl", "transactions.csv"))
	os.WriteFile(filepath.Join(etlFolder, "transactions.csv"), tx, 0o644)
	// A world whose prices.csv is broken after three good chains.
	bad := filepath.Join(tmp, "badworld")
	copyTree(t, filepath.Join(world, "btc"), filepath.Join(bad, "btc"))
	copyTree(t, filepath.Join(world, "eth"), filepath.Join(bad, "eth"))
	os.WriteFile(filepath.Join(bad, "prices.csv"), []byte("date,asset,usd\n2022-01-01,BTC,x\n"), 0o644)

	D := func(args ...string) []string { return append([]string{"--data", data}, args...) }
	for _, c := range []struct {
		name   string
		args   []string
		env    []string
		code   int
		has    string // in stderr (errors) or stdout+stderr (successes)
		isJSON bool   // success prints exactly one JSON object
	}{
		// Help.
		{"--help", []string{"--help"}, nil, 0, "usage: spoor", false},
		{"-h", []string{"-h"}, nil, 0, "usage: spoor", false},
		{"help", []string{"help"}, nil, 0, "counterparties", false},
		{"help tx", []string{"help", "tx"}, nil, 0, "spoor tx CHAIN TXID", false},
		{"help unknown", []string{"help", "nosuch"}, nil, 2, `unknown command "nosuch"`, false},
		{"address --help", []string{"address", "--help"}, nil, 0, "spoor address CHAIN ADDR", false},
		{"stats --help", []string{"stats", "--help"}, nil, 0, "show what the store holds", false},
		{"prices --help", []string{"prices", "--help"}, nil, 0, "spoor prices import FILE", false},
		{"counterparties --help", []string{"counterparties", "--help"}, nil, 0, "-limit", false},
		{"sim --help", []string{"sim", "--help"}, nil, 0, "-transfers", false},
		{"demo --help", []string{"demo", "--help"}, nil, 0, "-mainnet", false},
		{"tags --help", []string{"tags", "--help"}, nil, 0, "spoor tags import", false},
		{"ingest btc --help", []string{"ingest", "btc", "--help"}, nil, 0, "-blocks", false},
		{"ingest all --help", []string{"ingest", "all", "--help"}, nil, 0, "spoor ingest all", false},
		// Global flags.
		{"empty --data", []string{"--data", "", "stats"}, nil, 2, "--data: want a folder", false},
		{"--data without a value", []string{"stats", "--data"}, nil, 2, "--data needs a folder", false},
		{"unknown global flag", []string{"--bogus", "stats"}, nil, 2, "-bogus", false},
		{"unknown flag", D("stats", "--bogus"), nil, 2, "-bogus", false},
		{"unknown command", D("nosuch"), nil, 2, `unknown command "nosuch"`, false},
		// Data folders.
		{"missing data folder", []string{"--data", missing, "tags", "stats"}, nil, 1, "not found", false},
		{"data folder without a store", []string{"--data", emptyDir, "counterparties", "btc", qaTagged}, nil, 1, "holds no store yet", false},
		{"data folder is a file", []string{"--data", aFile, "stats"}, nil, 1, "not a directory", false},
		// tags.
		{"tags alone", D("tags"), nil, 2, "want a tags command", false},
		{"tags lists extra", D("tags", "lists", "extra"), nil, 2, "want 0 arguments", false},
		{"tags lists --json", D("tags", "lists", "--json"), nil, 0, `"lists"`, true},
		{"tags import a renamed copy", D("tags", "import", tpCopy), nil, 1, "as list graphsense/tagpack-copy every tag would count twice: give --list graphsense/tagpack", false},
		{"tags import a renamed copy into its list", D("tags", "import", tpCopy, "--list", "graphsense/tagpack", "--json"), nil, 0, `"no_op":true`, true},
		{"tags export --json", D("tags", "export", "--json"), nil, 2, "TagPack (YAML), not JSON", false},
		{"tags export --out --json", D("tags", "export", "--out", filepath.Join(tmp, "export.yaml"), "--json"), nil, 0, `"tags":9`, true},
		{"tags export to a folder", D("tags", "export", "--out", emptyDir), nil, 1, "is a directory", false},
		{"tags import bad --as-of", D("tags", "import", filepath.Join(world, "tagpack.yaml"), "--as-of", "2022-99-01"), nil, 2, "--as-of", false},
		{"tags show wrong network", D("tags", "show", "btc", qaMainnet), nil, 2, "is a Bitcoin mainnet address, but this store holds Bitcoin regtest", false},
		{"tags show --json", D("tags", "show", "btc", qaTagged, "--json"), nil, 0, "Norvik hot wallet", true},
		{"tags stats --json", D("tags", "stats", "--json"), nil, 0, `"total"`, true},
		{"tags combine --json", D("tags", "combine", "btc", qaTagged, "--json"), nil, 0, `"claims"`, true},
		// counterparties.
		{"counterparties bad xmr", D("counterparties", "xmr", "abc"), nil, 2, "want 95 or 106 characters", false},
		{"counterparties wrong network", D("counterparties", "btc", qaMainnet), nil, 2, "is a Bitcoin mainnet address", false},
		{"counterparties huge --limit", D("counterparties", "btc", qaTagged, "--limit", "99999999999999999999"), nil, 2, "out of range", false},
		{"counterparties max --limit --json", D("counterparties", "btc", qaTagged, "--limit", "9223372036854775807", "--json"), nil, 0, `"counterparties"`, true},
		// ingest.
		{"tron export as eth", D("ingest", "eth", "--etl", filepath.Join(world, "tron", "etl")), nil, 1, "a Tron export?", false},
		{"empty tron api file", D("ingest", "tron", "--api", emptyFile), nil, 1, "holds no blocks", false},
		{"etl folder named blocks.csv", D("ingest", "eth", "--etl", etlFolder), nil, 1, "blocks.csv: a folder, named like an export file", false},
		{"ingest all, a bad step", D("ingest", "all", bad), nil, 1, "stored before it, kept, skipped by a re-run: btc blk files, eth ETL export", false},
		{"ingest all again --json", D("ingest", "all", world, "--json"), nil, 0, `"steps"`, true},
		{"ingest btc again --json", D("ingest", "btc", "--blocks", filepath.Join(world, "btc"), "--json"), nil, 0, `"skipped_blocks":4522`, true},
		// sim and demo.
		{"sim absurd --transfers", []string{"sim", "--out", filepath.Join(tmp, "w"), "--transfers", "99999999999999"}, nil, 2, "too many", false},
		{"sim into a world", []string{"sim", "--out", world}, nil, 1, "not empty", false},
		{"demo --json", []string{"demo", "--json"}, nil, 2, "walk-through", false},
		{"demo into a store", []string{"demo"}, []string{"SPOOR_DATA=" + data}, 1, "already holds a store", false},
		{"demo failing midway", []string{"--data", chainFile, "demo"}, nil, 1, "not a directory", false},
		// Other --json successes.
		{"stats --json", D("stats", "--json"), nil, 0, `"chains"`, true},
		{"address --json", D("address", "btc", qaTagged, "--json"), nil, 0, `"assets"`, true},
		{"prices list --json", D("prices", "list", "--json"), nil, 0, `"assets"`, true},
		{"prices import --json", D("prices", "import", filepath.Join(world, "prices.csv"), "--json"), nil, 0, `"points"`, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, e, code := run(t, c.env, c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout %q\nstderr %q", code, c.code, out, e)
			}
			if code != 0 {
				if out != "" || !strings.Contains(e, c.has) {
					t.Fatalf("stdout %q (want none), stderr %q (want %q)", out, e, c.has)
				}
				return
			}
			if !strings.Contains(out+e, c.has) {
				t.Fatalf("output lacks %q:\nstdout %q\nstderr %q", c.has, out, e)
			}
			if c.isJSON {
				if err := oneJSONObject(out); err != nil {
					t.Fatalf("--json: %v:\n%s", err, out)
				}
			}
		})
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("a read-only command created the missing data folder")
	}
	if after := storeState(t, data); after != before {
		t.Errorf("the store changed under failed and repeated commands:\nbefore %s\nafter  %s", before, after)
	}
	// Every subcommand is listed in the usage.
	_, usage, _ := run(t, nil)
	for _, cmd := range []string{"address", "counterparties", "demo", "ingest", "prices", "sim", "stats", "tags", "tx"} {
		if !strings.Contains(usage, "\n  "+cmd+" ") {
			t.Errorf("usage does not list %s:\n%s", cmd, usage)
		}
	}
}

// A second spoor on a data folder in use fails at once, saying so, and
// leaves the store as it was.
func TestBadInputStoreInUse(t *testing.T) {
	world, data := qaWorld(t)
	before := storeState(t, data)
	fifo := filepath.Join(t.TempDir(), "blocks.jsonl")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("no fifo here: %v", err)
	}
	// The first ingest opens the store, then waits on the fifo for blocks
	// (a java-tron JSON lines stream may come through a pipe).
	first := exec.Command(spoorBin, "--data", data, "ingest", "tron", "--api", fifo)
	var firstErr bytes.Buffer
	first.Stderr = &firstErr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Process.Kill()
	// Wait until it holds the lock (probing by opening the store would race
	// it for the lock).
	lock := filepath.Join(data, "chain", "LOCK")
	held := func() bool {
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", first.Process.Pid))
		for _, fd := range fds {
			if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", first.Process.Pid, fd.Name())); l == lock {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(10 * time.Second); !held(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Skip("cannot see the first spoor's lock (no /proc here?)")
		}
	}
	t0 := time.Now()
	out, e, code := run(t, nil, "--data", data, "ingest", "eth", "--etl", filepath.Join(world, "eth", "etl"))
	if time.Since(t0) > 5*time.Second {
		t.Fatalf("the second spoor waited %v for the lock", time.Since(t0))
	}
	if code != 1 || out != "" || !strings.Contains(e, "in use by another spoor process") {
		t.Fatalf("second spoor: exit %d, stdout %q, stderr %q", code, out, e)
	}
	// Readers fail the same way, before judging an address by a guessed
	// Bitcoin network.
	for _, args := range [][]string{{"tags", "show", "btc", qaTagged}, {"counterparties", "btc", qaTagged}, {"stats"}} {
		out, e, code := run(t, nil, append([]string{"--data", data}, args...)...)
		if code != 1 || out != "" || !strings.Contains(e, "in use by another spoor process") {
			t.Errorf("%v while the store is in use: exit %d, stdout %q, stderr %q", args, code, out, e)
		}
	}
	// Let the first one finish: an empty block file is its error.
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := first.Wait(); err == nil || !strings.Contains(firstErr.String(), "holds no blocks") {
		t.Fatalf("first spoor: %v %s", err, firstErr.String())
	}
	if after := storeState(t, data); after != before {
		t.Errorf("store changed:\nbefore %s\nafter  %s", before, after)
	}
}

// SIGINT in the middle of ingest all, then a re-run: the store holds what
// one clean run stores, nothing lost or counted twice.
func TestBadInputInterruptResume(t *testing.T) {
	world, clean := qaWorld(t)
	want := storeState(t, clean)
	data := t.TempDir()
	for i, delay := range []time.Duration{60 * time.Millisecond, 150 * time.Millisecond, 300 * time.Millisecond} {
		cmd := exec.Command(spoorBin, "--data", data, "ingest", "all", world)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Signal(os.Interrupt)
		err := cmd.Wait()
		t.Logf("interrupt %d after %v: %v", i, delay, err)
	}
	if out, e, code := run(t, nil, "--data", data, "ingest", "all", world); code != 0 {
		t.Fatalf("resume: exit %d: %s %s", code, out, e)
	}
	if got := storeState(t, data); got != want {
		t.Errorf("after interrupts and a resume:\n%s\nwant (one clean run)\n%s", got, want)
	}
	if _, e, code := run(t, nil, "--data", data, "ingest", "all", world); code != 0 {
		t.Fatalf("third run: %s", e)
	}
	if got := storeState(t, data); got != want {
		t.Errorf("ingesting the same world again changed the store:\n%s\nwant\n%s", got, want)
	}
}

// flipByte copies the world's blk file into a new folder with one byte
// changed at off (negative: from the end).
func flipByte(t *testing.T, world string, off int64) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(world, "btc", "blk00000.dat"))
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		off += int64(len(b))
	}
	b[off] ^= 0x5a
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "blk00000.dat"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// QA finding: a changed byte inside a transaction of a blk file is stored
// without complaint (no merkle-root check), so the store silently differs
// from the chain. Offset -10 lands in the last transaction of the seed-5
// file.
func TestQABlkCorruptTxAccepted(t *testing.T) {
	world, _ := qaWorld(t)
	blk := flipByte(t, world, -10)
	out, e, code := run(t, nil, "--data", t.TempDir(), "ingest", "btc", "--blocks", blk)
	if code == 0 {
		t.Fatalf("a corrupted transaction was ingested: %s", out)
	}
	if !strings.Contains(e, "merkle") {
		t.Fatalf("error does not say what is wrong: %s", e)
	}
}

// QA finding: a changed byte in block 6's header (bits) orphans every later
// block; ingest reports success at height 6 of 4521, exit 0, no warning.
func TestQABlkOrphansSilentlyDropped(t *testing.T) {
	world, _ := qaWorld(t)
	blk := flipByte(t, world, 1000)
	_, e, code := run(t, nil, "--data", t.TempDir(), "ingest", "btc", "--blocks", blk)
	if code == 0 && e == "" {
		t.Fatal("4515 of 4522 blocks left off the chain without an error or a warning")
	}
}

// QA finding: a changed coinbase outpoint in block 1 fails, but the error's
// location names the last block of the batch (block 1999 at byte 1561461),
// not block 1 near the start of the file.
func TestQABlkErrorLocation(t *testing.T) {
	world, _ := qaWorld(t)
	blk := flipByte(t, world, 100)
	_, e, code := run(t, nil, "--data", t.TempDir(), "ingest", "btc", "--blocks", blk)
	if code != 1 || strings.Contains(e, "block 1999") || !strings.Contains(e, "byte offset 0: block 1 ") {
		t.Fatalf("exit %d: %s", code, e)
	}
}

// The simulator's blocks.jsonl is a filtered extract (only blocks that hold
// transactions, like its ETL export), and a node file must hold every block:
// `ingest tron --api` refuses it, naming the gap and pointing at --etl, which
// `ingest all` uses.
func TestSimTronAPIGapRefused(t *testing.T) {
	world, _ := qaWorld(t)
	out, e, code := run(t, nil, "--data", t.TempDir(), "ingest", "tron", "--api", filepath.Join(world, "tron", "api", "blocks.jsonl"))
	if code != 1 || out != "" || !strings.Contains(e, "the file skips blocks") || !strings.Contains(e, "--etl") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, e)
	}
}

// QA finding: `spoor ingest --help` is an unknown source "--help" (exit 2);
// `spoor help ingest` too.
func TestQAIngestHelp(t *testing.T) {
	for _, args := range [][]string{{"ingest", "--help"}, {"help", "ingest"}} {
		out, e, code := run(t, nil, args...)
		if code != 0 || !strings.Contains(out+e, "btc") {
			t.Errorf("%v: exit %d: %s", args, code, e)
		}
	}
}

// QA findings in cmd_query.go: extra arguments to stats are ignored; read-only
// commands on a missing data folder create it and answer "empty" / "never
// seen"; a Bitcoin address of another network is "unknown address type"; any
// string is a Monero address ("never seen").
func TestQAQueryBadInput(t *testing.T) {
	_, data := qaWorld(t)
	missing := filepath.Join(t.TempDir(), "missing")
	for _, c := range []struct {
		args []string
		code int
		has  string
	}{
		{[]string{"--data", data, "stats", "extra"}, 2, "want 0 arguments"},
		{[]string{"--data", missing, "stats"}, 1, "not found"},
		{[]string{"--data", missing, "address", "btc", qaMainnet}, 1, "not found"},
		{[]string{"--data", data, "address", "btc", qaMainnet}, 2, "is a Bitcoin mainnet address"},
		{[]string{"--data", data, "address", "xmr", "abc"}, 2, "want 95 or 106 characters"},
	} {
		out, e, code := run(t, nil, c.args...)
		if code != c.code || out != "" || !strings.Contains(e, c.has) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d and %q", c.args, code, out, e, c.code, c.has)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("a read-only command created the data folder")
	}
}

// QA finding: height ranges are not checked before the node is asked:
// --from after --to, and a negative --from (silently "no --from").
func TestQAIngestRange(t *testing.T) {
	data := t.TempDir()
	for _, args := range [][]string{
		{"ingest", "eth", "--rpc", "http://127.0.0.1:1", "--from", "10", "--to", "5"},
		{"ingest", "tron", "--rpc", "http://127.0.0.1:1", "--from", "-5"},
		{"ingest", "btc", "--rpc", "http://127.0.0.1:1", "--from", "10", "--to", "5"},
	} {
		out, e, code := run(t, nil, append([]string{"--data", data}, args...)...)
		if code != 2 || out != "" || !strings.Contains(e, "--from") {
			t.Errorf("%v: exit %d, stderr %q; want a usage error about --from", args, code, e)
		}
	}
}

// corruptStore overwrites 4 bytes every 64 KiB of every sstable of a copy
// of the store, and of its tx, address and block logs (from a third of the
// way in): a damaged disk, same file sizes.
func corruptStore(t *testing.T, data string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "data")
	copyTree(t, data, dst)
	ssts, _ := filepath.Glob(filepath.Join(dst, "chain", "*.sst"))
	if len(ssts) == 0 {
		t.Skip("no sstables to corrupt")
	}
	var logs []string
	for _, ext := range []string{"txlog", "addr", "blocks"} {
		m, _ := filepath.Glob(filepath.Join(dst, "chain", "seg", "*."+ext))
		logs = append(logs, m...)
	}
	for _, p := range append(ssts, logs...) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		from, to := 4096, len(b)-4096
		if !strings.HasSuffix(p, ".sst") {
			from, to = len(b)/3, len(b)
		}
		for off := from; off+4 < to; off += 64 << 10 {
			copy(b[off:], []byte{0xde, 0xad, 0xbe, 0xef})
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// A store damaged on disk is an error saying so, never a Go panic.
func TestBadInputCorruptStore(t *testing.T) {
	_, data := qaWorld(t)
	bad := corruptStore(t, data)
	failed := 0
	for _, args := range [][]string{
		{"counterparties", "btc", qaTagged, "--limit", "0"},
		{"counterparties", "btc", qaTagged, "--out", "--json"},
		{"tags", "stats"},
		{"tags", "show", "btc", qaTagged},
	} {
		out, e, code := run(t, nil, append([]string{"--data", bad}, args...)...)
		if code == 0 {
			continue // nothing it read was damaged
		}
		failed++
		if code != 1 || out != "" || strings.Contains(e, "goroutine ") || strings.Contains(e, "panic") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, e)
		}
		if !strings.Contains(e, "corrupt") && !strings.Contains(e, "checksum") {
			t.Errorf("%v: the error does not say the store is damaged: %s", args, e)
		}
	}
	if failed == 0 {
		t.Fatal("no command noticed the damage")
	}
}

// QA finding: the same damage makes address, tx, stats and prices end in a Go
// panic ("element has outstanding references": pebble's Close, run by their
// deferred st.Close, panics over the first panic). pebblestore's quietLogger
// turns pebble's corruption report into a panic; it should become an error
// of the read.
func TestQACorruptStoreQueries(t *testing.T) {
	_, data := qaWorld(t)
	bad := corruptStore(t, data)
	for _, args := range [][]string{
		{"address", "btc", qaTagged},
		{"stats"},
	} {
		out, e, code := run(t, nil, append([]string{"--data", bad}, args...)...)
		if code != 0 && (code != 1 || out != "" || strings.Contains(e, "goroutine ") || !strings.Contains(e, "corrupt")) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, e)
		}
	}
}
