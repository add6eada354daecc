package sim

import (
	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
)

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
