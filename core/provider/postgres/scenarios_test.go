package postgres

// The [pg] scenarios of shared/SCENARIOS.md (1 hello, 6 fan-out/fan-in,
// 17 continue-as-new), run by the Go driver on a runtime over this store.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/runtime"
)

// scenarioEnv is a runtime and a client on a fresh schema.
type scenarioEnv struct {
	t     *testing.T
	store *Store
	reg   *runtime.Registry
	rt    *runtime.Runtime
	c     *client.Client
}

func newScenario(t *testing.T) *scenarioEnv {
	t.Helper()
	s := openTest(t, nil)
	e := &scenarioEnv{t: t, store: s, reg: runtime.NewRegistry(), c: client.New(s, nil)}
	t.Cleanup(func() {
		if e.rt != nil {
			ctx, cancel := context.WithTimeout(bg0, 10*time.Second)
			defer cancel()
			if err := e.rt.Stop(ctx); err != nil {
				t.Errorf("stop runtime: %v", err)
			}
		}
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return e
}

func (e *scenarioEnv) start() {
	e.t.Helper()
	rt, err := runtime.Start(bg0, e.store, e.reg, &runtime.Options{PollTimeout: time.Second})
	if err != nil {
		e.t.Fatalf("start runtime: %v", err)
	}
	e.rt = rt
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (e *scenarioEnv) completed(id, name string, input any, want string) {
	e.t.Helper()
	must(e.t, e.c.StartOrchestration(bg0, id, name, input))
	st, err := e.c.WaitForOrchestration(bg0, id, 30*time.Second)
	if err != nil {
		e.t.Fatalf("wait for %s: %v", id, err)
	}
	if st.State != client.StateCompleted || st.Output != want {
		e.t.Fatalf("%s ended %s %q (%s), want Completed %q", id, st.State, st.Output, st.ErrorMessage(), want)
	}
}

func helloActivity(_ *activity.Context, in string) (string, error) { return "Hello, " + in + "!", nil }

// 1. hello [pg]
func TestScenarioHello(t *testing.T) {
	e := newScenario(t)
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

// 6. fan-out/fan-in [pg]
func TestScenarioFanOut(t *testing.T) {
	e := newScenario(t)
	must(t, e.reg.RegisterActivity("Greet", helloActivity))
	must(t, e.reg.RegisterOrchestration("Gabbar", func(ctx *orchestration.Context, _ string) (string, error) {
		var out []string
		err := ctx.All(ctx.ScheduleActivity("Greet", "Gabbar"), ctx.ScheduleActivity("Greet", "Samba")).Await(&out)
		return strings.Join(out, ","), err
	}))
	e.start()
	e.completed("gabbar", "Gabbar", "", "Hello, Gabbar!,Hello, Samba!")
}

// 17. continue-as-new [pg]
func TestScenarioContinueAsNew(t *testing.T) {
	e := newScenario(t)
	must(t, e.reg.RegisterOrchestration("Counter", func(ctx *orchestration.Context, in string) (string, error) {
		n, _ := strconv.Atoi(in)
		if n < 3 {
			return "", ctx.ContinueAsNew(strconv.Itoa(n + 1))
		}
		return "final:" + in, nil
	}))
	e.start()
	e.completed("counter", "Counter", "0", "final:3")
	execs, err := e.c.ListExecutions(bg0, "counter")
	must(t, err)
	if fmt.Sprint(execs) != "[1 2 3 4]" {
		t.Fatalf("executions %v, want [1 2 3 4]", execs)
	}
}
