package sim

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
)

// Fee tables of the account chains (2022 levels).
const (
	tronBandwidthTRX   = 268     // bytes of a TRX transfer
	tronBandwidthToken = 345     // bytes of a TRC-20 transfer
	tronSunPerByte     = 1_000   // burnt when no free bandwidth
	tronSunPerEnergy   = 280     // burnt when no staked energy
	tronEnergyHolder   = 64_285  // USDT transfer to a holder
	tronEnergyNew      = 129_285 // USDT transfer to an address without USDT
	tronFreeBandwidth  = 600     // per mille of TRX transfers paid from the free allowance
	ethGasTransfer     = 21_000
	ethGasTokenHolder  = 34_706
	ethGasTokenNew     = 51_806
)

// chainOf returns the account chain builder of c.
func (s *Sim) chainOf(c model.Chain) *acctChain {
	if c == model.Tron {
		return s.tron
	}
	return s.eth
}

func chainIndex(c model.Chain) int {
	switch c {
	case model.Tron:
		return ciTron
	case model.ETH:
		return ciETH
	}
	return ciBTC
}

// newTxID derives a unique account-chain transaction id.
func (s *Sim) newTxID(c model.Chain) [32]byte {
	s.txSeq++
	var in [24]byte
	binary.LittleEndian.PutUint64(in[:], s.cfg.Seed)
	binary.LittleEndian.PutUint64(in[8:], uint64(c))
	binary.LittleEndian.PutUint64(in[16:], s.txSeq)
	return sha256.Sum256(in[:])
}

// acctQuote fills the fee fields of a transaction from→to of slot.
func (s *Sim) acctQuote(c model.Chain, tx *acctTx) {
	fa, ta := &s.addrs[tx.from], &s.addrs[tx.to]
	staked := fa.flags&flagStaked != 0
	switch c {
	case model.Tron:
		if tx.slot == native {
			if staked || s.permille(tronFreeBandwidth) {
				tx.netUsage = tronBandwidthTRX
			} else {
				tx.netFee = tronBandwidthTRX * tronSunPerByte
			}
			tx.fee = tx.netFee
			return
		}
		tx.gasLimit = 100_000_000 // fee_limit: 100 TRX
		tx.gasUsed = tronEnergyHolder
		if ta.bal[token].IsZero() {
			tx.gasUsed = tronEnergyNew
		}
		if staked {
			tx.netUsage = tronBandwidthToken
			return
		}
		if s.permille(tronFreeBandwidth) {
			tx.netUsage = tronBandwidthToken
		} else {
			tx.netFee = tronBandwidthToken * tronSunPerByte
		}
		tx.fee = tx.gasUsed*tronSunPerEnergy + tx.netFee
	case model.ETH:
		tx.gasPrice = uint64(s.between(18_000_000_000, 140_000_000_000))
		if tx.slot == native {
			tx.gasUsed, tx.gasLimit = ethGasTransfer, ethGasTransfer
		} else {
			tx.gasUsed, tx.gasLimit = ethGasTokenHolder, 80_000
			if ta.bal[token].IsZero() {
				tx.gasUsed, tx.gasLimit = ethGasTokenNew, 100_000
			}
		}
		tx.fee = tx.gasUsed * tx.gasPrice
	}
}

// feeOf is the native fee a transfer would cost now (an estimate for
// planning top-ups: the largest case).
func feeOf(c model.Chain, slot int) uint64 {
	if c == model.Tron {
		if slot == native {
			return tronBandwidthTRX * tronSunPerByte
		}
		return tronEnergyNew*tronSunPerEnergy + tronBandwidthToken*tronSunPerByte
	}
	if slot == native {
		return ethGasTransfer * 140_000_000_000
	}
	return ethGasTokenNew * 140_000_000_000
}

// acctSend moves value of slot from → to on chain c (one transaction;
// the sender pays the fee in the native coin). ok is false, and nothing
// happens, when the sender cannot pay.
func (s *Sim) acctSend(c model.Chain, from, to int32, slot int, value uint256.Int) ([32]byte, bool) {
	return s.acctDo(c, from, to, slot, value, false)
}

// acctFail writes a transaction that reverts: the fee is paid, nothing moves.
func (s *Sim) acctFail(c model.Chain, from, to int32, value uint256.Int) bool {
	_, ok := s.acctDo(c, from, to, token, value, true)
	return ok
}

func (s *Sim) acctDo(c model.Chain, from, to int32, slot int, value uint256.Int, failed bool) ([32]byte, bool) {
	if value.IsZero() && !failed {
		return [32]byte{}, false
	}
	tx := acctTx{from: from, to: to, slot: slot, value: value, time: s.now, failed: failed}
	s.acctQuote(c, &tx)
	fa := &s.addrs[from]
	need := u64(tx.fee)
	if slot == native && !failed {
		need.Add(need, &value)
	}
	if fa.bal[native].Lt(need) || (slot == token && !failed && fa.bal[token].Lt(&value)) {
		return [32]byte{}, false
	}
	if c == model.ETH {
		tx.nonce = fa.nonce
		fa.nonce++
	}
	if tx.fee > 0 {
		s.debit(from, native, u64(tx.fee))
	}
	if !failed {
		s.debit(from, slot, &value)
		s.credit(to, slot, &value)
		if w := s.addrs[to].wallet; w.cust != nil {
			s.custodianReceived(w.cust, chainIndex(c), to)
		}
	}
	tx.id = s.newTxID(c)
	s.acctAdd(s.chainOf(c), tx)
	return tx.id, true
}

// bal returns an address's balance of slot.
func (s *Sim) bal(id int32, slot int) *uint256.Int { return &s.addrs[id].bal[slot] }

// recBTC records output `to` of the BTC transaction id (the last built) as
// a typology transfer.
func (s *Sim) recBTC(t *typology, id chainhash.Hash, to int32) {
	if t == nil {
		return
	}
	for i, o := range s.lastOuts {
		if o.to == to {
			t.transfers = append(t.transfers, tTransfer{chain: model.BTC, txid: id, vout: int32(i), from: s.lastFrom, to: to,
				value: *u64(o.value)})
			return
		}
	}
}

// recAcct records an account-chain transfer.
func (s *Sim) recAcct(t *typology, c model.Chain, id [32]byte, from, to int32, slot int, v uint256.Int) {
	if t == nil {
		return
	}
	t.transfers = append(t.transfers, tTransfer{chain: c, txid: id, vout: -1, from: from, to: to, slot: int8(slot), value: v})
}
