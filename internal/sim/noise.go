package sim

import (
	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
)

// Look-alike noise: activity that resembles TF patterns and is not.

// noiseWorld holds the noise actors.
type noiseWorld struct {
	employer    *user
	employees   []*user
	salaries    []uint64 // USDC base units, round
	charity     *user
	charityFan  *typology
	coordinator *user
	mixer       *custodian
	mixOrders   int
}

var salaryTable = []uint64{2_000, 2_500, 3_000, 3_500, 4_000, 5_000} // USD, round

func (s *Sim) newNoise() {
	n := &s.noise
	n.employer = s.newUser("employer", "company paying salaries in stablecoins", "Nimbus Logistics")
	for i := 0; i < s.cfg.TF.Employees; i++ {
		n.employees = append(n.employees, s.users[s.rng.IntN(len(s.users))])
		n.salaries = append(n.salaries, salaryTable[s.rng.IntN(len(salaryTable))]*1_000_000)
	}
	n.charity = s.newUser("charity", "registered humanitarian charity accepting crypto donations", "Hope Water Relief")
	s.main(s.wallet(n.charity, ciTron))
	n.charityFan = s.newTypology("charity_fan_in", false, map[string]string{"note": "legitimate crowdfunding-like fan-in"}, n.charity.actor)
	n.coordinator = s.newUser("coinjoin_coordinator", "CoinJoin coordinator (Whirlpool/Wasabi-like)", "JoinPool")
	n.mixer = s.newCustodian("mixer", "centralized BTC mixer", "Tumbly", 5_000, 200_000)
	n.mixer.deposit[ciBTC].maxAddrs = int(clamp(int64(s.cfg.Users/4), 100, 20_000)) // fresh per order, then recycled
}

// payroll pays every employee a round salary in USDC (Ethereum) from the
// employer, funded by an exchange withdrawal.
func (s *Sim) payroll() {
	n := &s.noise
	from := s.main(s.wallet(n.employer, ciETH))
	var total uint64
	for _, v := range n.salaries {
		total += v
	}
	s.ensureGas(n.employer, ciETH, from, uint64(len(n.employees))+1)
	s.withdraw(s.exchanges[n.employer.home], ciETH, token, from, *u64(total))
	t := s.newTypology("payroll", false, map[string]string{"asset": "USDC", "employees": itoa(len(n.employees))}, n.employer.actor)
	for i, e := range n.employees {
		to := s.main(s.wallet(e, ciETH))
		v := *u64(n.salaries[i])
		if id, ok := s.acctSend(model.ETH, from, to, token, v); ok {
			s.recAcct(t, model.ETH, id, from, to, token, v)
		} else {
			s.gasUp(n.employer, ciETH, from)
		}
	}
}

// charityDonation is one donation to the charity (Tron USDT) from a user.
func (s *Sim) charityDonation() {
	n := &s.noise
	ch := s.main(n.charity.w[ciTron])
	u := s.users[s.rng.IntN(len(s.users))]
	from := s.recv(u, ciTron)
	v := s.usdUnits(ciTron, token, s.cents(amountClass{1_000, 20_000, 600}))
	if s.bal(from, token).Lt(&v) {
		s.gasUp(u, ciTron, from)
		s.withdraw(s.exchanges[u.home], ciTron, token, from, v)
	}
	s.gasUp(u, ciTron, from)
	if id, ok := s.acctSend(model.Tron, from, ch, token, v); ok {
		s.recAcct(n.charityFan, model.Tron, id, from, ch, token, v)
	}
}

// charitySpend pays a supplier (a merchant) for relief goods.
func (s *Sim) charitySpend() {
	n := &s.noise
	ch := s.main(n.charity.w[ciTron])
	b := *s.bal(ch, token)
	v := *u64(b.Uint64() / 2 / 1_000_000 * 1_000_000)
	if v.IsZero() {
		return
	}
	s.gasUp(n.charity, ciTron, ch)
	m := s.merchants[s.rng.IntN(len(s.merchants))]
	to := s.recv(m, ciTron)
	if id, ok := s.acctSend(model.Tron, ch, to, token, v); ok {
		s.recAcct(n.charityFan, model.Tron, id, ch, to, token, v)
	}
}

