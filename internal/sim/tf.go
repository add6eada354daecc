package sim

import (
	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/address"
	"github.com/spoor-dev/spoor/internal/model"
)

// Fixed amounts of the TF scenario.
const (
	fixedIncrementUSDT = 10_000_000_000 // 10,000 USDT in base units
	thresholdCents     = 100_000        // 1,000 USD reporting threshold
	recruitStipend     = 500_000_000    // 500 USDC
)

// tfWorld holds the TF actors (see plan.go for when they act).
type tfWorld struct {
	campaign  *user // crowdfunding campaign: advertised Tron address, per-donor BTC addresses
	collector *user
	treasurer *user // peel chain wallet
	cashier   *user // cashes out at the cash-out exchange
	changer   *user // money changer (pass-through)
	recruiter *user // recruiting campaign (Ethereum)
	financier *user
	recruits  []*user
	swap      *custodian

	donorEx    int // the retail exchange whose customers give (Kopra)
	cashEx     int // the cash-out exchange
	crowd      *typology
	exDonors   *typology
	fixed      *typology
	perDonor   *typology
	recruiting *typology
	reserve    uint256.Int // changer USDT held for pending structuring deposits
}

// newTF creates the TF actors.
func (s *Sim) newTF() {
	t := &s.tf
	t.donorEx, t.cashEx = 1, 3
	t.campaign = s.newUser("campaign", "crowdfunding campaign (donation addresses advertised on Telegram)", "Campaign Falcon")
	s.wallet(t.campaign, ciBTC).reuse = 0 // a fresh address per donor
	s.wallet(t.campaign, ciBTC).maxAddrs = 1 << 20
	s.wallet(t.campaign, ciBTC).btcKind = address.BTCKindP2WPKH
	t.collector = s.newUser("collector", "consolidates per-donor addresses", "Falcon collector")
	t.treasurer = s.newUser("campaign", "treasurer moving funds to cash-out (peel chain)", "Falcon treasurer")
	s.wallet(t.treasurer, ciBTC).reuse = 0
	s.wallet(t.treasurer, ciBTC).maxAddrs = 1 << 20
	t.cashier = s.newUser("cashier", "cashes out at an exchange", "Falcon cashier")
	t.cashier.home = t.cashEx
	t.changer = s.newUser("money_changer", "hawala-style money changer (USDT for cash)", "Al-Noor Exchange Office")
	t.recruiter = s.newUser("campaign", "recruiting campaign paying travel stipends", "Campaign Falcon recruiting")
	t.financier = s.newUser("financier", "funds the recruiting campaign", "Falcon financier")
	t.swap = s.newCustodian("swap_service", "instant swap service (no KYC)", "FlipSwap", 5_000, 100_000)
	camp := s.main(s.wallet(t.campaign, ciTron))
	s.main(s.wallet(t.changer, ciTron))
	s.main(s.wallet(t.recruiter, ciETH))
	donorEx := s.exchanges[t.donorEx].actor
	t.crowd = s.newTypology("crowdfunding", true, map[string]string{"address": s.display(camp), "median_usd_below": "500"}, t.campaign.actor)
	t.exDonors = s.newTypology("exchange_donors", true, map[string]string{"exchange": donorEx.ID}, t.campaign.actor, donorEx)
	t.fixed = s.newTypology("fixed_increments", true, map[string]string{"increment": "10000000000", "asset": "USDT", "window_days": "90"}, t.campaign.actor, donorEx)
	t.perDonor = s.newTypology("per_donor_addresses", true, nil, t.campaign.actor, t.collector.actor)
}

// donate gives one crowdfunding donation to the campaign's Tron address:
// straight from an exchange withdrawal (most from the retail exchange), or
// from a donor's own address.
func (s *Sim) donate() {
	t := &s.tf
	camp := s.main(t.campaign.w[ciTron])
	v := s.usdUnits(ciTron, token, s.cents(donationAmount))
	if s.permille(s.cfg.TF.ExchangeDonors) {
		ex := t.donorEx
		if !s.permille(700) {
			ex = s.rng.IntN(len(s.exchanges))
		}
		id, ok := s.withdraw(s.exchanges[ex], ciTron, token, camp, v)
		if ok {
			hot := s.main(s.exchanges[ex].hot[ciTron])
			s.recAcct(t.crowd, model.Tron, id, hot, camp, token, v)
			if ex == t.donorEx {
				s.recAcct(t.exDonors, model.Tron, id, hot, camp, token, v)
			}
		}
		return
	}
	u := s.users[s.rng.IntN(len(s.users))]
	from := s.recv(u, ciTron)
	if s.bal(from, token).Lt(&v) {
		s.gasUp(u, ciTron, from)
		s.withdraw(s.exchanges[u.home], ciTron, token, from, v)
	}
	s.gasUp(u, ciTron, from)
	if id, ok := s.acctSend(model.Tron, from, camp, token, v); ok {
		s.recAcct(t.crowd, model.Tron, id, from, camp, token, v)
	}
}

