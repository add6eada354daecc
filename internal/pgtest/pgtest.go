// Package pgtest starts a throw-away PostgreSQL 15 cluster on a loopback
// port for the benchmarks that compare spoor with PostgreSQL (the peer a
// user would otherwise load an export into). Test support only: nothing in
// the spoor binary imports it.
package pgtest

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
)

// Bin is where Debian's postgresql-15 package installs the server.
const Bin = "/usr/lib/postgresql/15/bin"

// Cluster is a running throw-away cluster; it is stopped and deleted when
// the test or benchmark that started it ends.
type Cluster struct {
	Port   string
	dir    string
	asUser string // run the server as this user (we are root)
}

func (p *Cluster) cmd(name string, args ...string) *exec.Cmd {
	path := filepath.Join(Bin, name)
	if p.asUser != "" {
		return exec.Command("runuser", append([]string{"-u", p.asUser, "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

// DSN is the connection string of the cluster's postgres database.
func (p *Cluster) DSN() string {
	return fmt.Sprintf("host=127.0.0.1 port=%s user=postgres dbname=postgres sslmode=disable", p.Port)
}

// Start initialises and starts a cluster on port, tuned for bulk loads
// (no fsync at initdb, 4 GB of WAL between checkpoints, 512 MB of shared
// buffers). It skips tb with a message when PostgreSQL 15 is not installed.
func Start(tb testing.TB, port string) *Cluster {
	tb.Helper()
	if _, err := os.Stat(filepath.Join(Bin, "initdb")); err != nil {
		tb.Skip("PostgreSQL 15 is not installed (apt-get install -y postgresql-15): skipping the comparison")
	}
	p := &Cluster{Port: port}
	dir, err := os.MkdirTemp("", "spoor-pg")
	if err != nil {
		tb.Fatal(err)
	}
	p.dir = dir
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			tb.Skip("running as root and no postgres user to run the server as")
		}
		p.asUser = "postgres"
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			tb.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := p.cmd("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync").CombinedOutput(); err != nil {
		tb.Fatalf("initdb: %v\n%s", err, out)
	}
	opts := fmt.Sprintf("-p %s -k %s -c listen_addresses=127.0.0.1 -c max_wal_size=4GB -c shared_buffers=512MB", p.Port, dir)
	if out, err := p.cmd("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start").CombinedOutput(); err != nil {
		tb.Fatalf("pg_ctl start: %v\n%s", err, out)
	}
	tb.Cleanup(func() {
		p.cmd("pg_ctl", "-D", data, "-m", "fast", "-w", "stop").Run()
		os.RemoveAll(dir)
	})
	return p
}

// TokenTransfersSchema creates ethereum-etl's token_transfers table as a
// user would load it: a primary key and an index on each address column.
const TokenTransfersSchema = `DROP TABLE IF EXISTS token_transfers;
CREATE TABLE token_transfers (
	token_address text NOT NULL, from_address text NOT NULL, to_address text NOT NULL,
	value numeric(78,0) NOT NULL, transaction_hash text NOT NULL, log_index integer NOT NULL,
	block_number bigint NOT NULL, block_timestamp bigint,
	PRIMARY KEY (transaction_hash, log_index));
CREATE INDEX ON token_transfers (from_address);
CREATE INDEX ON token_transfers (to_address);`
