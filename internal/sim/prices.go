package sim

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/holiman/uint256"
)

// priceAssets are the assets of the price series: symbol, decimals, start
// price in micro-USD per whole coin, daily step bound in basis points (0:
// pegged).
var priceAssets = []struct {
	symbol   string
	decimals int
	start    uint64
	stepBP   int64
}{
	{"BTC", 8, 46_306_450000, 350},
	{"ETH", 18, 3_682_630000, 450},
	{"TRX", 6, 69_800, 500},
	{"USDT", 6, 1_000000, 0},
	{"USDC", 6, 1_000000, 0},
}

// prices holds a daily series per asset in micro-USD (scaled integers).
type prices struct {
	days   int
	series [][]uint64 // [asset][day]
}

// newPrices draws a random walk per asset (a separate stream, so the
// economy's draws do not depend on the number of days).
func newPrices(seed uint64, days int) *prices {
	rng := rand.New(rand.NewPCG(seed, 0x70726963657321))
	p := &prices{days: days, series: make([][]uint64, len(priceAssets))}
	for i, a := range priceAssets {
		s := make([]uint64, days+1)
		s[0] = a.start
		for d := 1; d <= days; d++ {
			v := s[d-1]
			if a.stepBP > 0 {
				step := rng.Int64N(2*a.stepBP+1) - a.stepBP
				v = uint64(int64(v) * (10_000 + step) / 10_000)
			}
			s[d] = v
		}
		p.series[i] = s
	}
	return p
}

func assetIndex(symbol string) int {
	for i, a := range priceAssets {
		if a.symbol == symbol {
			return i
		}
	}
	return -1
}

// micro returns the price of symbol on the day of unix time t.
func (p *prices) micro(symbol string, t int64) uint64 {
	d := int((t - Start.Unix()) / 86400)
	d = max(0, min(d, p.days))
	return p.series[assetIndex(symbol)][d]
}

// units converts USD cents into base units of symbol at time t (floor).
func (p *prices) units(symbol string, cents int64, t int64) uint256.Int {
	a := priceAssets[assetIndex(symbol)]
	var v, pow uint256.Int
	v.SetUint64(uint64(cents))
	pow.Exp(uint256.NewInt(10), uint256.NewInt(uint64(a.decimals)+4))
	v.Mul(&v, &pow)
	v.Div(&v, uint256.NewInt(p.micro(symbol, t)))
	return v
}

// write writes prices.csv: date,asset,usd (exact decimals).
func (p *prices) write(w *bufio.Writer) error {
	fmt.Fprintln(w, "date,asset,usd")
	for d := 0; d <= p.days; d++ {
		date := Start.Add(time.Duration(d) * 24 * time.Hour).Format("2006-01-02")
		for i, a := range priceAssets {
			fmt.Fprintf(w, "%s,%s,%s\n", date, a.symbol, microString(p.series[i][d]))
		}
	}
	return w.Flush()
}

// microString renders micro-units as a decimal without trailing zeros.
func microString(v uint64) string {
	s := strconv.FormatUint(v/1_000_000, 10)
	frac := v % 1_000_000
	if frac == 0 {
		return s
	}
	f := fmt.Sprintf("%06d", frac)
	for f[len(f)-1] == '0' {
		f = f[:len(f)-1]
	}
	return s + "." + f
}
