package sim

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
