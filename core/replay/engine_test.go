package replay_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/orchestration"
)

// scenario is run twice, with drivers replayed every turn (cold) and kept
// warm between turns; both runs must end the same and write byte-identical
// histories.
type scenario struct {
	setup func(s *sim)
	drive func(s *sim) // optional: interleaves client actions; default s.run
	check func(t *testing.T, s *sim)
}

func runScenario(t *testing.T, sc scenario) {
	t.Helper()
	var histories [2]map[string][][]history.Event
	for i, warm := range []bool{false, true} {
		s := newSim(t, warm)
		sc.setup(s)
		if sc.drive != nil {
			sc.drive(s)
		} else {
			s.run(100000)
		}
		sc.check(t, s)
		histories[i] = s.execs
		if warm && s.replays > 0 && s.turns > 2 {
			// Warm drivers replay only the first turn of each execution at most.
			t.Logf("warm run replayed %d jobs over %d turns", s.replays, s.turns)
		}
		s.close()
	}
	a, _ := json.Marshal(histories[0])
	b, _ := json.Marshal(histories[1])
	if string(a) != string(b) {
		t.Fatalf("cold and warm runs wrote different histories:\ncold: %s\nwarm: %s", a, b)
	}
}

func act(fn func(string) (string, error)) simActivity {
	return func(in string) (string, error, time.Duration) {
		out, err := fn(in)
		return out, err, 0
	}
}

func slowAct(d time.Duration, fn func(string) (string, error)) simActivity {
	return func(in string) (string, error, time.Duration) {
		out, err := fn(in)
		return out, err, d
	}
}

func hello(in string) (string, error) { return "Hello, " + in + "!", nil }

func TestHello(t *testing.T) {
	runScenario(t, scenario{
		setup: func(s *sim) {
			s.acts["Hello"] = act(hello)
			s.orchs["HelloWorld"] = func(ctx *orchestration.Context, input string) (string, error) {
				var first, second string
				if err := ctx.ScheduleActivity("Hello", "Go").Await(&first); err != nil {
					return "", err
				}
				if err := ctx.ScheduleActivity("Hello", input).Await(&second); err != nil {
					return "", err
				}
				return second, nil
			}
			s.start("i1", "HelloWorld", "World")
		},
		check: func(t *testing.T, s *sim) { s.mustComplete("i1", "Hello, World!") },
	})
}

func TestFanOutFanIn(t *testing.T) {
	runScenario(t, scenario{
		setup: func(s *sim) {
			s.acts["Square"] = act(func(in string) (string, error) {
				n, _ := strconv.Atoi(in)
				return strconv.Itoa(n * n), nil
			})
			s.orchs["Fan"] = func(ctx *orchestration.Context, _ string) (string, error) {
				var fs []*orchestration.Future
				for i := 1; i <= 100; i++ {
					fs = append(fs, ctx.ScheduleActivity("Square", i))
				}
				var results []int
				if err := ctx.All(fs...).Await(&results); err != nil {
					return "", err
				}
				sum := 0
				for _, r := range results {
					sum += r
				}
				return strconv.Itoa(sum), nil
			}
			s.start("f", "Fan", "")
		},
		check: func(t *testing.T, s *sim) { s.mustComplete("f", "338350") },
	})
}

func TestTimeoutRaceCancelsLoser(t *testing.T) {
	runScenario(t, scenario{
		setup: func(s *sim) {
			s.acts["LongOp"] = slowAct(2*time.Second, func(string) (string, error) { return "late", nil })
			s.orchs["Timeout"] = func(ctx *orchestration.Context, _ string) (string, error) {
				idx, err := ctx.Select(ctx.ScheduleActivity("LongOp", ""), ctx.CreateTimer(100*time.Millisecond))
				if err != nil {
					return "", err
				}
				if idx == 1 {
					return "", errors.New("timeout")
				}
				return "op", nil
			}
			s.start("t", "Timeout", "")
		},
		check: func(t *testing.T, s *sim) {
			d := s.mustFail("t")
			if d.DisplayMessage() != "timeout" {
				t.Fatalf("error %q, want timeout", d.DisplayMessage())
			}
			found := false
			for _, e := range s.history("t") {
				if e.Kind == history.ActivityCancelRequested && e.Reason == history.ReasonDroppedFuture {
					found = true
				}
				if e.Kind == history.ActivityCompleted {
					t.Fatalf("the cancelled activity's completion reached history")
				}
			}
			if !found {
				t.Fatalf("no cancellation breadcrumb for the losing activity:\n%s", dump(s.history("t")))
			}
		},
	})
}

