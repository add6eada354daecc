package sim

import (
	"github.com/spoor-dev/spoor/internal/model"
)

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
