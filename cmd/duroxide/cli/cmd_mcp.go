package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"

	"github.com/duroxide/duroxide/core/runtime"
	"github.com/duroxide/duroxide/mcp"
)

// envMCPToken names the environment variable holding the HTTP bearer token.
const envMCPToken = "DUROXIDE_MCP_TOKEN"

func init() {
	register(&command{
		name:    "mcp",
		args:    "[--http ADDR [--token T | --no-auth]] [--allow-write]",
		summary: "serve the store to LLM clients over the Model Context Protocol",
		help: `Without --http, serves one client over standard input and output (the way
desktop LLM clients launch MCP servers). With --http host:port, serves
streamable HTTP at http://host:port` + mcp.HTTPPath + `; every request must carry
"Authorization: Bearer TOKEN" (--token or $` + envMCPToken + `), unless the
address is loopback and --no-auth is given. Port 0 picks a free port; the
address is printed on standard error.

Read-only by default: the tools that change state (start_orchestration,
raise_event, enqueue_event, cancel_instance, delete_instance,
prune_executions) exist only with --allow-write.`,
		setup: func(fs *flag.FlagSet) runFunc {
			httpAddr := fs.String("http", "", "serve streamable HTTP on `host:port` instead of stdio")
			token := fs.String("token", "", "bearer `TOKEN` HTTP clients must send (default $"+envMCPToken+")")
			noAuth := fs.Bool("no-auth", false, "serve HTTP without a token (loopback addresses only)")
			allowWrite := fs.Bool("allow-write", false, "offer the tools that start, signal, cancel, delete and prune instances")
			verbose := fs.Bool("verbose", false, "log the MCP server's activity to standard error")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("mcp takes no arguments, got %q", args)
				}
				tok := *token
				if tok == "" {
					tok = e.getenv(envMCPToken)
				}
				if *httpAddr == "" && (*token != "" || *noAuth) {
					return usagef("--token and --no-auth apply only with --http")
				}
				if *httpAddr != "" {
					if *noAuth {
						tok = "" // --no-auth wins over an inherited environment token
						if *token != "" {
							return usagef("both --token and --no-auth given; choose one")
						}
					}
					if err := mcp.CheckHTTPConfig(*httpAddr, tok, *noAuth); err != nil {
						return usagef("%v", err)
					}
				}
				c, done, err := e.client(false)
				if err != nil {
					return err
				}
				defer done()
				logger := slog.New(slog.DiscardHandler)
				if *verbose {
					logger = slog.New(slog.NewTextHandler(e.stderr, nil))
				}
				srv := mcp.NewServer(c, &mcp.Options{AllowWrite: *allowWrite, Version: runtime.EngineVersion, Logger: logger})
				mode := "read-only"
				if *allowWrite {
					mode = "read-write"
				}
				if *httpAddr == "" {
					fmt.Fprintf(e.stderr, "duroxide mcp: serving %s over stdio (%s)\n", e.store, mode)
					if err := srv.ServeStdio(ctx); err != nil && ctx.Err() == nil {
						return err
					}
					return nil
				}
				auth := "bearer token required"
				if *noAuth {
					auth = "no authentication"
				}
				return srv.ServeHTTP(ctx, mcp.HTTPOptions{Addr: *httpAddr, Token: tok, NoAuth: *noAuth, Ready: func(a net.Addr) {
					fmt.Fprintf(e.stderr, "duroxide mcp: serving %s at http://%s%s (%s, %s)\n", e.store, a, mcp.HTTPPath, mode, auth)
				}})
			}
		},
	})
}