// fixedIncrement is one 10,000 USDT withdrawal from the retail exchange to
// the campaign.
func (s *Sim) fixedIncrement() {
	t := &s.tf
	camp := s.main(t.campaign.w[ciTron])
	ex := s.exchanges[t.donorEx]
	v := *u64(fixedIncrementUSDT)
	if id, ok := s.withdraw(ex, ciTron, token, camp, v); ok {
		hot := s.main(ex.hot[ciTron])
		s.recAcct(t.fixed, model.Tron, id, hot, camp, token, v)
		s.recAcct(t.crowd, model.Tron, id, hot, camp, token, v)
		s.recAcct(t.exDonors, model.Tron, id, hot, camp, token, v)
	}
}

// btcDonation pays a fresh per-donor campaign address from a user.
func (s *Sim) btcDonation() {
	t := &s.tf
	u := s.users[s.rng.IntN(len(s.users))]
	w := s.wallet(u, ciBTC)
	v := s.usdBTC(s.cents(donationAmount))
	if btcBalance(w) < v+50_000 {
		s.withdrawBTCNow(s.exchanges[u.home], s.recv(u, ciBTC), v+200_000)
	}
	to := s.newAddr(t.campaign.w[ciBTC])
	if id, ok := s.btcPay(w, []payout{{to, v}}); ok {
		s.recBTC(t.perDonor, id, to)
		s.recBTC(t.crowd, id, to)
	}
}

// consolidateAndPeel sweeps every per-donor address into the collector in
// one transaction, then peels toward the cashier's deposit address at the
// cash-out exchange: each hop one input, two outputs, 92-97% forward.
func (s *Sim) consolidateAndPeel() {
	t := &s.tf
	cw := t.campaign.w[ciBTC]
	if len(cw.utxos) == 0 {
		return
	}
	ins := cw.utxos
	cw.utxos = nil
	var sum uint64
	for _, u := range ins {
		sum += u.value
	}
	fee := 5 * uint64(vsize(len(ins), 1))
	if sum <= fee+10_000 {
		cw.utxos = ins
		return
	}
	col := s.recv(t.collector, ciBTC)
	cid := s.btcTx(ins, []payout{{col, sum - fee}})
	t.perDonor.params["consolidation_inputs"] = itoa(len(ins))
	s.recBTC(t.perDonor, cid, col)

	hops := s.cfg.TF.PeelHops
	peel := s.newTypology("peel_chain", true, map[string]string{"hops": itoa(hops), "forward_min_permille": "920"}, t.treasurer.actor, t.cashier.actor, s.exchanges[t.cashEx].actor)
	path := [][32]byte{cid}
	cur := t.collector.w[ciBTC].utxos
	t.collector.w[ciBTC].utxos = nil
	for h := 0; h < hops; h++ {
		in := cur[0]
		fee := uint64(s.between(2, 12)) * uint64(vsize(1, 2))
		fwd := (in.value - fee) * uint64(s.between(920, 970)) / 1000
		peelV := in.value - fee - fwd
		var next int32
		last := h == hops-1
		if last {
			next = s.depositOf(t.cashier, t.cashEx, ciBTC)
		} else {
			next = s.newAddr(t.treasurer.w[ciBTC])
		}
		m := s.merchants[s.rng.IntN(len(s.merchants))]
		outs := []payout{{next, fwd}, {s.recv(m, ciBTC), peelV}}
		if s.permille(500) {
			outs[0], outs[1] = outs[1], outs[0]
		}
		id := s.btcTx([]utxo{in}, outs)
		s.recBTC(peel, id, next)
		path = append(path, id)
		if last {
			s.truth.flows = append(s.truth.flows, &flow{campaign: t.campaign.actor, cashout: s.exchanges[t.cashEx].actor, chain: model.BTC,
				from: in.addr, to: next, value: *u64(fwd), path: path})
			break
		}
		w := t.treasurer.w[ciBTC]
		cur = w.utxos[len(w.utxos)-1:]
		w.utxos = w.utxos[:len(w.utxos)-1]
	}
}

