package cli

import (
	"fmt"
	"strings"

	"github.com/spoor-dev/spoor/internal/ingest"
	"github.com/spoor-dev/spoor/internal/model"
)

func init() {
	ingesters["eth"] = func(env *Env, args []string) error { return ingestAccount(env, model.ETH, args) }
	ingesters["tron"] = func(env *Env, args []string) error { return ingestAccount(env, model.Tron, args) }
}

// ingestAccount is `spoor ingest eth|tron --etl DIR | --rpc URL`.
func ingestAccount(env *Env, c model.Chain, args []string) (err error) {
	name := "ingest " + c.String()
	fs := newFlags(env, name)
	etlDir := fs.String("etl", "", "ethereum-etl / BigQuery CSV export folder (blocks, transactions, receipts, token_transfers, tokens, logs, traces *.csv[.gz])")
	rpcURL := fs.String("rpc", "", "node URL: Ethereum JSON-RPC, or java-tron HTTP API")
	apiFile := fs.String("api", "", "tron only: java-tron HTTP API JSON lines file ({\"block\":…,\"info\":…} per line)")
	from := fs.Int64("from", -1, "first height (--rpc)")
	to := fs.Int64("to", -1, "last height (--rpc)")
	conf := fs.Uint64("confirmations", 0, "stay this many blocks behind the node's tip (--rpc)")
	traces := fs.Bool("traces", false, "eth --rpc: also read each block's call traces (debug_traceBlockByHash) and store the ETH contracts send as internal transfers")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("unexpected arguments %v", pos)
	}
	given := 0
	for _, v := range []string{*etlDir, *rpcURL, *apiFile} {
		if v != "" {
			given++
		}
	}
	if given != 1 {
		return usageErr("give exactly one of --etl DIR, --rpc URL or (tron) --api FILE")
	}
	if err := checkRange(*from, *to); err != nil {
		return err
	}
	if *traces && (c != model.ETH || *rpcURL == "") {
		return usageErr("--traces reads call traces from an Ethereum node: eth --rpc only")
	}
	if *apiFile != "" && c != model.Tron {
		return usageErr("--api FILE reads java-tron HTTP API JSON: tron only")
	}
	st, err := openStore(env)
	if err != nil {
		return err
	}
	defer closeWritten(st, &err)
	if *rpcURL != "" || *apiFile != "" {
		rng := ingest.RPCRange{Confirmations: *conf}
		if *from >= 0 {
			rng.From, rng.HasFrom = uint64(*from), true
		}
		if *to >= 0 {
			rng.To, rng.HasTo = uint64(*to), true
		}
		var res *ingest.Result
		switch {
		case *apiFile != "":
			res, err = ingest.TronAPIFile(st, *apiFile, progressOpts(env))
		case c == model.Tron:
			res, err = ingest.TronAPI(st, *rpcURL, rng, progressOpts(env))
		default:
			res, err = ingest.ETHRPC(st, *rpcURL, rng, *traces, progressOpts(env))
			if err == nil && !*traces && !env.JSON {
				fmt.Fprintln(env.Stderr, "note: without --traces, ETH sent by contracts (internal transfers: mixer and multisig payouts) is not stored; balances of addresses paid that way are short")
			}
		}
		if err != nil {
			return err
		}
		if len(res.UnknownDecimals) > 0 && !env.JSON {
			fmt.Fprintf(env.Stderr, "warning: decimals unknown for %d token(s), amounts stay in base units: %s\n",
				len(res.UnknownDecimals), strings.Join(res.UnknownDecimals, ", "))
		}
		return printIngest(env, res)
	}
	res, err := ingest.ETL(st, c, *etlDir, progressOpts(env))
	if err != nil {
		return err
	}
	if c == model.ETH && !env.JSON {
		fmt.Fprintln(env.Stderr, "note: block credits are not read from exports (fee recipients' tips, withdrawals, mainnet mining rewards): balances of fee recipients, validators' withdrawal addresses and miners are short; spoor ingest eth --rpc stores them")
	}
	return printETL(env, res)
}

// printETL prints an ETL ingest's result; warnings go to stderr in human mode.
func printETL(env *Env, r *ingest.Result) error {
	s := r.ETL
	if env.JSON {
		return writeJSON(env.Stdout, map[string]any{
			"chain": r.Chain.String(), "applied_blocks": r.Applied, "skipped_blocks": r.Skipped,
			"txs": r.Txs, "height": r.Height, "seconds": r.Elapsed.Seconds(),
			"partitions": s.Units, "rows": s.Rows, "transfers": s.Transfers, "new_transfers": s.NewTransfers,
			"dropped_failed_token_transfers": s.DroppedFailed, "status_unknown_txs": s.StatusUnknown,
			"skipped_reward_traces": s.SkippedTraces, "dropped_failed_traces": s.DroppedFailedTraces,
			"facts": s.Facts, "tokens": s.Tokens, "blocks_without_time": s.NoTime,
			"unknown_decimals": nonNil(s.UnknownDecimals),
		})
	}
	fmt.Fprintf(env.Stdout, "%s: %d rows in %d partition(s); %d new blocks (%d already stored), %d new txs, %d new transfers of %d read; height %d; %.2fs\n",
		r.Chain, s.Rows, s.Units, r.Applied, r.Skipped, r.Txs, s.NewTransfers, s.Transfers, r.Height, r.Elapsed.Seconds())
	fmt.Fprintf(env.Stdout, "  %d token-transfer rows of failed txs dropped, %d blacklist facts, %d tokens described\n",
		s.DroppedFailed, s.Facts, s.Tokens)
	if old := s.Transfers - int64(s.NewTransfers); old > 0 {
		// A tx is stored once, with what the import that first stored it
		// carried: an export of the same range with more (traces) adds
		// nothing to it.
		fmt.Fprintf(env.Stdout, "  %d transfers belong to txs already stored and were not added again (a tx keeps what its first import gave it: internal transfers from a traces file must come with the range's first import)\n", old)
	}
	if s.StatusUnknown > 0 {
		fmt.Fprintf(env.Stderr, "warning: %d transactions have no receipt status (pre-Byzantium?): counted as succeeded\n", s.StatusUnknown)
	}
	if s.SkippedTraces > 0 {
		fmt.Fprintf(env.Stdout, "  %d reward/genesis/daofork trace rows skipped: they belong to no transaction and are not stored (mining rewards are not transfers here)\n", s.SkippedTraces)
	}
	if s.DroppedFailedTraces > 0 {
		fmt.Fprintf(env.Stderr, "warning: %d trace rows claim to move ETH inside failed transactions (receipt_status 0): dropped\n", s.DroppedFailedTraces)
	}
	if s.NoTime > 0 {
		fmt.Fprintf(env.Stderr, "warning: %d blocks have no time (no blocks file, no block_timestamp): their transfers cannot be valued in USD\n", s.NoTime)
	}
	if n := len(s.UnknownDecimals); n > 0 {
		list := s.UnknownDecimals
		more := ""
		if n > 20 {
			list, more = list[:20], fmt.Sprintf(" and %d more (--json lists all)", n-20)
		}
		fmt.Fprintf(env.Stderr, "warning: decimals unknown for %d token(s) (amounts stay in base units, no USD; add them to a tokens.csv): %s%s\n",
			n, strings.Join(list, ", "), more)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
