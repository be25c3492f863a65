package wasm

// The scenarios every driver must pass (shared/SCENARIOS.md), for
// WebAssembly guests (testdata/guests/scenarios), on the SQLite file store.
// Activities are Go functions registered here: activities stay in the host
// languages.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/replay"
	"github.com/duroxide/duroxide/core/runtime"
)

func helloActivity(_ *activity.Context, in string) (string, error) { return "Hello, " + in + "!", nil }

func historyHas(e *testEnv, id string, k history.Kind) bool {
	h, err := e.c.ReadHistory(context.Background(), id)
	if err != nil {
		return false
	}
	for _, ev := range h {
		if ev.Kind == k {
			return true
		}
	}
	return false
}

// 1. hello
func TestScenarioHello(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	must(t, e.reg.RegisterActivity("Hello", helloActivity))
	e.start()
	e.completed("hello", "HelloWorld", "World", "Hello, World!")
}

// 2. control flow
func TestScenarioControlFlow(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	must(t, e.reg.RegisterActivity("GetFlag", func(*activity.Context, string) (string, error) { return "yes", nil }))
	must(t, e.reg.RegisterActivity("SayYes", func(*activity.Context, string) (string, error) { return "picked_yes", nil }))
	must(t, e.reg.RegisterActivity("SayNo", func(*activity.Context, string) (string, error) { return "picked_no", nil }))
	e.start()
	e.completed("control", "Control", "", "picked_yes")
}

// 3. loop
func TestScenarioLoop(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	must(t, e.reg.RegisterActivity("Append", func(_ *activity.Context, s string) (string, error) { return s + "x", nil }))
	e.start()
	e.completed("loop", "Loop", "", "startxxx")
}

// 4. activity error handled
func TestScenarioActivityErrorHandled(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	must(t, e.reg.RegisterActivity("Fragile", func(*activity.Context, string) (string, error) { return "", errors.New("boom") }))
	must(t, e.reg.RegisterActivity("Recover", func(*activity.Context, string) (string, error) { return "recovered", nil }))
	e.start()
	e.completed("handled", "Handled", "", "recovered")
}

// 5. activity error propagated
func TestScenarioActivityErrorPropagated(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	must(t, e.reg.RegisterActivity("Validate", func(_ *activity.Context, in string) (string, error) {
		if in == "" {
			return "", errors.New("Input cannot be empty")
		}
		return "Valid: " + in, nil
	}))
	e.start()
	e.failed("invalid", "Validating", "", "Input cannot be empty")
	e.completed("valid", "Validating", "test", "Valid: test")
}

// 6. fan-out/fan-in
func TestScenarioFanOut(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	must(t, e.reg.RegisterActivity("Greet", helloActivity))
	e.start()
	e.completed("gabbar", "Gabbar", "", "Hello, Gabbar!,Hello, Samba!")
}

// 7. fan-out 100
func TestScenarioFanOut100(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	must(t, e.reg.RegisterActivity("Square", activity.Typed(func(_ *activity.Context, n int) (int, error) { return n * n, nil })))
	e.start()
	e.completed("squares", "Squares", "", "338350")
}

// 8. timer
func TestScenarioTimer(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	e.start()
	e.completed("timer", "Timer", "", "done")
	h, err := e.c.ReadHistory(context.Background(), "timer")
	must(t, err)
	if d := h[len(h)-1].TimestampMs - h[0].TimestampMs; d < 50 {
		t.Fatalf("the orchestration took %d ms, want at least 50", d)
	}
}

// 9. timeout race
func TestScenarioTimeoutRace(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	cancelled := make(chan struct{})
	must(t, e.reg.RegisterActivity("LongOp", func(ctx *activity.Context, _ string) (string, error) {
		select {
		case <-time.After(2 * time.Second):
			return "finished", nil
		case <-ctx.Done():
			close(cancelled)
			return "", ctx.Err()
		}
	}))
	e.opts.WorkerLockTimeout = 400 * time.Millisecond
	e.start()
	st := e.failed("timeout", "Timeout", "")
	if st.ErrorMessage() != "timeout" {
		t.Fatalf("got %q, want Failed \"timeout\"", st.ErrorMessage())
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the losing activity's context was not cancelled")
	}
}

