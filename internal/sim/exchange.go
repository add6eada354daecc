package sim

import (
	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
)

// Chain indexes of per-chain arrays.
const (
	ciBTC = iota
	ciTron
	ciETH
	nChains
)

var chainByIndex = [nChains]model.Chain{model.BTC, model.Tron, model.ETH}

var slotSymbols = [nChains][2]string{{"BTC", ""}, {"TRX", "USDT"}, {"ETH", "USDC"}}

// custodian is a service holding customers' funds: an exchange, or the
// payment processor (its deposit addresses are invoices). Per chain it has
// deposit addresses (one per customer or invoice), hot and cold wallets and,
// on Tron and Ethereum, a feeder wallet that tops up deposit addresses with
// the native coin before a token sweep.
type custodian struct {
	actor   *Actor
	deposit [nChains]*Wallet
	hot     [nChains]*Wallet
	cold    [nChains]*Wallet
	feeder  [nChains]*Wallet
	pending [nChains][]int32 // account-chain deposit addresses holding funds
	btcOut  []payout         // queued BTC withdrawals (paid in one batch)
	// hot-wallet band in USD: above hiUSD the excess goes cold, below loUSD
	// cold refills hot.
	loUSD, hiUSD int64
}

// newCustodian creates a custodian actor with its wallets.
func (s *Sim) newCustodian(kind, role, name string, loUSD, hiUSD int64) *custodian {
	c := &custodian{actor: s.newActor(kind, role, name), loUSD: loUSD, hiUSD: hiUSD}
	for ci, ch := range chainByIndex {
		c.deposit[ci] = s.newWallet(c.actor, ch, 0, 1<<30)
		c.deposit[ci].cust = c
		c.hot[ci] = s.newWallet(c.actor, ch, 1000, 2)
		c.hot[ci].custodial = true
		c.cold[ci] = s.newWallet(c.actor, ch, 1000, 1)
		s.main(c.hot[ci])
		s.main(c.cold[ci])
		if ch != model.BTC {
			c.feeder[ci] = s.newWallet(c.actor, ch, 1000, 1)
			s.main(c.feeder[ci])
			s.addrs[s.main(c.hot[ci])].flags |= flagStaked
			s.addrs[s.main(c.cold[ci])].flags |= flagStaked
			s.addrs[s.main(c.feeder[ci])].flags |= flagStaked
		}
	}
	return c
}

// usdUnits converts USD cents to base units of chain index ci, slot.
func (s *Sim) usdUnits(ci, slot int, cents int64) uint256.Int {
	return s.prices.units(slotSymbols[ci][slot], cents, s.now)
}

// withdraw pays value from the custodian's hot wallet to `to`. BTC
// withdrawals are queued and paid in one batch at the end of the block
// interval (batching, as exchanges do); account chains pay at once.
func (s *Sim) withdraw(c *custodian, ci, slot int, to int32, value uint256.Int) ([32]byte, bool) {
	if ci == ciBTC {
		if !value.IsUint64() || value.Uint64() < 1000 {
			return [32]byte{}, false
		}
		c.btcOut = append(c.btcOut, payout{to, value.Uint64()})
		return [32]byte{}, true
	}
	ch := chainByIndex[ci]
	hot := s.main(c.hot[ci])
	if s.bal(hot, slot).Lt(&value) {
		s.refillHot(c, ci, slot, &value)
	}
	return s.acctSend(ch, hot, to, slot, value)
}

// withdrawBTCNow pays one BTC withdrawal in its own transaction.
func (s *Sim) withdrawBTCNow(c *custodian, to int32, value uint64) ([32]byte, bool) {
	if btcBalance(c.hot[ciBTC]) < value+100_000 {
		s.refillHotBTC(c, value)
	}
	return s.btcPay(c.hot[ciBTC], []payout{{to, value}})
}

// refillHot moves funds cold → hot on an account chain so the hot wallet
// holds at least need plus its lower band.
func (s *Sim) refillHot(c *custodian, ci, slot int, need *uint256.Int) {
	ch := chainByIndex[ci]
	hot, cold := s.main(c.hot[ci]), s.main(c.cold[ci])
	v := s.usdUnits(ci, slot, c.loUSD*100*2)
	v.Add(&v, need)
	if s.bal(cold, slot).Lt(&v) {
		v = *s.bal(cold, slot)
		if slot == native {
			f := u64(feeOf(ch, native))
			if v.Lt(f) {
				return
			}
			v.Sub(&v, f)
		}
	}
	if id, ok := s.acctSend(ch, cold, hot, slot, v); ok {
		t := s.newTypology("cold_move", false, map[string]string{"direction": "cold_to_hot"}, c.actor)
		s.recAcct(t, ch, id, cold, hot, slot, v)
	}
}

