// Command tracestat reads a Go execution trace of `spoor` (SPOOR_TRACE=FILE)
// and prints where the cores were busy and where they sat idle, and why:
//
//   - per goroutine kind (by the function it started in): time running, time
//     runnable (waiting for a core) and time blocked, by reason;
//   - a timeline in buckets of -b ms: the cores' use by role (decoders, the
//     applier, the store's indexer, the segment close, the collector) and the
//     trace regions the store marks (an Apply's resolve, indexer wait, log
//     syncs and commit; a close's encode and write);
//   - the idle cores: time a core had nothing to run, and time it sat idle
//     while a goroutine was runnable (wake-up latency), and the goroutine
//     states most often seen while a core was idle (-i).
//
// It is a separate module (golang.org/x/exp/trace stays out of spoor's).
// Usage: cd scripts/tracestat && go run . [-b 20] [-i] [-procs 2] TRACE
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"golang.org/x/exp/trace"
)

var (
	bucket   = flag.Int64("b", 20, "timeline bucket, ms")
	showIdle = flag.Bool("i", false, "print the goroutine states seen while a core was idle")
	procs    = flag.Int("procs", 2, "cores (GOMAXPROCS) of the traced run")
)

type gor struct {
	fn                    string // start function
	state                 trace.GoState
	since, waitAt, rnblAt trace.Time
	why                   string
	run, runnable         trace.Time
	waits                 map[string]trace.Time
}

type span struct {
	key        string
	start, end trace.Time
}

func startFunc(st trace.Stack) string {
	last := ""
	for f := range st.Frames() {
		last = f.Func
	}
	return last
}

// role names what a goroutine does in an ingest.
func role(fn string) string {
	switch {
	case strings.Contains(fn, "decodeBlocks.func1"):
		return "decode"
	case fn == "main.main":
		return "apply"
	case strings.Contains(fn, "indexer).send"):
		return "indexer"
	case strings.Contains(fn, "gcBgMarkWorker"):
		return "gc"
	case strings.Contains(fn, "pebblestore") && (strings.Contains(fn, "lose") || strings.Contains(fn, "Seg") ||
		strings.Contains(fn, "pack") || strings.Contains(fn, "encode")):
		return "close"
	}
	return "other"
}

var roles = []string{"decode", "apply", "indexer", "close", "gc", "other"}

