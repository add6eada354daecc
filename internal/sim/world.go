package sim

import (
	"fmt"
	"math/rand/v2"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/address"
	"github.com/spoor-dev/spoor/internal/model"
)

// Asset slots of an address: the chain's native coin and its one token.
const (
	native = 0
	token  = 1
)

// Addr is one address of the world.
type Addr struct {
	chain   model.Chain
	raw     []byte // canonical bytes (model.Address.Bytes)
	wallet  *Wallet
	bal     [2]uint256.Int // final-balance bookkeeping per asset slot
	nonce   uint64         // Ethereum account nonce
	touched uint8          // bit per asset slot that ever moved
	flags   uint8
}

const (
	flagStaked  = 1 << iota // Tron: pays energy from stake (fee 0)
	flagPending             // exchange deposit address queued for a sweep
)

// Actor is a person, firm or service: it controls wallets on chains.
type Actor struct {
	idx   int
	ID    string
	Kind  string
	Role  string
	Name  string
	addrs []int32 // every address it controls, creation order
}

// Wallet is an actor's set of addresses on one chain.
type Wallet struct {
	actor *Actor
	chain model.Chain
	addrs []int32
	utxos []utxo // Bitcoin only
	// reuse is the per-mille chance that a receiving (or change) address is
	// one already used; maxAddrs caps the pool (then addresses are reused).
	reuse    int
	maxAddrs int
	btcKind  byte
	// cust is set on a custodian's deposit wallet: funds arriving there are
	// queued for a sweep.
	cust *custodian
	// custodial wallets spend exactly what a payment needs; the service
	// consolidates separately.
	custodial bool
}

// Sim is one world being generated.
type Sim struct {
	cfg    Config
	rng    *rand.Rand
	now    int64 // current simulated time, unix seconds
	start  int64
	end    int64
	addrs  []Addr
	actors []*Actor

	btc    *btcChain
	tron   *acctChain
	eth    *acctChain
	prices *prices
	truth  *truth

	exchanges []*custodian
	users     []*user
	merchants []*user
	processor *processor
	minerU    *user
	issuer    [nChains]int32
	supply    [nChains]uint256.Int
	tf        tfWorld
	noise     noiseWorld
	events    eventQ
	evSeq     uint64

	txSeq uint64 // account-chain transaction counter (ids)

	lastOuts []payout // outputs of the last BTC transaction built
	lastFrom int32    // its first input's address
	err      error    // first write error; generation stops at it
}

func (s *Sim) fail(err error) {
	if s.err == nil && err != nil {
		s.err = err
	}
}

// newActor registers an actor.
func (s *Sim) newActor(kind, role, name string) *Actor {
	a := &Actor{idx: len(s.actors), Kind: kind, Role: role, Name: name}
	a.ID = fmt.Sprintf("%s-%d", kind, a.idx)
	s.actors = append(s.actors, a)
	return a
}

// newWallet gives actor a a wallet on chain c.
func (s *Sim) newWallet(a *Actor, c model.Chain, reusePermille, maxAddrs int) *Wallet {
	w := &Wallet{actor: a, chain: c, reuse: reusePermille, maxAddrs: maxAddrs}
	if c == model.BTC {
		w.btcKind = s.pickBTCKind()
	}
	return w
}

// pickBTCKind draws an address type with 2022-like shares.
func (s *Sim) pickBTCKind() byte {
	switch r := s.rng.IntN(100); {
	case r < 62:
		return address.BTCKindP2WPKH
	case r < 80:
		return address.BTCKindP2SH
	case r < 94:
		return address.BTCKindP2PKH
	default:
		return address.BTCKindP2TR
	}
}

// newAddr creates a fresh address in w.
func (s *Sim) newAddr(w *Wallet) int32 {
	var raw []byte
	switch w.chain {
	case model.BTC:
		n := 20
		if w.btcKind == address.BTCKindP2TR {
			n = 32
		}
		raw = make([]byte, 1+n)
		raw[0] = w.btcKind
		s.fill(raw[1:])
	case model.Tron:
		raw = make([]byte, 21)
		raw[0] = address.TronPrefix
		s.fill(raw[1:])
	case model.ETH:
		raw = make([]byte, 20)
		s.fill(raw)
	}
	id := int32(len(s.addrs))
	s.addrs = append(s.addrs, Addr{chain: w.chain, raw: raw, wallet: w})
	w.addrs = append(w.addrs, id)
	w.actor.addrs = append(w.actor.addrs, id)
	return id
}

// recvAddr returns where w receives next: a used address with the wallet's
// reuse rate (always once the pool is full), else a fresh one.
func (s *Sim) recvAddr(w *Wallet) int32 {
	n := len(w.addrs)
	if n > 0 && (n >= w.maxAddrs || s.permille(w.reuse)) {
		return w.addrs[s.rng.IntN(n)]
	}
	return s.newAddr(w)
}

// main returns the wallet's first address (created on demand).
func (s *Sim) main(w *Wallet) int32 {
	if len(w.addrs) == 0 {
		return s.newAddr(w)
	}
	return w.addrs[0]
}

// fill writes random bytes.
func (s *Sim) fill(b []byte) {
	for i := 0; i < len(b); i += 8 {
		v := s.rng.Uint64()
		for j := i; j < i+8 && j < len(b); j++ {
			b[j] = byte(v)
			v >>= 8
		}
	}
}

// permille is true with probability p/1000.
func (s *Sim) permille(p int) bool { return s.rng.IntN(1000) < p }

// between draws uniformly from [lo, hi].
func (s *Sim) between(lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	return lo + s.rng.Int64N(hi-lo+1)
}

// display renders an address the way spoor prints it.
func (s *Sim) display(id int32) string {
	a := &s.addrs[id]
	return displayRaw(a.chain, a.raw)
}

// displayRaw renders canonical address bytes of chain c.
func displayRaw(c model.Chain, raw []byte) string {
	cd := address.For(c)
	if c == model.BTC {
		cd.Params = regtest
	}
	return cd.MustEncode(raw)
}

// credit and debit keep the final-balance bookkeeping.
func (s *Sim) credit(id int32, slot int, v *uint256.Int) {
	a := &s.addrs[id]
	a.bal[slot].Add(&a.bal[slot], v)
	a.touched |= 1 << slot
}

func (s *Sim) debit(id int32, slot int, v *uint256.Int) {
	a := &s.addrs[id]
	if a.bal[slot].Lt(v) {
		s.fail(fmt.Errorf("sim: internal error: %s %s overdrawn at %d", a.chain, s.display(id), s.now))
		a.bal[slot].Clear()
	} else {
		a.bal[slot].Sub(&a.bal[slot], v)
	}
	a.touched |= 1 << slot
}

func u64(v uint64) *uint256.Int { return new(uint256.Int).SetUint64(v) }
