// Package cli is the duroxide command line: it inspects and drives the
// orchestration instances of a store, serves the store to LLM clients over
// MCP, runs and replays orchestration code, and measures the engine.
// cmd/duroxide is a thin main around Main; a program that links its own
// orchestrations can embed the same CLI, so that "replay" and "run" use its
// code:
//
//	func main() {
//		reg := runtime.NewRegistry()
//		// register orchestrations and activities…
//		os.Exit(cli.Main(os.Args[1:], &cli.Options{Registry: reg}))
//	}
//
//	duroxide list --store sqlite:app.db --status Running
//	duroxide history order-1 --store sqlite:app.db
//	duroxide mcp --store sqlite:app.db
//
// Every command takes --store DSN (or DUROXIDE_STORE) and --help. Exit
// codes: 0 success, 1 the operation failed, 2 the command line was wrong.
//
// # Adding a command
//
// Each command lives in its own file, cmd_<name>.go, and registers itself
// from an init function:
//
//	func init() {
//		register(&command{
//			name:     "replay",
//			args:     "ID [--execution N]",
//			summary:  "re-run registered code against a recorded history",
//			setup: func(fs *flag.FlagSet) runFunc {
//				exec := fs.Uint64("execution", 0, "execution to replay (default: the latest)")
//				return func(ctx context.Context, e *env, args []string) error {
//					id, err := oneArg(args, "ID")
//					...
//					c, done, err := e.client(false)
//					...
//				}
//			},
//		})
//	}
//
// setup declares the command's flags and returns the function that runs it;
// --store and --help are added for every command. Return usagef(...) for a
// bad command line (exit 2, usage printed) and any other error for a failed
// operation (exit 1).
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/duroxide/duroxide/core/runtime"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// envStore names the environment variable holding the default store DSN.
const envStore = "DUROXIDE_STORE"

// runFunc runs a command with its positional arguments (flags are parsed).
type runFunc func(ctx context.Context, e *env, args []string) error

// command is one subcommand of the CLI.
type command struct {
	// name is the word that selects the command.
	name string
	// args is the synopsis after the name: "ID [--execution N] [--json]".
	args string
	// summary is one line for the command list.
	summary string
	// help is the longer description printed by --help (optional).
	help string
	// noStore: the command does not use a store (no --store flag).
	noStore bool
	// setup declares the command's flags on fs and returns its body.
	setup func(fs *flag.FlagSet) runFunc
}

// commands is the command table, filled by register from each file's init.
var commands = map[string]*command{}

// register adds a command to the table; a duplicate name is a programming
// error.
func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("duroxide: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// env is what a command sees of the process: its streams, its environment
// and the store it was given.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// store is the DSN from --store, DUROXIDE_STORE or the global flag.
	store string
	// reg is the code linked into the program (nil if none).
	reg *runtime.Registry
}

// usageError is a wrong command line: exit 2 with the command's usage.
type usageError struct{ msg string }

func (u *usageError) Error() string { return u.msg }

// usagef reports a wrong command line.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// Options configure Main. A nil *Options links no code.
type Options struct {
	// Registry holds the orchestrations and activities linked into the
	// program: "replay" checks recorded histories against its code and
	// "run" serves it. Nil: only WebAssembly modules (--wasm) provide code.
	Registry *runtime.Registry
}

// Main runs the CLI with args (without the program name), on the process's
// standard streams and environment, until it finishes or the process gets
// SIGINT/SIGTERM, and returns the exit code.
func Main(args []string, opts *Options) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var reg *runtime.Registry
	if opts != nil {
		reg = opts.Registry
	}
	return run(ctx, args, os.Stdin, os.Stdout, os.Stderr, os.Getenv, reg)
}

// run runs the CLI with args (without the program name) and returns the
// exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string, reg *runtime.Registry) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, reg: reg}
	global := flag.NewFlagSet("duroxide", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	global.StringVar(&e.store, "store", getenv(envStore), "")
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printMainUsage(stdout)
			return exitOK
		}
		fmt.Fprintf(stderr, "duroxide: %v\n\n", err)
		printMainUsage(stderr)
		return exitUsage
	}
	rest := global.Args()
	if len(rest) == 0 {
		printMainUsage(stderr)
		return exitUsage
	}
	name := rest[0]
	if name == "help" {
		return runHelp(rest[1:], stdout, stderr)
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "duroxide: unknown command %q%s\n\n", name, suggest(name))
		printMainUsage(stderr)
		return exitUsage
	}
	fs := cmd.flags(e)
	body := cmd.setup(fs)
	pos, err := parseInterleaved(fs, rest[1:])
	if errors.Is(err, flag.ErrHelp) {
		cmd.printUsage(stdout, fs)
		return exitOK
	}
	if err == nil {
		if !cmd.noStore && strings.TrimSpace(e.store) == "" {
			err = usagef("no store given: pass --store DSN (sqlite:PATH, a SQLite file path or postgres://...) or set %s", envStore)
		} else {
			err = body(ctx, e, pos)
		}
	}
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "duroxide %s: %s\n\n", name, ue.msg)
		cmd.printUsage(stderr, fs)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "duroxide %s: %v\n", name, err)
		return exitFailed
	}
}

