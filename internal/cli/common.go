package cli

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spoor-dev/spoor/internal/address"
	"github.com/spoor-dev/spoor/internal/attrib"
	"github.com/spoor-dev/spoor/internal/chain/btc"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
	"github.com/spoor-dev/spoor/internal/store/pebblestore"
)

// chainDir is where the chain store lives inside the data directory.
func chainDir(env *Env) string { return filepath.Join(env.DataDir, "chain") }

// openStore opens the embedded chain store of the data directory. A store
// held by another spoor process fails at once, saying so.
// SPOOR_SEGMENT_ENTRIES sets the store's segment size in adjacency entries
// (a tuning knob; tests set it small to close many segments), and
// SPOOR_LOG_INDEX_EVERY how many new address or block log index entries
// make an Apply sync the log's index file (tests set it small), and
// SPOOR_ADDR_CACHE how many addresses a chain's address-id cache holds
// (default 2²¹; raise it for chains with more addresses, ≈ 64 B each).
// closeWritten closes st when an ingest command returns and reports a
// failed close (it writes the last open segment) unless the command failed
// first.
func closeWritten(st *pebblestore.Store, err *error) {
	if cerr := st.Close(); cerr != nil && *err == nil {
		*err = fmt.Errorf("closing the store (writing its last segment): %w", cerr)
	}
}

func openStore(env *Env) (*pebblestore.Store, error) {
	var o pebblestore.Options
	if v, err := strconv.Atoi(os.Getenv("SPOOR_SEGMENT_ENTRIES")); err == nil && v > 0 {
		o.SegmentEntries = v
	}
	if v, err := strconv.Atoi(os.Getenv("SPOOR_LOG_INDEX_EVERY")); err == nil && v > 0 {
		o.LogIndexEvery = v
	}
	if v, err := strconv.Atoi(os.Getenv("SPOOR_ADDR_CACHE")); err == nil && v > 0 {
		o.AddrCacheEntries = v
	}
	st, err := pebblestore.OpenWith(chainDir(env), o)
	if err != nil && errors.Is(err, syscall.EWOULDBLOCK) {
		return nil, fmt.Errorf("data folder %s is in use by another spoor process (it holds the lock %s); wait for it to finish or use another --data",
			env.DataDir, filepath.Join(chainDir(env), "LOCK"))
	}
	return st, err
}

// closeStore closes a store at the end of a command. During a panic (the
// store reporting on-disk corruption) it leaves the store unclosed: pebble's
// Close would panic again over the open iterators and hide the first panic,
// the one that says what is wrong.
func closeStore(st *pebblestore.Store) {
	if r := recover(); r != nil {
		panic(r)
	}
	st.Close()
}

// openExisting opens the store of a data directory for a command that only
// reads it: a data directory without a store is an error, not a new store.
func openExisting(env *Env) (*pebblestore.Store, error) {
	if ents, err := os.ReadDir(chainDir(env)); err == nil && len(ents) == 0 || errors.Is(err, fs.ErrNotExist) {
		if fi, serr := os.Stat(env.DataDir); serr != nil || !fi.IsDir() {
			return nil, fmt.Errorf("data folder %s: not found (give --data DIR or set SPOOR_DATA; spoor ingest creates it)", env.DataDir)
		}
		return nil, fmt.Errorf("data folder %s holds no store yet (run spoor ingest or spoor tags import first)", env.DataDir)
	}
	return openStore(env)
}

// codecFor returns the address codec of a chain as stored (Bitcoin's network
// comes from the store).
func codecFor(st store.Reader, c model.Chain) (address.Codec, error) {
	cd := address.For(c)
	if c == model.BTC {
		net, err := st.Network(c)
		if err != nil {
			return cd, err
		}
		if net != "" {
			cd.Params = btc.ParamsByName(net)
		}
	}
	return cd, nil
}

