package runtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/orchestration"
)

// cacheWorkload registers an orchestration that takes many turns: a loop of
// activities, a fan-out, a race, events, KV and custom status.
func cacheWorkload(e *testEnv) {
	must(e.t, e.reg.RegisterActivity("Inc", activity.Typed(func(_ *activity.Context, n int) (int, error) { return n + 1, nil })))
	must(e.t, e.reg.RegisterOrchestration("Many", func(ctx *orchestration.Context, in string) (string, error) {
		n := 0
		for i := 0; i < 5; i++ {
			if err := ctx.ScheduleActivity("Inc", n).Await(&n); err != nil {
				return "", err
			}
			ctx.SetKVValue("n", strconv.Itoa(n))
		}
		var fan []int
		if err := ctx.All(ctx.ScheduleActivity("Inc", 10), ctx.ScheduleActivity("Inc", 20)).Await(&fan); err != nil {
			return "", err
		}
		ctx.SetCustomStatus("waiting")
		r := ctx.Race(ctx.WaitForEvent("go"), ctx.CreateTimer(time.Hour))
		var ev string
		if err := r.Await(&ev); err != nil {
			return "", err
		}
		var q string
		if err := ctx.DequeueEvent("q").Await(&q); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s:%d:%v:%s:%s", in, n, fan, ev, q), nil
	}))
}

// normalized drops what legitimately differs between two runs (times).
func normalized(t *testing.T, evs []history.Event) string {
	t.Helper()
	out := make([]history.Event, len(evs))
	for i, e := range evs {
		e.TimestampMs, e.FireAtMs, e.LastUpdatedAtMs = 0, 0, 0
		out[i] = e
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestInstanceCacheIdenticalHistories runs the same instances with the
// instance cache on and off and compares their histories event by event.
func TestInstanceCacheIdenticalHistories(t *testing.T) {
	run := func(cacheSize int) (map[string]string, int64) {
		e := newEnv(t)
		e.opts.InstanceCacheSize = cacheSize
		// One worker: activity completions arrive in the same order in
		// both runs, so any difference would come from the cache.
		e.opts.WorkerConcurrency = 1
		cacheWorkload(e)
		rt := e.start()
		ctx := context.Background()
		ids := []string{"c1", "c2", "c3"}
		for _, id := range ids {
			must(t, e.c.StartOrchestration(ctx, id, "Many", id))
		}
		for _, id := range ids {
			waitFor(t, id+" to wait for its event", func() bool { return historyHas(e, id, history.ExternalSubscribed) })
			must(t, e.c.RaiseEvent(ctx, id, "go", "ev-"+id))
			must(t, e.c.EnqueueEvent(ctx, id, "q", "q-"+id))
		}
		out := map[string]string{}
		for _, id := range ids {
			st := e.wait(id)
			want := fmt.Sprintf("%s:5:[11 21]:ev-%s:q-%s", id, id, id)
			if st.Output != want {
				t.Fatalf("cache %d: %s output %q (%s), want %q", cacheSize, id, st.Output, st.ErrorMessage(), want)
			}
			h, err := e.c.ReadHistory(ctx, id)
			must(t, err)
			out[id] = normalized(t, h)
		}
		warm := rt.Metrics().WarmTurns
		e.stop()
		return out, warm
	}
	cached, warm := run(100)
	uncached, cold := run(-1)
	if warm == 0 {
		t.Fatalf("the cached run had no warm turns")
	}
	if cold != 0 {
		t.Fatalf("the uncached run had %d warm turns", cold)
	}
	for id := range cached {
		if cached[id] != uncached[id] {
			t.Fatalf("%s: histories differ\ncached:   %s\nuncached: %s", id, cached[id], uncached[id])
		}
	}
}
