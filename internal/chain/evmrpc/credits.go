package evmrpc

import (
	"fmt"

	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
)

// What a block credits (see model.CreditFees): the fee recipient's priority
// fees, beacon-chain withdrawals and, on mainnet before the merge, block and
// uncle rewards.

// MainnetChainID is Ethereum mainnet's eth_chainId. Block and uncle rewards
// are computed for it only: other chains' reward schedules are not guessed.
const MainnetChainID = 1

// Mainnet's block-reward schedule: 5 ETH from the start, 3 ETH from
// Byzantium (EIP-649), 2 ETH from Constantinople (EIP-1234), nothing from
// the merge (EIP-3675, Paris) on.
const (
	MainnetByzantium      = 4_370_000
	MainnetConstantinople = 7_280_000
	MainnetMerge          = 15_537_394
)

// MainnetBlockReward is the static reward of mainnet block height h in wei
// (0 for the genesis block and from the merge on).
func MainnetBlockReward(h uint64) uint256.Int {
	var r uint256.Int
	switch {
	case h == 0 || h >= MainnetMerge:
	case h < MainnetByzantium:
		r.SetUint64(5e18)
	case h < MainnetConstantinople:
		r.SetUint64(3e18)
	default:
		r.SetUint64(2e18)
	}
	return r
}

// wantUncles reports whether DecodeFull needs the uncle headers of block h
// of chain chainID: mainnet before the merge, where uncles earn rewards.
func wantUncles(chainID, h uint64) bool {
	return chainID == MainnetChainID && h > 0 && h < MainnetMerge
}

type rpcWithdrawal struct {
	Index          *string `json:"index"`
	ValidatorIndex *string `json:"validatorIndex"`
	Address        *string `json:"address"`
	Amount         *string `json:"amount"` // Gwei
}

type rpcUncle struct {
	Number *string `json:"number"`
	Hash   *string `json:"hash"`
	Miner  *string `json:"miner"`
}

// gwei is 10⁹ wei.
var gwei = uint256.NewInt(1e9)

// credits appends blk's block-credits pseudo-transaction when the block
// credits anything: tips (the sum of its transactions' priority fees),
// block and uncle rewards (mainnet before the merge) and withdrawals.
func credits(blk *model.Block, b *rpcBlock, tips *uint256.Int, chainID uint64, uncles []*rpcUncle) *FieldError {
	ferr := func(field string, format string, args ...any) *FieldError {
		return &FieldError{Block: blk.Height, Field: field, Err: fmt.Errorf(format, args...)}
	}
	tx := model.Tx{ID: blk.Hash, Index: uint32(len(blk.Txs)), Coinbase: true}
	// The fee recipient must be well formed wherever the node names one,
	// and present where the block credits it.
	var miner []byte
	if b.Miner != nil {
		m, err := addr20(b.Miner)
		if err != nil {
			return ferr("miner", "%v", err)
		}
		miner = m
	}
	getMiner := func() ([]byte, *FieldError) {
		if miner == nil {
			return nil, ferr("miner", "missing, but the block credits its fee recipient")
		}
		return miner, nil
	}
	if !tips.IsZero() {
		m, fe := getMiner()
		if fe != nil {
			return fe
		}
		tx.Transfers = append(tx.Transfers, model.Transfer{To: m, Value: *tips, LogIndex: model.CreditFees})
	}
	if wantUncles(chainID, blk.Height) { // DecodeFull matched uncles to b.Uncles
		reward := MainnetBlockReward(blk.Height)
		// The miner: reward + reward/32 per uncle included.
		var r, bonus uint256.Int
		bonus.Div(&reward, uint256.NewInt(32))
		bonus.Mul(&bonus, uint256.NewInt(uint64(len(uncles))))
		r.Add(&reward, &bonus)
		m, fe := getMiner()
		if fe != nil {
			return fe
		}
		tx.Transfers = append(tx.Transfers, model.Transfer{To: m, Value: r, LogIndex: model.CreditBlockReward})
		for k, u := range uncles {
			f := func(name string) string { return fmt.Sprintf("uncles[%d].%s", k, name) }
			h, err := hash32(u.Hash)
			if err != nil {
				return ferr(f("hash"), "%v", err)
			}
			if want, err := hash32(&b.Uncles[k]); err != nil {
				return ferr(fmt.Sprintf("uncles[%d]", k), "%v", err)
			} else if h != want {
				return ferr(f("hash"), "%x, but the block names uncle %x", h, want)
			}
			n, err := quantityPtr(u.Number)
			if err != nil {
				return ferr(f("number"), "%v", err)
			}
			// An uncle is at most 6 generations older than its
			// includer (and never as new).
			if n >= blk.Height || blk.Height-n > 7 {
				return ferr(f("number"), "uncle at height %d cannot be included at height %d", n, blk.Height)
			}
			um, err := addr20(u.Miner)
			if err != nil {
				return ferr(f("miner"), "%v", err)
			}
			// (uncle + 8 − block) × reward / 8, as go-ethereum computes it.
			var ur uint256.Int
			ur.Mul(uint256.NewInt(n+8-blk.Height), &reward)
			ur.Div(&ur, uint256.NewInt(8))
			if !ur.IsZero() {
				tx.Transfers = append(tx.Transfers, model.Transfer{To: um, Value: ur, LogIndex: model.CreditUncle0 + int32(k)})
			}
		}
	}
	if len(b.Withdrawals) > 1<<20 {
		return ferr("withdrawals", "%d withdrawals in one block", len(b.Withdrawals))
	}
	for n := range b.Withdrawals {
		w := &b.Withdrawals[n]
		f := func(name string) string { return fmt.Sprintf("withdrawals[%d].%s", n, name) }
		if _, err := quantityPtr(w.Index); err != nil {
			return ferr(f("index"), "%v", err)
		}
		if _, err := quantityPtr(w.ValidatorIndex); err != nil {
			return ferr(f("validatorIndex"), "%v", err)
		}
		to, err := addr20(w.Address)
		if err != nil {
			return ferr(f("address"), "%v", err)
		}
		g, err := quantityPtr(w.Amount) // uint64 Gwei, as the consensus layer has it
		if err != nil {
			return ferr(f("amount"), "%v (want Gwei as a 64-bit quantity)", err)
		}
		if g == 0 {
			continue
		}
		var v uint256.Int
		v.Mul(uint256.NewInt(g), gwei)
		tx.Transfers = append(tx.Transfers, model.Transfer{To: to, Value: v, LogIndex: model.CreditWithdrawal0 - int32(n)})
	}
	if len(tx.Transfers) > 0 {
		blk.Txs = append(blk.Txs, tx)
	}
	return nil
}