// cashOutTron moves the campaign's USDT on: part through the money changer
// (pass-through, with structuring deposits under the threshold into the
// cashier's deposit address), part through the swap service into BTC (then
// to the cashier's BTC deposit address) and part into Monero.
func (s *Sim) cashOutTron() {
	t := &s.tf
	camp := s.main(t.campaign.w[ciTron])
	s.ensureGas(t.campaign, ciTron, camp, 4)
	total := *s.bal(camp, token)
	if total.IsZero() {
		return
	}
	share := func(permille uint64) uint256.Int {
		var v uint256.Int
		v.Mul(&total, u64(permille))
		v.Div(&v, u64(1000))
		return v
	}
	// 1. Money changer: pass-through with structuring.
	changer := s.main(t.changer.w[ciTron])
	k := s.cfg.TF.Structuring
	var need uint256.Int
	amounts := make([]uint256.Int, k)
	for i := range amounts {
		amounts[i] = *u64(uint64(s.between(thresholdCents*90/100, thresholdCents-1)) * 10_000) // cents → USDT base units
		need.Add(&need, &amounts[i])
	}
	toChanger := share(450)
	if toChanger.Lt(&need) {
		toChanger = need
	}
	if total.Lt(&toChanger) {
		toChanger = total
	}
	inID, ok := s.acctSend(model.Tron, camp, changer, token, toChanger)
	if !ok {
		return
	}
	s.tf.reserve.Add(&s.tf.reserve, &toChanger) // TF funds are not the cover business's
	pass := s.newTypology("pass_through", true, map[string]string{"window_hours": "24"}, t.changer.actor, t.campaign.actor)
	s.recAcct(pass, model.Tron, inID, camp, changer, token, toChanger)
	structuring := s.newTypology("structuring", true, map[string]string{"threshold_usd": "1000", "min_permille": "900", "window_hours": "24"}, t.changer.actor, t.cashier.actor, s.exchanges[t.cashEx].actor)
	dep := s.depositOf(t.cashier, t.cashEx, ciTron)
	s.gasUp(t.changer, ciTron, changer)
	start := s.now
	for i := range amounts {
		v := amounts[i]
		s.at(start+int64(i+1)*18*3600/int64(k+1)+s.between(-600, 600), func() {
			s.gasUp(t.changer, ciTron, changer)
			s.tf.reserve.Sub(&s.tf.reserve, &v)
			id, ok := s.acctSend(model.Tron, changer, dep, token, v)
			if !ok {
				return
			}
			s.recAcct(structuring, model.Tron, id, changer, dep, token, v)
			s.recAcct(pass, model.Tron, id, changer, dep, token, v)
			s.truth.flows = append(s.truth.flows, &flow{campaign: t.campaign.actor, cashout: s.exchanges[t.cashEx].actor, chain: model.Tron,
				slot: token, from: camp, to: dep, value: v, path: [][32]byte{inID, id}})
		})
	}
	// The rest of the changer's inflow goes on to its own exchange within hours.
	s.at(start+21*3600, func() {
		rest := s.tf.reserve
		s.tf.reserve.Clear()
		if rest.IsZero() {
			return
		}
		s.gasUp(t.changer, ciTron, changer)
		d := s.depositOf(t.changer, t.changer.home, ciTron)
		if id, ok := s.acctSend(model.Tron, changer, d, token, rest); ok {
			s.recAcct(pass, model.Tron, id, changer, d, token, rest)
		}
	})

	// 2. Chain hop into BTC through the swap service.
	hop := s.newTypology("chain_hop", true, map[string]string{"service": t.swap.actor.Name, "into": "btc"}, t.campaign.actor, t.swap.actor, t.cashier.actor)
	v := share(250)
	order := s.newAddr(t.swap.deposit[ciTron])
	id, ok := s.acctSend(model.Tron, camp, order, token, v)
	if ok {
		s.recAcct(hop, model.Tron, id, camp, order, token, v)
		btcV := s.usdBTC(int64(v.Uint64()/10_000) * 99 / 100) // 1% swap fee
		cashBTC := s.newAddr(s.wallet(t.cashier, ciBTC))
		if bid, ok := s.withdrawBTCNow(t.swap, cashBTC, btcV); ok {
			s.recBTC(hop, bid, cashBTC)
			inTron := id
			s.at(s.now+int64(s.between(3600, 6*3600)), func() {
				dep := s.depositOf(t.cashier, t.cashEx, ciBTC)
				w := t.cashier.w[ciBTC]
				b := btcBalance(w)
				fee := 8 * uint64(vsize(len(w.utxos), 1))
				if b <= fee+1000 {
					return
				}
				ins := w.utxos
				w.utxos = nil
				did := s.btcTx(ins, []payout{{dep, b - fee}})
				s.recBTC(hop, did, dep)
				s.truth.flows = append(s.truth.flows, &flow{campaign: t.campaign.actor, cashout: s.exchanges[t.cashEx].actor, chain: model.BTC,
					from: camp, to: dep, value: *u64(b - fee), path: [][32]byte{inTron, bid, did}})
			})
		}
	}

	// 3. Out to Monero: on the transparent side only a deposit to the swap
	// service; the XMR address is a label.
	x := share(150)
	order = s.newAddr(t.swap.deposit[ciTron])
	if id, ok := s.acctSend(model.Tron, camp, order, token, x); ok {
		xmr := s.moneroLabel()
		exit := s.newTypology("chain_hop", true, map[string]string{"service": t.swap.actor.Name, "into": "xmr", "xmr_address": xmr}, t.campaign.actor, t.swap.actor)
		s.recAcct(exit, model.Tron, id, camp, order, token, x)
		xmrUnits := int64(x.Uint64()/10_000) * 98 / 100 * 1_000_000_000_000 / 15_000 // at 150 USD/XMR, 12 decimals
		exit.transfers = append(exit.transfers, tTransfer{chain: model.XMR, from: -1, to: -1, label: xmr, value: *u64(uint64(xmrUnits))})
	}
}

