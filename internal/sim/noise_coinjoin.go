package sim

// coinjoinRound builds one CoinJoin: Whirlpool-like (5 equal inputs and
// outputs after a Tx0 per participant) or Wasabi-like (many participants,
// equal outputs plus change and a coordinator fee).
func (s *Sim) coinjoinRound(whirlpool bool) {
	n := &s.noise
	denom := uint64(5_000_000) // 0.05 BTC
	parts := 5
	kind := "whirlpool"
	if !whirlpool {
		denom, parts, kind = 10_000_000, int(s.between(20, 40)), "wasabi"
	}
	t := s.newTypology("coinjoin", false, map[string]string{"style": kind, "denomination": itoa(int(denom)), "participants": itoa(parts)}, n.coordinator.actor)
	coord := s.recv(n.coordinator, ciBTC)
	var ins []utxo
	var outs []payout
	var fees uint64
	for i := 0; i < parts; i++ {
		u := s.users[s.rng.IntN(len(s.users))]
		w := s.wallet(u, ciBTC)
		if btcBalance(w) < denom*2 {
			s.withdrawBTCNow(s.exchanges[u.home], s.recv(u, ciBTC), denom*3)
		}
		if whirlpool {
			// Tx0: premix output of denom + miner-fee share, coordinator fee.
			premix := s.newAddr(w)
			share := uint64(1_500)
			if _, ok := s.btcPay(w, []payout{{premix, denom + share}, {coord, denom / 20}}); !ok {
				continue
			}
			pw := w.utxos[len(w.utxos)-1]
			for k := range w.utxos {
				if w.utxos[k].addr == premix && w.utxos[k].value == denom+share {
					pw = w.utxos[k]
					w.utxos = append(w.utxos[:k], w.utxos[k+1:]...)
					break
				}
			}
			ins = append(ins, pw)
			outs = append(outs, payout{s.newAddr(w), denom})
			fees += share
			continue
		}
		got, sum, ok := s.takeUTXOs(w, denom+20_000, 0)
		if !ok {
			continue
		}
		ins = append(ins, got...)
		fee := uint64(68*len(got)+66) * 4
		cfee := denom * 3 / 1000
		outs = append(outs, payout{s.newAddr(w), denom})
		if ch := sum - denom - fee - cfee; ch >= 1000 {
			outs = append(outs, payout{s.newAddr(w), ch})
		} else {
			fee += ch
		}
		outs = append(outs, payout{coord, cfee})
		fees += fee
	}
	if len(ins) < 2 {
		return
	}
	// Shuffle outputs (inputs stay in participant order).
	for i := len(outs) - 1; i > 0; i-- {
		j := s.rng.IntN(i + 1)
		outs[i], outs[j] = outs[j], outs[i]
	}
	// Merge coordinator fee outputs into one.
	var merged []payout
	var cf uint64
	for _, o := range outs {
		if o.to == coord && !whirlpool {
			cf += o.value
			continue
		}
		merged = append(merged, o)
	}
	if cf > 0 {
		merged = append(merged, payout{coord, cf})
	}
	id := s.btcTx(ins, merged)
	for _, o := range merged {
		if o.value == denom {
			s.recBTC(t, id, o.to)
		}
	}
}
