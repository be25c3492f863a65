package runtime_test

// Runtime-level tests of sessions, tags, version filtering, rolling
// upgrades, truncation and cross-instance KV.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/provider"
	"github.com/duroxide/duroxide/core/runtime"
)

// node is one more runtime on an env's store, with its own registry.
func (e *testEnv) node(opts runtime.Options, register func(reg *runtime.Registry)) *runtime.Runtime {
	e.t.Helper()
	reg := runtime.NewRegistry()
	register(reg)
	rt, err := runtime.Start(context.Background(), e.store, reg, &opts)
	if err != nil {
		e.t.Fatalf("start node: %v", err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = rt.Stop(ctx)
	})
	return rt
}

func stopNode(t *testing.T, rt *runtime.Runtime) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rt.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// sessionOrchestration runs n activities, one per turn, on one session and
// returns which node ran each.
func sessionOrchestration(ctx *orchestration.Context, session string) (string, error) {
	var nodes []string
	for i := 0; i < 6; i++ {
		var n string
		if err := ctx.ScheduleActivityOnSession("WhoAmI", i, session).Await(&n); err != nil {
			return "", err
		}
		nodes = append(nodes, n)
	}
	return strings.Join(nodes, ","), nil
}

func TestSessionSticksToItsWorker(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"A", "B"} {
		opts := fastOptions()
		opts.WorkerNodeID = "node-" + name
		e.node(opts, func(reg *runtime.Registry) {
			must(t, reg.RegisterActivity("WhoAmI", func(ctx *activity.Context, _ string) (string, error) {
				if ctx.SessionID() == "" {
					return "", fmt.Errorf("no session on the activity context")
				}
				return name, nil
			}))
			must(t, reg.RegisterOrchestration("Session", orchestration.Typed(sessionOrchestration)))
		})
	}
	ctx := context.Background()
	for _, s := range []string{"s1", "s2", "s3", "s4"} {
		must(t, e.c.StartOrchestration(ctx, "session-"+s, "Session", s))
	}
	for _, s := range []string{"s1", "s2", "s3", "s4"} {
		st := e.wait("session-" + s)
		if st.State != client.StateCompleted {
			t.Fatalf("%s: %s %s", s, st.State, st.ErrorMessage())
		}
		var out string
		must(t, st.DecodeOutput(&out))
		nodes := strings.Split(out, ",")
		for _, n := range nodes {
			if n != nodes[0] {
				t.Fatalf("session %s moved between workers: %v", s, nodes)
			}
		}
	}
}

func TestSessionMovesAfterItsWorkerStops(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	reached := make(chan struct{}, 10)
	mk := func(name string, gate bool) runtime.Options {
		opts := fastOptions()
		opts.WorkerNodeID = "node-" + name
		opts.SessionLockTimeout = 300 * time.Millisecond
		opts.WorkerLockTimeout = 300 * time.Millisecond
		opts.SessionIdleTimeout = time.Second
		return opts
	}
	register := func(name string, gate bool) func(reg *runtime.Registry) {
		return func(reg *runtime.Registry) {
			must(t, reg.RegisterActivity("WhoAmI", func(ctx *activity.Context, in string) (string, error) {
				if gate && in == "2" {
					reached <- struct{}{}
					<-release
				}
				return name, nil
			}))
			must(t, reg.RegisterOrchestration("Session", orchestration.Typed(sessionOrchestration)))
		}
	}
	a := e.node(mk("A", true), register("A", true))
	ctx := context.Background()
	must(t, e.c.StartOrchestration(ctx, "moving", "Session", "s"))
	<-reached // node A holds the session and is inside activity 2
	e.node(mk("B", false), register("B", false))
	close(release)
	stopNode(t, a) // "crash" of the session's owner after activity 2
	st := e.wait("moving")
	if st.State != client.StateCompleted {
		t.Fatalf("%s %s", st.State, st.ErrorMessage())
	}
	var out string
	must(t, st.DecodeOutput(&out))
	nodes := strings.Split(out, ",")
	if nodes[0] != "A" || nodes[len(nodes)-1] != "B" {
		t.Fatalf("want the session to start on A and finish on B, got %v", nodes)
	}
}

func TestMaxSessionsPerRuntime(t *testing.T) {
	e := newEnv(t)
	e.opts.MaxSessionsPerRuntime = 1
	var mu sync.Mutex
	running := map[string]int{}
	maxDistinct := 0
	must(t, e.reg.RegisterActivity("WhoAmI", func(ctx *activity.Context, _ string) (string, error) {
		mu.Lock()
		running[ctx.SessionID()]++
		if len(running) > maxDistinct {
			maxDistinct = len(running)
		}
		mu.Unlock()
		time.Sleep(20 * time.Millisecond) // the activity's work
		mu.Lock()
		if running[ctx.SessionID()]--; running[ctx.SessionID()] == 0 {
			delete(running, ctx.SessionID())
		}
		mu.Unlock()
		return "x", nil
	}))
	must(t, e.reg.RegisterOrchestration("Session", orchestration.Typed(sessionOrchestration)))
	e.start()
	ctx := context.Background()
	for _, s := range []string{"a", "b", "c"} {
		must(t, e.c.StartOrchestration(ctx, "cap-"+s, "Session", s))
	}
	for _, s := range []string{"a", "b", "c"} {
		if st := e.wait("cap-" + s); st.State != client.StateCompleted {
			t.Fatalf("%s: %s %s", s, st.State, st.ErrorMessage())
		}
	}
	if maxDistinct != 1 {
		t.Fatalf("%d sessions ran at once, want at most 1", maxDistinct)
	}
}

