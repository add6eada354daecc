package sim

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/address"
	"github.com/spoor-dev/spoor/internal/chain/etl"
	"github.com/spoor-dev/spoor/internal/ingest"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
	"github.com/spoor-dev/spoor/internal/store/pebblestore"
)

// The shared test world: the small scale (the demo world), generated once
// and ingested once into a Pebble store with spoor's own ingest paths.
var world struct {
	once  sync.Once
	dir   string
	st    *pebblestore.Store
	truth *truthFile
	err   error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if world.st != nil {
		world.st.Close()
	}
	if world.dir != "" {
		os.RemoveAll(world.dir)
	}
	os.Exit(code)
}

// smallWorld returns the generated and ingested small world.
func smallWorld(t *testing.T) (string, *pebblestore.Store, *truthFile) {
	t.Helper()
	world.once.Do(func() {
		world.dir, world.err = os.MkdirTemp("", "spoor-sim-test")
		if world.err != nil {
			return
		}
		out := filepath.Join(world.dir, "world")
		cfg, _ := ScaleConfig(testScale(), 1)
		if _, world.err = Generate(cfg, out); world.err != nil {
			return
		}
		if world.truth, world.err = readTruth(filepath.Join(out, "truth.json")); world.err != nil {
			return
		}
		if world.st, world.err = pebblestore.Open(filepath.Join(world.dir, "store")); world.err != nil {
			return
		}
		world.err = ingestWorld(world.st, out)
	})
	if world.err != nil {
		t.Fatal(world.err)
	}
	return filepath.Join(world.dir, "world"), world.st, world.truth
}

// testScale is the scale of the shared test world: small, or what
// SPOOR_SIM_SCALE says (to run every check on a medium world by hand).
func testScale() string {
	if s := os.Getenv("SPOOR_SIM_SCALE"); s != "" {
		return s
	}
	return "small"
}

// ingestWorld ingests the BTC blk files with spoor's BTC ingest and the
// ETL CSVs with spoor's ETL decoder + store.Apply (test glue: the
// production ETL ingest is another package's job).
func ingestWorld(st store.Store, dir string) error {
	if _, err := ingest.BTCFiles(st, filepath.Join(dir, "btc"), ingest.Options{}); err != nil {
		return fmt.Errorf("btc ingest: %w", err)
	}
	for _, c := range []model.Chain{model.Tron, model.ETH} {
		res, err := decodeETL(c, filepath.Join(dir, c.String(), "etl"))
		if err != nil {
			return err
		}
		if err := st.Apply(c, store.Unordered, res.Blocks); err != nil {
			return fmt.Errorf("%s apply: %w", c, err)
		}
	}
	return nil
}

func decodeETL(c model.Chain, dir string) (*etl.Result, error) {
	units, _, err := etl.Scan(dir)
	if err != nil {
		return nil, err
	}
	if len(units) < 2 {
		return nil, fmt.Errorf("%s: %d partitions; the simulator writes ethereum-etl block-range partitions", dir, len(units))
	}
	all := &etl.Result{}
	for _, u := range units {
		r, err := etl.DecodeUnit(c, u)
		if err != nil {
			return nil, err
		}
		all.Blocks = append(all.Blocks, r.Blocks...)
		all.Facts = append(all.Facts, r.Facts...)
		all.Txs += r.Txs
		all.Transfers += r.Transfers
	}
	return all, nil
}

