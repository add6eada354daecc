package store

// FactStore keeps on-chain facts that are not value transfers, such as
// Tether's AddedBlackList / DestroyedBlackFunds events (issue 4).
type FactStore interface{}