func (s *Sim) refillHotBTC(c *custodian, need uint64) {
	cold := c.cold[ciBTC]
	v := need + s.usdBTC(c.loUSD*100*2)
	if b := btcBalance(cold); b < v+100_000 {
		if b < 200_000 {
			return
		}
		v = b - 100_000
	}
	to := s.main(c.hot[ciBTC])
	if id, ok := s.btcPay(cold, []payout{{to, v}}); ok {
		t := s.newTypology("cold_move", false, map[string]string{"direction": "cold_to_hot"}, c.actor)
		s.recBTC(t, id, to)
	}
}

// custodianTick runs a custodian's periodic work at the end of a block
// interval: BTC deposit sweeps and batched withdrawals, hot-wallet UTXO
// consolidation, account-chain sweeps (with fee top-ups), hot/cold balance.
func (s *Sim) custodianTick(c *custodian) {
	// BTC: sweep deposit UTXOs into the hot wallet.
	dep := c.deposit[ciBTC]
	if n := len(dep.utxos); n >= 30 || (n > 0 && s.permille(150)) {
		k := min(n, 120)
		ins := append([]utxo(nil), dep.utxos[:k]...)
		dep.utxos = append(dep.utxos[:0:0], dep.utxos[k:]...)
		var sum uint64
		for _, u := range ins {
			sum += u.value
		}
		fee := s.feeRate() * uint64(vsize(len(ins), 1))
		if sum > fee+1000 {
			to := s.main(c.hot[ciBTC])
			id := s.btcTx(ins, []payout{{to, sum - fee}})
			t := s.newTypology("exchange_sweep", false, map[string]string{"chain": "btc", "inputs": itoa(len(ins))}, c.actor)
			s.recBTC(t, id, to)
		} else {
			dep.utxos = append(ins, dep.utxos...)
		}
	}
	// BTC: batched withdrawals.
	if len(c.btcOut) > 0 {
		var total uint64
		for _, o := range c.btcOut {
			total += o.value
		}
		hot := c.hot[ciBTC]
		if btcBalance(hot) < total+500_000 {
			s.refillHotBTC(c, total)
		}
		if _, ok := s.btcPay(hot, c.btcOut); !ok {
			// Not enough: pay who can be paid, one by one, drop the rest.
			for _, o := range c.btcOut {
				s.btcPay(hot, []payout{o})
			}
		}
		c.btcOut = c.btcOut[:0]
	}
	// BTC: consolidate a fragmented hot wallet.
	if hot := c.hot[ciBTC]; len(hot.utxos) > 25 {
		ins := append([]utxo(nil), hot.utxos[:20]...)
		hot.utxos = append(hot.utxos[:0:0], hot.utxos[20:]...)
		var sum uint64
		for _, u := range ins {
			sum += u.value
		}
		fee := uint64(s.between(1, 3)) * uint64(vsize(len(ins), 1))
		to := s.main(hot)
		id := s.btcTx(ins, []payout{{to, sum - fee}})
		t := s.newTypology("utxo_consolidation", false, map[string]string{"inputs": itoa(len(ins))}, c.actor)
		s.recBTC(t, id, to)
	}
	// BTC: hot/cold band.
	if hot := c.hot[ciBTC]; s.permille(50) {
		hi := s.usdBTC(c.hiUSD * 100)
		if b := btcBalance(hot); b > hi {
			to := s.main(c.cold[ciBTC])
			if id, ok := s.btcPay(hot, []payout{{to, b - hi/2}}); ok {
				t := s.newTypology("cold_move", false, map[string]string{"direction": "hot_to_cold"}, c.actor)
				s.recBTC(t, id, to)
			}
		}
	}
	// Account chains: sweeps.
	for _, ci := range []int{ciTron, ciETH} {
		pend := c.pending[ci]
		c.pending[ci] = c.pending[ci][:0]
		for _, d := range pend {
			s.addrs[d].flags &^= flagPending
			s.sweepAccount(c, ci, d)
		}
		s.accountBand(c, ci)
	}
}

