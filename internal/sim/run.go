package sim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/spoor-dev/spoor/internal/model"
)

// tick is the simulation step: one Bitcoin block interval.
const tick = 600

// premine is the number of coinbase-only blocks before the economy starts
// (like `generate 200` on a regtest node): the first 100 rewards mature.
const premine = 200

// exchangeTable: the exchanges of every world (USD hot-wallet band).
var exchangeTable = []struct {
	name, role string
	lo, hi     int64
}{
	{"Norvik", "global exchange", 400_000, 8_000_000},
	{"Kopra", "Indonesia-based retail exchange", 100_000, 2_000_000},
	{"Baltica", "regional exchange", 100_000, 2_000_000},
	{"Sable", "offshore exchange (light KYC)", 50_000, 1_000_000},
}

// Manifest is manifest.json.
type Manifest struct {
	Version   int                   `json:"version"`
	Seed      uint64                `json:"seed"`
	Scale     string                `json:"scale"`
	Target    int64                 `json:"transfers_target"`
	Transfers int64                 `json:"transfers"`
	Start     string                `json:"start"`
	End       string                `json:"end"`
	Spoor     string                `json:"spoor_version"`
	Actors    int                   `json:"actors"`
	Addresses int                   `json:"addresses"`
	Chains    map[string]ChainCount `json:"chains"`
}

// ChainCount is what one chain's output holds.
type ChainCount struct {
	Network    string `json:"network"`
	Format     string `json:"format"`
	Path       string `json:"path"`
	Blocks     int64  `json:"blocks"`
	FirstBlock uint64 `json:"first_block"`
	LastBlock  uint64 `json:"last_block"`
	Txs        int64  `json:"txs"`
	Transfers  int64  `json:"transfers"`
	Files      int    `json:"files,omitempty"`
	API        string `json:"api,omitempty"` // Tron: the java-tron HTTP API JSON lines
}

// Generate writes a world into out (created; must be empty or absent).
func Generate(cfg Config, out string) (*Manifest, error) {
	if err := prepareOut(out); err != nil {
		return nil, err
	}
	s := &Sim{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x73706f6f72)), truth: &truth{}}
	s.start = Start.Unix()
	s.end = s.start + int64(cfg.Days)*86400
	s.prices = newPrices(cfg.Seed, cfg.Days)
	var err error
	if s.btc, err = newBTCChain(filepath.Join(out, "btc")); err != nil {
		return nil, err
	}
	if s.tron, err = newAcctChain(filepath.Join(out, "tron"), model.Tron, cfg.Seed, cfg.Compress); err != nil {
		return nil, err
	}
	if s.eth, err = newAcctChain(filepath.Join(out, "eth"), model.ETH, cfg.Seed, cfg.Compress); err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(out, "prices.csv"), s.prices.write); err != nil {
		return nil, err
	}
	s.populate()
	s.bootstrap()
	if err := s.tron.writeTokens(filepath.Join(out, "tron"), &s.supply[ciTron]); err != nil {
		return nil, err
	}
	if err := s.eth.writeTokens(filepath.Join(out, "eth"), &s.supply[ciETH]); err != nil {
		return nil, err
	}
	s.plan()
	s.loop()
	s.fail(s.flushAcct(s.tron))
	s.fail(s.flushAcct(s.eth))
	s.fail(s.btc.close())
	s.fail(s.tron.close())
	s.fail(s.eth.close())
	if s.err != nil {
		return nil, s.err
	}
	if err := writeFile(filepath.Join(out, "truth.json"), s.writeTruth); err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(out, "tagpack.yaml"), s.writeTagPack); err != nil {
		return nil, err
	}
	m := s.manifest()
	if err := writeFile(filepath.Join(out, "manifest.json"), func(w *bufio.Writer) error {
		b, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			return err
		}
		w.Write(b)
		w.WriteByte('\n')
		return w.Flush()
	}); err != nil {
		return nil, err
	}
	return m, s.err
}

func prepareOut(out string) error {
	if ents, err := os.ReadDir(out); err == nil && len(ents) > 0 {
		return fmt.Errorf("sim: output folder %s is not empty", out)
	}
	return os.MkdirAll(out, 0o755)
}