func main() {
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: tracestat [-b MS] [-i] [-procs N] TRACE")
		os.Exit(2)
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	r, err := trace.NewReader(f)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", flag.Arg(0), err)
		os.Exit(1)
	}
	gs := map[trace.GoID]*gor{}
	get := func(id trace.GoID) *gor {
		g := gs[id]
		if g == nil {
			g = &gor{waits: map[string]trace.Time{}}
			gs[id] = g
		}
		return g
	}
	var runs, regions []span // running spans (key: role), regions and ranges (key: name)
	open := map[trace.GoID][]int{}
	rangeOpen := map[string]trace.Time{}
	idleStates := map[string]float64{}
	var t0, last trace.Time
	var idleNone, idleRunnable float64
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", flag.Arg(0), err)
			os.Exit(1)
		}
		now := ev.Time()
		if t0 == 0 {
			t0 = now
		}
		if last != 0 && now > last {
			running, runnable := 0, 0
			for _, g := range gs {
				switch g.state {
				case trace.GoRunning:
					running++
				case trace.GoRunnable:
					runnable++
				}
			}
			if idle := *procs - running; idle > 0 {
				dt := float64(now - last)
				busy := min(idle, runnable)
				idleRunnable += dt * float64(busy)
				idleNone += dt * float64(idle-busy)
				if *showIdle {
					var parts []string
					for _, g := range gs {
						if g.state == trace.GoRunning || g.state == trace.GoRunnable || g.state == trace.GoSyscall ||
							g.state == trace.GoWaiting && role(g.fn) != "other" && role(g.fn) != "gc" {
							s := g.state.String()
							if g.state == trace.GoWaiting {
								s = g.why
							}
							parts = append(parts, role(g.fn)+"="+s)
						}
					}
					sort.Strings(parts)
					idleStates[fmt.Sprintf("%d idle: %s", idle, strings.Join(parts, " "))] += dt * float64(idle)
				}
			}
		}
		last = now
		switch ev.Kind() {
		case trace.EventStateTransition:
			st := ev.StateTransition()
			if st.Resource.Kind != trace.ResourceGoroutine {
				continue
			}
			g := get(st.Resource.Goroutine())
			from, to := st.Goroutine()
			if g.fn == "" {
				g.fn = startFunc(st.Stack)
			}
			if from == trace.GoRunning && to != trace.GoRunning {
				g.run += now - g.since
				runs = append(runs, span{role(g.fn), g.since, now})
				g.waitAt, g.why = now, to.String()+" "+st.Reason
			}
			if to == trace.GoRunnable {
				g.rnblAt = now
			}
			if to == trace.GoRunning && from != trace.GoRunning {
				g.since = now
				if from == trace.GoRunnable && g.rnblAt != 0 {
					g.runnable += now - g.rnblAt
				}
				if g.waitAt != 0 {
					g.waits[g.why] += now - g.waitAt
					g.waitAt = 0
				}
			}
			g.state = to
		case trace.EventRegionBegin:
			regions = append(regions, span{ev.Region().Type, now, 0})
			open[ev.Goroutine()] = append(open[ev.Goroutine()], len(regions)-1)
		case trace.EventRegionEnd:
			if o := open[ev.Goroutine()]; len(o) > 0 {
				regions[o[len(o)-1]].end = now
				open[ev.Goroutine()] = o[:len(o)-1]
			}
		case trace.EventRangeBegin:
			rangeOpen[fmt.Sprint(ev.Range().Name, ev.Goroutine())] = now
		case trace.EventRangeEnd:
			k := fmt.Sprint(ev.Range().Name, ev.Goroutine())
			if s, ok := rangeOpen[k]; ok {
				regions = append(regions, span{ev.Range().Name, s, now})
				delete(rangeOpen, k)
			}
		}
	}
	for _, g := range gs {
		if g.state == trace.GoRunning {
			g.run += last - g.since
			runs = append(runs, span{role(g.fn), g.since, last})
		}
	}
	ms := func(t float64) float64 { return t / 1e6 }
	fmt.Printf("trace %.1f ms, %d cores: idle with nothing to run %.1f core-ms, idle while a goroutine was runnable %.1f core-ms\n",
		ms(float64(last-t0)), *procs, ms(idleNone), ms(idleRunnable))

	// Goroutines by start function.
	type sum struct {
		fn            string
		n             int
		run, runnable trace.Time
		waits         map[string]trace.Time
	}
	byFn := map[string]*sum{}
	for _, g := range gs {
		s := byFn[g.fn]
		if s == nil {
			s = &sum{fn: g.fn, waits: map[string]trace.Time{}}
			byFn[g.fn] = s
		}
		s.n++
		s.run += g.run
		s.runnable += g.runnable
		for k, v := range g.waits {
			s.waits[k] += v
		}
	}
	var sums []*sum
	for _, s := range byFn {
		if s.run >= 1e6 {
			sums = append(sums, s)
		}
	}
	sort.Slice(sums, func(i, j int) bool { return sums[i].run > sums[j].run })
	for _, s := range sums {
		var ws []string
		for k, v := range s.waits {
			if v >= 2e6 && !strings.HasPrefix(k, "Runnable") {
				ws = append(ws, fmt.Sprintf("%s %.0f", k, ms(float64(v))))
			}
		}
		sort.Strings(ws)
		fmt.Printf("%-72s x%-3d run %6.1f  runnable %6.1f  blocked ms: %s\n", s.fn, s.n, ms(float64(s.run)), ms(float64(s.runnable)), strings.Join(ws, ", "))
	}

	// Timeline.
	b := trace.Time(*bucket * 1e6)
	nb := int((last-t0)/b) + 1
	spread := func(spans []span) []map[string]float64 {
		grid := make([]map[string]float64, nb)
		for i := range grid {
			grid[i] = map[string]float64{}
		}
		for _, s := range spans {
			if s.end == 0 {
				s.end = last
			}
			for t := s.start; t < s.end; {
				i := int((t - t0) / b)
				e := min(t0+trace.Time(i+1)*b, s.end)
				grid[i][s.key] += float64(e-t) / float64(b)
				t = e
			}
		}
		return grid
	}
	use, reg := spread(runs), spread(regions)
	fmt.Printf("\n%6s %5s", "ms", "cores")
	for _, r := range roles {
		fmt.Printf(" %7s", r)
	}
	fmt.Println("  regions (share of the bucket)")
	for i := 0; i < nb; i++ {
		total := 0.0
		for _, v := range use[i] {
			total += v
		}
		fmt.Printf("%6d %5.2f", int64(i)**bucket, total)
		for _, r := range roles {
			fmt.Printf(" %7.2f", use[i][r])
		}
		var rs []string
		for k, v := range reg[i] {
			if v >= 0.05 {
				rs = append(rs, fmt.Sprintf("%s %.2f", k, v))
			}
		}
		sort.Strings(rs)
		fmt.Printf("  %s\n", strings.Join(rs, "; "))
	}
	tot, n := map[string]trace.Time{}, map[string]int{}
	for _, s := range regions {
		if s.end == 0 {
			s.end = last
		}
		tot[s.key] += s.end - s.start
		n[s.key]++
	}
	var keys []string
	for k := range tot {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Println()
	for _, k := range keys {
		fmt.Printf("region %-45s x%-4d %8.1f ms\n", k, n[k], ms(float64(tot[k])))
	}
	if *showIdle {
		type kv struct {
			k string
			v float64
		}
		var kvs []kv
		for k, v := range idleStates {
			kvs = append(kvs, kv{k, v})
		}
		sort.Slice(kvs, func(i, j int) bool { return kvs[i].v > kvs[j].v })
		fmt.Println()
		for i, x := range kvs {
			if i == 20 {
				break
			}
			fmt.Printf("idle %7.1f core-ms  %s\n", ms(x.v), x.k)
		}
	}
}
