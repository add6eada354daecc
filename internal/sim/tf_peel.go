package sim

import (
	"github.com/spoor-dev/spoor/internal/model"
)

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
