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
func Main(args []string, stdout, stderr io.Writer) int {
	env := &Env{Stdout: stdout, Stderr: stderr}
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
		return 2
	}
	rest := fs.Args()
	if len(rest) == 0 {
		printUsage(stderr, fs)
		return 2
	}
	cmd, ok := commands[rest[0]]
	if !ok {
		fmt.Fprintf(stderr, "spoor: unknown command %q\n", rest[0])
		printUsage(stderr, fs)
		return 2
	}
	// Global flags may also follow the subcommand's positional arguments.
	sub := extractGlobal(rest[1:], env)
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

// extractGlobal pulls --json and --data out of a subcommand's arguments so
// `spoor address btc ADDR --json` works as the contract says.
func extractGlobal(args []string, env *Env) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--json" || a == "-json":
			env.JSON = true
		case a == "--data" || a == "-data":
			if i+1 < len(args) {
				env.DataDir = args[i+1]
				i++
			}
		case strings.HasPrefix(a, "--data="):
			env.DataDir = strings.TrimPrefix(a, "--data=")
		case a == "--":
			return append(out, args[i:]...)
		default:
			out = append(out, a)
		}
	}
	return out
}

func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "usage: spoor [--data DIR] [--json] COMMAND [args]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nglobal flags:")
	fs.PrintDefaults()
}

// newFlags returns a FlagSet for a subcommand that reports errors as usage errors.
func newFlags(env *Env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("spoor "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
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
