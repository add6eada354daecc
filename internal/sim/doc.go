// Package sim generates ground-truth worlds: realistic activity of exchanges,
// users, merchants, a payment processor, terrorist-financing (TF) actors and
// look-alike noise on Bitcoin, Tron (TRX and USDT-TRC20) and Ethereum (ETH and
// an ERC-20 stablecoin) at once, written in the formats real users have
// (Bitcoin Core blk records, ethereum-etl CSVs, java-tron HTTP API JSON, a
// USD price series, a GraphSense TagPack of what an investigator knows at the
// start), together with truth.json: who controls every address, every planted
// typology, every TF flow and the final balance of every address.
//
// A world is a pure function of its seed and size: one math/rand/v2 PCG
// stream drives every choice, no map is iterated into the output and no
// clock is read, so the same seed writes the same bytes. Generation streams:
// blocks and rows are written as they are produced; the only state kept is
// bounded per actor (address pools with a cap, UTXO sets that are spent down,
// account balances), so memory stays flat while the transfer count grows.
// TF actors and planted noise are bounded in number per scale: they are the
// needles, the background economy is the haystack that grows.
//
// # Chains
//
// Bitcoin is a complete regtest chain from the genesis block: 200 premined
// blocks (the first 100 rewards mature), then one block per 10 simulated
// minutes; coinbases pay the regtest subsidy plus fees to the miner, carry
// BIP 141 witness commitments, and their outputs are spent only after 100
// blocks; every input spends an unspent output; headers meet regtest's
// proof-of-work target. Signatures are shaped like real ones but do not
// verify. Tron (3 s blocks from height 37,500,000) and Ethereum (12 s blocks
// from 13,916,166) start on 2022-01-01 and are exported like a filtered
// BigQuery extract: only blocks with a transaction of the world appear;
// every block hash derives from the seed and the height, so parent hashes
// are consistent across gaps. What the account chains' issuers held before
// the export is in truth's openings.
//
// # Folder layout
//
// See docs/formats.md: manifest.json, btc/blk*.dat, tron/etl/*.csv,
// tron/api/blocks.jsonl, eth/etl/*.csv, prices.csv, tagpack.yaml, truth.json.
//
// # truth.json schema
//
// One JSON object; arrays hold one element per line. Amounts are unsigned
// integers in base units written as decimal strings (satoshi, sun, wei, token
// base units); never floats. Addresses are in the display form spoor prints:
// Bitcoin regtest bech32/base58 (bcrt1…, m…/n…, 2…), Tron base58check T…,
// Ethereum EIP-55. Transaction ids as spoor prints them: Bitcoin and Tron 64
// hex digits (Bitcoin in the usual byte-reversed display order), Ethereum
// 0x + 64 hex digits. Assets are symbols: BTC, TRX, USDT (Tron), ETH, USDC
// (Ethereum).
//
//	{
//	  "version": 1,
//	  "seed": 42,                      // --seed
//	  "scale": "small",                // or "custom"
//	  "start": "2022-01-01T00:00:00Z", // first simulated second (UTC)
//	  "end":   "2022-01-31T00:00:00Z",
//	  "usd_threshold": "1000",         // reporting threshold of the structuring typology (USD)
//	  "assets": [{"chain","asset","contract","decimals"}],
//	  "actors": [{"id","kind","role","name","addresses":[{"chain","address"}]}],
//	  "typologies": [{"id","kind","tf","actors":[actor ids],
//	                  "params":{string: string},
//	                  "transfers":[{"chain","txid","vout","from","to","asset","value"}]}],
//	  "flows": [{"id","campaign","cashout","chain","asset","from","to","value","path":[txid…]}],
//	  "openings": [{"chain","address","asset","balance"}],
//	  "balances": [{"chain","address","asset","balance"}]
//	}
//
// actors: every actor and every address it controls, in creation order.
// kind is one of miner, issuer, exchange, user, merchant, payment_processor,
// employer, charity, coinjoin_coordinator, mixer, swap_service,
// money_changer, campaign, collector, financier, recruit, cashier (the TF
// member who cashes out at an exchange). role refines it (e.g. "indonesian
// retail exchange", "donor", "treasurer"). name is a human label.
//
// typologies: every planted instance. tf is true for terrorist financing,
// false for look-alike noise. kinds: crowdfunding, fixed_increments,
// exchange_donors, per_donor_addresses (collector consolidation), peel_chain,
// pass_through (money changer), structuring, chain_hop, recruiting, payroll,
// charity_fan_in, coinjoin, mixer, internal_transfers (payment processor),
// exchange_sweep, tron_topup and gas_topup (a feeder top-up followed by the token
// sweep, on Tron and Ethereum), cold_move, utxo_consolidation. params carry the
// instance's parameters (e.g. "increment", "threshold_usd", "hops",
// "xmr_address"). A transfer on Bitcoin is one output: vout is its index and
// from is the address of the transaction's first input; on the account
// chains vout is -1 and the transfer is the transaction's native value or
// its token transfer. For the swap-out side of a chain hop into Monero,
// chain is "xmr", txid is empty and to is a Monero address that is only a
// label: it never appears in the transparent data.
//
// flows: each TF flow that ends at a cash-out exchange deposit address:
// campaign is the campaign actor, cashout the exchange actor, from the
// campaign address the funds left, to the deposit address, value what
// arrived there, path the transaction ids from the campaign address to the
// deposit address in order. chain and asset are those of the arrival; a
// flow that hops chains through the swap service starts on another chain
// (from is then a Tron address, path mixes Tron and Bitcoin ids).
//
// openings: balances held before the first exported block on the account
// chains (the issuers' genesis allocation and token treasury). The data can
// not show them: for these addresses spoor's received − sent equals
// balance − opening.
//
// balances: the final balance of every address in every asset it touched.
package sim
