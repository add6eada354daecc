package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"syscall"

	"github.com/spoor-dev/spoor/internal/attrib"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/sim"
)

// cmdDemo builds a small simulated world (Bitcoin, Tron, Ethereum; a
// crowdfunding campaign, its donors, its cash-out, and the noise around
// them), ingests it the way a user ingests real exports, and walks through
// the reference case from the brief: a campaign address from OSINT, who paid
// in, where it went — then checks what spoor found against the world's
// truth. --mainnet walks through real Bitcoin blocks instead.
func cmdDemo(env *Env, args []string) error {
	// The walk-through is printed once it has run: a failure leaves stdout
	// empty (the CLI contract), its error on stderr.
	var buf bytes.Buffer
	sub := *env
	sub.Stdout = &buf
	if err := demo(&sub, args); err != nil {
		return err
	}
	_, err := env.Stdout.Write(buf.Bytes())
	return err
}

func demo(env *Env, args []string) error {
	fs := newFlags(env, "demo")
	keep := fs.Bool("keep", false, "keep the temporary folder (world and store) and print its path")
	seed := fs.Uint64("seed", 1, "world seed")
	mainnet := fs.Bool("mainnet", false, "walk through real Bitcoin mainnet blocks 0-14,131 instead of a simulated world")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("unexpected arguments %v", pos)
	}
	if env.JSON {
		return usageErr("--json: the demo is a walk-through for people; its commands take --json one by one")
	}
	if dataDirGiven(env) {
		// The demo ingests a simulated (or mainnet) world: never into a
		// store that holds a case already (SPOOR_DATA set for real work).
		if ents, err := os.ReadDir(chainDir(env)); err == nil && len(ents) > 0 {
			return fmt.Errorf("data folder %s already holds a store: the demo would mix its simulated world into it; give an empty --data folder, or unset SPOOR_DATA and give none (a temporary folder is used)", env.DataDir)
		}
	}
	if *mainnet {
		return demoMainnet(env, keep)
	}
	var interrupted atomic.Bool
	tmp, err := os.MkdirTemp("", "spoor-demo-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(tmp)
		// Ctrl-C ends the process before deferred calls run: remove the
		// temporary world and store then too.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sig)
		go func() {
			// The first Ctrl-C stops the demo at the next step (its deferred
			// clean-up then runs with nothing writing); a second one exits
			// at once.
			if _, ok := <-sig; !ok {
				return
			}
			interrupted.Store(true)
			if _, ok := <-sig; ok {
				os.RemoveAll(tmp)
				os.Exit(130)
			}
		}()
	}
	world := filepath.Join(tmp, "world")
	if !dataDirGiven(env) {
		env.DataDir = filepath.Join(tmp, "data")
	}
	w := env.Stdout
	step := 0
	title := func(format string, a ...any) error {
		if interrupted.Load() {
			return fmt.Errorf("interrupted; temporary folder removed")
		}
		step++
		fmt.Fprintf(w, "\n== %d. %s\n", step, fmt.Sprintf(format, a...))
		return nil
	}
	if err := title("A simulated world with known truth (spoor sim): exchanges, users, a payment processor, mixers, CoinJoins, and terrorist-financing campaigns"); err != nil {
		return err
	}
	if err := runSim(env, []string{"--seed", strconv.FormatUint(*seed, 10), "--out", world, "--scale", "small"}); err != nil {
		return err
	}
	if err := title("Ingest it as a user ingests real exports (spoor ingest all): Bitcoin blk files, Tron and Ethereum ETL CSVs, USD prices, the starting TagPack"); err != nil {
		return err
	}
	if err := ingestAll(env, []string{world}); err != nil {
		return err
	}
	if err := title("What the investigator knows at the start (spoor tags stats)"); err != nil {
		return err
	}
	if err := tagsStats(env, nil); err != nil {
		return err
	}
	truth, err := sim.ReadTruth(filepath.Join(world, "truth.json"))
	if err != nil {
		return err
	}
	c, addr, label, err := demoCampaign(env, truth)
	if err != nil {
		return err
	}
	if err := title("The lead: %q, an address posted on a Telegram channel (spoor tags show)", label); err != nil {
		return err
	}
	if err := tagsShow(env, []string{c.String(), addr}); err != nil {
		return err
	}
	if err := title("What it received and sent, valued in USD at each transfer's time (spoor address)"); err != nil {
		return err
	}
	if err := cmdAddress(env, []string{c.String(), addr}); err != nil {
		return err
	}
	if err := title("Backward: who paid in? (spoor counterparties) — note the exchange hot wallet paying in round increments"); err != nil {
		return err
	}
	if err := cmdCounterparties(env, []string{c.String(), addr, "--limit", "10"}); err != nil {
		return err
	}
	if err := title("Forward: where did it go? (spoor counterparties --out)"); err != nil {
		return err
	}
	if err := cmdCounterparties(env, []string{c.String(), addr, "--out", "--limit", "10"}); err != nil {
		return err
	}
	if err := title("Checked against the world's truth (truth.json)"); err != nil {
		return err
	}
	demoTruth(w, truth, addr)
	fmt.Fprintln(w, "\nNot built yet (see the open issues): entity clustering, multi-hop tracing to the cash-out, typology detection, screening API, evidence packages, web UI, Monero.")
	if *keep {
		fmt.Fprintf(w, "\nKept: world %s, store %s (spoor --data %s address %s %s)\n", world, env.DataDir, env.DataDir, c, addr)
	}
	return nil
}

// demoCampaign returns the lead the walk-through starts from: the world's
// crowdfunding campaign address (as truth.json names it; the investigator
// knows it from the OSINT tag in the starting TagPack) and that tag's label.
func demoCampaign(env *Env, truth *sim.Truth) (model.Chain, string, string, error) {
	for _, ty := range truth.Typologies {
		addr := ty.Params["address"]
		if ty.Kind != "crowdfunding" || addr == "" {
			continue
		}
		for _, x := range ty.Transfers {
			if x.To != addr {
				continue
			}
			c, err := model.ParseChain(x.Chain)
			if err != nil {
				return 0, "", "", err
			}
			label := "campaign address"
			if aa, err := openAddress(env, x.Chain, addr); err == nil {
				if tags, err := aa.st.Tags(attrib.Subject{Chain: c, Kind: attrib.SubjectAddress, Bytes: aa.addr}); err == nil && len(tags) > 0 {
					label = tags[0].Label
				}
				aa.st.Close()
			}
			return c, addr, label, nil
		}
	}
	return 0, "", "", fmt.Errorf("demo: the world plants no crowdfunding campaign")
}

// demoTruth prints what the world's truth says about the campaign address, so
// the walk-through can be checked, not just believed.
func demoTruth(w io.Writer, truth *sim.Truth, addr string) {
	for _, ty := range truth.Typologies {
		n := 0
		for _, x := range ty.Transfers {
			if x.To == addr || x.From == addr {
				n++
			}
		}
		if n == 0 && ty.Params["address"] != addr {
			continue
		}
		params := make([]string, 0, len(ty.Params))
		for k, v := range ty.Params {
			params = append(params, k+"="+v)
		}
		sort.Strings(params)
		fmt.Fprintf(w, "  planted %-22s actors %v, %d transfers touch this address %v\n", ty.Kind, ty.Actors, n, params)
	}
	flows := 0
	for _, f := range truth.Flows {
		if f.From == addr {
			flows++
		}
	}
	fmt.Fprintf(w, "  %d of the world's %d TF flows to a cash-out start at this address\n", flows, len(truth.Flows))
}