// truth.json as a test reads it (independently of the generator's types).
type truthFile struct {
	Seed   uint64 `json:"seed"`
	Start  string `json:"start"`
	Actors []struct {
		ID        string `json:"id"`
		Kind      string `json:"kind"`
		Role      string `json:"role"`
		Addresses []struct {
			Chain   string `json:"chain"`
			Address string `json:"address"`
		} `json:"addresses"`
	} `json:"actors"`
	Typologies []struct {
		ID        string            `json:"id"`
		Kind      string            `json:"kind"`
		TF        bool              `json:"tf"`
		Actors    []string          `json:"actors"`
		Params    map[string]string `json:"params"`
		Transfers []tTransferJSON   `json:"transfers"`
	} `json:"typologies"`
	Flows []struct {
		Campaign string   `json:"campaign"`
		Cashout  string   `json:"cashout"`
		Chain    string   `json:"chain"`
		Asset    string   `json:"asset"`
		From     string   `json:"from"`
		To       string   `json:"to"`
		Value    string   `json:"value"`
		Path     []string `json:"path"`
	} `json:"flows"`
	Openings []balanceJSON `json:"openings"`
	Balances []balanceJSON `json:"balances"`
}

type tTransferJSON struct {
	Chain string `json:"chain"`
	TxID  string `json:"txid"`
	Vout  int32  `json:"vout"`
	From  string `json:"from"`
	To    string `json:"to"`
	Asset string `json:"asset"`
	Value string `json:"value"`
}

type balanceJSON struct {
	Chain   string `json:"chain"`
	Address string `json:"address"`
	Asset   string `json:"asset"`
	Balance string `json:"balance"`
}

func readTruth(path string) (*truthFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t truthFile
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &t, nil
}

// owner maps "chain:address" to the actor that controls it.
func (t *truthFile) owners() map[string]string {
	m := map[string]string{}
	for _, a := range t.Actors {
		for _, ad := range a.Addresses {
			m[ad.Chain+":"+ad.Address] = a.ID
		}
	}
	return m
}

func (t *truthFile) kinds() map[string]string {
	m := map[string]string{}
	for _, a := range t.Actors {
		m[a.ID] = a.Kind
	}
	return m
}

func codec(c model.Chain) address.Codec {
	cd := address.For(c)
	if c == model.BTC {
		cd.Params = regtest
	}
	return cd
}