// moneroLabel draws a Monero-looking address (95 base58 characters starting
// with 4): only a label, never on a transparent chain.
func (s *Sim) moneroLabel() string {
	const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	b := make([]byte, 95)
	b[0] = '4'
	b[1] = "3456789AB"[s.rng.IntN(9)]
	for i := 2; i < len(b); i++ {
		b[i] = alphabet[s.rng.IntN(len(alphabet))]
	}
	return string(b)
}

// recruiting: the financier funds the recruiting campaign on Ethereum; the
// campaign pays each recruit a fixed stipend plus gas; recruits cash out at
// the cash-out exchange.
func (s *Sim) recruitingFund() {
	t := &s.tf
	camp := s.main(t.recruiter.w[ciETH])
	fin := s.recv(t.financier, ciETH)
	total := uint64(recruitStipend) * uint64(s.cfg.TF.Recruits) * 11 / 10
	s.ensureGas(t.financier, ciETH, fin, 4)
	s.withdraw(s.exchanges[s.rng.IntN(len(s.exchanges))], ciETH, token, fin, *u64(total))
	rec := s.newTypology("recruiting", true, map[string]string{"stipend": "500000000", "asset": "USDC"}, t.recruiter.actor, t.financier.actor)
	s.tf.recruiting = rec
	chunks := 3
	for i := 0; i < chunks; i++ {
		v := *u64(total / uint64(chunks))
		if id, ok := s.acctSend(model.ETH, fin, camp, token, v); ok {
			s.recAcct(rec, model.ETH, id, fin, camp, token, v)
		}
	}
	s.gasUp(t.recruiter, ciETH, camp)
	s.gasUp(t.recruiter, ciETH, camp)
}

// payRecruit pays one recruit, who later cashes out.
func (s *Sim) payRecruit() {
	t := &s.tf
	rec := t.recruiting
	if rec == nil {
		return
	}
	camp := s.main(t.recruiter.w[ciETH])
	r := s.newUser("recruit", "recruit receiving a stipend", "recruit")
	r.home = t.cashEx
	t.recruits = append(t.recruits, r)
	to := s.main(s.wallet(r, ciETH))
	s.ensureGas(t.recruiter, ciETH, camp, 4)
	gas := *u64(feeOf(model.ETH, token) * 2)
	s.acctSend(model.ETH, camp, to, native, gas)
	v := *u64(recruitStipend)
	id, ok := s.acctSend(model.ETH, camp, to, token, v)
	if !ok {
		return
	}
	s.recAcct(rec, model.ETH, id, camp, to, token, v)
	s.at(s.now+int64(s.between(3600, 3*86400)), func() {
		dep := s.depositOf(r, r.home, ciETH)
		if did, ok := s.acctSend(model.ETH, to, dep, token, v); ok {
			s.recAcct(rec, model.ETH, did, to, dep, token, v)
			s.truth.flows = append(s.truth.flows, &flow{campaign: t.recruiter.actor, cashout: s.exchanges[r.home].actor, chain: model.ETH,
				slot: token, from: camp, to: dep, value: v, path: [][32]byte{id, did}})
		}
	})
}
