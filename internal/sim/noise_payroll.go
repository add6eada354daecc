package sim

import (
	"github.com/spoor-dev/spoor/internal/model"
)

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
