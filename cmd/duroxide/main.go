// Command duroxide inspects and drives the orchestration instances of a
// duroxide store, serves the store to LLM clients over MCP, runs
// WebAssembly orchestrations, replays histories and measures the engine.
//
//	duroxide list --store sqlite:app.db --status Running
//	duroxide history order-1 --store sqlite:app.db
//	duroxide mcp --store sqlite:app.db
//
// Every command takes --store DSN (or DUROXIDE_STORE) and --help. Exit
// codes: 0 success, 1 the operation failed, 2 the command line was wrong.
// The commands live in package cli, which programs linking their own
// orchestrations embed.
package main

import (
	"os"

	"github.com/duroxide/duroxide/cmd/duroxide/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], nil)) }
