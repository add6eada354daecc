package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spoor-dev/spoor/internal/model"
)

func init() {
	ingesters["all"] = ingestAll
}

// allStep is one source found in a folder given to `spoor ingest all`.
type allStep struct {
	name   string // what it is, e.g. "btc blk files"
	source string // the path it reads
	run    func(env *Env) error
}

// findAllSteps lists, in order, the sources of a folder laid out as
// docs/formats.md describes (the simulator's layout; real exports arranged the
// same way work too). Tron is read from its ETL export when present, else from
// the java-tron API JSON lines: both describe the same transactions.
func findAllSteps(dir string) []allStep {
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	var steps []allStep
	if p := filepath.Join(dir, "btc"); exists(p) {
		steps = append(steps, allStep{"btc blk files", p, func(env *Env) error { return ingestBTC(env, []string{"--blocks", p}) }})
	}
	if p := filepath.Join(dir, "tron", "etl"); exists(p) {
		steps = append(steps, allStep{"tron ETL export", p, func(env *Env) error { return ingestAccount(env, model.Tron, []string{"--etl", p}) }})
	} else {
		for _, name := range []string{"blocks.jsonl", "blocks.jsonl.gz"} { // spoor sim --gzip writes the .gz
			if p := filepath.Join(dir, "tron", "api", name); exists(p) {
				steps = append(steps, allStep{"tron java-tron API JSON", p, func(env *Env) error { return ingestAccount(env, model.Tron, []string{"--api", p}) }})
				break
			}
		}
	}
	if p := filepath.Join(dir, "eth", "etl"); exists(p) {
		steps = append(steps, allStep{"eth ETL export", p, func(env *Env) error { return ingestAccount(env, model.ETH, []string{"--etl", p}) }})
	}
	if p := filepath.Join(dir, "prices.csv"); exists(p) {
		steps = append(steps, allStep{"USD prices", p, func(env *Env) error { return pricesImport(env, p) }})
	}
	if p := filepath.Join(dir, "tagpack.yaml"); exists(p) {
		steps = append(steps, allStep{"attribution TagPack", p, func(env *Env) error { return tagsImport(env, []string{p}) }})
	}
	return steps
}

// ingestAll is `spoor ingest all DIR`: every chain in the folder in its own
// format, then prices and the starting tags. It stops at the first failing
// source; each source's own ingest leaves the store as it was on failure, and
// what earlier sources stored stays (re-running skips it: every ingest is
// idempotent).
func ingestAll(env *Env, args []string) error {
	fs := newFlags(env, "ingest all")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := requireArgs(pos, 1, "spoor ingest all DIR"); err != nil {
		return err
	}
	dir := pos[0]
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("%s: not a folder (want a folder with btc/, tron/etl/ or tron/api/, eth/etl/, prices.csv, tagpack.yaml)", dir)
	}
	steps := findAllSteps(dir)
	if len(steps) == 0 {
		return fmt.Errorf("%s: nothing to ingest: no btc/, tron/etl/, tron/api/blocks.jsonl[.gz], eth/etl/, prices.csv or tagpack.yaml", dir)
	}
	type stepJSON struct {
		Step   string          `json:"step"`
		Source string          `json:"source"`
		Result json.RawMessage `json:"result"`
	}
	var done []stepJSON
	var report bytes.Buffer // human mode: printed once every step succeeded
	var names []string
	for _, s := range steps {
		// Each step's output is collected: on an error stdout stays empty
		// (the CLI contract) and stderr says which steps are stored.
		var buf bytes.Buffer
		sub := *env
		sub.Stdout = &buf
		if err := s.run(&sub); err != nil {
			kept := ""
			if len(names) > 0 {
				kept = fmt.Sprintf(" (stored before it, kept, skipped by a re-run: %s)", strings.Join(names, ", "))
			}
			return fmt.Errorf("%s (%s): %w%s", s.name, s.source, err, kept)
		}
		names = append(names, s.name)
		if !env.JSON {
			fmt.Fprintf(&report, "== %s: %s\n", s.name, s.source)
			report.Write(buf.Bytes())
			continue
		}
		raw := bytes.TrimSpace(buf.Bytes())
		if !json.Valid(raw) {
			return fmt.Errorf("%s: step printed no JSON object", s.name)
		}
		done = append(done, stepJSON{s.name, s.source, raw})
	}
	if !env.JSON {
		_, err := env.Stdout.Write(report.Bytes())
		return err
	}
	return writeJSON(env.Stdout, map[string]any{"dir": dir, "steps": done})
}
