package store

// PricePoint is an asset's USD price from a time on: it holds until the next
// point of the same asset.
type PricePoint struct {
	// Asset is a symbol in upper case ("BTC", "TRX", "USDT") or a token pinned
	// to its contract, "tron:T…" / "eth:0x…".
	Asset string
	Time  int64  // unix seconds the price applies from
	USD   string // exact decimal, e.g. "43012.55"; never a float
	// Source names where the point came from (the imported file's name).
	Source string
}

// PriceStore keeps USD price series per asset (owned by the account-chains
// and valuation work; see issue 4).
type PriceStore interface {
	// PutPrices stores points; a point with the same (asset, time) replaces
	// the stored one, so re-importing a file is idempotent.
	PutPrices(points []PricePoint) error
	// Prices returns an asset's series in time order (empty if none).
	Prices(asset string) ([]PricePoint, error)
	// PriceAssets lists the assets that have prices, sorted.
	PriceAssets() ([]string, error)
}
