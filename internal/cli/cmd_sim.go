package cli

import (
	"fmt"
	"sort"
	"time"

	"github.com/spoor-dev/spoor/internal/sim"
)

func init() {
	register("sim", "generate a ground-truth world: spoor sim --seed N --out DIR [--scale small|medium|large | --transfers N] [--gzip]", runSim)
}

func runSim(env *Env, args []string) error {
	fs := newFlags(env, "sim")
	seed := fs.Uint64("seed", 1, "world seed: the same seed writes the same bytes")
	out := fs.String("out", "", "output folder (created; must be empty)")
	scale := fs.String("scale", "", "small (~30k transfers, the demo world), medium (~10^6) or large (~10^7)")
	transfers := fs.Int64("transfers", 0, "about this many transfers (instead of --scale)")
	gz := fs.Bool("gzip", false, "gzip the ETL CSVs and the Tron API JSON lines (*.gz: about 30% of the disk)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("unexpected arguments %v", pos)
	}
	if *out == "" {
		return usageErr("--out DIR is required")
	}
	if *scale != "" && *transfers != 0 {
		return usageErr("give --scale or --transfers, not both")
	}
	var cfg sim.Config
	if *transfers != 0 {
		cfg, err = sim.TransfersConfig(*transfers, *seed)
	} else {
		if *scale == "" {
			*scale = "small"
		}
		cfg, err = sim.ScaleConfig(*scale, *seed)
	}
	if err != nil {
		return usageErr("%v", err)
	}
	cfg.Version = "dev"
	cfg.Compress = *gz
	t0 := time.Now()
	m, err := sim.Generate(cfg, *out)
	if err != nil {
		return err
	}
	secs := time.Since(t0).Seconds()
	if env.JSON {
		return writeJSON(env.Stdout, map[string]any{"out": *out, "manifest": m, "seconds": secs})
	}
	fmt.Fprintf(env.Stdout, "world seed %d (%s): %d transfers, %d actors, %d addresses, %s .. %s, %.2fs\n",
		m.Seed, m.Scale, m.Transfers, m.Actors, m.Addresses, m.Start, m.End, secs)
	names := make([]string, 0, len(m.Chains))
	for n := range m.Chains {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := m.Chains[n]
		fmt.Fprintf(env.Stdout, "  %-4s %6d blocks %8d txs %9d transfers  (%s in %s/%s)\n", n, c.Blocks, c.Txs, c.Transfers, c.Format, *out, c.Path)
	}
	fmt.Fprintf(env.Stdout, "  truth: %s/truth.json  starting tags: %s/tagpack.yaml\n", *out, *out)
	return nil
}
