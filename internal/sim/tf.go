package sim

import (
	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/address"
)

// Fixed amounts of the TF scenario.
const (
	fixedIncrementUSDT = 10_000_000_000 // 10,000 USDT in base units
	thresholdCents     = 100_000        // 1,000 USD reporting threshold
	recruitStipend     = 500_000_000    // 500 USDC
)

// tfWorld holds the TF actors (see plan.go for when they act).
type tfWorld struct {
	campaign  *user // crowdfunding campaign: advertised Tron address, per-donor BTC addresses
	collector *user
	treasurer *user // peel chain wallet
	cashier   *user // cashes out at the cash-out exchange
	changer   *user // money changer (pass-through)
	recruiter *user // recruiting campaign (Ethereum)
	financier *user
	recruits  []*user
	swap      *custodian

	donorEx    int // the retail exchange whose customers give (Kopra)
	cashEx     int // the cash-out exchange
	crowd      *typology
	exDonors   *typology
	fixed      *typology
	perDonor   *typology
	recruiting *typology
	reserve    uint256.Int // changer USDT held for pending structuring deposits
}

// newTF creates the TF actors.
func (s *Sim) newTF() {
	t := &s.tf
	t.donorEx, t.cashEx = 1, 3
	t.campaign = s.newUser("campaign", "crowdfunding campaign (donation addresses advertised on Telegram)", "Campaign Falcon")
	s.wallet(t.campaign, ciBTC).reuse = 0 // a fresh address per donor
	s.wallet(t.campaign, ciBTC).maxAddrs = 1 << 20
	s.wallet(t.campaign, ciBTC).btcKind = address.BTCKindP2WPKH
	t.collector = s.newUser("collector", "consolidates per-donor addresses", "Falcon collector")
	t.treasurer = s.newUser("campaign", "treasurer moving funds to cash-out (peel chain)", "Falcon treasurer")
	s.wallet(t.treasurer, ciBTC).reuse = 0
	s.wallet(t.treasurer, ciBTC).maxAddrs = 1 << 20
	t.cashier = s.newUser("cashier", "cashes out at an exchange", "Falcon cashier")
	t.cashier.home = t.cashEx
	t.changer = s.newUser("money_changer", "hawala-style money changer (USDT for cash)", "Al-Noor Exchange Office")
	t.recruiter = s.newUser("campaign", "recruiting campaign paying travel stipends", "Campaign Falcon recruiting")
	t.financier = s.newUser("financier", "funds the recruiting campaign", "Falcon financier")
	t.swap = s.newCustodian("swap_service", "instant swap service (no KYC)", "FlipSwap", 5_000, 100_000)
	camp := s.main(s.wallet(t.campaign, ciTron))
	s.main(s.wallet(t.changer, ciTron))
	s.main(s.wallet(t.recruiter, ciETH))
	donorEx := s.exchanges[t.donorEx].actor
	t.crowd = s.newTypology("crowdfunding", true, map[string]string{"address": s.display(camp), "median_usd_below": "500"}, t.campaign.actor)
	t.exDonors = s.newTypology("exchange_donors", true, map[string]string{"exchange": donorEx.ID}, t.campaign.actor, donorEx)
	t.fixed = s.newTypology("fixed_increments", true, map[string]string{"increment": "10000000000", "asset": "USDT", "window_days": "90"}, t.campaign.actor, donorEx)
	t.perDonor = s.newTypology("per_donor_addresses", true, nil, t.campaign.actor, t.collector.actor)
}
