package sim

// processor is the payment processor: invoices are its deposit addresses
// (swept like an exchange's), and it shuffles large amounts between its own
// hot, treasury and settlement wallets many times a day — internal
// transfers that a naive total counts as flow.
type processor struct {
	*custodian
	settle [nChains]*Wallet
	inst   *typology
}

func (s *Sim) newProcessor() *processor {
	p := &processor{custodian: s.newCustodian("payment_processor", "crypto payment gateway", "PayKite", 20_000, 400_000)}
	for ci, ch := range chainByIndex {
		p.deposit[ci].reuse = 50 // invoices: fresh, occasionally reused
		p.deposit[ci].maxAddrs = int(clamp(int64(s.cfg.Users/2), 300, 50_000))
		p.settle[ci] = s.newWallet(p.actor, ch, 1000, 1)
		s.main(p.settle[ci])
	}
	p.inst = s.newTypology("internal_transfers", false, map[string]string{"note": "payment processor moving funds between its own wallets"}, p.actor)
	return p
}

// processorAction moves funds internally (most of the time) or settles to
// a merchant.
func (s *Sim) processorAction(ci, slot int) {
	p := s.processor
	if s.permille(650) {
		// Internal: hot → settlement → treasury (cold) → hot, large amounts.
		ws := []*Wallet{p.hot[ci], p.settle[ci], p.cold[ci]}
		k := s.rng.IntN(3)
		from, to := ws[k], ws[(k+1)%3]
		v := s.spendable(from, ci, slot)
		if v.IsZero() {
			return
		}
		v = s.part(v)
		dst := s.main(to)
		id, ok := s.pay(from, ci, slot, dst, v)
		if ok && len(p.inst.transfers) < 40 {
			if ci == ciBTC {
				s.recBTC(p.inst, id, dst)
			} else {
				s.recAcct(p.inst, chainByIndex[ci], id, s.main(from), dst, slot, v)
			}
		}
		return
	}
	// Settlement to a merchant (its own wallet or its exchange deposit).
	m := s.merchants[s.rng.IntN(len(s.merchants))]
	v := s.amount(ci, slot, largeAmount)
	src := p.settle[ci]
	if have := s.spendable(src, ci, slot); have.Lt(&v) {
		src = p.hot[ci]
		if have := s.spendable(src, ci, slot); have.Lt(&v) {
			return
		}
	}
	to := s.recv(m, ci)
	if s.permille(500) {
		to = s.depositOf(m, m.home, ci)
	}
	s.pay(src, ci, slot, to, v)
}
