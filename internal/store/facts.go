package store

import (
	"github.com/holiman/uint256"
	"github.com/spoor-dev/spoor/internal/model"
)

// Fact kinds: on-chain events that are not value transfers but say something
// about an address. The names are the events' own.
const (
	// Tether (USDT on Tron and Ethereum): AddedBlackList(address) freezes an
	// address, RemovedBlackList(address) unfreezes it,
	// DestroyedBlackFunds(address,uint256) burns a frozen balance (no
	// Transfer event is emitted for it).
	FactAddedBlackList      = "AddedBlackList"
	FactRemovedBlackList    = "RemovedBlackList"
	FactDestroyedBlackFunds = "DestroyedBlackFunds"
	// Circle (USDC): Blacklisted(address indexed), UnBlacklisted(address indexed).
	FactBlacklisted   = "Blacklisted"
	FactUnBlacklisted = "UnBlacklisted"
)

// Fact is one on-chain event about an address (the subject) emitted by a
// contract, located by transaction and log position.
type Fact struct {
	Kind     string
	Contract []byte // canonical address bytes of the emitting contract
	Subject  []byte // canonical address bytes of the address concerned
	Amount   uint256.Int
	TxID     [32]byte
	LogIndex int32
	Height   uint64
	Time     int64
}

// FactStore keeps on-chain facts that are not value transfers, such as
// Tether's AddedBlackList / DestroyedBlackFunds events (issue 4).
type FactStore interface {
	// PutFacts stores facts; a fact with the same (chain, subject, txid,
	// log index) replaces the stored one, so re-ingesting never duplicates.
	PutFacts(c model.Chain, facts []Fact) error
	// Facts lists the facts about one address in (height, txid, log index)
	// order; none is not an error.
	Facts(c model.Chain, subject []byte) ([]Fact, error)
	// FactsOfKind lists every fact of one kind on the chain ("" = all kinds)
	// in (height, txid, log index) order.
	FactsOfKind(c model.Chain, kind string) ([]Fact, error)
	// DeleteFactsAbove removes the facts of blocks above height (reorgs and
	// undone ingests).
	DeleteFactsAbove(c model.Chain, height uint64) error
}
