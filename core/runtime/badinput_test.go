package runtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/provider/sqlite"
)

// A message for an instance that never started must not block anyone, and
// is set aside with a reason.
func TestUnknownInstanceMessageIsDeadLettered(t *testing.T) {
	e := newEnvWith(t, &sqlite.Options{DeadLetterAfter: 100 * time.Millisecond, PollInterval: 50 * time.Millisecond})
	must(t, e.reg.RegisterActivity("Hello", helloActivity))
	must(t, e.reg.RegisterOrchestration("Hello", func(ctx *orchestration.Context, in string) (string, error) {
		var out string
		err := ctx.ScheduleActivity("Hello", in).Await(&out)
		return out, err
	}))
	e.start()
	ctx := context.Background()
	must(t, e.c.RaiseEvent(ctx, "nobody", "Ping", "x"))
	must(t, e.c.CancelInstance(ctx, "nobody-either", "why not"))
	e.completed("somebody", "Hello", "you", "Hello, you!")
	waitFor(t, "the stray messages to be dead-lettered", func() bool {
		dl, err := e.c.ListDeadLetters(ctx, 10)
		if err != nil || len(dl) < 2 {
			return false
		}
		for _, d := range dl {
			if !strings.Contains(d.Reason, "no instance") {
				t.Fatalf("dead letter reason %q does not say why", d.Reason)
			}
		}
		return true
	})
}

// A history that fails validation fails its instance with an error that
// names the bad event; other instances carry on.
func TestInvalidHistoryFailsInstance(t *testing.T) {
	e := newEnv(t)
	must(t, e.reg.RegisterOrchestration("Waits", func(ctx *orchestration.Context, _ string) (string, error) {
		var v string
		err := ctx.WaitForEvent("Go").Await(&v)
		return v, err
	}))
	e.start()
	ctx := context.Background()
	must(t, e.c.StartOrchestration(ctx, "corrupt", "Waits", ""))
	waitFor(t, "the wait", func() bool { return historyHas(e, "corrupt", history.ExternalSubscribed) })
	// A completion pointing at an event that does not exist.
	h, err := e.c.ReadHistory(ctx, "corrupt")
	must(t, err)
	bad := history.Event{EventID: uint64(len(h)) + 1, InstanceID: "corrupt", ExecutionID: 1, Kind: history.ActivityCompleted, SourceEventID: 99, Result: "?"}
	must(t, e.store.AppendWithExecution(ctx, "corrupt", 1, []history.Event{bad}))
	must(t, e.c.RaiseEvent(ctx, "corrupt", "Go", "x"))
	st := e.wait("corrupt")
	if st.State != client.StateFailed || st.Error.Kind != history.KindInvalidHistory {
		t.Fatalf("got %s %+v, want a history validation failure", st.State, st.Error)
	}
	if !strings.Contains(st.ErrorMessage(), "event 3") {
		t.Fatalf("error %q does not name the bad event", st.ErrorMessage())
	}
	must(t, e.c.StartOrchestration(ctx, "healthy", "Waits", ""))
	must(t, e.c.RaiseEvent(ctx, "healthy", "Go", "fine"))
	if st := e.wait("healthy"); st.Output != "fine" {
		t.Fatalf("healthy instance: %s %q", st.State, st.Output)
	}
}

// Client calls with bad arguments are refused before anything is stored.
func TestClientRejectsBadInput(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	big := strings.Repeat("x", history.DefaultMaxPayloadBytes+1)
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"empty instance", e.c.StartOrchestration(ctx, "", "Hello", "x"), "instance id"},
		{"empty name", e.c.StartOrchestration(ctx, "i", "", "x"), "orchestration name"},
		{"long name", e.c.StartOrchestration(ctx, "i", strings.Repeat("n", 300), "x"), "MaxNameBytes"},
		{"oversized input", e.c.StartOrchestration(ctx, "i", "Hello", big), "MaxPayloadBytes"},
		{"bad version", e.c.StartOrchestrationVersioned(ctx, "i", "Hello", "one", "x"), "major.minor.patch"},
		{"unencodable", e.c.StartOrchestration(ctx, "i", "Hello", make(chan int)), "encode"},
		{"oversized event", e.c.RaiseEvent(ctx, "i", "E", big), "MaxPayloadBytes"},
		{"empty event name", e.c.EnqueueEvent(ctx, "i", "", "x"), "event name"},
	}
	for _, c := range cases {
		if !errors.Is(c.err, client.ErrInvalidInput) || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: got %v, want ErrInvalidInput mentioning %q", c.name, c.err, c.want)
		}
	}
	depths, err := e.c.GetQueueDepths(ctx)
	must(t, err)
	if depths.Orchestrator != 0 {
		t.Fatalf("refused calls stored %d messages", depths.Orchestrator)
	}
}
