package runtime_test

// The scenarios every driver must pass (shared/SCENARIOS.md), for the Go
// driver, on the SQLite file store.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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

// 1. hello
func TestScenarioHello(t *testing.T) {
	e := newEnv(t)
	must(t, e.reg.RegisterActivity("Hello", helloActivity))
	must(t, e.reg.RegisterOrchestration("HelloWorld", func(ctx *orchestration.Context, input string) (string, error) {
		var a, b string
		if err := ctx.ScheduleActivity("Hello", "Go").Await(&a); err != nil {
			return "", err
		}
		err := ctx.ScheduleActivity("Hello", input).Await(&b)
		return b, err
	}))
	e.start()
	e.completed("hello", "HelloWorld", "World", "Hello, World!")
}

// 2. control flow
func TestScenarioControlFlow(t *testing.T) {
	e := newEnv(t)
	must(t, e.reg.RegisterActivity("GetFlag", func(*activity.Context, string) (string, error) { return "yes", nil }))
	must(t, e.reg.RegisterActivity("SayYes", func(*activity.Context, string) (string, error) { return "picked_yes", nil }))
	must(t, e.reg.RegisterActivity("SayNo", func(*activity.Context, string) (string, error) { return "picked_no", nil }))
	must(t, e.reg.RegisterOrchestration("Control", func(ctx *orchestration.Context, _ string) (string, error) {
		var flag, out string
		if err := ctx.ScheduleActivity("GetFlag", "").Await(&flag); err != nil {
			return "", err
		}
		next := "SayNo"
		if flag == "yes" {
			next = "SayYes"
		}
		err := ctx.ScheduleActivity(next, "").Await(&out)
		return out, err
	}))
	e.start()
	e.completed("control", "Control", "", "picked_yes")
}

// 3. loop
func TestScenarioLoop(t *testing.T) {
	e := newEnv(t)
	must(t, e.reg.RegisterActivity("Append", func(_ *activity.Context, s string) (string, error) { return s + "x", nil }))
	must(t, e.reg.RegisterOrchestration("Loop", func(ctx *orchestration.Context, _ string) (string, error) {
		s := "start"
		for i := 0; i < 3; i++ {
			if err := ctx.ScheduleActivity("Append", s).Await(&s); err != nil {
				return "", err
			}
		}
		return s, nil
	}))
	e.start()
	e.completed("loop", "Loop", "", "startxxx")
}

// 4. activity error handled
func TestScenarioActivityErrorHandled(t *testing.T) {
	e := newEnv(t)
	must(t, e.reg.RegisterActivity("Fragile", func(*activity.Context, string) (string, error) { return "", errors.New("boom") }))
	must(t, e.reg.RegisterActivity("Recover", func(*activity.Context, string) (string, error) { return "recovered", nil }))
	must(t, e.reg.RegisterOrchestration("Handled", func(ctx *orchestration.Context, _ string) (string, error) {
		err := ctx.ScheduleActivity("Fragile", "bad").Await(nil)
		var ae *orchestration.ActivityError
		if !errors.As(err, &ae) || ae.Error() != "boom" {
			return "", fmt.Errorf("unexpected error %v", err)
		}
		var out string
		err = ctx.ScheduleActivity("Recover", "").Await(&out)
		return out, err
	}))
	e.start()
	e.completed("handled", "Handled", "", "recovered")
}

// 5. activity error propagated
func TestScenarioActivityErrorPropagated(t *testing.T) {
	e := newEnv(t)
	must(t, e.reg.RegisterActivity("Validate", func(_ *activity.Context, in string) (string, error) {
		if in == "" {
			return "", errors.New("Input cannot be empty")
		}
		return "Valid: " + in, nil
	}))
	must(t, e.reg.RegisterOrchestration("Validating", func(ctx *orchestration.Context, in string) (string, error) {
		var out string
		err := ctx.ScheduleActivity("Validate", in).Await(&out)
		return out, err
	}))
	e.start()
	st := e.run("invalid", "Validating", "")
	if st.State != client.StateFailed || !strings.Contains(st.ErrorMessage(), "Input cannot be empty") {
		t.Fatalf("got %s %q, want Failed with the activity's message", st.State, st.ErrorMessage())
	}
	e.completed("valid", "Validating", "test", "Valid: test")
}

