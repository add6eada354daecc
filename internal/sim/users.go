package sim

import (
	"strconv"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
)

// user is an ordinary person or a merchant: own wallets per chain and
// deposit addresses at exchanges.
type user struct {
	actor *Actor
	w     [nChains]*Wallet
	deps  []depRef
	home  int // preferred exchange
	reuse int // BTC address reuse rate, per mille
}

type depRef struct {
	ex, ci uint8
	addr   int32
}

// Wallet policies of people (BTC address reuse per mille, pool cap).
var (
	userReuse     = []int{0, 150, 300, 500, 900} // drawn per user: from privacy-minded to reusing
	merchantReuse = 800
	btcPoolCap    = 6
)

func (s *Sim) newUser(kind, role, name string) *user {
	u := &user{actor: s.newActor(kind, role, name), home: s.pickHome()}
	u.reuse = userReuse[s.rng.IntN(len(userReuse))]
	if kind == "merchant" {
		u.reuse = merchantReuse
	}
	return u
}

// pickHome draws a user's exchange: a skewed market share.
func (s *Sim) pickHome() int {
	shares := []int{400, 300, 200, 100}
	r := s.rng.IntN(1000)
	for i, w := range shares {
		if r < w || i == len(s.exchanges)-1 {
			return i
		}
		r -= w
	}
	return 0
}

// wallet returns u's wallet on chain index ci, created on first use.
func (s *Sim) wallet(u *user, ci int) *Wallet {
	if u.w[ci] == nil {
		pool := 1
		if ci == ciBTC {
			pool = btcPoolCap
		}
		u.w[ci] = s.newWallet(u.actor, chainByIndex[ci], u.reuse, pool)
	}
	return u.w[ci]
}

// recv returns where u receives on ci.
func (s *Sim) recv(u *user, ci int) int32 { return s.recvAddr(s.wallet(u, ci)) }

// depositOf returns u's deposit address at exchange ex on ci.
func (s *Sim) depositOf(u *user, ex, ci int) int32 {
	for _, d := range u.deps {
		if int(d.ex) == ex && int(d.ci) == ci {
			return d.addr
		}
	}
	a := s.newAddr(s.exchanges[ex].deposit[ci])
	u.deps = append(u.deps, depRef{uint8(ex), uint8(ci), a})
	return a
}

// cents draws a USD amount in cents: log-uniform over the class's decades,
// round (1 or 2 significant digits) with the class's rate.
func (s *Sim) cents(c amountClass) int64 {
	lo := c.loCents
	var decades []int64
	for d := lo; d < c.hiCents; d *= 10 {
		decades = append(decades, d)
	}
	d := decades[s.rng.IntN(len(decades))]
	v := s.between(d, min(d*10, c.hiCents)-1)
	if s.permille(c.round) {
		v = roundSig(v, int(s.between(1, 2)))
		if v < 100 {
			v = 100
		}
	}
	return v
}

// roundSig keeps the n leading decimal digits of v.
func roundSig(v int64, n int) int64 {
	p := int64(1)
	for v/p >= pow10(n) {
		p *= 10
	}
	return v / p * p
}

func pow10(n int) int64 {
	p := int64(1)
	for ; n > 0; n-- {
		p *= 10
	}
	return p
}

// amount draws a value of asset (ci, slot) from class c; native coins are
// sometimes round in coin units (0.05 BTC) rather than in USD.
func (s *Sim) amount(ci, slot int, c amountClass) uint256.Int {
	v := s.usdUnits(ci, slot, s.cents(c))
	if slot == native && s.permille(250) && v.IsUint64() {
		v.SetUint64(uint64(roundSig(int64(v.Uint64()), 2)))
	}
	return v
}

// pickChain draws a chain index and asset slot for a background action.
func (s *Sim) pickChain() (ci, slot int) {
	r := s.rng.IntN(1000)
	for i, w := range chainWeights {
		if r < w.weight || i == len(chainWeights)-1 {
			ci = []int{ciTron, ciBTC, ciETH}[i]
			break
		}
		r -= w.weight
	}
	switch ci {
	case ciTron:
		if s.permille(750) {
			slot = token
		}
	case ciETH:
		if s.permille(550) {
			slot = token
		}
	}
	return ci, slot
}

// pay sends value from wallet w to `to` on ci. Account chains pay from the
// wallet's first address.
func (s *Sim) pay(w *Wallet, ci, slot int, to int32, v uint256.Int) ([32]byte, bool) {
	if ci == ciBTC {
		if !v.IsUint64() || v.Uint64() < 1000 {
			return [32]byte{}, false
		}
		return s.btcPay(w, []payout{{to, v.Uint64()}})
	}
	return s.acctSend(chainByIndex[ci], s.main(w), to, slot, v)
}