// flags builds the command's flag set with the flags every command has.
func (c *command) flags(e *env) *flag.FlagSet {
	fs := flag.NewFlagSet("duroxide "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if !c.noStore {
		fs.StringVar(&e.store, "store", e.store, "the store `DSN`: sqlite:PATH, a SQLite file path, sqlite::memory: or postgres://... (default $"+envStore+")")
	}
	return fs
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments ("status ID --json"), and returns the positionals.
// "--" ends the flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func (c *command) printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: duroxide %s %s\n\n", c.name, c.args)
	fmt.Fprintf(w, "%s.\n", upperFirst(c.summary))
	if c.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.help))
	}
	fmt.Fprintf(w, "\nFlags:\n")
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		name := "--" + f.Name
		if kind != "" {
			name += " " + kind
		}
		fmt.Fprintf(w, "  %s\n      %s", name, usage)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.Name != "store" && f.Name != "token" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
	fmt.Fprintf(w, "  --help\n      show this help\n")
}

func printMainUsage(w io.Writer) {
	fmt.Fprintf(w, `duroxide inspects and drives the orchestrations of a duroxide store.

Usage: duroxide [--store DSN] COMMAND [ARGS] [FLAGS]

Commands:
`)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, name := range slices.Sorted(maps.Keys(commands)) {
		fmt.Fprintf(tw, "  %s\t%s\n", name, commands[name].summary)
	}
	fmt.Fprintf(tw, "  help\tshow the help of a command\n")
	tw.Flush()
	fmt.Fprintf(w, `
The store is a DSN: sqlite:PATH (or a SQLite file path), sqlite::memory:, or
postgres://... It comes from --store or the %s environment variable.

Run "duroxide COMMAND --help" for a command's arguments and flags.
Exit codes: 0 success, 1 the operation failed, 2 the command line was wrong.
`, envStore)
}

func runHelp(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printMainUsage(stdout)
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "duroxide help: unknown command %q%s\n", args[0], suggest(args[0]))
		return exitUsage
	}
	fs := cmd.flags(&env{getenv: func(string) string { return "" }})
	cmd.setup(fs)
	cmd.printUsage(stdout, fs)
	return exitOK
}

// suggest names a command close to a mistyped one.
func suggest(name string) string {
	for _, n := range slices.Sorted(maps.Keys(commands)) {
		if strings.HasPrefix(n, name) || strings.HasPrefix(name, n) {
			return fmt.Sprintf(" (did you mean %q?)", n)
		}
	}
	return ""
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// Argument helpers.

// oneArg returns the single positional argument named what.
func oneArg(args []string, what string) (string, error) {
	switch len(args) {
	case 0:
		return "", usagef("missing %s", what)
	case 1:
		if args[0] == "" {
			return "", usagef("%s must not be empty", what)
		}
		return args[0], nil
	}
	return "", usagef("too many arguments: want only %s, got %q", what, args)
}

// nArgs returns exactly len(names) positional arguments.
func nArgs(args []string, names ...string) ([]string, error) {
	if len(args) < len(names) {
		return nil, usagef("missing %s", strings.Join(names[len(args):], " and "))
	}
	if len(args) > len(names) {
		return nil, usagef("too many arguments: want %s, got %q", strings.Join(names, " "), args)
	}
	for i, a := range args {
		if a == "" {
			return nil, usagef("%s must not be empty", names[i])
		}
	}
	return args, nil
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// row writes one table row, leaving out trailing empty cells so that no
// line ends in padding.
func row(w io.Writer, cells ...string) {
	for len(cells) > 0 && cells[len(cells)-1] == "" {
		cells = cells[:len(cells)-1]
	}
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

// table returns a tabwriter for aligned columns; Flush it.
func table(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}