// decodeAddr decodes an address given on the command line with the store's
// codec. A Bitcoin address of another network than the store's says so
// instead of failing as "unknown address type".
func decodeAddr(cd address.Codec, s string) ([]byte, error) {
	if cd.Chain == model.XMR {
		// The codec takes any string for Monero; the attribution parser
		// checks the form (95 or 106 base58 characters).
		if _, err := attrib.ParseAddressOn(model.XMR, s, ""); err != nil {
			return nil, usageErr("xmr address: %v", err)
		}
	}
	b, err := cd.Decode(s)
	if err == nil {
		return b, nil
	}
	if cd.Chain == model.BTC {
		have := "mainnet"
		if cd.Params != nil {
			have = cd.Params.Name
		}
		if hint := btcNetworkHint(s, have); hint != "" {
			return nil, usageErr("%s", hint)
		}
	}
	return nil, usageErr("%v", err)
}

// btcNetworkHint explains a Bitcoin address that is valid on another network
// than have ("" when it is valid on none).
func btcNetworkHint(s, have string) string {
	if have == "" {
		have = "mainnet"
	}
	for _, n := range []string{"mainnet", "testnet3", "regtest", "signet"} {
		if n == have {
			continue
		}
		if _, err := (address.Codec{Chain: model.BTC, Params: address.BTCParams(n)}).Decode(s); err == nil {
			return fmt.Sprintf("btc address %s is a Bitcoin %s address, but this store holds Bitcoin %s", s, n, have)
		}
	}
	return ""
}

// parseChainArg parses a chain name given on the command line.
func parseChainArg(s string) (model.Chain, error) {
	c, err := model.ParseChain(s)
	if err != nil {
		return 0, usageErr("%v", err)
	}
	return c, nil
}

// parseTxID parses a transaction id in display hex (0x prefix allowed).
func parseTxID(s string) ([32]byte, error) {
	var id [32]byte
	h := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0x"), "0X")
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 {
		return id, usageErr("transaction id %q: want 64 hex digits", s)
	}
	copy(id[:], b)
	return id, nil
}

// txidString renders a transaction id the way the chain's tools do.
func txidString(c model.Chain, id [32]byte) string {
	if c == model.ETH {
		return "0x" + hex.EncodeToString(id[:])
	}
	return hex.EncodeToString(id[:])
}

// timeString renders unix seconds as RFC 3339 UTC ("" for zero).
func timeString(t int64) string {
	if t == 0 {
		return ""
	}
	return time.Unix(t, 0).UTC().Format(time.RFC3339)
}

// requireArgs checks the number of positional arguments.
func requireArgs(pos []string, n int, usage string) error {
	if len(pos) != n {
		return usageErr("want %d arguments: %s", n, usage)
	}
	return nil
}

// coinUnits renders an exact amount in base units (a decimal string) in the
// asset's units: "150000000" with 8 decimals is "1.5". Unknown decimals
// (< 0) keep the base units and say so. Nothing is rounded.
func coinUnits(base string, decimals int) string {
	if decimals < 0 {
		return base + " (base units)"
	}
	if decimals == 0 || base == "" {
		return base
	}
	neg := strings.HasPrefix(base, "-")
	base = strings.TrimPrefix(base, "-")
	for len(base) <= decimals {
		base = "0" + base
	}
	whole, frac := base[:len(base)-decimals], strings.TrimRight(base[len(base)-decimals:], "0")
	out := whole
	if frac != "" {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out
}

// addressArg is a CHAIN ADDR argument pair resolved against a store.
type addressArg struct {
	st    *pebblestore.Store
	chain model.Chain
	cd    address.Codec // the chain's codec for the store's network
	addr  []byte        // canonical bytes
	sum   *store.AddressSummary
}

// openAddress opens the data folder's store for reading and resolves CHAIN
// ADDR in it: a bad chain or address is a usage error, an address the store
// never saw says so. On success the caller defers closeStore(a.st).
func openAddress(env *Env, chainArg, addrArg string) (*addressArg, error) {
	c, err := parseChainArg(chainArg)
	if err != nil {
		return nil, err
	}
	st, err := openExisting(env)
	if err != nil {
		return nil, err
	}
	a := &addressArg{st: st, chain: c}
	if a.cd, err = codecFor(st, c); err == nil {
		if a.addr, err = decodeAddr(a.cd, addrArg); err == nil {
			a.sum, err = st.Address(c, a.addr)
			if errors.Is(err, store.ErrNotFound) {
				err = fmt.Errorf("%s address %s: never seen in the ingested data", c, addrArg)
			}
		}
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	return a, nil
}