func tagged(ctx *orchestration.Context, timeout time.Duration) (string, error) {
	var out string
	err := ctx.ScheduleActivityWithOptions("Render", "frame", orchestration.ActivityOptions{Tag: "gpu", PickupTimeout: timeout}).Await(&out)
	if err != nil {
		return "fallback: " + err.Error(), nil
	}
	return out, nil
}

func TestTaggedActivityWaitsForMatchingWorker(t *testing.T) {
	e := newEnv(t)
	must(t, e.reg.RegisterActivity("Render", func(*activity.Context, string) (string, error) { return "cpu-rendered", nil }))
	must(t, e.reg.RegisterOrchestration("Tagged", orchestration.Typed(tagged)))
	e.start() // serves untagged activities only
	ctx := context.Background()
	must(t, e.c.StartOrchestration(ctx, "tagged", "Tagged", time.Duration(0)))
	waitFor(t, "the tagged activity to be queued", func() bool {
		d, err := e.c.GetQueueDepths(ctx)
		return err == nil && d.Worker == 1
	})
	if st, _ := e.c.GetStatus(ctx, "tagged"); st.State != client.StateRunning {
		t.Fatalf("a default-only worker ran a gpu activity: %s %q", st.State, st.Output)
	}
	opts := fastOptions()
	opts.WorkerTagFilter = provider.TagFilter{Mode: provider.TagOnly, Tags: []string{"gpu"}}
	opts.OrchestrationConcurrency = -1
	e.node(opts, func(reg *runtime.Registry) {
		must(t, reg.RegisterActivity("Render", func(ctx *activity.Context, _ string) (string, error) { return "rendered on " + ctx.Tag(), nil }))
	})
	if st := e.wait("tagged"); st.Output != "rendered on gpu" {
		t.Fatalf("got %s %q", st.State, st.Output)
	}
}

func TestTaggedActivityPickupTimeout(t *testing.T) {
	e := newEnv(t)
	e.opts.TagSweepInterval = 20 * time.Millisecond
	must(t, e.reg.RegisterActivity("Render", func(*activity.Context, string) (string, error) { return "never", nil }))
	must(t, e.reg.RegisterOrchestration("Tagged", orchestration.Typed(tagged)))
	e.start()
	st := e.run("no-gpu", "Tagged", 100*time.Millisecond)
	if st.State != client.StateCompleted || !strings.Contains(st.Output, `activity "Render" with tag "gpu" was not picked up`) {
		t.Fatalf("got %s %q", st.State, st.Output)
	}
}

func TestVersionFilteringForRollingUpgrades(t *testing.T) {
	e := newEnv(t)
	var oldTurns, newTurns atomic.Int32
	orch := func(counter *atomic.Int32) orchestration.Func {
		return func(ctx *orchestration.Context, _ string) (string, error) {
			counter.Add(1)
			var v string
			err := ctx.WaitForEvent("go").Await(&v)
			return "done:" + v, err
		}
	}
	newOpts := fastOptions()
	newOpts.EngineVersion = "0.2.0"
	newNode := e.node(newOpts, func(reg *runtime.Registry) { must(t, reg.RegisterOrchestration("Pinned", orch(&newTurns))) })
	ctx := context.Background()
	must(t, e.c.StartOrchestration(ctx, "pinned", "Pinned", ""))
	waitFor(t, "the start on the new node", func() bool { return historyHas(e, "pinned", "ExternalSubscribed") })
	info, err := e.c.GetExecutionInfo(ctx, "pinned", 1)
	must(t, err)
	if info.PinnedVersion != "0.2.0" {
		t.Fatalf("execution pinned to %q, want 0.2.0", info.PinnedVersion)
	}
	stopNode(t, newNode)

	oldOpts := fastOptions()
	oldOpts.EngineVersion = "0.1.0"
	oldNode := e.node(oldOpts, func(reg *runtime.Registry) { must(t, reg.RegisterOrchestration("Pinned", orch(&oldTurns))) })
	must(t, e.c.RaiseEvent(ctx, "pinned", "go", "x"))
	// The old node must leave the execution alone; a fresh instance is its own.
	must(t, e.c.StartOrchestration(ctx, "fresh", "Pinned", ""))
	must(t, e.c.RaiseEvent(ctx, "fresh", "go", "y"))
	if st := e.wait("fresh"); st.Output != "done:y" {
		t.Fatalf("fresh instance on the old node: %s %q", st.State, st.Output)
	}
	if st, _ := e.c.GetStatus(ctx, "pinned"); st.State != client.StateRunning {
		t.Fatalf("the old node ran an execution pinned to a newer engine: %s", st.State)
	}
	stopNode(t, oldNode)
	e.node(newOpts, func(reg *runtime.Registry) { must(t, reg.RegisterOrchestration("Pinned", orch(&newTurns))) })
	if st := e.wait("pinned"); st.Output != "done:x" {
		t.Fatalf("pinned instance: %s %q", st.State, st.Output)
	}
}