// spendable returns what w can spend of slot (BTC: all but a fee margin).
func (s *Sim) spendable(w *Wallet, ci, slot int) uint256.Int {
	if ci == ciBTC {
		b := btcBalance(w)
		if b < 20_000 {
			return uint256.Int{}
		}
		return *u64(b - 20_000)
	}
	if len(w.addrs) == 0 {
		return uint256.Int{}
	}
	v := *s.bal(w.addrs[0], slot)
	if slot == native {
		f := u64(feeOf(chainByIndex[ci], token) * 2)
		if v.Lt(f) {
			return uint256.Int{}
		}
		v.Sub(&v, f)
	}
	return v
}

// part returns a random share of v: all of it sometimes, else 20-90%.
func (s *Sim) part(v uint256.Int) uint256.Int {
	if s.permille(300) {
		return v
	}
	var r uint256.Int
	r.Mul(&v, u64(uint64(s.between(20, 90))))
	r.Div(&r, u64(100))
	return r
}

// gasUp makes sure an account-chain address can pay token fees: the user
// buys some native coin (an exchange withdrawal).
func (s *Sim) gasUp(u *user, ci int, to int32) {
	ch := chainByIndex[ci]
	if ci == ciBTC || !s.bal(to, native).Lt(u64(feeOf(ch, token)*3)) {
		return
	}
	v := s.usdUnits(ci, native, s.between(1_500, 6_000))
	if ch == model.Tron {
		v = s.usdUnits(ci, native, s.between(3_000, 9_000))
	}
	s.withdraw(s.exchanges[u.home], ci, native, to, v)
}

// ensureGas tops an account-chain address up (an exchange withdrawal of the
// native coin) so it can pay n token transfers at the highest fee.
func (s *Sim) ensureGas(u *user, ci int, to int32, n uint64) {
	need := u64(feeOf(chainByIndex[ci], token) * n)
	if !s.bal(to, native).Lt(need) {
		return
	}
	need.Sub(need, s.bal(to, native))
	need.Add(need, u64(feeOf(chainByIndex[ci], token)))
	s.withdraw(s.exchanges[u.home], ci, native, to, *need)
}

// userAction runs one background action of a random user.
func (s *Sim) userAction() {
	u := s.users[s.rng.IntN(len(s.users))]
	act := pickWeighted(s, userActions)
	ci, slot := s.pickChain()
	switch act {
	case "buy":
		ex := u.home
		if s.permille(200) {
			ex = s.rng.IntN(len(s.exchanges))
		}
		to := s.recv(u, ci)
		if slot == token {
			s.gasUp(u, ci, to)
		}
		s.withdraw(s.exchanges[ex], ci, slot, to, s.amount(ci, slot, retailAmount))
	case "sell":
		w := s.wallet(u, ci)
		v := s.spendable(w, ci, slot)
		if v.IsZero() {
			return
		}
		s.pay(w, ci, slot, s.depositOf(u, u.home, ci), s.part(v))
	case "shop":
		s.shop(u, ci, slot)
	case "p2p":
		w := s.wallet(u, ci)
		want := s.amount(ci, slot, shopAmount)
		if v := s.spendable(w, ci, slot); v.Lt(&want) {
			return
		}
		other := s.users[s.rng.IntN(len(s.users))]
		to := s.recv(other, ci)
		if ci != ciBTC && slot == token && s.permille(4) {
			// A transfer that reverts (wrong amount, out of energy): fee only.
			var big uint256.Int
			big.Mul(&want, u64(1000))
			s.acctFail(chainByIndex[ci], s.main(w), to, big)
			return
		}
		s.pay(w, ci, slot, to, want)
	case "changer":
		s.changerClient(u)
	case "mixer":
		s.mixerOrder(u)
	case "merchant":
		m := s.merchants[s.rng.IntN(len(s.merchants))]
		w := s.wallet(m, ci)
		v := s.spendable(w, ci, slot)
		if v.IsZero() {
			return
		}
		s.pay(w, ci, slot, s.depositOf(m, m.home, ci), v)
	case "processor":
		s.processorAction(ci, slot)
	}
}

// shop pays a merchant, directly or through a payment processor invoice.
func (s *Sim) shop(u *user, ci, slot int) {
	w := s.wallet(u, ci)
	want := s.amount(ci, slot, shopAmount)
	if v := s.spendable(w, ci, slot); v.Lt(&want) {
		return
	}
	m := s.merchants[s.rng.IntN(len(s.merchants))]
	if s.permille(400) {
		inv := s.recvAddr(s.processor.deposit[ci])
		s.pay(w, ci, slot, inv, want)
		return
	}
	s.pay(w, ci, slot, s.recv(m, ci), want)
}

func pickWeighted(s *Sim, table []struct {
	name   string
	weight int
}) string {
	total := 0
	for _, e := range table {
		total += e.weight
	}
	r := s.rng.IntN(total)
	for _, e := range table {
		if r < e.weight {
			return e.name
		}
		r -= e.weight
	}
	return table[len(table)-1].name
}

func itoa(n int) string { return strconv.Itoa(n) }
