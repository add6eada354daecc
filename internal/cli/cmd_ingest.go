package cli

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spoor-dev/spoor/internal/chain/btc"
	"github.com/spoor-dev/spoor/internal/ingest"
)

// ingesters maps "spoor ingest CHAIN" to its implementation. Other files add
// chains from their init functions.
var ingesters = map[string]func(env *Env, args []string) error{
	"btc": ingestBTC,
}

func init() {
	register("ingest", "ingest chain data: ingest btc|tron|eth|all …", func(env *Env, args []string) error {
		if len(args) == 0 {
			return usageErr("spoor ingest CHAIN …; chains: %s", strings.Join(ingesterNames(), ", "))
		}
		if args[0] == "--help" || args[0] == "-h" || args[0] == "-help" || args[0] == "help" {
			fmt.Fprintf(env.Stdout, "usage: spoor ingest SOURCE [flags]; sources: %s\n", strings.Join(ingesterNames(), ", "))
			fmt.Fprintln(env.Stdout, "  spoor ingest btc --blocks PATH | --rpc URL [--rpc-user U --rpc-pass P] [--from H] [--to H] [--confirmations N]")
			fmt.Fprintln(env.Stdout, "  spoor ingest eth|tron --etl DIR | --rpc URL [--from H] [--to H] [--confirmations N]; eth --rpc also --traces; tron also --api blocks.jsonl[.gz]")
			fmt.Fprintln(env.Stdout, "  spoor ingest all DIR   (every chain of a folder laid out as docs/formats.md says, prices, TagPack)")
			fmt.Fprintln(env.Stdout, "spoor ingest SOURCE --help lists a source's flags.")
			return nil
		}
		f, ok := ingesters[args[0]]
		if !ok {
			return usageErr("unknown source %q; want one of %s", args[0], strings.Join(ingesterNames(), ", "))
		}
		return f(env, args[1:])
	})
}

func ingesterNames() []string {
	var n []string
	for k := range ingesters {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// progressOpts shows progress only on a terminal and never in --json mode.
func progressOpts(env *Env) ingest.Options {
	var o ingest.Options
	if !env.JSON && env.Stderr == os.Stderr && ingest.Terminal(os.Stderr) {
		o.Progress = os.Stderr
	}
	return o
}

func ingestBTC(env *Env, args []string) (err error) {
	fs := newFlags(env, "ingest btc")
	blocks := fs.String("blocks", "", "Bitcoin Core blocks/ folder or one file of blk records")
	rpcURL := fs.String("rpc", "", "node JSON-RPC URL (Bitcoin Core or btcd), e.g. http://127.0.0.1:8332")
	user := fs.String("rpc-user", "", "RPC user")
	pass := fs.String("rpc-pass", "", "RPC password (or env SPOOR_RPC_PASS)")
	from := fs.Int64("from", -1, "first height (RPC; must not skip past the stored tip)")
	to := fs.Int64("to", -1, "last height (RPC)")
	conf := fs.Uint64("confirmations", 0, "stay this many blocks behind the node's tip (RPC)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("unexpected arguments %v", pos)
	}
	if (*blocks == "") == (*rpcURL == "") {
		return usageErr("give exactly one of --blocks PATH or --rpc URL")
	}
	if err := checkRange(*from, *to); err != nil {
		return err
	}
	if *blocks != "" {
		// Set before the store's deferred close, restored after it.
		defer ingest.GCForInput(btc.FilesSize(*blocks))()
	}
	st, err := openStore(env)
	if err != nil {
		return err
	}
	defer closeWritten(st, &err)
	var res *ingest.Result
	if *blocks != "" {
		res, err = ingest.BTCFiles(st, *blocks, progressOpts(env))
	} else {
		p := *pass
		if p == "" {
			p = os.Getenv("SPOOR_RPC_PASS")
		}
		rng := ingest.RPCRange{Confirmations: *conf}
		if *from >= 0 {
			rng.From, rng.HasFrom = uint64(*from), true
		}
		if *to >= 0 {
			rng.To, rng.HasTo = uint64(*to), true
		}
		res, err = ingest.BTCRPC(st, btc.NewRPC(*rpcURL, *user, p), rng, progressOpts(env))
	}
	if err != nil {
		return err
	}
	return printIngest(env, res)
}

func printIngest(env *Env, r *ingest.Result) error {
	if r.OffChain > 0 {
		fmt.Fprintf(env.Stderr, "warning: %d blocks of the input are not on the chain ingested (side branches, or blocks whose parent is missing or damaged): not stored\n", r.OffChain)
	}
	if env.JSON {
		return writeJSON(env.Stdout, map[string]any{
			"chain": r.Chain.String(), "applied_blocks": r.Applied, "skipped_blocks": r.Skipped,
			"rolled_back_blocks": r.RolledBack, "off_chain_blocks": r.OffChain, "txs": r.Txs, "height": r.Height, "seconds": r.Elapsed.Seconds(),
		})
	}
	fmt.Fprintf(env.Stdout, "%s: applied %d blocks (%d txs), skipped %d already stored, rolled back %d; height %d; %.2fs\n",
		r.Chain, r.Applied, r.Txs, r.Skipped, r.RolledBack, r.Height, r.Elapsed.Seconds())
	return nil
}

// checkRange validates --from/--to heights: -1 (the default) means unset;
// any other negative value, or --to below --from, is a usage error.
func checkRange(from, to int64) error {
	if from < -1 {
		return usageErr("--from %d: a height is 0 or more", from)
	}
	if to < -1 {
		return usageErr("--to %d: a height is 0 or more", to)
	}
	if from >= 0 && to >= 0 && to < from {
		return usageErr("--to %d is below --from %d", to, from)
	}
	return nil
}