func TestRollingUpgradeOneOfThreeHasTheActivity(t *testing.T) {
	e := newEnv(t)
	opts := fastOptions()
	opts.MaxAttempts = 50
	for i := 1; i <= 3; i++ {
		i := i
		e.node(opts, func(reg *runtime.Registry) {
			must(t, reg.RegisterOrchestration("Upgrade", func(ctx *orchestration.Context, in string) (string, error) {
				var out string
				err := ctx.ScheduleActivity("NewActivity", in).Await(&out)
				return out, err
			}))
			if i == 3 {
				must(t, reg.RegisterActivity("NewActivity", func(_ *activity.Context, in string) (string, error) {
					return "NewActivity result for " + in, nil
				}))
			}
		})
	}
	e.completed("upgrade", "Upgrade", "x", "NewActivity result for x")
}

func TestEternalOrchestrationTruncatesItself(t *testing.T) {
	e := newEnv(t)
	var prunes atomic.Int32
	must(t, e.reg.RegisterActivity("ProcessBatch", activity.Typed(func(_ *activity.Context, n int) (int, error) { return n + 1, nil })))
	must(t, e.reg.RegisterActivity("PruneSelf", func(ctx *activity.Context, _ string) (string, error) {
		res, err := ctx.Client().PruneExecutions(ctx, ctx.InstanceID(), provider.PruneOptions{KeepLast: 1})
		if err != nil {
			return "", err
		}
		if res.ExecutionsDeleted > 0 {
			prunes.Add(1)
		}
		return fmt.Sprint(res.ExecutionsDeleted), nil
	}))
	must(t, e.reg.RegisterOrchestration("Eternal", orchestration.Typed(func(ctx *orchestration.Context, n int) (string, error) {
		if err := ctx.ScheduleActivity("ProcessBatch", n).Await(&n); err != nil {
			return "", err
		}
		if err := ctx.ScheduleActivity("PruneSelf", "").Await(nil); err != nil {
			return "", err
		}
		if n < 5 {
			return "", ctx.ContinueAsNew(n)
		}
		return fmt.Sprintf("Completed %d batches", n), nil
	})))
	e.start()
	e.completed("eternal", "Eternal", 0, "Completed 5 batches")
	execs, err := e.c.ListExecutions(context.Background(), "eternal")
	must(t, err)
	if len(execs) != 1 || execs[0] != 5 {
		t.Fatalf("executions %v, want only the last one [5]", execs)
	}
	if prunes.Load() < 4 {
		t.Fatalf("pruned %d times, want at least 4", prunes.Load())
	}
}

func TestCrossInstanceKVRead(t *testing.T) {
	e := newEnv(t)
	must(t, e.reg.RegisterActivity("Square", activity.Typed(func(_ *activity.Context, n int) (int, error) { return n * n, nil })))
	must(t, e.reg.RegisterOrchestration("Producer", func(ctx *orchestration.Context, _ string) (string, error) {
		ctx.SetKVValue("status", "computing")
		var r int
		if err := ctx.ScheduleActivity("Square", 7).Await(&r); err != nil {
			return "", err
		}
		ctx.SetKVValue("result", fmt.Sprint(r))
		ctx.SetKVValue("status", "done")
		if err := ctx.WaitForEvent("ack").Await(nil); err != nil {
			return "", err
		}
		return fmt.Sprintf("produced:%d", r), nil
	}))
	must(t, e.reg.RegisterOrchestration("Consumer", func(ctx *orchestration.Context, producer string) (string, error) {
		for i := 0; i < 200; i++ {
			status, _, err := ctx.GetKVValueFromInstance(producer, "status")
			if err != nil {
				return "", err
			}
			if status == "done" {
				result, ok, err := ctx.GetKVValueFromInstance(producer, "result")
				if err != nil || !ok {
					return "", fmt.Errorf("result missing: %v", err)
				}
				return "consumed:" + result, nil
			}
			if err := ctx.CreateTimer(20 * time.Millisecond).Await(nil); err != nil {
				return "", err
			}
		}
		return "", fmt.Errorf("producer never finished")
	}))
	e.start()
	ctx := context.Background()
	must(t, e.c.StartOrchestration(ctx, "producer", "Producer", ""))
	e.completed("consumer", "Consumer", "producer", "consumed:49")
	must(t, e.c.RaiseEvent(ctx, "producer", "ack", ""))
	if st := e.wait("producer"); st.Output != "produced:49" {
		t.Fatalf("producer: %s %q", st.State, st.Output)
	}
	v, ok, err := e.c.GetKVValue(ctx, "producer", "result")
	must(t, err)
	if !ok || v != "49" {
		t.Fatalf("KV after completion: %q %v", v, ok)
	}
}
