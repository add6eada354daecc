package etl

import (
	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/address"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
	"golang.org/x/crypto/sha3"
)

// EventTopic is topic0 of an EVM event: keccak256 of its signature.
func EventTopic(signature string) [32]byte {
	h := sha3.NewLegacyKeccak256()
	h.Write([]byte(signature))
	var t [32]byte
	h.Sum(t[:0])
	return t
}

// Event topics spoor decodes.
var (
	TopicTransfer            = EventTopic("Transfer(address,address,uint256)")
	TopicAddedBlackList      = EventTopic("AddedBlackList(address)")
	TopicRemovedBlackList    = EventTopic("RemovedBlackList(address)")
	TopicDestroyedBlackFunds = EventTopic("DestroyedBlackFunds(address,uint256)")
	TopicBlacklisted         = EventTopic("Blacklisted(address)")
	TopicUnBlacklisted       = EventTopic("UnBlacklisted(address)")
)

// CanonicalEVM turns a 20-byte EVM address into chain c's canonical bytes.
func CanonicalEVM(c model.Chain, b []byte) []byte {
	if c == model.Tron {
		return address.TronFromEVM(b)
	}
	return append([]byte(nil), b...)
}

// word returns the 20-byte address held in a 32-byte ABI word, or false when
// its upper 12 bytes are not zero (then it is not an address).
func word(w []byte) ([]byte, bool) {
	if len(w) != 32 {
		return nil, false
	}
	for _, b := range w[:12] {
		if b != 0 {
			return nil, false
		}
	}
	return w[12:], true
}

// Log is one decoded EVM log of interest. Exactly one of IsTransfer and
// Fact != "" holds when Decode returned true.
type Log struct {
	IsTransfer bool
	From, To   []byte // canonical
	Value      uint256.Int

	Fact    string // a store.Fact* kind
	Subject []byte // canonical
	Amount  uint256.Int
}

// DecodeLog recognises an ERC-20/TRC-20 Transfer (exactly three topics and a
// 32-byte amount: ERC-721's Transfer has four topics and is not a fungible
// movement) and the Tether/Circle blacklist events. Logs that merely share a
// signature but do not fit the layout are not recognised; ok is false.
func DecodeLog(c model.Chain, topics [][32]byte, data []byte) (l Log, ok bool) {
	if len(topics) == 0 {
		return l, false
	}
	switch topics[0] {
	case TopicTransfer:
		if len(topics) != 3 || len(data) != 32 {
			return l, false
		}
		from, ok1 := word(topics[1][:])
		to, ok2 := word(topics[2][:])
		if !ok1 || !ok2 {
			return l, false
		}
		l.IsTransfer = true
		l.From, l.To = CanonicalEVM(c, from), CanonicalEVM(c, to)
		l.Value.SetBytes32(data)
		return l, true
	case TopicAddedBlackList, TopicRemovedBlackList:
		if len(topics) != 1 || len(data) != 32 {
			return l, false
		}
		a, ok := word(data)
		if !ok {
			return l, false
		}
		l.Fact = store.FactAddedBlackList
		if topics[0] == TopicRemovedBlackList {
			l.Fact = store.FactRemovedBlackList
		}
		l.Subject = CanonicalEVM(c, a)
		return l, true
	case TopicDestroyedBlackFunds:
		if len(topics) != 1 || len(data) != 64 {
			return l, false
		}
		a, ok := word(data[:32])
		if !ok {
			return l, false
		}
		l.Fact = store.FactDestroyedBlackFunds
		l.Subject = CanonicalEVM(c, a)
		l.Amount.SetBytes32(data[32:])
		return l, true
	case TopicBlacklisted, TopicUnBlacklisted:
		if len(topics) != 2 {
			return l, false
		}
		a, ok := word(topics[1][:])
		if !ok {
			return l, false
		}
		l.Fact = store.FactBlacklisted
		if topics[0] == TopicUnBlacklisted {
			l.Fact = store.FactUnBlacklisted
		}
		l.Subject = CanonicalEVM(c, a)
		return l, true
	}
	return l, false
}

// Decoded is one block a node adapter turned into the canonical model, with
// the facts its logs carry and the token contracts its transfers touched
// (first-seen order). The Ethereum and Tron node adapters share it.
type Decoded struct {
	Block     *model.Block
	Facts     []store.Fact
	Contracts [][]byte
	seen      map[string]bool // contracts already in Contracts
}

// AddLog files a log DecodeLog recognised in tx (of d.Block), emitted by
// contract at logIndex: a Transfer becomes one of the tx's transfers (and its
// contract is noted), a blacklist event one of the block's facts.
func (d *Decoded) AddLog(tx *model.Tx, contract []byte, l Log, logIndex int32) {
	if !l.IsTransfer {
		d.Facts = append(d.Facts, store.Fact{Kind: l.Fact, Contract: contract, Subject: l.Subject, Amount: l.Amount,
			TxID: tx.ID, LogIndex: logIndex, Height: d.Block.Height, Time: d.Block.Time})
		return
	}
	tx.Transfers = append(tx.Transfers, model.Transfer{From: l.From, To: l.To, Contract: contract, Value: l.Value, LogIndex: logIndex})
	if d.seen == nil {
		d.seen = map[string]bool{}
	}
	if !d.seen[string(contract)] {
		d.seen[string(contract)] = true
		d.Contracts = append(d.Contracts, contract)
	}
}
