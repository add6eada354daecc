package pebblestore

// reserveRest sizes the open segment's other arrays once, as Reserve does
// its adjacency array, for an ingest expected to create about addresses
// new addresses and transfers transfers, within one segment (limit
// adjacency entries): the address index (an entry per new address), the
// txid index and the times (one per tx: at most a quarter of the
// transfers is assumed; a UTXO tx has an input and an output, most have
// more) and the spent outputs (one per input: about half the transfers).
// They grew by doubling before, through push: each growth a copy, and
// about as much memory touched again as the array finally held (≈ 22 MB
// of the 10⁶-transfer chain's ingest, a tenth of its page faults). An
// estimate too high costs address space only: the arrays come from make
// without clearing (grow), so their pages are touched as they fill; one
// too low leaves push to double from there.
func (d *segData) reserveRest(addresses, transfers uint64, limit int) {
	lim := uint64(limit)
	d.addrs = reserveTo(d.addrs, min(lim, addresses))
	d.txids = reserveTo(d.txids, min(lim, transfers/4))
	d.times = reserveTo(d.times, min(lim, transfers/4))
	d.spent = reserveTo(d.spent, min(lim, transfers/2))
}

// reserveTo gives s a capacity of at least n (grow: no clearing).
func reserveTo[T any](s []T, n uint64) []T {
	if n <= uint64(cap(s)) {
		return s
	}
	return grow(s, int(n)-len(s))
}
