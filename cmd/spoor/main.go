// Command spoor is an open blockchain-intelligence tool: ingest chains,
// attribute and cluster addresses, trace and screen value. See README.md.
package main

import (
	"os"

	"github.com/spoor-dev/spoor/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
