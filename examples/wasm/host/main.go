// Command host runs WebAssembly orchestration modules on an embedded SQLite
// store: it loads every module of a directory, registers their
// orchestrations next to the Go activities, starts one instance and prints
// its result.
//
//	make wasm   # builds build/wasm/*.wasm
//	go run ./examples/wasm/host --wasm build/wasm --run HelloWasm --input World
//
// With --activities=false it registers no activities: run
// examples/wasm/worker on the same store to serve them from another process.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/provider/sqlite"
	"github.com/duroxide/duroxide/core/runtime"
	"github.com/duroxide/duroxide/wasm"
)

func main() {
	dsn := flag.String("store", "sqlite:build/wasm-demo.db", "store DSN")
	dir := flag.String("wasm", "build/wasm", "directory of .wasm orchestration modules")
	name := flag.String("run", "HelloWasm", "orchestration to start")
	input := flag.String("input", "World", "its input")
	activities := flag.Bool("activities", true, "serve the Go activities in this process")
	verbose := flag.Bool("v", false, "log the runtime's and the guests' messages")
	flag.Parse()
	if err := run(*dsn, *dir, *name, *input, *activities, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "host:", err)
		os.Exit(1)
	}
}

func run(dsn, dir, name, input string, activities, verbose bool) error {
	ctx := context.Background()
	store, err := sqlite.Open(dsn, nil)
	if err != nil {
		return err
	}
	defer store.Close()

	reg := runtime.NewRegistry()
	opts := &runtime.Options{}
	if activities {
		if err := reg.RegisterActivity("Hello", func(_ *activity.Context, name string) (string, error) {
			return "Hello, " + name + "!", nil
		}); err != nil {
			return err
		}
		if err := reg.RegisterActivity("Notify", func(_ *activity.Context, what string) (string, error) {
			return "sent(" + what + ")", nil
		}); err != nil {
			return err
		}
	} else {
		opts.WorkerConcurrency = -1
	}
	if verbose {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}

	// Compile (or take from the cache) every module and register its
	// orchestrations.
	host, err := wasm.LoadDir(ctx, reg, dir, &wasm.Options{Logger: opts.Logger})
	if err != nil {
		return err
	}
	defer host.Close()
	for _, m := range host.Modules() {
		info := m.Info()
		fmt.Printf("module %s (compiled in %v, from cache: %v):", info.Name, info.CompileTime.Round(time.Millisecond), info.FromCache)
		for _, o := range info.Orchestrations {
			fmt.Printf(" %s@%s", o.Name, o.Version)
		}
		fmt.Println()
	}

	rt, err := runtime.Start(ctx, store, reg, opts)
	if err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = rt.Stop(stopCtx)
	}()

	client := rt.Client()
	id := fmt.Sprintf("%s-%d", name, time.Now().UnixNano())
	if err := client.StartOrchestration(ctx, id, name, input); err != nil {
		return err
	}
	status, err := client.WaitForOrchestration(ctx, id, time.Minute)
	if err != nil {
		return err
	}
	if status.State != "Completed" {
		return fmt.Errorf("instance %s ended %s: %s", id, status.State, status.ErrorMessage())
	}
	fmt.Printf("instance %s completed on %s@%s: %s\n", id, status.Name, status.Version, status.Output)
	return nil
}
