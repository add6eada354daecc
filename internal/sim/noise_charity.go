package sim

import (
	"github.com/spoor-dev/spoor/internal/model"
)

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