// 6. fan-out/fan-in
func TestScenarioFanOut(t *testing.T) {
	e := newEnv(t)
	must(t, e.reg.RegisterActivity("Greet", helloActivity))
	must(t, e.reg.RegisterOrchestration("Gabbar", func(ctx *orchestration.Context, _ string) (string, error) {
		var out []string
		err := ctx.All(ctx.ScheduleActivity("Greet", "Gabbar"), ctx.ScheduleActivity("Greet", "Samba")).Await(&out)
		return strings.Join(out, ","), err
	}))
	e.start()
	e.completed("gabbar", "Gabbar", "", "Hello, Gabbar!,Hello, Samba!")
}

// 7. fan-out 100
func TestScenarioFanOut100(t *testing.T) {
	e := newEnv(t)
	must(t, e.reg.RegisterActivity("Square", activity.Typed(func(_ *activity.Context, n int) (int, error) { return n * n, nil })))
	must(t, e.reg.RegisterOrchestration("Squares", func(ctx *orchestration.Context, _ string) (string, error) {
		fs := make([]*orchestration.Future, 0, 100)
		for i := 1; i <= 100; i++ {
			fs = append(fs, ctx.ScheduleActivity("Square", i))
		}
		var sq []int
		if err := ctx.All(fs...).Await(&sq); err != nil {
			return "", err
		}
		sum := 0
		for _, v := range sq {
			sum += v
		}
		return strconv.Itoa(sum), nil
	}))
	e.start()
	e.completed("squares", "Squares", "", "338350")
}

// 8. timer
func TestScenarioTimer(t *testing.T) {
	e := newEnv(t)
	must(t, e.reg.RegisterOrchestration("Timer", func(ctx *orchestration.Context, _ string) (string, error) {
		if err := ctx.CreateTimer(50 * time.Millisecond).Await(nil); err != nil {
			return "", err
		}
		return "done", nil
	}))
	e.start()
	e.completed("timer", "Timer", "", "done")
	h, err := e.c.ReadHistory(context.Background(), "timer")
	must(t, err)
	startMs, endMs := h[0].TimestampMs, h[len(h)-1].TimestampMs
	if endMs-startMs < 50 {
		t.Fatalf("the orchestration took %d ms, want at least 50", endMs-startMs)
	}
}

// 9. timeout race
func TestScenarioTimeoutRace(t *testing.T) {
	e := newEnv(t)
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
	must(t, e.reg.RegisterOrchestration("Timeout", func(ctx *orchestration.Context, _ string) (string, error) {
		idx, err := ctx.Select(ctx.ScheduleActivity("LongOp", ""), ctx.CreateTimer(100*time.Millisecond))
		if err != nil {
			return "", err
		}
		if idx == 1 {
			return "", errors.New("timeout")
		}
		return "op finished", nil
	}))
	e.start()
	st := e.run("timeout", "Timeout", "")
	if st.State != client.StateFailed || st.ErrorMessage() != "timeout" {
		t.Fatalf("got %s %q, want Failed \"timeout\"", st.State, st.ErrorMessage())
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the losing activity's context was not cancelled")
	}
}