// sweepAccount moves a deposit address's funds to the hot wallet. A token
// sweep needs the native coin for its fee: when the address lacks it, the
// feeder wallet tops it up first and the sweep follows a few blocks later
// (the Tron "TRX top-up" signal that links deposit addresses to their
// exchange).
func (s *Sim) sweepAccount(c *custodian, ci int, d int32) {
	ch := chainByIndex[ci]
	if !s.bal(d, token).IsZero() {
		need := feeOf(ch, token)
		if s.bal(d, native).Lt(u64(need)) {
			feeder := s.main(c.feeder[ci])
			if s.bal(feeder, native).Lt(u64(need * 4)) {
				s.fundFeeder(c, ci)
			}
			topID, ok := s.acctSend(ch, feeder, d, native, *u64(need))
			if !ok {
				return
			}
			kind := "tron_topup"
			if ch == model.ETH {
				kind = "gas_topup"
			}
			t := s.newTypology(kind, false, map[string]string{"chain": ch.String()}, c.actor)
			s.recAcct(t, ch, topID, feeder, d, native, *u64(need))
			s.at(s.now+s.between(6, 90), func() { s.sweepToken(c, ci, d, t) })
			return
		}
		s.sweepToken(c, ci, d, s.newTypology("exchange_sweep", false, map[string]string{"chain": ch.String()}, c.actor))
	}
	// Native: sweep what is left above the fee (and a small dust reserve).
	fee := feeOf(ch, native)
	v := *s.bal(d, native)
	keep := u64(fee * 2)
	if v.Gt(keep) {
		v.Sub(&v, keep)
		if ch == model.Tron && v.Lt(u64(20_000_000)) {
			return // not worth it: under 20 TRX
		}
		if id, ok := s.acctSend(ch, d, s.main(c.hot[ci]), native, v); ok {
			t := s.newTypology("exchange_sweep", false, map[string]string{"chain": ch.String()}, c.actor)
			s.recAcct(t, ch, id, d, s.main(c.hot[ci]), native, v)
		}
	}
}

// sweepToken moves a deposit address's whole token balance to the hot wallet.
func (s *Sim) sweepToken(c *custodian, ci int, d int32, t *typology) {
	ch := chainByIndex[ci]
	hot := s.main(c.hot[ci])
	v := *s.bal(d, token)
	if id, ok := s.acctSend(ch, d, hot, token, v); ok {
		s.recAcct(t, ch, id, d, hot, token, v)
	}
}

// fundFeeder refills the feeder from the hot wallet (an internal move).
func (s *Sim) fundFeeder(c *custodian, ci int) {
	ch := chainByIndex[ci]
	v := *u64(feeOf(ch, token) * 200)
	hot := s.main(c.hot[ci])
	if s.bal(hot, native).Lt(&v) {
		s.refillHot(c, ci, native, &v)
	}
	s.acctSend(ch, hot, s.main(c.feeder[ci]), native, v)
}

// accountBand keeps an account-chain hot wallet within its USD band.
func (s *Sim) accountBand(c *custodian, ci int) {
	if !s.permille(30) {
		return
	}
	ch := chainByIndex[ci]
	hot, cold := s.main(c.hot[ci]), s.main(c.cold[ci])
	for slot := 0; slot < 2; slot++ {
		hi := s.usdUnits(ci, slot, c.hiUSD*100)
		b := *s.bal(hot, slot)
		if b.Gt(&hi) {
			var v uint256.Int
			v.Rsh(&hi, 1)
			v.Sub(&b, &v)
			if id, ok := s.acctSend(ch, hot, cold, slot, v); ok {
				t := s.newTypology("cold_move", false, map[string]string{"direction": "hot_to_cold"}, c.actor)
				s.recAcct(t, ch, id, hot, cold, slot, v)
			}
		}
	}
}

// custodianReceived notes that deposit address d got funds (account chains
// queue it for the next sweep).
func (s *Sim) custodianReceived(c *custodian, ci int, d int32) {
	if ci == ciBTC {
		return
	}
	if s.addrs[d].flags&flagPending == 0 {
		s.addrs[d].flags |= flagPending
		c.pending[ci] = append(c.pending[ci], d)
	}
}

// usdBTC converts USD cents to satoshi.
func (s *Sim) usdBTC(cents int64) uint64 {
	v := s.usdUnits(ciBTC, native, cents)
	return v.Uint64()
}