// coinjoinRound builds one CoinJoin: Whirlpool-like (5 equal inputs and
// outputs after a Tx0 per participant) or Wasabi-like (many participants,
// equal outputs plus change and a coordinator fee).
func (s *Sim) coinjoinRound(whirlpool bool) {
	n := &s.noise
	denom := uint64(5_000_000) // 0.05 BTC
	parts := 5
	kind := "whirlpool"
	if !whirlpool {
		denom, parts, kind = 10_000_000, int(s.between(20, 40)), "wasabi"
	}
	t := s.newTypology("coinjoin", false, map[string]string{"style": kind, "denomination": itoa(int(denom)), "participants": itoa(parts)}, n.coordinator.actor)
	coord := s.recv(n.coordinator, ciBTC)
	var ins []utxo
	var outs []payout
	var fees uint64
	for i := 0; i < parts; i++ {
		u := s.users[s.rng.IntN(len(s.users))]
		w := s.wallet(u, ciBTC)
		if btcBalance(w) < denom*2 {
			s.withdrawBTCNow(s.exchanges[u.home], s.recv(u, ciBTC), denom*3)
		}
		if whirlpool {
			// Tx0: premix output of denom + miner-fee share, coordinator fee.
			premix := s.newAddr(w)
			share := uint64(1_500)
			if _, ok := s.btcPay(w, []payout{{premix, denom + share}, {coord, denom / 20}}); !ok {
				continue
			}
			pw := w.utxos[len(w.utxos)-1]
			for k := range w.utxos {
				if w.utxos[k].addr == premix && w.utxos[k].value == denom+share {
					pw = w.utxos[k]
					w.utxos = append(w.utxos[:k], w.utxos[k+1:]...)
					break
				}
			}
			ins = append(ins, pw)
			outs = append(outs, payout{s.newAddr(w), denom})
			fees += share
			continue
		}
		got, sum, ok := s.takeUTXOs(w, denom+20_000, 0)
		if !ok {
			continue
		}
		ins = append(ins, got...)
		fee := uint64(68*len(got)+66) * 4
		cfee := denom * 3 / 1000
		outs = append(outs, payout{s.newAddr(w), denom})
		if ch := sum - denom - fee - cfee; ch >= 1000 {
			outs = append(outs, payout{s.newAddr(w), ch})
		} else {
			fee += ch
		}
		outs = append(outs, payout{coord, cfee})
		fees += fee
	}
	if len(ins) < 2 {
		return
	}
	// Shuffle outputs (inputs stay in participant order).
	for i := len(outs) - 1; i > 0; i-- {
		j := s.rng.IntN(i + 1)
		outs[i], outs[j] = outs[j], outs[i]
	}
	// Merge coordinator fee outputs into one.
	var merged []payout
	var cf uint64
	for _, o := range outs {
		if o.to == coord && !whirlpool {
			cf += o.value
			continue
		}
		merged = append(merged, o)
	}
	if cf > 0 {
		merged = append(merged, payout{coord, cf})
	}
	id := s.btcTx(ins, merged)
	for _, o := range merged {
		if o.value == denom {
			s.recBTC(t, id, o.to)
		}
	}
}

// mixerOrder: a user sends BTC to a fresh mixer deposit address; the mixer
// pays out two parts minus its fee to fresh addresses of the user hours later.
func (s *Sim) mixerOrder(u *user) {
	n := &s.noise
	w := s.wallet(u, ciBTC)
	v := s.usdBTC(s.cents(retailAmount))
	if btcBalance(w) < v+50_000 {
		return
	}
	dep := s.recvAddr(n.mixer.deposit[ciBTC])
	id, ok := s.btcPay(w, []payout{{dep, v}})
	if !ok {
		return
	}
	var t *typology
	if n.mixOrders < s.cfg.TF.MixerOrders {
		n.mixOrders++
		t = s.newTypology("mixer", false, map[string]string{"fee_permille": "25"}, n.mixer.actor, u.actor)
		s.recBTC(t, id, dep)
	}
	out := v * 975 / 1000
	a := out * uint64(s.between(30, 70)) / 100
	for _, part := range []uint64{a, out - a} {
		part := part
		s.at(s.now+int64(s.between(1800, 12*3600)), func() {
			to := s.recvAddr(w)
			if pid, ok := s.withdrawBTCNow(n.mixer, to, part); ok {
				s.recBTC(t, pid, to)
			}
		})
	}
}

// changerClient is the money changer's ordinary business: clients sell
// USDT for cash (pay in) or buy it (paid out); the changer keeps a low
// resting balance by moving the excess to its exchange.
func (s *Sim) changerClient(u *user) {
	t := &s.tf
	ch := s.main(t.changer.w[ciTron])
	from := s.recv(u, ciTron)
	v := s.usdUnits(ciTron, token, s.cents(amountClass{20_000, 500_000, 500}))
	if s.permille(500) {
		if s.bal(from, token).Lt(&v) {
			s.gasUp(u, ciTron, from)
			s.withdraw(s.exchanges[u.home], ciTron, token, from, v)
		}
		s.gasUp(u, ciTron, from)
		s.acctSend(model.Tron, from, ch, token, v)
	} else if avail := s.changerFree(); !avail.Lt(&v) {
		s.gasUp(t.changer, ciTron, ch)
		s.acctSend(model.Tron, ch, from, token, v)
	}
	limit := s.usdUnits(ciTron, token, 300_000)
	if b := s.changerFree(); b.Gt(&limit) {
		var keep uint256.Int
		keep.Rsh(&limit, 2)
		b.Sub(&b, &keep)
		s.gasUp(t.changer, ciTron, ch)
		s.acctSend(model.Tron, ch, s.depositOf(t.changer, t.changer.home, ciTron), token, b)
	}
}

// changerFree is the changer's USDT not reserved for pending TF payouts.
func (s *Sim) changerFree() uint256.Int {
	b := *s.bal(s.main(s.tf.changer.w[ciTron]), token)
	if b.Lt(&s.tf.reserve) {
		return uint256.Int{}
	}
	b.Sub(&b, &s.tf.reserve)
	return b
}
