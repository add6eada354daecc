// Package cli implements the spoor command line: global flags, subcommand
// dispatch, JSON and human output, and exit codes. Each subcommand lives in its
// own file and registers itself with register.
package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"sort"
	"strings"
)

// Env is what every subcommand gets: global options and output streams.
type Env struct {
	DataDir string
	JSON    bool
	Stdout  io.Writer
	Stderr  io.Writer
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(env *Env, args []string) error
}

var commands = map[string]command{}

// register adds a subcommand; called from init functions of the command files.
func register(name, summary string, run func(env *Env, args []string) error) {
	if _, dup := commands[name]; dup {
		panic("cli: duplicate command " + name)
	}
	commands[name] = command{name, summary, run}
}

// errUsage marks errors caused by how spoor was called (exit code 2).
var errUsage = errors.New("usage")

func usageErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, args...)...)
}

// Main runs spoor with args and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) (code int) {
	env := &Env{Stdout: stdout, Stderr: stderr}
	defer func() {
		// No command may end in a Go panic; the one seen in practice is the
		// embedded store finding on-disk corruption.
		if r := recover(); r != nil {
			code = 1
			msg := fmt.Sprint(r)
			if strings.Contains(msg, "corruption") {
				fmt.Fprintf(stderr, "spoor: the store in %s is corrupted (%s); restore it from a backup, or ingest again into a new --data folder\n",
					env.DataDir, firstLine(msg))
				return
			}
			fmt.Fprintf(stderr, "spoor: internal error (a bug: please report it with what follows): %s\n%s", msg, debug.Stack())
		}
	}()
	fs := flag.NewFlagSet("spoor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defData := os.Getenv("SPOOR_DATA")
	if defData == "" {
		defData = "./spoor-data"
	}
	fs.StringVar(&env.DataDir, "data", defData, "data directory (env SPOOR_DATA)")
	fs.BoolVar(&env.JSON, "json", false, "print one JSON object")
	fs.Usage = func() { printUsage(stderr, fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0 // spoor --help: usage printed, as asked
		}
		return 2
	}
	rest := fs.Args()
	if len(rest) == 0 {
		printUsage(stderr, fs)
		return 2
	}
	if rest[0] == "help" {
		return help(rest[1:], stdout, stderr, fs)
	}
	cmd, ok := commands[rest[0]]
	if !ok {
		fmt.Fprintf(stderr, "spoor: unknown command %q\n", rest[0])
		printUsage(stderr, fs)
		return 2
	}
	// Global flags may also follow the subcommand's positional arguments.
	sub, err := extractGlobal(rest[1:], env)
	if err != nil {
		fmt.Fprintf(stderr, "spoor %s: %v\n", cmd.name, err)
		return 2
	}
	if env.DataDir == "" {
		// An empty --data would put the store in the working directory.
		fmt.Fprintf(stderr, "spoor %s: --data: want a folder, got an empty string\n", cmd.name)
		return 2
	}
	if p := os.Getenv("SPOOR_CPUPROFILE"); p != "" {
		// For operators and benchmarks: a CPU profile of the command.
		f, err := os.Create(p)
		if err != nil {
			fmt.Fprintf(stderr, "spoor: SPOOR_CPUPROFILE: %v\n", err)
			return 1
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "spoor: SPOOR_CPUPROFILE: %v\n", err)
			return 1
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if p := os.Getenv("SPOOR_TRACE"); p != "" {
		// For operators and benchmarks: an execution trace of the command
		// (`go tool trace`): which goroutines ran and which waited, when.
		f, err := os.Create(p)
		if err != nil {
			fmt.Fprintf(stderr, "spoor: SPOOR_TRACE: %v\n", err)
			return 1
		}
		if err := trace.Start(f); err != nil {
			fmt.Fprintf(stderr, "spoor: SPOOR_TRACE: %v\n", err)
			return 1
		}
		defer func() { trace.Stop(); f.Close() }()
	}
	if p := os.Getenv("SPOOR_MEMPROFILE"); p != "" {
		// For operators and benchmarks: a heap profile written when the
		// command ends (`go tool pprof -sample_index=alloc_space`: where
		// the memory a command touched was allocated).
		defer func() {
			f, err := os.Create(p)
			if err == nil {
				err = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
			if err != nil {
				fmt.Fprintf(stderr, "spoor: SPOOR_MEMPROFILE: %v\n", err)
			}
		}()
	}
	if err := cmd.run(env, sub); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "spoor %s: %v\n", cmd.name, err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// extractGlobal pulls --json and --data out of a subcommand's arguments so
// `spoor address btc ADDR --json` works as the contract says.
func extractGlobal(args []string, env *Env) ([]string, error) {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--json" || a == "-json":
			env.JSON = true
		case a == "--data" || a == "-data":
			if i+1 >= len(args) {
				return nil, fmt.Errorf("%s needs a folder", a)
			}
			env.DataDir = args[i+1]
			i++
		case strings.HasPrefix(a, "--data="):
			env.DataDir = strings.TrimPrefix(a, "--data=")
		case strings.HasPrefix(a, "-data="):
			env.DataDir = strings.TrimPrefix(a, "-data=")
		case a == "--":
			return append(out, args[i:]...), nil
		default:
			out = append(out, a)
		}
	}
	return out, nil
}

// help is `spoor help [COMMAND]`: the usage on stdout (exit 0), or the
// command's own --help.
func help(args []string, stdout, stderr io.Writer, fs *flag.FlagSet) int {
	if len(args) == 0 {
		fs.SetOutput(stdout)
		printUsage(stdout, fs)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "spoor help: unknown command %q\n", args[0])
		printUsage(stderr, fs)
		return 2
	}
	return Main(append([]string{cmd.name}, append(args[1:], "--help")...), stdout, stderr)
}

func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "usage: spoor [--data DIR] [--json] COMMAND [args]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	width := 0
	for n := range commands {
		names = append(names, n)
		width = max(width, len(n))
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s  %s\n", width, n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nglobal flags:")
	fs.PrintDefaults()
	fmt.Fprintln(w, "\nspoor help COMMAND (or spoor COMMAND --help) shows a command's flags.")
}

// newFlags returns a FlagSet for a subcommand that reports errors as usage
// errors. Its --help names the command's arguments (from its summary), not
// only its flags.
func newFlags(env *Env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("spoor "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage of spoor %s", name)
		if top, ok := commands[strings.Fields(name)[0]]; ok {
			fmt.Fprintf(w, " (%s)", top.summary)
		}
		fmt.Fprintln(w)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n == 0 {
			fmt.Fprintln(w, "  no flags of its own; global flags: --data DIR, --json")
			return
		}
		fmt.Fprintln(w, "flags:")
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses interleaved flags and positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageErr("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// writeJSON prints v as one JSON object followed by a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
