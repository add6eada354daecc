package sim

import (
	"fmt"
	"time"
)

// Config sizes a world.
type Config struct {
	Seed      uint64
	Scale     string // small, medium, large or custom
	Transfers int64  // target number of transfers (store counting: BTC inputs+outputs, account-chain transfers)
	Days      int    // simulated calendar days
	Users     int    // ordinary users (exchange customers)
	TF        TFPlan
	Version   string // spoor version written into manifest.json
	// Compress writes the ETL CSVs and the Tron API JSON lines gzipped
	// (*.csv.gz, blocks.jsonl.gz): about 30% of the disk, for 10^8-transfer worlds.
	Compress bool
}

// TFPlan sizes the planted TF activity and the look-alike noise. It is
// bounded per scale: needles do not grow with the haystack.
type TFPlan struct {
	Donors          int // crowdfunding donations to the Tron campaign address
	ExchangeDonors  int // per mille of donors who give straight from an exchange withdrawal
	FixedIncrements int // 10,000 USDT withdrawals from one exchange to the campaign
	BTCDonors       int // donations to per-donor fresh BTC addresses
	PeelHops        int // peel chain length (>= 5)
	Structuring     int // deposits just under the threshold (>= 3)
	Recruits        int // recruits paid by the recruiting campaign
	Employees       int // payroll size
	CharityDonors   int
	CoinJoins       int // rounds (Whirlpool-like and Wasabi-like alternate)
	MixerOrders     int
}

// Start is the first simulated second of every world.
var Start = time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)

var scales = map[string]Config{
	"small": {Scale: "small", Transfers: 30_000, Days: 30, Users: 300,
		TF: TFPlan{Donors: 40, ExchangeDonors: 600, FixedIncrements: 5, BTCDonors: 24, PeelHops: 7, Structuring: 6,
			Recruits: 10, Employees: 12, CharityDonors: 40, CoinJoins: 4, MixerOrders: 10}},
	"medium": {Scale: "medium", Transfers: 1_000_000, Days: 180, Users: 20_000,
		TF: TFPlan{Donors: 150, ExchangeDonors: 600, FixedIncrements: 8, BTCDonors: 80, PeelHops: 9, Structuring: 9,
			Recruits: 30, Employees: 40, CharityDonors: 200, CoinJoins: 40, MixerOrders: 60}},
	"large": {Scale: "large", Transfers: 10_000_000, Days: 365, Users: 100_000,
		TF: TFPlan{Donors: 400, ExchangeDonors: 600, FixedIncrements: 12, BTCDonors: 200, PeelHops: 12, Structuring: 12,
			Recruits: 60, Employees: 80, CharityDonors: 600, CoinJoins: 150, MixerOrders: 200}},
}

// ScaleConfig returns the configuration of a named scale.
func ScaleConfig(name string, seed uint64) (Config, error) {
	c, ok := scales[name]
	if !ok {
		return Config{}, fmt.Errorf("sim: unknown scale %q (want small, medium or large)", name)
	}
	c.Seed = seed
	return c, nil
}

// MaxTransfers bounds --transfers: twice the 10^8-transfer worlds the
// formats are sized for (about 90 GB of files uncompressed). A larger number
// is a typo, refused before a single byte is written (a medium world of
// 10^6 transfers is about 0.9 GB).
const MaxTransfers = 200_000_000

// TransfersConfig returns a configuration for about n transfers: calendar,
// users and planted activity grow with n up to the large scale's.
func TransfersConfig(n int64, seed uint64) (Config, error) {
	if n < 5_000 {
		return Config{}, fmt.Errorf("sim: --transfers %d is too few for the planted typologies (want >= 5000)", n)
	}
	if n > MaxTransfers {
		return Config{}, fmt.Errorf("sim: --transfers %d is too many (want <= %d: a 10^8-transfer world already fills about 90 GB, 30%% of that with --gzip)", n, int64(MaxTransfers))
	}
	base := scales["small"]
	switch {
	case n >= 10_000_000:
		base = scales["large"]
	case n >= 1_000_000:
		base = scales["medium"]
	}
	c := base
	c.Scale, c.Seed, c.Transfers = "custom", seed, n
	c.Days = int(clamp(30+n/20_000, 30, 365))
	c.Users = int(clamp(n/100, 200, 100_000)) // memory follows the population: flat from 10^7 transfers on
	return c, nil
}

func clamp(v, lo, hi int64) int64 {
	return max(lo, min(v, hi))
}

// Behaviour tables: per-mille weights and amount classes of the background
// economy.

// chainWeights: share of background actions per chain (Tron carries most
// stablecoin traffic).
var chainWeights = []struct {
	chain  string
	weight int
}{{"tron", 450}, {"btc", 250}, {"eth", 300}}

// userActions: what an ordinary user does in one background action.
var userActions = []struct {
	name   string
	weight int
}{
	{"buy", 280},      // exchange withdrawal to the user's own address
	{"sell", 200},     // deposit to the user's deposit address at an exchange
	{"shop", 170},     // pay a merchant (directly or through the payment processor)
	{"p2p", 150},      // pay another user
	{"changer", 30},   // ordinary client of the money changer (cover business)
	{"mixer", 10},     // BTC mixer order
	{"merchant", 100}, // a merchant cashes out to its exchange deposit address
	{"processor", 60}, // payment processor internal transfers and settlements
}

// amountClass is a USD amount distribution: log-uniform over decades
// [lo, hi) in cents; round is the per-mille chance of a round amount.
type amountClass struct {
	loCents, hiCents int64
	round            int
}

var (
	retailAmount   = amountClass{1_000, 500_000, 350}     // $10 - $5,000
	shopAmount     = amountClass{500, 50_000, 200}        // $5 - $500
	donationAmount = amountClass{1_000, 40_000, 450}      // $10 - $400
	largeAmount    = amountClass{500_000, 5_000_000, 300} // $5,000 - $50,000
)
