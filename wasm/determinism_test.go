package wasm

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/replay"
)

// recorder keeps every command a driver returns.
type recorder struct {
	replay.Driver
	mu   sync.Mutex
	cmds []replay.Command
}

func (r *recorder) Activate(ctx context.Context, a *replay.Activation) ([]replay.Command, error) {
	cmds, err := r.Driver.Activate(ctx, a)
	r.mu.Lock()
	r.cmds = append(r.cmds, cmds...)
	r.mu.Unlock()
	return cmds, err
}

func echoActivity(_ *activity.Context, in string) (string, error) { return in, nil }

// The guest reads the clock, randomness (math/rand and crypto/rand), map
// order, the environment, arguments, files and directories, and sleeps; it
// records what it saw in an activity's input. Two fresh replays of the
// history produce exactly the recorded commands, and the values show the
// sandbox: a logical clock, no environment, no files, a sleep that took no
// time.
func TestDeterminismTwoFreshReplays(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	must(t, e.reg.RegisterActivity("Echo", echoActivity))
	e.start()
	st := e.run("entropy", "Entropy", "")
	if st.State != client.StateCompleted {
		t.Fatalf("Entropy ended %s: %s", st.State, st.ErrorMessage())
	}
	out := st.Output
	for _, want := range []string{
		fmt.Sprintf("now=%d ", int64(logicalEpochNs)+jobTickNs), // the logical clock at the first job
		"slept=3s", "env=0", "args=0", "file=true", "dir=true", `host=""`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
	h, err := e.c.ReadHistory(context.Background(), "entropy")
	must(t, err)

	var runs [2][]replay.Command
	for i := range runs {
		drv, err := e.host.NewDriver("Entropy", "", nil)
		must(t, err)
		rec := &recorder{Driver: drv}
		if err := replay.Verify(context.Background(), "entropy", h, nil, rec); err != nil {
			t.Fatalf("fresh replay %d: %v", i+1, err)
		}
		drv.Close()
		runs[i] = rec.cmds
	}
	if len(runs[0]) == 0 || !reflect.DeepEqual(runs[0], runs[1]) {
		a, _ := json.Marshal(runs[0])
		b, _ := json.Marshal(runs[1])
		t.Fatalf("two fresh replays differ:\n%s\n%s", a, b)
	}

	// The seed comes from the instance id: another instance sees other
	// random values, the same clock.
	other := e.run("entropy-2", "Entropy", "")
	if other.Output == out {
		t.Fatalf("two instances saw the same randomness: %q", out)
	}
}

// normalizedHistory is an instance's history without what depends on
// wall-clock time.
func normalizedHistory(t *testing.T, c *client.Client, id string) []string {
	t.Helper()
	execs, err := c.ListExecutions(context.Background(), id)
	must(t, err)
	var out []string
	for _, ex := range execs {
		h, err := c.ReadExecutionHistory(context.Background(), id, ex)
		must(t, err)
		for _, ev := range h {
			ev.TimestampMs, ev.FireAtMs, ev.LastUpdatedAtMs = 0, 0, 0
			if ev.Kind == history.SystemCall {
				ev.Value = ""
			}
			b, _ := json.Marshal(ev)
			out = append(out, string(b))
		}
	}
	return out
}

// A warm instance (kept between turns), a fresh instance per turn (full
// replay) and instances rebuilt from their driver's journal (a host pool of
// one instance) give identical histories.
func TestWarmAndFreshHistoriesIdentical(t *testing.T) {
	workload := func(t *testing.T, e *testEnv) map[string][]string {
		must(t, e.reg.RegisterActivity("Echo", echoActivity))
		must(t, e.reg.RegisterActivity("Append", func(_ *activity.Context, s string) (string, error) { return s + "x", nil }))
		must(t, e.reg.RegisterActivity("Prepare", func(*activity.Context, string) (string, error) { return "ready", nil }))
		e.start()
		ctx := context.Background()
		ids := map[string][2]string{"chain": {"Chain", "4"}, "entropy": {"Entropy", ""}, "approve": {"Approve", ""}, "counter": {"Counter", "1"}, "inbox": {"Inbox", ""}}
		for id, w := range ids {
			must(t, e.c.StartOrchestration(ctx, id, w[0], w[1]))
		}
		for _, m := range []string{"a", "b", "c"} {
			must(t, e.c.EnqueueEvent(ctx, "inbox", "inbox", m))
		}
		waitFor(t, "approve to wait", func() bool { return historyHas(e, "approve", history.ExternalSubscribed) })
		must(t, e.c.RaiseEvent(ctx, "approve", "Approval", "yes"))
		got := map[string][]string{}
		for id := range ids {
			if st := e.wait(id); st.State != client.StateCompleted {
				t.Fatalf("%s ended %s: %s", id, st.State, st.ErrorMessage())
			}
			got[id] = normalizedHistory(t, e.c, id)
		}
		return got
	}

	warm := newEnv(t, nil, "scenarios")
	want := workload(t, warm)
	if warm.rt.Metrics().Turns == 0 {
		t.Fatal("no turns")
	}

	fresh := newEnv(t, nil, "scenarios")
	fresh.opts.InstanceCacheSize = -1 // every turn replays on a fresh instance
	if got := workload(t, fresh); !reflect.DeepEqual(got, want) {
		t.Fatalf("fresh-instance histories differ from warm ones:\n%v\n%v", got, want)
	}

	pooled := newEnv(t, &Options{CacheDir: testCacheDir, MaxInstances: 1})
	pooled.load("scenarios")
	if got := workload(t, pooled); !reflect.DeepEqual(got, want) {
		t.Fatalf("journal-rebuilt histories differ from warm ones:\n%v\n%v", got, want)
	}
	if n := pooled.host.pool.liveInstances(); n > 1 {
		t.Fatalf("%d live instances, over MaxInstances=1", n)
	}
	_ = time.Second
}