// 10. event race
func TestScenarioEventRace(t *testing.T) {
	e := newEnv(t)
	must(t, e.reg.RegisterActivity("Sleep", func(ctx *activity.Context, _ string) (string, error) {
		select {
		case <-time.After(300 * time.Millisecond):
		case <-ctx.Done():
		}
		return "slept", nil
	}))
	must(t, e.reg.RegisterOrchestration("EventRace", func(ctx *orchestration.Context, _ string) (string, error) {
		ev := ctx.WaitForEvent("Go")
		r := ctx.Race(ctx.ScheduleActivity("Sleep", ""), ev)
		var v string
		if err := r.Await(&v); err != nil {
			return "", err
		}
		if r.Winner() == 1 {
			return "event:" + v, nil
		}
		return "sleep:" + v, nil
	}))
	e.start()
	ctx := context.Background()
	must(t, e.c.StartOrchestration(ctx, "race", "EventRace", ""))
	waitFor(t, "the wait to exist", func() bool { return historyHas(e, "race", history.ExternalSubscribed) })
	must(t, e.c.RaiseEvent(ctx, "race", "Go", "ok"))
	st := e.wait("race")
	if st.Output != "event:ok" {
		t.Fatalf("got %s %q, want event:ok", st.State, st.Output)
	}
}

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

