package sim

import "container/heap"

// event is a scheduled action.
type event struct {
	t   int64
	seq uint64
	fn  func()
}

type eventQ []event

func (q eventQ) Len() int { return len(q) }
func (q eventQ) Less(i, j int) bool {
	if q[i].t != q[j].t {
		return q[i].t < q[j].t
	}
	return q[i].seq < q[j].seq
}
func (q eventQ) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQ) Push(x any)   { *q = append(*q, x.(event)) }
func (q *eventQ) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// at schedules fn at time t (never in the past).
func (s *Sim) at(t int64, fn func()) {
	if t < s.now {
		t = s.now
	}
	s.evSeq++
	heap.Push(&s.events, event{t, s.evSeq, fn})
}

// runEvents runs every event due by t, each at its own time.
func (s *Sim) runEvents(t int64) {
	for len(s.events) > 0 && s.events[0].t <= t {
		e := heap.Pop(&s.events).(event)
		saved := s.now
		if e.t > s.now {
			s.now = e.t
		}
		e.fn()
		if saved > s.now {
			s.now = saved
		}
	}
}

// frac returns the time at fraction num/den of the calendar.
func (s *Sim) frac(num, den int64) int64 { return s.start + (s.end-s.start)*num/den }

// spread schedules n calls of fn at random times in [from, to).
func (s *Sim) spread(n int, from, to int64, fn func()) {
	for i := 0; i < n; i++ {
		s.at(s.between(from, to-1), fn)
	}
}

// plan schedules the TF scenario and the planted noise over the calendar.
//
//	10%-65%  crowdfunding donations (Tron USDT) and per-donor BTC donations
//	15%-60%  10,000 USDT fixed increments from the retail exchange (<= 90 days)
//	66%      collector consolidation, then the peel chain to the cash-out exchange
//	70%      campaign USDT to the money changer (structuring), the swap service (BTC, XMR)
//	20%-80%  recruiting campaign on Ethereum
//	noise:   payroll twice a month, charity fan-in all along, CoinJoin rounds, mixer orders
func (s *Sim) plan() {
	tf := s.cfg.TF
	s.spread(tf.Donors, s.frac(10, 100), s.frac(65, 100), s.donate)
	fixedEnd := min(s.frac(60, 100), s.frac(15, 100)+85*86400)
	s.spread(tf.FixedIncrements, s.frac(15, 100), fixedEnd, s.fixedIncrement)
	s.spread(tf.BTCDonors, s.frac(10, 100), s.frac(64, 100), s.btcDonation)
	s.at(s.frac(66, 100), s.consolidateAndPeel)
	s.at(s.frac(70, 100), s.cashOutTron)
	s.at(s.frac(20, 100), s.recruitingFund)
	s.spread(tf.Recruits, s.frac(22, 100), s.frac(70, 100), s.payRecruit)

	for d := int64(0); s.start+d*86400 < s.end; d++ {
		day := (d + 9) % 30 // pay on the 10th and 25th of a 30-day month
		if day == 9 || day == 24 {
			s.at(s.start+d*86400+9*3600, s.payroll)
		}
	}
	s.spread(s.cfg.TF.CharityDonors, s.start, s.end-86400, s.charityDonation)
	s.spread(max(2, s.cfg.TF.CharityDonors/15), s.frac(20, 100), s.end-86400, s.charitySpend)
	for i := 0; i < tf.CoinJoins; i++ {
		whirl := i%2 == 0
		s.at(s.between(s.frac(5, 100), s.end-3600), func() { s.coinjoinRound(whirl) })
	}
}