// 10. event race
func TestScenarioEventRace(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	must(t, e.reg.RegisterActivity("Sleep", func(ctx *activity.Context, _ string) (string, error) {
		select {
		case <-time.After(300 * time.Millisecond):
		case <-ctx.Done():
		}
		return "slept", nil
	}))
	e.start()
	ctx := context.Background()
	must(t, e.c.StartOrchestration(ctx, "race", "EventRace", ""))
	waitFor(t, "the wait to exist", func() bool { return historyHas(e, "race", history.ExternalSubscribed) })
	must(t, e.c.RaiseEvent(ctx, "race", "Go", "ok"))
	if st := e.wait("race"); st.Output != "event:ok" {
		t.Fatalf("got %s %q, want event:ok", st.State, st.Output)
	}
}

// 11. event raised before the wait
func TestScenarioEventBeforeWait(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	must(t, e.reg.RegisterActivity("Prepare", func(*activity.Context, string) (string, error) {
		time.Sleep(200 * time.Millisecond) // the activity's own work
		return "ready", nil
	}))
	e.start()
	ctx := context.Background()
	must(t, e.c.StartOrchestration(ctx, "approve", "Approve", ""))
	must(t, e.c.RaiseEvent(ctx, "approve", "Approval", "yes"))
	if st := e.wait("approve"); st.Output != "approved:yes" {
		t.Fatalf("got %s %q", st.State, st.Output)
	}
}

// 12. event queue
func TestScenarioEventQueue(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	e.start()
	ctx := context.Background()
	must(t, e.c.StartOrchestration(ctx, "inbox", "Inbox", ""))
	for _, m := range []string{"a", "b", "c"} {
		must(t, e.c.EnqueueEvent(ctx, "inbox", "inbox", m))
	}
	if st := e.wait("inbox"); st.Output != "a,b,c" {
		t.Fatalf("got %s %q", st.State, st.Output)
	}
}

// 13. nested race
func TestScenarioNestedRace(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	must(t, e.reg.RegisterActivity("Slow", func(ctx *activity.Context, _ string) (string, error) {
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
		}
		return "slow", nil
	}))
	e.start()
	ctx := context.Background()
	must(t, e.c.StartOrchestration(ctx, "nested", "Nested", ""))
	must(t, e.c.RaiseEvent(ctx, "nested", "A", "x"))
	if st := e.wait("nested"); st.Output != "inner:event:x" {
		t.Fatalf("got %s %q", st.State, st.Output)
	}
}

// 14. sub-orchestration
func TestScenarioSubOrchestration(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	must(t, e.reg.RegisterActivity("Upper", func(_ *activity.Context, s string) (string, error) { return strings.ToUpper(s), nil }))
	e.start()
	e.completed("parent", "Parent", "hi", "parent:HI")
}

// 15. sub-orchestration chain
func TestScenarioSubOrchestrationChain(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	must(t, e.reg.RegisterActivity("AppendX", func(_ *activity.Context, s string) (string, error) { return s + "x", nil }))
	e.start()
	e.completed("root", "Root", "a", "root:ax-mid")
}

// 16. detached orchestration
func TestScenarioDetached(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	e.start()
	e.completed("coord", "Coordinator", "", "scheduled")
	for id, want := range map[string]string{"W1": "A", "W2": "B"} {
		if st := e.wait(id); st.State != client.StateCompleted || st.Output != want {
			t.Fatalf("%s: %s %q, want %q", id, st.State, st.Output, want)
		}
	}
}

// 17. continue-as-new
func TestScenarioContinueAsNew(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	e.start()
	e.completed("counter", "Counter", "0", "final:3")
	execs, err := e.c.ListExecutions(context.Background(), "counter")
	must(t, err)
	if fmt.Sprint(execs) != "[1 2 3 4]" {
		t.Fatalf("executions %v, want [1 2 3 4]", execs)
	}
}

