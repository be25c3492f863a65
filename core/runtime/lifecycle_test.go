package runtime_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/orchestration"
)

func callOnce(ctx *orchestration.Context, in string) (string, error) {
	var out string
	err := ctx.ScheduleActivity("Long", in).Await(&out)
	return out, err
}

// An activity that runs for many lock periods keeps its lock through
// renewals and runs exactly once.
func TestLongActivityKeepsItsLock(t *testing.T) {
	e := newEnv(t)
	e.opts.WorkerLockTimeout = 200 * time.Millisecond
	var runs atomic.Int32
	must(t, e.reg.RegisterActivity("Long", func(ctx *activity.Context, in string) (string, error) {
		runs.Add(1)
		select {
		case <-time.After(time.Second): // five lock periods
			return "finished " + in, nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}))
	must(t, e.reg.RegisterOrchestration("CallOnce", callOnce))
	e.start()
	e.completed("long", "CallOnce", "x", "finished x")
	if n := runs.Load(); n != 1 {
		t.Fatalf("the activity ran %d times, want once", n)
	}
}

// Stop waits for in-flight activities when its deadline allows.
func TestStopDrainsInFlightWork(t *testing.T) {
	e := newEnv(t)
	started := make(chan struct{})
	must(t, e.reg.RegisterActivity("Long", func(ctx *activity.Context, in string) (string, error) {
		close(started)
		time.Sleep(300 * time.Millisecond) // work that finishes during the drain
		return "drained " + in, nil
	}))
	must(t, e.reg.RegisterOrchestration("CallOnce", callOnce))
	rt := e.start()
	ctx := context.Background()
	must(t, e.c.StartOrchestration(ctx, "drain", "CallOnce", "x"))
	<-started
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := rt.Stop(stopCtx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	e.rt = nil
	if rt.Metrics().ActivitiesSucceeded != 1 {
		t.Fatalf("the in-flight activity was not completed during the drain: %+v", rt.Metrics())
	}
	// Its result was committed: a new runtime finishes the instance.
	e.start()
	if st := e.wait("drain"); st.Output != "drained x" {
		t.Fatalf("%s %q", st.State, st.Output)
	}
}

// Past Stop's deadline, running activities see their context cancelled and
// their work is handed back, to run again later.
func TestStopDeadlineCancelsActivities(t *testing.T) {
	e := newEnv(t)
	e.opts.ActivityCancellationGrace = time.Second
	started := make(chan struct{}, 2)
	var cancelled atomic.Bool
	var runs atomic.Int32
	must(t, e.reg.RegisterActivity("Long", func(ctx *activity.Context, in string) (string, error) {
		if runs.Add(1) == 1 {
			started <- struct{}{}
			<-ctx.Done()
			cancelled.Store(true)
			return "", ctx.Err()
		}
		return "second run " + in, nil
	}))
	must(t, e.reg.RegisterOrchestration("CallOnce", callOnce))
	rt := e.start()
	ctx := context.Background()
	must(t, e.c.StartOrchestration(ctx, "cut", "CallOnce", "x"))
	<-started
	stopCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := rt.Stop(stopCtx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stop past its deadline returned %v", err)
	}
	e.rt = nil
	if !cancelled.Load() {
		t.Fatal("the running activity's context was not cancelled")
	}
	e.start()
	if st := e.wait("cut"); st.Output != "second run x" {
		t.Fatalf("%s %q", st.State, st.Output)
	}
}

// An orchestration that panics fails with the panic's message; the runtime
// keeps serving others.
func TestOrchestrationPanicFailsInstance(t *testing.T) {
	e := newEnv(t)
	must(t, e.reg.RegisterOrchestration("Panics", func(*orchestration.Context, string) (string, error) {
		panic("kaboom")
	}))
	must(t, e.reg.RegisterOrchestration("Fine", func(_ *orchestration.Context, in string) (string, error) { return in, nil }))
	e.start()
	st := e.run("panics", "Panics", "")
	if st.State != client.StateFailed || st.Error.Kind != history.KindPanicked || !strings.Contains(st.ErrorMessage(), "kaboom") {
		t.Fatalf("%s %+v", st.State, st.Error)
	}
	e.completed("fine", "Fine", "ok", "ok")
}
