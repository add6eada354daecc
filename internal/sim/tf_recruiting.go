package sim

import (
	"github.com/spoor-dev/spoor/internal/model"
)

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
