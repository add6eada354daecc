package sim

// Look-alike noise: activity that resembles TF patterns and is not.

// noiseWorld holds the noise actors.
type noiseWorld struct {
	employer    *user
	employees   []*user
	salaries    []uint64 // USDC base units, round
	charity     *user
	charityFan  *typology
	coordinator *user
	mixer       *custodian
	mixOrders   int
}

var salaryTable = []uint64{2_000, 2_500, 3_000, 3_500, 4_000, 5_000} // USD, round

func (s *Sim) newNoise() {
	n := &s.noise
	n.employer = s.newUser("employer", "company paying salaries in stablecoins", "Nimbus Logistics")
	for i := 0; i < s.cfg.TF.Employees; i++ {
		n.employees = append(n.employees, s.users[s.rng.IntN(len(s.users))])
		n.salaries = append(n.salaries, salaryTable[s.rng.IntN(len(salaryTable))]*1_000_000)
	}
	n.charity = s.newUser("charity", "registered humanitarian charity accepting crypto donations", "Hope Water Relief")
	s.main(s.wallet(n.charity, ciTron))
	n.charityFan = s.newTypology("charity_fan_in", false, map[string]string{"note": "legitimate crowdfunding-like fan-in"}, n.charity.actor)
	n.coordinator = s.newUser("coinjoin_coordinator", "CoinJoin coordinator (Whirlpool/Wasabi-like)", "JoinPool")
	n.mixer = s.newCustodian("mixer", "centralized BTC mixer", "Tumbly", 5_000, 200_000)
	n.mixer.deposit[ciBTC].maxAddrs = int(clamp(int64(s.cfg.Users/4), 100, 20_000)) // fresh per order, then recycled
}
