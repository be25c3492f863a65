package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/duroxide/duroxide/core/provider"
	"github.com/duroxide/duroxide/core/runtime"
)

func init() {
	register(&command{
		name:    "run",
		args:    "[--wasm DIR] [--orchestrations N] [--workers N] [--tags T1,T2] [--node-id ID]",
		summary: "run a runtime serving the linked code and WebAssembly modules until interrupted",
		help: `Starts a runtime on the store that serves the orchestrations (and activities)
this program links and those of the WebAssembly modules in --wasm DIR, until
SIGINT or SIGTERM; then it drains in-flight work (up to --drain) and exits.
Activities the modules call may be served by other processes sharing the
store, in any language. --workers 0 runs no activities here.`,
		setup: func(fs *flag.FlagSet) runFunc {
			wasmDir := wasmFlag(fs)
			orchs := fs.Int("orchestrations", 4, "turns run at once (0: run no orchestrations)")
			workers := fs.Int("workers", 16, "activities run at once (0: run no activities)")
			tags := fs.String("tags", "", "serve only activities with these comma-separated `tags` (plus untagged ones with --default-tags)")
			defaultToo := fs.Bool("default-tags", false, "with --tags, serve untagged activities too")
			nodeID := fs.String("node-id", "", "stable session owner id of this runtime (a pod name)")
			drain := fs.Duration("drain", 30*time.Second, "how long to drain in-flight work on shutdown")
			verbose := fs.Bool("v", false, "log the runtime's activity to stderr")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				reg, closeCode, err := e.code(ctx, *wasmDir)
				if err != nil {
					return err
				}
				defer closeCode()
				p, err := openStore(e.store, true)
				if err != nil {
					return err
				}
				defer p.Close()
				opts := runtime.Options{
					OrchestrationConcurrency: zeroMeansNone(*orchs),
					WorkerConcurrency:        zeroMeansNone(*workers),
					WorkerNodeID:             *nodeID,
				}
				if *tags != "" {
					mode := provider.TagOnly
					if *defaultToo {
						mode = provider.TagDefaultAnd
					}
					opts.WorkerTagFilter = provider.TagFilter{Mode: mode, Tags: splitList(*tags)}
				}
				level := slog.LevelWarn
				if *verbose {
					level = slog.LevelInfo
				}
				opts.Logger = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
				rt, err := runtime.Start(ctx, p, reg, &opts)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "serving orchestrations %v and activities %v on %s (Ctrl-C to stop)\n",
					reg.OrchestrationNames(), reg.ActivityNames(), e.store)
				<-ctx.Done()
				stopCtx, cancel := context.WithTimeout(context.Background(), *drain)
				defer cancel()
				if err := rt.Stop(stopCtx); err != nil {
					return fmt.Errorf("shutdown: in-flight work did not finish within %v", *drain)
				}
				fmt.Fprintln(e.stdout, "stopped")
				return nil
			}
		},
	})
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// zeroMeansNone maps the flag value 0 ("none here") to the runtime's -1.
func zeroMeansNone(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}