// 18. deterministic system calls
func TestScenarioSystemCalls(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	e.start()
	st := e.run("sys", "Sys", "")
	var ms int64
	var g string
	if _, err := fmt.Sscanf(strings.Replace(st.Output, ",g=", " ", 1), "n=%d %s", &ms, &g); err != nil || ms <= 0 || len(g) != 36 {
		t.Fatalf("output %q: want n=<ms>,g=<36-character guid>", st.Output)
	}
	if d := time.Since(time.UnixMilli(ms)); d < 0 || d > time.Minute {
		t.Fatalf("utc_now gave %v, not the host's time", time.UnixMilli(ms))
	}
	// Replaying the history on a fresh instance gives the same values.
	h, err := e.c.ReadHistory(context.Background(), "sys")
	must(t, err)
	drv, err := e.host.NewDriver("Sys", "", nil)
	must(t, err)
	defer drv.Close()
	if err := replay.Verify(context.Background(), "sys", h, nil, drv); err != nil {
		t.Fatalf("replay differs: %v", err)
	}
}

// 19. custom status
func TestScenarioCustomStatus(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	must(t, e.reg.RegisterActivity("Work", func(*activity.Context, string) (string, error) { return "w", nil }))
	e.start()
	ctx := context.Background()
	must(t, e.c.StartOrchestration(ctx, "status", "Status", ""))
	var seen uint64
	for {
		st, err := e.c.WaitForStatusChange(ctx, "status", seen, 20*time.Second)
		must(t, err)
		seen = st.CustomStatusVersion
		if st.CustomStatus != nil && *st.CustomStatus == "step2" {
			break
		}
	}
	must(t, e.c.RaiseEvent(ctx, "status", "Go", ""))
	st := e.wait("status")
	if st.State != client.StateCompleted || st.CustomStatus == nil || *st.CustomStatus != "step2" {
		t.Fatalf("final status %s custom %v", st.State, st.CustomStatus)
	}
}

// 20. KV counter
func TestScenarioKVCounter(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	must(t, e.reg.RegisterActivity("Process", func(_ *activity.Context, in string) (string, error) { return "processed:" + in, nil }))
	e.start()
	e.completed("kv", "KVCounter", "", "3")
	v, ok, err := e.c.GetKVValue(context.Background(), "kv", "count")
	must(t, err)
	if !ok || v != "3" {
		t.Fatalf("client KV count = %q (found %v), want 3", v, ok)
	}
}

// 21. versions: each version comes from its own deployment (module).
func TestScenarioVersions(t *testing.T) {
	e := newEnv(t, nil, "deploy_v1", "deploy_v2")
	e.start()
	e.completed("latest", "Versioned", "", "v2")
	ctx := context.Background()
	must(t, e.c.StartOrchestrationVersioned(ctx, "pinned", "Versioned", "1.0.0", ""))
	if st := e.wait("pinned"); st.Output != "v1" || st.Version != "1.0.0" {
		t.Fatalf("pinned start: %q at %s", st.Output, st.Version)
	}
}

// 22. cancel cascades
func TestScenarioCancelCascades(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	e.start()
	ctx := context.Background()
	must(t, e.c.StartOrchestration(ctx, "cancel-parent", "AwaitsChild", ""))
	waitFor(t, "the child to wait", func() bool { return historyHas(e, "cancel-child", history.ExternalSubscribed) })
	must(t, e.c.CancelInstance(ctx, "cancel-parent", "user_request"))
	st := e.wait("cancel-parent")
	if st.State != client.StateFailed || st.Error.Kind != history.KindCancelled || !strings.Contains(st.ErrorMessage(), "user_request") {
		t.Fatalf("parent: %s %+v", st.State, st.Error)
	}
	cst := e.wait("cancel-child")
	if cst.State != client.StateFailed || cst.Error.Kind != history.KindCancelled {
		t.Fatalf("child: %s %+v", cst.State, cst.Error)
	}
}