func mustChain(t *testing.T, s string) model.Chain {
	t.Helper()
	c, err := model.ParseChain(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func decodeAddr(t *testing.T, c model.Chain, s string) []byte {
	t.Helper()
	b, err := codec(c).Decode(s)
	if err != nil {
		t.Fatalf("%s address %q: %v", c, s, err)
	}
	return b
}

func dec(t *testing.T, s string) uint256.Int {
	t.Helper()
	v, err := uint256.FromDecimal(s)
	if err != nil {
		t.Fatalf("amount %q: %v", s, err)
	}
	return *v
}

// contractOf is the token contract of an asset symbol (nil: native).
func contractOf(c model.Chain, asset string) []byte {
	switch {
	case c == model.Tron && asset == "USDT":
		return USDTTron
	case c == model.ETH && asset == "USDC":
		return USDCEth
	}
	return nil
}

// storeTotals returns what the store holds for an address in an asset.
func storeTotals(t *testing.T, st store.Reader, c model.Chain, raw []byte, asset string) (*store.AssetTotals, bool) {
	t.Helper()
	sum, err := st.Address(c, raw)
	if err != nil {
		return nil, false
	}
	want := contractOf(c, asset)
	for i := range sum.Assets {
		a := &sum.Assets[i]
		if bytes.Equal(a.Asset.Contract, want) {
			return a, true
		}
	}
	return nil, false
}

// Every address's balance per asset in the store (after ingesting the
// world's blk files and ETL CSVs with spoor's own code) equals truth.
func TestIngestBalancesMatchTruth(t *testing.T) {
	_, st, tr := smallWorld(t)
	openings := map[string]uint256.Int{}
	for _, o := range tr.Openings {
		openings[o.Chain+":"+o.Address+":"+o.Asset] = dec(t, o.Balance)
	}
	perChain := map[string]int{}
	bad := 0
	for _, b := range tr.Balances {
		c := mustChain(t, b.Chain)
		raw := decodeAddr(t, c, b.Address)
		want := dec(t, b.Balance)
		tot, ok := storeTotals(t, st, c, raw, b.Asset)
		if !ok {
			t.Errorf("%s %s %s: not in the store (truth balance %s)", c, b.Address, b.Asset, b.Balance)
			bad++
			continue
		}
		got := tot.Balance()
		if op, ok := openings[b.Chain+":"+b.Address+":"+b.Asset]; ok {
			// Held before the export: the store sees sent - received = opening - balance.
			var flowOut, wantOut uint256.Int
			flowOut.Sub(&tot.Sent, &tot.Received)
			wantOut.Sub(&op, &want)
			if !flowOut.Eq(&wantOut) {
				t.Errorf("%s %s %s: store net outflow %s, truth opening %s - balance %s", c, b.Address, b.Asset, flowOut.Dec(), op.Dec(), want.Dec())
				bad++
			}
			continue
		}
		if !got.Eq(&want) {
			t.Errorf("%s %s %s: store balance %s, truth %s", c, b.Address, b.Asset, got.Dec(), want.Dec())
			bad++
		}
		perChain[b.Chain]++
		if bad > 20 {
			t.Fatal("too many mismatches")
		}
	}
	for _, c := range []string{"btc", "tron", "eth"} {
		if perChain[c] < 100 {
			t.Errorf("only %d %s balances checked", perChain[c], c)
		}
	}
	// The manifest's counts are the store's.
	dir, _, _ := smallWorld(t)
	mb, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		t.Fatal(err)
	}
	stats, err := st.Stats()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stats {
		want, ok := m.Chains[s.Chain.String()]
		if !ok {
			continue
		}
		if s.Chain == model.BTC {
			want.Transfers++ // the genesis block's output
			want.Txs++
		}
		if int64(s.Transfers) != want.Transfers || int64(s.Txs) != want.Txs {
			t.Errorf("%s: store %d txs %d transfers, manifest %d / %d", s.Chain, s.Txs, s.Transfers, want.Txs, want.Transfers)
		}
	}
	t.Logf("checked %v balances", perChain)
}

// countAddrs counts truth's addresses of a chain that ever moved funds.
func countAddrs(tr *truthFile, chain string) int {
	seen := map[string]bool{}
	for _, b := range tr.Balances {
		if b.Chain == chain {
			seen[b.Address] = true
		}
	}
	return len(seen)
}

// The java-tron API JSON lines hold the same transactions and transfers as
// the Tron ETL CSVs.
func TestTronAPIMatchesETL(t *testing.T) {
	dir, _, _ := smallWorld(t)
	res, err := decodeETL(model.Tron, filepath.Join(dir, "tron", "etl"))
	if err != nil {
		t.Fatal(err)
	}
	fromETL := map[string]string{}
	for _, b := range res.Blocks {
		for _, tx := range b.Txs {
			fromETL[hex.EncodeToString(tx.ID[:])] = describe(b.Height, b.Time, tx.Failed, tx.Fee.Dec(), tx.Transfers)
		}
	}
	fromAPI := readTronAPI(t, filepath.Join(dir, "tron", "api", "blocks.jsonl"))
	if len(fromAPI) != len(fromETL) || len(fromAPI) < 1000 {
		t.Fatalf("api has %d txs, etl %d", len(fromAPI), len(fromETL))
	}
	for id, want := range fromETL {
		if got := fromAPI[id]; got != want {
			t.Fatalf("tx %s:\n api %s\n etl %s", id, got, want)
		}
	}
}

// describe renders a transaction canonically for comparison.
func describe(h uint64, tm int64, failed bool, fee string, xs []model.Transfer) string {
	var b strings.Builder
	fmt.Fprintf(&b, "h=%d t=%d failed=%t fee=%s", h, tm, failed, fee)
	for _, x := range xs {
		fmt.Fprintf(&b, " [%x->%x %x %s]", x.From, x.To, x.Contract, x.Value.Dec())
	}
	return b.String()
}

// readTronAPI parses blocks.jsonl with encoding/json (independently of the
// generator) into described transactions.
func readTronAPI(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type value struct {
		Amount   json.Number `json:"amount"`
		Owner    string      `json:"owner_address"`
		To       string      `json:"to_address"`
		Contract string      `json:"contract_address"`
		Data     string      `json:"data"`
	}
	var line struct {
		Block struct {
			BlockID string `json:"blockID"`
			Header  struct {
				Raw struct {
					Number    uint64 `json:"number"`
					Timestamp int64  `json:"timestamp"`
				} `json:"raw_data"`
			} `json:"block_header"`
			Transactions []struct {
				TxID string `json:"txID"`
				Ret  []struct {
					ContractRet string `json:"contractRet"`
				} `json:"ret"`
				Raw struct {
					Contract []struct {
						Type      string `json:"type"`
						Parameter struct {
							Value value `json:"value"`
						} `json:"parameter"`
					} `json:"contract"`
				} `json:"raw_data"`
			} `json:"transactions"`
		} `json:"block"`
		Info []struct {
			ID          string `json:"id"`
			Fee         uint64 `json:"fee"`
			BlockNumber uint64 `json:"blockNumber"`
			Result      string `json:"result"`
			Log         []struct {
				Address string   `json:"address"`
				Topics  []string `json:"topics"`
				Data    string   `json:"data"`
			} `json:"log"`
		} `json:"info"`
	}
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	n := 0
	for sc.Scan() {
		n++
		line.Block.Transactions, line.Info = nil, nil
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		blk := &line.Block
		if len(blk.Transactions) != len(line.Info) {
			t.Fatalf("%s:%d: %d txs, %d infos", path, n, len(blk.Transactions), len(line.Info))
		}
		for i, tx := range blk.Transactions {
			info := line.Info[i]
			if info.ID != tx.TxID || info.BlockNumber != blk.Header.Raw.Number {
				t.Fatalf("%s:%d: info %d is %s in block %d, tx %s", path, n, i, info.ID, info.BlockNumber, tx.TxID)
			}
			failed := tx.Ret[0].ContractRet != "SUCCESS"
			if failed != (info.Result == "FAILED") {
				t.Fatalf("%s:%d: tx %s ret %s but info result %q", path, n, tx.TxID, tx.Ret[0].ContractRet, info.Result)
			}
			var xs []model.Transfer
			c := tx.Raw.Contract[0]
			v := c.Parameter.Value
			switch c.Type {
			case "TransferContract":
				amt, err := uint256.FromDecimal(v.Amount.String())
				if err != nil {
					t.Fatal(err)
				}
				if !failed {
					xs = append(xs, model.Transfer{From: mustHex(v.Owner), To: mustHex(v.To), Value: *amt})
				}
			case "TriggerSmartContract":
				for _, l := range info.Log {
					if len(l.Topics) != 3 || l.Topics[0] != transferTopic {
						t.Fatalf("%s:%d: unexpected log %v", path, n, l)
					}
					var amt uint256.Int
					amt.SetBytes(mustHex(l.Data))
					xs = append(xs, model.Transfer{From: address.TronFromEVM(mustHex(l.Topics[1])[12:]), To: address.TronFromEVM(mustHex(l.Topics[2])[12:]),
						Contract: address.TronFromEVM(mustHex(l.Address)), Value: amt})
				}
			default:
				t.Fatalf("%s:%d: contract type %s", path, n, c.Type)
			}
			out[tx.TxID] = describe(blk.Header.Raw.Number, blk.Header.Raw.Timestamp/1000, failed, fmt.Sprint(info.Fee), xs)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Two runs with one seed write identical bytes; another seed differs.
func TestDeterminism(t *testing.T) {
	cfg, err := TransfersConfig(6_000, 7)
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	a, b, c := filepath.Join(base, "a"), filepath.Join(base, "b"), filepath.Join(base, "c")
	for _, d := range []string{a, b} {
		if _, err := Generate(cfg, d); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Seed = 8
	if _, err := Generate(cfg, c); err != nil {
		t.Fatal(err)
	}
	ha, hb, hc := treeHashes(t, a), treeHashes(t, b), treeHashes(t, c)
	if len(ha) < 20 { // 1 blk, per chain tokens.csv + 3 CSVs a partition (several), blocks.jsonl, prices, tagpack, truth, manifest
		t.Fatalf("only %d files: %v", len(ha), ha)
	}
	for name, h := range ha {
		if hb[name] != h {
			t.Errorf("%s differs between two runs of seed 7", name)
		}
	}
	if len(hb) != len(ha) {
		t.Errorf("runs wrote %d and %d files", len(ha), len(hb))
	}
	// under sums the hashes of every file below a folder.
	under := func(h map[string]string, prefix string) string {
		var names []string
		for n := range h {
			if strings.HasPrefix(n, prefix) {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		var sb strings.Builder
		for _, n := range names {
			sb.WriteString(n + "=" + h[n] + ";")
		}
		return sb.String()
	}
	for _, name := range []string{"truth.json", "btc/blk00000.dat", "tron/etl/transactions/", "eth/etl/token_transfers/", "prices.csv"} {
		if under(ha, name) == "" || under(hc, name) == under(ha, name) {
			t.Errorf("%s is missing or the same for seeds 7 and 8", name)
		}
	}
	// A gzipped world holds the same bytes, compressed.
	cfg.Seed = 7
	cfg.Compress = true
	z := filepath.Join(base, "z")
	if _, err := Generate(cfg, z); err != nil {
		t.Fatal(err)
	}
	hz := treeHashes(t, z)
	gz := 0
	for name := range hz {
		if !strings.HasSuffix(name, ".gz") {
			continue
		}
		gz++
		f, err := os.Open(filepath.Join(z, name))
		if err != nil {
			t.Fatal(err)
		}
		r, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(r)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(plain)
		if hex.EncodeToString(sum[:]) != ha[strings.TrimSuffix(name, ".gz")] {
			t.Errorf("%s does not decompress to the plain world's file", name)
		}
	}
	plainETL := 0 // every partition CSV and blocks.jsonl is compressed; tokens.csv is not
	for name := range ha {
		if partitionCSV.MatchString(name) || strings.HasSuffix(name, "blocks.jsonl") {
			plainETL++
		}
	}
	if gz != plainETL || gz < 7 {
		t.Errorf("%d gzipped files, want %d (every ETL partition CSV and blocks.jsonl)", gz, plainETL)
	}
	cfg.Compress = false

	// An existing non-empty folder is refused, not overwritten.
	if _, err := Generate(cfg, a); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("generate into a full folder: %v", err)
	}
}

var partitionCSV = regexp.MustCompile(`_\d{8}_\d{8}\.csv$`)

func treeHashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		sum := sha256.Sum256(b)
		m[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// usdOf values an amount at the day's price from prices.csv, exactly.
func usdOf(t *testing.T, dir string, asset string, value uint256.Int, unix int64) *big.Rat {
	t.Helper()
	prices := loadPrices(t, dir)
	day := unixTime(unix).Format("2006-01-02")
	p, ok := prices[day+","+asset]
	if !ok {
		t.Fatalf("no price for %s on %s", asset, day)
	}
	dec := map[string]int{"BTC": 8, "ETH": 18, "TRX": 6, "USDT": 6, "USDC": 6}[asset]
	v := new(big.Rat).SetInt(value.ToBig())
	v.Mul(v, p)
	return v.Quo(v, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(dec)), nil)))
}

var pricesCache sync.Map

func loadPrices(t *testing.T, dir string) map[string]*big.Rat {
	if m, ok := pricesCache.Load(dir); ok {
		return m.(map[string]*big.Rat)
	}
	b, err := os.ReadFile(filepath.Join(dir, "prices.csv"))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*big.Rat{}
	for i, l := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
		f := strings.Split(l, ",")
		r, ok := new(big.Rat).SetString(f[2])
		if len(f) != 3 || !ok {
			t.Fatalf("prices.csv:%d: %q", i+2, l)
		}
		m[f[0]+","+f[1]] = r
	}
	pricesCache.Store(dir, m)
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}
