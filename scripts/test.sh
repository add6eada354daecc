#!/usr/bin/env bash
# Runs every spoor test on a fresh Debian 12 machine with Go installed.
# Installs what the tests need (pinned), then vets and tests all packages.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$(go env GOPATH)/bin:$PATH"
bash scripts/install-test-deps.sh

echo "== gofmt"
bad=$(gofmt -l cmd internal)
if [ -n "$bad" ]; then echo "not gofmt-clean: $bad"; exit 1; fi
echo "== go vet"
go vet ./...
echo "== go test"
go test -count=1 -timeout 25m ./...
echo "== go test -race (the store's two-goroutine Apply and background segment close)"
go test -count=1 -race -timeout 10m -run 'Pipelined|TinySegments|ReadsGolden|BackgroundClose|SpareAdj|AddrStage|Sweeps' ./internal/store/pebblestore/
echo "== go test -race (ETL hand-overs and decoded Bitcoin blocks recycled between the decoders and Apply; the Bitcoin RPC fetcher's planner and requests in flight)"
go test -count=1 -race -timeout 10m -run 'Recycle|ReturnEarly|TestStreamRecycled|TestRPC' ./internal/ingest ./internal/chain/etl ./internal/chain/btc