func TestEventRaisedBeforeWaitIsBuffered(t *testing.T) {
	runScenario(t, scenario{
		setup: func(s *sim) {
			s.acts["Prepare"] = slowAct(200*time.Millisecond, func(string) (string, error) { return "ok", nil })
			s.orchs["Approval"] = func(ctx *orchestration.Context, _ string) (string, error) {
				if err := ctx.ScheduleActivity("Prepare", "").Await(nil); err != nil {
					return "", err
				}
				var v string
				if err := ctx.WaitForEvent("Approval").Await(&v); err != nil {
					return "", err
				}
				return "approved:" + v, nil
			}
			s.start("a", "Approval", "")
			s.raise("a", "Approval", "yes")
		},
		check: func(t *testing.T, s *sim) { s.mustComplete("a", "approved:yes") },
	})
}

func TestEventWinsRace(t *testing.T) {
	runScenario(t, scenario{
		setup: func(s *sim) {
			s.acts["Sleep"] = slowAct(300*time.Millisecond, func(string) (string, error) { return "slept", nil })
			s.orchs["EvRace"] = func(ctx *orchestration.Context, _ string) (string, error) {
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
			}
			s.start("e", "EvRace", "")
		},
		drive: func(s *sim) {
			s.runUntil(100, func() bool { return hasKind(s.history("e"), history.ExternalSubscribed) })
			s.raise("e", "Go", "ok")
			s.run(1000)
		},
		check: func(t *testing.T, s *sim) { s.mustComplete("e", "event:ok") },
	})
}

func hasKind(evs []history.Event, k history.Kind) bool {
	for _, e := range evs {
		if e.Kind == k {
			return true
		}
	}
	return false
}

func countKind(evs []history.Event, k history.Kind) int {
	n := 0
	for _, e := range evs {
		if e.Kind == k {
			n++
		}
	}
	return n
}

func TestEventQueueFIFO(t *testing.T) {
	runScenario(t, scenario{
		setup: func(s *sim) {
			s.orchs["Inbox"] = func(ctx *orchestration.Context, _ string) (string, error) {
				var got []string
				for i := 0; i < 3; i++ {
					var v string
					if err := ctx.DequeueEvent("inbox").Await(&v); err != nil {
						return "", err
					}
					got = append(got, v)
				}
				return strings.Join(got, ","), nil
			}
			s.start("q", "Inbox", "")
			s.enqueueEvent("q", "inbox", "a")
			s.enqueueEvent("q", "inbox", "b")
		},
		drive: func(s *sim) {
			s.run(100)
			s.enqueueEvent("q", "inbox", "c")
			s.run(100)
		},
		check: func(t *testing.T, s *sim) { s.mustComplete("q", "a,b,c") },
	})
}

func TestNestedRace(t *testing.T) {
	runScenario(t, scenario{
		setup: func(s *sim) {
			s.acts["Slow"] = slowAct(time.Second, func(string) (string, error) { return "slow", nil })
			s.orchs["Nested"] = func(ctx *orchestration.Context, _ string) (string, error) {
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
			}
			s.start("n", "Nested", "")
			s.raise("n", "A", "x")
		},
		check: func(t *testing.T, s *sim) {
			s.mustComplete("n", "inner:event:x")
			if !hasKind(s.history("n"), history.ActivityCancelRequested) {
				t.Fatalf("the losing activity was not cancelled:\n%s", dump(s.history("n")))
			}
		},
	})
}

func TestAllInsideRace(t *testing.T) {
	runScenario(t, scenario{
		setup: func(s *sim) {
			s.acts["A"] = slowAct(50*time.Millisecond, func(string) (string, error) { return "a", nil })
			s.acts["B"] = slowAct(80*time.Millisecond, func(string) (string, error) { return "b", nil })
			s.orchs["AllRace"] = func(ctx *orchestration.Context, _ string) (string, error) {
				both := ctx.All(ctx.ScheduleActivity("A", ""), ctx.ScheduleActivity("B", ""))
				r := ctx.Race(both, ctx.CreateTimer(time.Second))
				var vals []string
				if err := r.Await(&vals); err != nil {
					return "", err
				}
				if r.Winner() != 0 {
					return "timer", nil
				}
				return strings.Join(vals, "+"), nil
			}
			s.start("ar", "AllRace", "")
		},
		check: func(t *testing.T, s *sim) { s.mustComplete("ar", "a+b") },
	})
}

