// Package mcptest builds SQLite stores holding real orchestration instances
// (made by a real runtime, not written by hand) for the tests of the MCP
// server and the CLI.
package mcptest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/provider/sqlite"
	"github.com/duroxide/duroxide/core/runtime"
)

// The fixture's instances.
const (
	// Chain: Chain3 completed with output "axxx" (3 activities).
	Chain = "chain-1"
	// Fail: Fails, failed with the error "boom".
	Fail = "fail-1"
	// Wait: Waiter, running: custom status "waiting for Go", KV stage=waiting,
	// waiting for the event "Go"; completes with "got <data>".
	Wait = "wait-1"
	// Queue: Queued, running, dequeuing from the queue "inbox"; completes
	// with "took <message>".
	Queue = "queue-1"
	// Parent: Parent, completed with "pxxx,qxxx" after two Chain3
	// sub-orchestrations.
	Parent = "parent-1"
	// Loop: Looper, completed with "looped" in execution 3 (two
	// continue-as-new).
	Loop = "loop-1"
	// Sleep: Sleeper, running, waiting on a one-hour timer.
	Sleep = "sleep-1"
)

// Instances lists the fixture's root instances.
var Instances = []string{Chain, Fail, Wait, Queue, Parent, Loop, Sleep}

// Registry returns the orchestrations and activities of the fixture, for a
// runtime that continues its instances.
func Registry() *runtime.Registry {
	reg := runtime.NewRegistry()
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(reg.RegisterActivity("Step", func(_ *activity.Context, in string) (string, error) { return in + "x", nil }))
	must(reg.RegisterActivity("Boom", func(_ *activity.Context, _ string) (string, error) { return "", errors.New("boom") }))
	must(reg.RegisterOrchestration("Chain3", func(ctx *orchestration.Context, in string) (string, error) {
		s := in
		for range 3 {
			if err := ctx.ScheduleActivity("Step", s).Await(&s); err != nil {
				return "", err
			}
		}
		return s, nil
	}))
	must(reg.RegisterOrchestration("Fails", func(ctx *orchestration.Context, in string) (string, error) {
		return "", ctx.ScheduleActivity("Boom", in).Await(nil)
	}))
	must(reg.RegisterOrchestration("Waiter", func(ctx *orchestration.Context, _ string) (string, error) {
		ctx.SetCustomStatus("waiting for Go")
		ctx.SetKVValue("stage", "waiting")
		var data string
		if err := ctx.WaitForEvent("Go").Await(&data); err != nil {
			return "", err
		}
		return "got " + data, nil
	}))
	must(reg.RegisterOrchestration("Queued", func(ctx *orchestration.Context, _ string) (string, error) {
		var msg string
		if err := ctx.DequeueEvent("inbox").Await(&msg); err != nil {
			return "", err
		}
		return "took " + msg, nil
	}))
	must(reg.RegisterOrchestration("Parent", func(ctx *orchestration.Context, _ string) (string, error) {
		var a, b string
		fa, fb := ctx.ScheduleSubOrchestration("Chain3", "p"), ctx.ScheduleSubOrchestration("Chain3", "q")
		if err := fa.Await(&a); err != nil {
			return "", err
		}
		if err := fb.Await(&b); err != nil {
			return "", err
		}
		return a + "," + b, nil
	}))
	must(reg.RegisterOrchestration("Looper", orchestration.Typed(func(ctx *orchestration.Context, n int) (string, error) {
		if n < 3 {
			return "", ctx.ContinueAsNew(n + 1)
		}
		return "looped", nil
	})))
	must(reg.RegisterOrchestration("Sleeper", func(ctx *orchestration.Context, _ string) (string, error) {
		return "", ctx.CreateTimer(time.Hour).Await(nil)
	}))
	return reg
}

// Build creates dir/fixture.db with the fixture's instances and returns its
// DSN ("sqlite:<path>"). The runtime that made them is stopped and the
// store closed before it returns, so the file may be copied.
func Build(ctx context.Context, dir string) (string, error) {
	dsn := "sqlite:" + filepath.Join(dir, "fixture.db")
	store, err := sqlite.Open(dsn, nil)
	if err != nil {
		return "", err
	}
	defer store.Close()
	rt, err := runtime.Start(ctx, store, Registry(), nil)
	if err != nil {
		return "", err
	}
	defer rt.Stop(ctx)
	c := rt.Client()
	starts := []struct {
		id, name string
		input    any
	}{
		{Chain, "Chain3", "a"}, {Fail, "Fails", "x"}, {Wait, "Waiter", nil}, {Queue, "Queued", nil},
		{Parent, "Parent", nil}, {Loop, "Looper", 1}, {Sleep, "Sleeper", nil},
	}
	for _, s := range starts {
		if err := c.StartOrchestration(ctx, s.id, s.name, s.input); err != nil {
			return "", err
		}
	}
	for _, id := range []string{Chain, Fail, Parent, Loop} {
		st, err := c.WaitForOrchestration(ctx, id, 30*time.Second)
		if err != nil {
			return "", err
		}
		if id != Fail && st.State != client.StateCompleted {
			return "", fmt.Errorf("fixture %s: %s %s", id, st.State, st.ErrorMessage())
		}
	}
	waitFor := map[string]history.Kind{Wait: history.ExternalSubscribed, Queue: history.QueueSubscribed, Sleep: history.TimerCreated}
	for id, kind := range waitFor {
		if err := WaitForEvent(ctx, c, id, kind, 30*time.Second); err != nil {
			return "", err
		}
	}
	return dsn, rt.Stop(ctx)
}

// WaitForEvent waits until an instance's current history holds an event of
// the given kind.
func WaitForEvent(ctx context.Context, c *client.Client, id string, kind history.Kind, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		evs, err := c.ReadHistory(ctx, id)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if e.Kind == kind {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("fixture %s: no %s event after %v", id, kind, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