func writeFile(path string, fn func(*bufio.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := fn(w); err != nil {
		f.Close()
		return fmt.Errorf("sim: write %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// populate creates the actors.
func (s *Sim) populate() {
	for _, e := range exchangeTable {
		s.exchanges = append(s.exchanges, s.newCustodian("exchange", e.role, e.name, e.lo, e.hi))
	}
	s.minerU = s.newUser("miner", "mining pool", "Regtest Pool")
	s.minerU.home = 0
	s.wallet(s.minerU, ciBTC).reuse = 1000
	s.wallet(s.minerU, ciBTC).maxAddrs = 1
	for i := 0; i < s.cfg.Users; i++ {
		s.users = append(s.users, s.newUser("user", "retail user", "user"))
	}
	nm := max(5, s.cfg.Users/40)
	for i := 0; i < nm; i++ {
		s.merchants = append(s.merchants, s.newUser("merchant", "online shop", "merchant"))
	}
	s.processor = s.newProcessor()
	for ci := ciTron; ci <= ciETH; ci++ {
		st := s.main(s.processor.settle[ci])
		s.addrs[st].flags |= flagStaked
	}
	s.newTF()
	s.newNoise()
}

// issuerSupply: genesis holdings of the account chains' issuers (USD).
const issuerUSD = 5_000_000_000

// bootstrap mines the premine blocks, lets the miner sell its matured
// rewards to the exchanges' cold wallets and the account-chain issuers
// fund the exchanges.
func (s *Sim) bootstrap() {
	miner := s.wallet(s.minerU, ciBTC)
	for i := 0; i < premine; i++ {
		s.now = s.start - int64(premine-i)*tick
		s.closeBTCBlock(s.now, miner)
	}
	s.now = s.start
	var outs []payout
	for _, c := range s.exchanges {
		outs = append(outs, payout{s.main(c.cold[ciBTC]), 900 * 100_000_000})
	}
	outs = append(outs, payout{s.main(s.tf.swap.hot[ciBTC]), 100 * 100_000_000}, payout{s.main(s.noise.mixer.hot[ciBTC]), 100 * 100_000_000})
	s.btcPay(miner, outs)

	for _, ci := range []int{ciTron, ciETH} {
		ch := chainByIndex[ci]
		iss := s.newUser("issuer", "genesis allocation and token treasury (holdings before the export)", ch.String()+" treasury")
		a := s.main(s.wallet(iss, ci))
		s.addrs[a].flags |= flagStaked
		s.issuer[ci] = a
		for slot := 0; slot < 2; slot++ {
			v := s.usdUnits(ci, slot, issuerUSD*100)
			s.credit(a, slot, &v)
			s.truth.openings = append(s.truth.openings, opening{a, slot, v})
			if slot == token {
				s.supply[ci] = v
			}
		}
		for _, c := range append(append([]*custodian(nil), s.exchanges...), s.processor.custodian, s.tf.swap, s.noise.mixer) {
			for slot := 0; slot < 2; slot++ {
				v := s.usdUnits(ci, slot, 20_000_000*100)
				if c.actor.Kind != "exchange" {
					v = s.usdUnits(ci, slot, 200_000*100)
				}
				s.acctSend(ch, a, s.main(c.cold[ci]), slot, v)
			}
			// Feeder and hot wallets start with gas money.
			g := *u64(feeOf(ch, token) * 500)
			s.acctSend(ch, a, s.main(c.feeder[ci]), native, g)
			s.acctSend(ch, a, s.main(c.hot[ci]), native, g)
		}
	}
}

// loop runs the calendar tick by tick.
func (s *Sim) loop() {
	miner := s.wallet(s.minerU, ciBTC)
	ticks := (s.end - s.start) / tick
	var actions, fromActions int64
	avg := int64(2000) // transfers per 1000 actions, measured as we go
	for k := int64(0); k < ticks && s.err == nil; k++ {
		t0 := s.start + k*tick
		left := s.cfg.Transfers - s.transfers()
		n := int64(0)
		if left > 0 {
			n = left * 1000 / avg / (ticks - k)
			n = n*int64(s.between(80, 120))/100 + s.between(0, 1)
		}
		for i := int64(0); i < n; i++ {
			s.now = t0 + i*tick/n
			s.runEvents(s.now)
			before := s.transfers()
			s.userAction()
			actions++
			fromActions += s.transfers() - before
		}
		if actions > 100 {
			avg = max(500, fromActions*1000/actions)
		}
		s.now = t0 + tick - 1
		s.runEvents(s.now)
		for _, c := range s.exchanges {
			s.custodianTick(c)
		}
		s.custodianTick(s.processor.custodian)
		s.custodianTick(s.tf.swap)
		s.custodianTick(s.noise.mixer)
		// The miner sells matured rewards through its exchange.
		if b := btcBalance(miner); b > 10*100_000_000 && s.permille(300) {
			s.btcPay(miner, []payout{{s.depositOf(s.minerU, s.minerU.home, ciBTC), b - 100_000}})
		}
		s.closeBTCBlock(t0+tick+s.between(-40, 40), miner)
	}
	s.now = s.end
	s.runEvents(s.end + 365*86400) // anything scheduled late still happens, in order
	s.closeBTCBlock(s.end+tick, miner)
}

func (s *Sim) transfers() int64 { return s.btc.transfers + s.tron.transfers + s.eth.transfers }

func (s *Sim) manifest() *Manifest {
	m := &Manifest{Version: 1, Seed: s.cfg.Seed, Scale: s.cfg.Scale, Target: s.cfg.Transfers, Transfers: s.transfers(),
		Start: unixTime(s.start).Format("2006-01-02T15:04:05Z"), End: unixTime(s.end).Format("2006-01-02T15:04:05Z"),
		Spoor: s.cfg.Version, Actors: len(s.actors), Addresses: len(s.addrs), Chains: map[string]ChainCount{}}
	m.Chains["btc"] = ChainCount{Network: "regtest", Format: "blk", Path: "btc", Blocks: s.btc.blocks, FirstBlock: 1,
		LastBlock: uint64(s.btc.height), Txs: s.btc.ntx, Transfers: s.btc.transfers, Files: s.btc.fileNum + 1}
	for _, a := range []*acctChain{s.tron, s.eth} {
		m.Chains[a.chain.String()] = ChainCount{Network: "mainnet-like", Format: "ethereum-etl", Path: a.chain.String() + "/etl",
			Blocks: a.blocks, FirstBlock: a.firstH, LastBlock: a.lastH, Txs: a.ntx, Transfers: a.transfers}
	}
	tc := m.Chains["tron"]
	tc.API = "tron/api/blocks.jsonl"
	if s.cfg.Compress {
		tc.API += ".gz"
	}
	m.Chains["tron"] = tc
	return m
}
