// Command worker serves the Go activities of the WebAssembly examples and
// no orchestrations: the runtime hosting the modules (examples/wasm/host
// --activities=false, or `duroxide run --wasm`) and this process share one
// store. Any process in any host language can serve activities this way.
//
//	go run ./examples/wasm/worker --store sqlite:build/wasm-demo.db
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/provider/sqlite"
	"github.com/duroxide/duroxide/core/runtime"
)

// Register adds the examples' activities to reg.
func Register(reg *runtime.Registry) error {
	if err := reg.RegisterActivity("Hello", func(_ *activity.Context, name string) (string, error) {
		return "Hello, " + name + "!", nil
	}); err != nil {
		return err
	}
	return reg.RegisterActivity("Notify", func(ctx *activity.Context, what string) (string, error) {
		ctx.Logger().Info("notified", "what", what)
		return "sent(" + what + ")", nil
	})
}

func main() {
	dsn := flag.String("store", "sqlite:build/wasm-demo.db", "store DSN")
	flag.Parse()
	if err := run(*dsn); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run(dsn string) error {
	store, err := sqlite.Open(dsn, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	reg := runtime.NewRegistry()
	if err := Register(reg); err != nil {
		return err
	}
	rt, err := runtime.Start(context.Background(), store, reg, &runtime.Options{OrchestrationConcurrency: -1})
	if err != nil {
		return err
	}
	fmt.Println("serving activities Hello and Notify; Ctrl-C stops")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return rt.Stop(ctx)
}