// 23. retry policy
func TestScenarioRetryPolicy(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	var calls atomic.Int32
	must(t, e.reg.RegisterActivity("Flaky", func(*activity.Context, string) (string, error) {
		if calls.Add(1) <= 2 {
			return "", errors.New("transient")
		}
		return "ok", nil
	}))
	e.start()
	e.completed("retry", "Retry", "", "ok")
	h, err := e.c.ReadHistory(context.Background(), "retry")
	must(t, err)
	n := 0
	for _, ev := range h {
		if ev.Kind == history.ActivityScheduled {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("%d activity schedules in history, want 3", n)
	}
}

// 24. nondeterminism detected: a redeployed module changes the code of a
// version instances already run.
func TestScenarioNondeterminism(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	must(t, e.reg.RegisterActivity("A", func(*activity.Context, string) (string, error) { return "a", nil }))
	must(t, e.reg.RegisterActivity("B", func(*activity.Context, string) (string, error) { return "b", nil }))
	e.start()
	ctx := context.Background()
	must(t, e.c.StartOrchestration(ctx, "nd", "Changing", ""))
	waitFor(t, "the wait", func() bool { return historyHas(e, "nd", history.ExternalSubscribed) })
	e.stop()
	e.reg = runtime.NewRegistry()
	must(t, e.reg.RegisterActivity("B", func(*activity.Context, string) (string, error) { return "b", nil }))
	e.host = newTestHost(t, nil)
	e.load("changed")
	e.start()
	must(t, e.c.RaiseEvent(ctx, "nd", "Go", ""))
	st := e.wait("nd")
	if st.State != client.StateFailed || st.Error.Kind != history.KindNondeterminism {
		t.Fatalf("got %s %+v, want a nondeterminism failure", st.State, st.Error)
	}
	if msg := st.ErrorMessage(); !strings.Contains(msg, `"A"`) || !strings.Contains(msg, `"B"`) {
		t.Fatalf("nondeterminism error %q does not name A and B", msg)
	}
}

// 25. unknown orchestration
func TestScenarioUnknownOrchestration(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	must(t, e.reg.RegisterActivity("Hello", helloActivity))
	e.start()
	ctx := context.Background()
	must(t, e.c.StartOrchestration(ctx, "ghost", "NoSuchOrchestration", ""))
	e.completed("known", "Known", "there", "Hello, there!")
	st := e.wait("ghost")
	if st.State != client.StateFailed || !strings.Contains(st.ErrorMessage(), "NoSuchOrchestration") {
		t.Fatalf("got %s %q, want Failed naming the orchestration", st.State, st.ErrorMessage())
	}
}

// 26. unknown activity
func TestScenarioUnknownActivity(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	e.start()
	st := e.run("missing", "CallsMissing", "")
	if st.State != client.StateCompleted || !strings.Contains(st.Output, `activity "Missing" is not registered`) {
		t.Fatalf("got %s %q %q", st.State, st.Output, st.ErrorMessage())
	}
}

// 27. bad payloads
func TestScenarioBadPayloads(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	must(t, e.reg.RegisterActivity("Hello", helloActivity))
	must(t, e.reg.RegisterActivity("ThrowsValue", func(*activity.Context, string) (string, error) { panic(42) }))
	e.start()
	e.failed("thrower", "CallsThrower", "", "42")
	e.failed("unencodable", "Unencodable", "", "encode orchestration output")
	e.completed("after", "Hello", "still serving", "Hello, still serving!")
}

// Go and WebAssembly orchestrations share a runtime and call each other.
func TestGoAndWasmOrchestrationsTogether(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	must(t, e.reg.RegisterActivity("AppendX", func(_ *activity.Context, s string) (string, error) { return s + "x", nil }))
	must(t, e.reg.RegisterOrchestration("GoParent", func(ctx *orchestration.Context, in string) (string, error) {
		var out string
		err := ctx.ScheduleSubOrchestration("Root", in).Await(&out) // wasm Root → Mid → Leaf
		return "go:" + out, err
	}))
	e.start()
	e.completed("mixed", "GoParent", "a", "go:root:ax-mid")
}