func TestSubOrchestrationChain(t *testing.T) {
	runScenario(t, scenario{
		setup: func(s *sim) {
			s.acts["AppendX"] = act(func(in string) (string, error) { return in + "x", nil })
			s.orchs["Leaf"] = func(ctx *orchestration.Context, in string) (string, error) {
				var out string
				err := ctx.ScheduleActivity("AppendX", in).Await(&out)
				return out, err
			}
			s.orchs["Mid"] = func(ctx *orchestration.Context, in string) (string, error) {
				var out string
				err := ctx.ScheduleSubOrchestration("Leaf", in).Await(&out)
				return out + "-mid", err
			}
			s.orchs["Root"] = func(ctx *orchestration.Context, in string) (string, error) {
				var out string
				err := ctx.ScheduleSubOrchestration("Mid", in).Await(&out)
				return "root:" + out, err
			}
			s.start("r", "Root", "a")
		},
		check: func(t *testing.T, s *sim) {
			s.mustComplete("r", "root:ax-mid")
			if s.outcome("r::sub::2") == nil {
				t.Fatalf("child r::sub::2 did not run; instances: %v", keys(s.execs))
			}
		},
	})
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestDetachedOrchestrations(t *testing.T) {
	runScenario(t, scenario{
		setup: func(s *sim) {
			s.orchs["Chained"] = func(ctx *orchestration.Context, in string) (string, error) {
				if err := ctx.CreateTimer(5 * time.Millisecond).Await(nil); err != nil {
					return "", err
				}
				return in, nil
			}
			s.orchs["Coordinator"] = func(ctx *orchestration.Context, _ string) (string, error) {
				if err := ctx.StartOrchestration("Chained", "W1", "A"); err != nil {
					return "", err
				}
				if err := ctx.StartOrchestration("Chained", "W2", "B"); err != nil {
					return "", err
				}
				return "scheduled", nil
			}
			s.start("c", "Coordinator", "")
		},
		check: func(t *testing.T, s *sim) {
			s.mustComplete("c", "scheduled")
			s.mustComplete("W1", "A")
			s.mustComplete("W2", "B")
			if s.history("W1")[0].ParentInstance != "" {
				t.Fatalf("a detached orchestration must have no parent")
			}
		},
	})
}

func TestContinueAsNewCarriesQueueAndStatus(t *testing.T) {
	runScenario(t, scenario{
		setup: func(s *sim) {
			s.orchs["Counter"] = func(ctx *orchestration.Context, in string) (string, error) {
				n, _ := strconv.Atoi(in)
				if n == 0 {
					ctx.SetCustomStatus("first")
				}
				if n < 3 {
					return "", ctx.ContinueAsNew(strconv.Itoa(n + 1))
				}
				var msg string
				if err := ctx.DequeueEvent("q").Await(&msg); err != nil {
					return "", err
				}
				cs, _ := ctx.GetCustomStatus()
				return fmt.Sprintf("final:%d:%s:%s", n, msg, cs), nil
			}
			s.start("can", "Counter", "0")
			s.enqueueEvent("can", "q", "carried")
		},
		check: func(t *testing.T, s *sim) {
			s.mustComplete("can", "final:3:carried:first")
			if n := len(s.execs["can"]); n != 4 {
				t.Fatalf("%d executions, want 4", n)
			}
		},
	})
}

func TestSystemCallsAreRecorded(t *testing.T) {
	runScenario(t, scenario{
		setup: func(s *sim) {
			s.acts["Noop"] = act(func(string) (string, error) { return "", nil })
			s.orchs["Sys"] = func(ctx *orchestration.Context, _ string) (string, error) {
				now, err := ctx.UtcNow()
				if err != nil {
					return "", err
				}
				g, err := ctx.NewGUID()
				if err != nil {
					return "", err
				}
				// A later turn replays both values from history.
				if err := ctx.ScheduleActivity("Noop", "").Await(nil); err != nil {
					return "", err
				}
				return fmt.Sprintf("n=%d,g=%s", now.UnixMilli(), g), nil
			}
			s.start("sys", "Sys", "")
		},
		check: func(t *testing.T, s *sim) {
			o := s.outcome("sys")
			if o == nil || o.Kind != history.OrchestrationCompleted {
				t.Fatalf("not completed:\n%s", dump(s.history("sys")))
			}
			want := fmt.Sprintf("n=%d,g=00000000-0000-4000-8000-000000000001", s.history("sys")[0].TimestampMs)
			if o.Output != want {
				t.Fatalf("output %q, want %q", o.Output, want)
			}
			if n := countKind(s.history("sys"), history.SystemCall); n != 2 {
				t.Fatalf("%d system calls recorded, want 2", n)
			}
		},
	})
}

func TestCustomStatusAndKV(t *testing.T) {
	runScenario(t, scenario{
		setup: func(s *sim) {
			s.acts["Process"] = act(func(in string) (string, error) { return "p" + in, nil })
			s.orchs["KV"] = func(ctx *orchestration.Context, _ string) (string, error) {
				ctx.SetCustomStatus("step1")
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
				ctx.SetCustomStatus("step2")
				v, _ := ctx.GetKVValue("count")
				return v, nil
			}
			s.start("kv", "KV", "")
		},
		check: func(t *testing.T, s *sim) {
			s.mustComplete("kv", "3")
			if got := s.liveKV("kv")["count"]; got != "3" {
				t.Fatalf("kv count %q, want 3", got)
			}
		},
	})
}

func TestCancelCascadesToChild(t *testing.T) {
	runScenario(t, scenario{
		setup: func(s *sim) {
			s.orchs["Child"] = func(ctx *orchestration.Context, _ string) (string, error) {
				err := ctx.WaitForEvent("never").Await(nil)
				return "", err
			}
			s.orchs["Parent"] = func(ctx *orchestration.Context, _ string) (string, error) {
				err := ctx.ScheduleSubOrchestration("Child", "").Await(nil)
				if ctx.IsCancelRequested() {
					ctx.SetCustomStatus("compensated")
				}
				return "", err
			}
			s.start("p", "Parent", "")
		},
		drive: func(s *sim) {
			s.run(100)
			s.cancel("p", "user_request")
			s.run(100)
		},
		check: func(t *testing.T, s *sim) {
			d := s.mustFail("p")
			if d.Kind != history.KindCancelled || !strings.Contains(d.DisplayMessage(), "user_request") {
				t.Fatalf("parent error %+v, want a cancellation naming user_request", d)
			}
			cd := s.mustFail("p::sub::2")
			if cd.Kind != history.KindCancelled {
				t.Fatalf("child error %+v, want cancelled", cd)
			}
			if !hasKind(s.history("p"), history.CustomStatusUpdated) {
				t.Fatalf("the code did not observe the cancellation:\n%s", dump(s.history("p")))
			}
		},
	})
}

func TestRetryPolicy(t *testing.T) {
	runScenario(t, scenario{
		setup: func(s *sim) {
			calls := 0
			s.acts["Flaky"] = act(func(string) (string, error) {
				calls++
				if calls <= 2 {
					return "", errBoom
				}
				return "ok", nil
			})
			s.orchs["Retry"] = func(ctx *orchestration.Context, _ string) (string, error) {
				var out string
				err := ctx.ScheduleActivityWithRetry("Flaky", "", orchestration.RetryPolicy{MaxAttempts: 3, Backoff: orchestration.FixedBackoff(10 * time.Millisecond)}).Await(&out)
				return out, err
			}
			s.start("r", "Retry", "")
		},
		check: func(t *testing.T, s *sim) {
			s.mustComplete("r", "ok")
			if n := countKind(s.history("r"), history.ActivityScheduled); n != 3 {
				t.Fatalf("%d activity schedules, want 3", n)
			}
		},
	})
}

func TestRetryTimeoutStopsRetrying(t *testing.T) {
	runScenario(t, scenario{
		setup: func(s *sim) {
			s.acts["Hang"] = slowAct(time.Hour, func(string) (string, error) { return "late", nil })
			s.orchs["R"] = func(ctx *orchestration.Context, _ string) (string, error) {
				err := ctx.ScheduleActivityWithRetry("Hang", "", orchestration.RetryPolicy{MaxAttempts: 5, Timeout: 50 * time.Millisecond}).Await(nil)
				if errors.Is(err, orchestration.ErrTimeout) {
					return "timed out", nil
				}
				return "", err
			}
			s.start("rt", "R", "")
		},
		check: func(t *testing.T, s *sim) {
			s.mustComplete("rt", "timed out")
			if n := countKind(s.history("rt"), history.ActivityScheduled); n != 1 {
				t.Fatalf("%d attempts, want 1 (no retry after a timeout)", n)
			}
		},
	})
}

func TestRaceLoserWaitDoesNotStealLaterEvent(t *testing.T) {
	runScenario(t, scenario{
		setup: func(s *sim) {
			s.orchs["Steal"] = func(ctx *orchestration.Context, _ string) (string, error) {
				r := ctx.Race(ctx.WaitForEvent("X"), ctx.CreateTimer(10*time.Millisecond))
				if err := r.Await(nil); err != nil {
					return "", err
				}
				var v string
				if err := ctx.WaitForEvent("X").Await(&v); err != nil {
					return "", err
				}
				return fmt.Sprintf("first=%d second=%s", r.Winner(), v), nil
			}
			s.start("s", "Steal", "")
		},
		drive: func(s *sim) {
			s.runUntil(100, func() bool { return countKind(s.history("s"), history.ExternalSubscribed) == 2 })
			s.raise("s", "X", "v1")
			s.run(100)
		},
		check: func(t *testing.T, s *sim) {
			s.mustComplete("s", "first=1 second=v1")
			if !hasKind(s.history("s"), history.ExternalSubscribedCancelled) {
				t.Fatalf("losing wait not cancelled:\n%s", dump(s.history("s")))
			}
		},
	})
}

func TestSameBatchTimerThenEventRespectsOrder(t *testing.T) {
	// The timer's fire and the event arrive in one batch, timer first: the
	// race goes to the timer and the event stays buffered for the next wait.
	runScenario(t, scenario{
		setup: func(s *sim) {
			s.orchs["Order"] = func(ctx *orchestration.Context, _ string) (string, error) {
				r := ctx.Race(ctx.WaitForEvent("E"), ctx.CreateTimer(100*time.Millisecond))
				_ = r.Await(nil)
				var v string
				if err := ctx.WaitForEvent("E").Await(&v); err != nil {
					return "", err
				}
				return fmt.Sprintf("%d:%s", r.Winner(), v), nil
			}
			s.start("o", "Order", "")
		},
		drive: func(s *sim) {
			s.steps(1) // the start turn only
			s.now = s.now.Add(200 * time.Millisecond)
			// The TimerFired message is already queued; the event follows it.
			s.raise("o", "E", "late")
			s.run(100)
		},
		check: func(t *testing.T, s *sim) { s.mustComplete("o", "1:late") },
	})
}

func TestOrchestrationPanicFails(t *testing.T) {
	runScenario(t, scenario{
		setup: func(s *sim) {
			s.orchs["Panic"] = func(ctx *orchestration.Context, _ string) (string, error) {
				var m map[string]int
				m["x"] = 1
				return "", nil
			}
			s.start("p", "Panic", "")
		},
		check: func(t *testing.T, s *sim) {
			d := s.mustFail("p")
			if d.Kind != history.KindPanicked || !strings.Contains(d.DisplayMessage(), "nil map") {
				t.Fatalf("error %+v", d)
			}
		},
	})
}

func TestOversizedInputFailsWithNamedLimit(t *testing.T) {
	runScenario(t, scenario{
		setup: func(s *sim) {
			s.orchs["Big"] = func(ctx *orchestration.Context, _ string) (string, error) {
				return "", ctx.ScheduleActivity("X", strings.Repeat("a", history.DefaultMaxPayloadBytes+1)).Await(nil)
			}
			s.start("b", "Big", "")
		},
		check: func(t *testing.T, s *sim) {
			d := s.mustFail("b")
			if !strings.Contains(d.DisplayMessage(), "MaxPayloadBytes") {
				t.Fatalf("error %q does not name the limit", d.DisplayMessage())
			}
		},
	})
}

func TestCoroutineCancelledWhenItLosesARace(t *testing.T) {
	runScenario(t, scenario{
		setup: func(s *sim) {
			s.acts["Step"] = slowAct(time.Second, func(in string) (string, error) { return in, nil })
			s.orchs["Co"] = func(ctx *orchestration.Context, _ string) (string, error) {
				work := ctx.Go(func(ctx *orchestration.Context) (any, error) {
					for i := 0; i < 5; i++ {
						if err := ctx.ScheduleActivity("Step", i).Await(nil); err != nil {
							return nil, err
						}
					}
					return "all steps", nil
				})
				r := ctx.Race(work, ctx.CreateTimer(1500*time.Millisecond))
				var v string
				_ = r.Await(&v)
				if r.Winner() == 1 {
					return "deadline", nil
				}
				return v, nil
			}
			s.start("co", "Co", "")
		},
		check: func(t *testing.T, s *sim) {
			s.mustComplete("co", "deadline")
			h := s.history("co")
			if n := countKind(h, history.ActivityScheduled); n != 2 {
				t.Fatalf("%d steps scheduled, want 2 before the deadline:\n%s", n, dump(h))
			}
			if countKind(h, history.ActivityCancelRequested) != 1 {
				t.Fatalf("the running step was not cancelled:\n%s", dump(h))
			}
		},
	})
}

func TestDeterministicReplayIdentity(t *testing.T) {
	// Every scenario above already compares warm and cold runs; this one
	// checks that a cold replay through every turn really happened.
	s := newSim(t, false)
	s.acts["Hello"] = act(hello)
	s.orchs["H"] = func(ctx *orchestration.Context, in string) (string, error) {
		for i := 0; i < 5; i++ {
			if err := ctx.ScheduleActivity("Hello", in).Await(nil); err != nil {
				return "", err
			}
		}
		return "done", nil
	}
	s.start("h", "H", "x")
	s.run(1000)
	s.mustComplete("h", "done")
	if s.replays == 0 {
		t.Fatalf("cold run replayed nothing")
	}
	w := newSim(t, true)
	w.acts, w.orchs = s.acts, s.orchs
	w.start("h", "H", "x")
	w.run(1000)
	w.close()
	if w.replays != 0 {
		t.Fatalf("warm run replayed %d jobs, want 0", w.replays)
	}
	if !reflect.DeepEqual(s.execs, w.execs) {
		t.Fatalf("histories differ")
	}
}

func TestStateLimitsNameTheLimit(t *testing.T) {
	cases := []struct {
		name  string
		code  orchestration.Func
		limit string
	}{
		{"too many KV keys", func(ctx *orchestration.Context, _ string) (string, error) {
			for i := 0; i <= history.DefaultMaxKVKeys; i++ {
				ctx.SetKVValue(fmt.Sprintf("k%d", i), "v")
			}
			return "", nil
		}, "MaxKVKeys=100"},
		{"KV value too large", func(ctx *orchestration.Context, _ string) (string, error) {
			ctx.SetKVValue("big", strings.Repeat("v", history.DefaultMaxKVValueBytes+1))
			return "", nil
		}, "MaxKVValueBytes"},
		{"custom status too large", func(ctx *orchestration.Context, _ string) (string, error) {
			ctx.SetCustomStatus(strings.Repeat("s", history.DefaultMaxCustomStatusBytes+1))
			return "", nil
		}, "MaxCustomStatusBytes"},
		{"output too large", func(ctx *orchestration.Context, _ string) (string, error) {
			return strings.Repeat("o", history.DefaultMaxPayloadBytes+1), nil
		}, "MaxPayloadBytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runScenario(t, scenario{
				setup: func(s *sim) {
					s.orchs["Limits"] = c.code
					s.start("l", "Limits", "")
				},
				check: func(t *testing.T, s *sim) {
					d := s.mustFail("l")
					if d.Kind != history.KindLimitExceeded || !strings.Contains(d.DisplayMessage(), c.limit) {
						t.Fatalf("failure %+v does not name %s", d, c.limit)
					}
				},
			})
		})
	}
	// Up to the limit is fine, and the keys survive into the next execution.
	runScenario(t, scenario{
		setup: func(s *sim) {
			s.orchs["AtLimit"] = func(ctx *orchestration.Context, in string) (string, error) {
				if in == "first" {
					for i := 0; i < history.DefaultMaxKVKeys; i++ {
						ctx.SetKVValue(fmt.Sprintf("k%d", i), "v")
					}
					return "", ctx.ContinueAsNew("second")
				}
				return fmt.Sprint(len(ctx.GetKVAllKeys())), nil
			}
			s.start("at", "AtLimit", "first")
		},
		check: func(t *testing.T, s *sim) { s.mustComplete("at", "100") },
	})
}
