// Command gohost is the Go side of the Python package's cross-language
// tests: it opens the same SQLite file as the Python test and serves Go
// activities (-mode activities) or a Go orchestration (-mode
// orchestrations) until it is killed or its stdin closes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/provider/sqlite"
	"github.com/duroxide/duroxide/core/runtime"
)

type sumInput struct {
	A int `json:"a"`
	B int `json:"b"`
}

func main() {
	store := flag.String("store", "", "sqlite DSN shared with the Python test")
	mode := flag.String("mode", "activities", "activities or orchestrations")
	flag.Parse()
	if err := run(*store, *mode); err != nil {
		fmt.Fprintln(os.Stderr, "gohost:", err)
		os.Exit(1)
	}
}

func run(dsn, mode string) error {
	s, err := sqlite.Open(dsn, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	reg := runtime.NewRegistry()
	opts := &runtime.Options{UnregisteredBackoff: 20 * time.Millisecond, UnregisteredBackoffMax: 100 * time.Millisecond, MaxAttempts: 50, PollTimeout: time.Second}
	switch mode {
	case "activities":
		opts.OrchestrationConcurrency = -1
		_ = reg.RegisterActivity("GoUpper", func(_ *activity.Context, in string) (string, error) {
			return strings.ToUpper(in) + " (from Go)", nil
		})
		_ = reg.RegisterActivity("GoSum", activity.Typed(func(_ *activity.Context, in sumInput) (map[string]int, error) {
			return map[string]int{"sum": in.A + in.B}, nil
		}))
		_ = reg.RegisterActivity("GoFail", func(*activity.Context, string) (string, error) {
			return "", errors.New("go says no")
		})
	case "orchestrations":
		opts.WorkerConcurrency = -1
		_ = reg.RegisterOrchestration("GoCallsPython", func(ctx *orchestration.Context, in string) (string, error) {
			var greeting string
			if err := ctx.ScheduleActivity("PyGreet", in).Await(&greeting); err != nil {
				return "", err
			}
			var n struct {
				Doubled int `json:"doubled"`
			}
			if err := ctx.ScheduleActivity("PyDouble", map[string]int{"n": 21}).Await(&n); err != nil {
				return "", err
			}
			err := ctx.ScheduleActivity("PyFail", "").Await(nil)
			var ae *orchestration.ActivityError
			if !errors.As(err, &ae) {
				return "", fmt.Errorf("PyFail: want an activity error, got %v", err)
			}
			return fmt.Sprintf("go:%s|%d|%s:%s", greeting, n.Doubled, ae.Details.Type, ae.Details.Message), nil
		})
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	ctx := context.Background()
	rt, err := runtime.Start(ctx, s, reg, opts)
	if err != nil {
		return err
	}
	fmt.Println("ready")
	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(done) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
	case <-done:
	}
	stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return rt.Stop(stopCtx)
}
