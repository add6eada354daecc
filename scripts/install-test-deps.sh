#!/usr/bin/env bash
# Installs the real servers and tools spoor's tests run against. Idempotent.
set -euo pipefail
GOBIN="$(go env GOPATH)/bin"

# A real Bitcoin node for the regtest tests: btcd and btcctl, pinned.
if [ ! -x "$GOBIN/btcd" ] || [ ! -x "$GOBIN/btcctl" ]; then
  echo "== installing btcd, btcctl v0.24.2"
  go install github.com/btcsuite/btcd@v0.24.2 github.com/btcsuite/btcd/cmd/btcctl@v0.24.2
fi
# Real mainnet blocks from btcd's module test data.
go mod download github.com/btcsuite/btcd
