package store

// PriceStore keeps USD price series per asset (owned by the account-chains
// and valuation work; see issue 4).
type PriceStore interface{}
