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
func ingestAccount(env *Env, c model.Chain, args []string) error {
	name := "ingest " + c.String()
	fs := newFlags(env, name)
	etlDir := fs.String("etl", "", "ethereum-etl / BigQuery CSV export folder (blocks, transactions, receipts, token_transfers, tokens, logs *.csv[.gz])")
	rpcURL := fs.String("rpc", "", "node URL: Ethereum JSON-RPC, or java-tron HTTP API")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("unexpected arguments %v", pos)
	}
	if (*etlDir == "") == (*rpcURL == "") {
		return usageErr("give exactly one of --etl DIR or --rpc URL")
	}
	if *rpcURL != "" {
		// --rpc dispatches here to the node adapters once they are merged:
		// ingest.ETHRPC(st, …) for eth and ingest.TronAPI(st, …) for tron
		// (branch `node`), with their range/confirmation flags.
		return usageErr("--rpc is not in this build of spoor ingest %s; use --etl DIR", c)
	}
	st, err := openStore(env)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := ingest.ETL(st, c, *etlDir, progressOpts(env))
	if err != nil {
		return err
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
			"facts": s.Facts, "tokens": s.Tokens, "blocks_without_time": s.NoTime,
			"unknown_decimals": nonNil(s.UnknownDecimals),
		})
	}
	fmt.Fprintf(env.Stdout, "%s: %d rows in %d partition(s); %d new blocks (%d already stored), %d new txs, %d new transfers of %d read; height %d; %.2fs\n",
		r.Chain, s.Rows, s.Units, r.Applied, r.Skipped, r.Txs, s.NewTransfers, s.Transfers, r.Height, r.Elapsed.Seconds())
	fmt.Fprintf(env.Stdout, "  %d token-transfer rows of failed txs dropped, %d blacklist facts, %d tokens described\n",
		s.DroppedFailed, s.Facts, s.Tokens)
	if s.StatusUnknown > 0 {
		fmt.Fprintf(env.Stderr, "warning: %d transactions have no receipt status (pre-Byzantium?): counted as succeeded\n", s.StatusUnknown)
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