// 11. event raised before the wait
func TestScenarioEventBeforeWait(t *testing.T) {
	e := newEnv(t)
	must(t, e.reg.RegisterActivity("Prepare", func(*activity.Context, string) (string, error) {
		time.Sleep(200 * time.Millisecond) // the activity's own work
		return "ready", nil
	}))
	must(t, e.reg.RegisterOrchestration("Approve", func(ctx *orchestration.Context, _ string) (string, error) {
		if err := ctx.ScheduleActivity("Prepare", "").Await(nil); err != nil {
			return "", err
		}
		var v string
		err := ctx.WaitForEvent("Approval").Await(&v)
		return "approved:" + v, err
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
	e := newEnv(t)
	must(t, e.reg.RegisterOrchestration("Inbox", func(ctx *orchestration.Context, _ string) (string, error) {
		var got []string
		for i := 0; i < 3; i++ {
			var v string
			if err := ctx.DequeueEvent("inbox").Await(&v); err != nil {
				return "", err
			}
			got = append(got, v)
		}
		return strings.Join(got, ","), nil
	}))
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
	e := newEnv(t)
	must(t, e.reg.RegisterActivity("Slow", func(ctx *activity.Context, _ string) (string, error) {
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
		}
		return "slow", nil
	}))
	must(t, e.reg.RegisterOrchestration("Nested", func(ctx *orchestration.Context, _ string) (string, error) {
		inner := ctx.Race(ctx.CreateTimer(10*time.Second), ctx.WaitForEvent("A"))
		outer := ctx.Race(inner, ctx.ScheduleActivity("Slow", ""))
		var v string
		if err := outer.Await(&v); err != nil {
			return "", err
		}
		if outer.Winner() == 0 && inner.Winner() == 1 {
			return "inner:event:" + v, nil
		}
		return fmt.Sprintf("outer=%d inner=%d", outer.Winner(), inner.Winner()), nil
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
	e := newEnv(t)
	must(t, e.reg.RegisterActivity("Upper", func(_ *activity.Context, s string) (string, error) { return strings.ToUpper(s), nil }))
	must(t, e.reg.RegisterOrchestration("ChildUpper", func(ctx *orchestration.Context, in string) (string, error) {
		var out string
		err := ctx.ScheduleActivity("Upper", in).Await(&out)
		return out, err
	}))
	must(t, e.reg.RegisterOrchestration("Parent", func(ctx *orchestration.Context, in string) (string, error) {
		var out string
		err := ctx.ScheduleSubOrchestration("ChildUpper", in).Await(&out)
		return "parent:" + out, err
	}))
	e.start()
	e.completed("parent", "Parent", "hi", "parent:HI")
}

// 15. sub-orchestration chain
func TestScenarioSubOrchestrationChain(t *testing.T) {
	e := newEnv(t)
	must(t, e.reg.RegisterActivity("AppendX", func(_ *activity.Context, s string) (string, error) { return s + "x", nil }))
	must(t, e.reg.RegisterOrchestration("Leaf", func(ctx *orchestration.Context, in string) (string, error) {
		var out string
		err := ctx.ScheduleActivity("AppendX", in).Await(&out)
		return out, err
	}))
	must(t, e.reg.RegisterOrchestration("Mid", func(ctx *orchestration.Context, in string) (string, error) {
		var out string
		err := ctx.ScheduleSubOrchestration("Leaf", in).Await(&out)
		return out + "-mid", err
	}))
	must(t, e.reg.RegisterOrchestration("Root", func(ctx *orchestration.Context, in string) (string, error) {
		var out string
		err := ctx.ScheduleSubOrchestration("Mid", in).Await(&out)
		return "root:" + out, err
	}))
	e.start()
	e.completed("root", "Root", "a", "root:ax-mid")
}

// 16. detached orchestration
func TestScenarioDetached(t *testing.T) {
	e := newEnv(t)
	must(t, e.reg.RegisterOrchestration("Chained", func(ctx *orchestration.Context, in string) (string, error) {
		if err := ctx.CreateTimer(5 * time.Millisecond).Await(nil); err != nil {
			return "", err
		}
		return in, nil
	}))
	must(t, e.reg.RegisterOrchestration("Coordinator", func(ctx *orchestration.Context, _ string) (string, error) {
		if err := ctx.StartOrchestration("Chained", "W1", "A"); err != nil {
			return "", err
		}
		if err := ctx.StartOrchestration("Chained", "W2", "B"); err != nil {
			return "", err
		}
		return "scheduled", nil
	}))
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
	e := newEnv(t)
	must(t, e.reg.RegisterOrchestration("Counter", func(ctx *orchestration.Context, in string) (string, error) {
		n, _ := strconv.Atoi(in)
		if n < 3 {
			return "", ctx.ContinueAsNew(strconv.Itoa(n + 1))
		}
		return "final:" + in, nil
	}))
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
	e := newEnv(t)
	sys := func(ctx *orchestration.Context, _ string) (string, error) {
		now, err := ctx.UtcNow()
		if err != nil {
			return "", err
		}
		g, err := ctx.NewGUID()
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("n=%d,g=%s", now.UnixMilli(), g), nil
	}
	must(t, e.reg.RegisterOrchestration("Sys", sys))
	e.start()
	st := e.run("sys", "Sys", "")
	var ms int64
	var g string
	if _, err := fmt.Sscanf(strings.Replace(st.Output, ",g=", " ", 1), "n=%d %s", &ms, &g); err != nil || ms <= 0 || len(g) != 36 {
		t.Fatalf("output %q: want n=<ms>,g=<36-character guid>", st.Output)
	}
	// Replaying the history gives the same values: the code's output matches.
	h, err := e.c.ReadHistory(context.Background(), "sys")
	must(t, err)
	drv := orchestration.NewDriver(sys, nil)
	defer drv.Close()
	if err := replay.Verify(context.Background(), "sys", h, nil, drv); err != nil {
		t.Fatalf("replay differs: %v", err)
	}
}

// 19. custom status
func TestScenarioCustomStatus(t *testing.T) {
	e := newEnv(t)
	must(t, e.reg.RegisterActivity("Work", func(*activity.Context, string) (string, error) { return "w", nil }))
	must(t, e.reg.RegisterOrchestration("Status", func(ctx *orchestration.Context, _ string) (string, error) {
		ctx.SetCustomStatus("step1")
		if err := ctx.ScheduleActivity("Work", "").Await(nil); err != nil {
			return "", err
		}
		ctx.SetCustomStatus("step2")
		err := ctx.WaitForEvent("Go").Await(nil)
		return "done", err
	}))
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
	e := newEnv(t)
	must(t, e.reg.RegisterActivity("Process", func(_ *activity.Context, in string) (string, error) { return "processed:" + in, nil }))
	must(t, e.reg.RegisterOrchestration("KVCounter", func(ctx *orchestration.Context, _ string) (string, error) {
		for i := 0; i < 3; i++ {
			n := 0
			if v, ok := ctx.GetKVValue("count"); ok {
				n, _ = strconv.Atoi(v)
			}
			if err := ctx.ScheduleActivity("Process", i).Await(nil); err != nil {
				return "", err
			}
			ctx.SetKVValue("count", strconv.Itoa(n+1))
		}
		v, _ := ctx.GetKVValue("count")
		return v, nil
	}))
	e.start()
	e.completed("kv", "KVCounter", "", "3")
	v, ok, err := e.c.GetKVValue(context.Background(), "kv", "count")
	must(t, err)
	if !ok || v != "3" {
		t.Fatalf("client KV count = %q (found %v), want 3", v, ok)
	}
}

// 21. versions
func TestScenarioVersions(t *testing.T) {
	e := newEnv(t)
	must(t, e.reg.RegisterOrchestrationVersioned("Versioned", "1.0.0", func(*orchestration.Context, string) (string, error) { return "v1", nil }))
	must(t, e.reg.RegisterOrchestrationVersioned("Versioned", "2.0.0", func(*orchestration.Context, string) (string, error) { return "v2", nil }))
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
	e := newEnv(t)
	must(t, e.reg.RegisterOrchestration("Child", func(ctx *orchestration.Context, _ string) (string, error) {
		return "", ctx.WaitForEvent("never").Await(nil)
	}))
	must(t, e.reg.RegisterOrchestration("Parent", func(ctx *orchestration.Context, _ string) (string, error) {
		return "", ctx.ScheduleSubOrchestrationWithID("Child", "cancel-child", "").Await(nil)
	}))
	e.start()
	ctx := context.Background()
	must(t, e.c.StartOrchestration(ctx, "cancel-parent", "Parent", ""))
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
	e := newEnv(t)
	var calls atomic.Int32
	must(t, e.reg.RegisterActivity("Flaky", func(*activity.Context, string) (string, error) {
		if calls.Add(1) <= 2 {
			return "", errors.New("transient")
		}
		return "ok", nil
	}))
	must(t, e.reg.RegisterOrchestration("Retry", func(ctx *orchestration.Context, _ string) (string, error) {
		var out string
		err := ctx.ScheduleActivityWithRetry("Flaky", "", orchestration.RetryPolicy{
			MaxAttempts: 3, Backoff: orchestration.FixedBackoff(10 * time.Millisecond),
		}).Await(&out)
		return out, err
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

// 24. nondeterminism detected
func TestScenarioNondeterminism(t *testing.T) {
	e := newEnv(t)
	must(t, e.reg.RegisterActivity("A", func(*activity.Context, string) (string, error) { return "a", nil }))
	must(t, e.reg.RegisterActivity("B", func(*activity.Context, string) (string, error) { return "b", nil }))
	must(t, e.reg.RegisterOrchestration("Changing", func(ctx *orchestration.Context, _ string) (string, error) {
		if err := ctx.ScheduleActivity("A", "").Await(nil); err != nil {
			return "", err
		}
		return "done", ctx.WaitForEvent("Go").Await(nil)
	}))
	e.start()
	ctx := context.Background()
	must(t, e.c.StartOrchestration(ctx, "nd", "Changing", ""))
	waitFor(t, "the wait", func() bool { return historyHas(e, "nd", history.ExternalSubscribed) })
	e.stop()
	// New code under the same name and version: B first.
	e.reg = runtime.NewRegistry()
	must(t, e.reg.RegisterActivity("B", func(*activity.Context, string) (string, error) { return "b", nil }))
	must(t, e.reg.RegisterOrchestration("Changing", func(ctx *orchestration.Context, _ string) (string, error) {
		if err := ctx.ScheduleActivity("B", "").Await(nil); err != nil {
			return "", err
		}
		return "done", ctx.WaitForEvent("Go").Await(nil)
	}))
	e.start()
	must(t, e.c.RaiseEvent(ctx, "nd", "Go", ""))
	st := e.wait("nd")
	if st.State != client.StateFailed || st.Error.Kind != history.KindNondeterminism {
		t.Fatalf("got %s %+v, want a nondeterminism failure", st.State, st.Error)
	}
	msg := st.ErrorMessage()
	if !strings.Contains(msg, `"A"`) || !strings.Contains(msg, `"B"`) {
		t.Fatalf("nondeterminism error %q does not name A and B", msg)
	}
}

// 25. unknown orchestration
func TestScenarioUnknownOrchestration(t *testing.T) {
	e := newEnv(t)
	must(t, e.reg.RegisterActivity("Hello", helloActivity))
	must(t, e.reg.RegisterOrchestration("Known", func(ctx *orchestration.Context, in string) (string, error) {
		var out string
		err := ctx.ScheduleActivity("Hello", in).Await(&out)
		return out, err
	}))
	e.start()
	ctx := context.Background()
	must(t, e.c.StartOrchestration(ctx, "ghost", "NoSuchOrchestration", ""))
	// The runtime keeps serving others meanwhile.
	e.completed("known", "Known", "there", "Hello, there!")
	st := e.wait("ghost")
	if st.State != client.StateFailed || !strings.Contains(st.ErrorMessage(), "NoSuchOrchestration") {
		t.Fatalf("got %s %q, want Failed naming the orchestration", st.State, st.ErrorMessage())
	}
	if e.rt.Metrics().Abandoned < int64(e.opts.MaxAttempts-1) {
		t.Fatalf("abandoned %d times, want retries with backoff first", e.rt.Metrics().Abandoned)
	}
}

// 26. unknown activity
func TestScenarioUnknownActivity(t *testing.T) {
	e := newEnv(t)
	must(t, e.reg.RegisterOrchestration("CallsMissing", func(ctx *orchestration.Context, _ string) (string, error) {
		err := ctx.ScheduleActivity("Missing", "").Await(nil)
		if err == nil {
			return "", errors.New("the missing activity succeeded")
		}
		return "caught: " + err.Error(), nil
	}))
	e.start()
	st := e.run("missing", "CallsMissing", "")
	if st.State != client.StateCompleted || !strings.Contains(st.Output, `activity "Missing" is not registered`) {
		t.Fatalf("got %s %q %q", st.State, st.Output, st.ErrorMessage())
	}
}

// 27. bad payloads
func TestScenarioBadPayloads(t *testing.T) {
	e := newEnv(t)
	must(t, e.reg.RegisterActivity("Hello", helloActivity))
	must(t, e.reg.RegisterActivity("ThrowsValue", func(*activity.Context, string) (string, error) { panic(42) }))
	must(t, e.reg.RegisterOrchestration("CallsThrower", func(ctx *orchestration.Context, _ string) (string, error) {
		return "", ctx.ScheduleActivity("ThrowsValue", "").Await(nil)
	}))
	must(t, e.reg.RegisterOrchestration("Unencodable", orchestration.Typed(func(*orchestration.Context, string) (chan int, error) {
		return make(chan int), nil
	})))
	must(t, e.reg.RegisterOrchestration("Hello", func(ctx *orchestration.Context, in string) (string, error) {
		var out string
		err := ctx.ScheduleActivity("Hello", in).Await(&out)
		return out, err
	}))
	e.start()
	st := e.run("thrower", "CallsThrower", "")
	if st.State != client.StateFailed || !strings.Contains(st.ErrorMessage(), "42") {
		t.Fatalf("thrower: %s %q", st.State, st.ErrorMessage())
	}
	st = e.run("unencodable", "Unencodable", "")
	if st.State != client.StateFailed || !strings.Contains(st.ErrorMessage(), "encode orchestration output") {
		t.Fatalf("unencodable: %s %q", st.State, st.ErrorMessage())
	}
	e.completed("after", "Hello", "still serving", "Hello, still serving!")
}
