package providertest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	activitypkg "github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/runtime"
)

// e2eRuntime starts a runtime on the test's store with the given
// registrations and returns its client.
func (e *env) e2eRuntime(register func(reg *runtime.Registry)) *client.Client {
	e.t.Helper()
	reg := runtime.NewRegistry()
	register(reg)
	rt, err := runtime.Start(e.ctx, e.p, reg, &runtime.Options{PollTimeout: time.Second})
	if err != nil {
		e.t.Fatalf("start runtime: %v", err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rt.Stop(ctx); err != nil {
			e.t.Errorf("stop runtime: %v", err)
		}
	})
	return rt.Client()
}

func (e *env) e2eWait(c *client.Client, id, want string) {
	e.t.Helper()
	st, err := c.WaitForOrchestration(e.ctx, id, 30*time.Second)
	if err != nil {
		e.t.Fatalf("wait for %s: %v", id, err)
	}
	if st.State != client.StateCompleted || st.Output != want {
		e.t.Fatalf("%s: %s %q %q, want Completed %q", id, st.State, st.Output, st.ErrorMessage(), want)
	}
}

func e2eMust(e *env, err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

var e2eTests = []test{
	{"ActivityChain", func(e *env) {
		c := e.e2eRuntime(func(reg *runtime.Registry) {
			e2eMust(e, reg.RegisterActivity("Append", func(_ *activitypkg.Context, s string) (string, error) { return s + "x", nil }))
			e2eMust(e, reg.RegisterOrchestration("Chain", func(ctx *orchestration.Context, s string) (string, error) {
				for i := 0; i < 3; i++ {
					if err := ctx.ScheduleActivity("Append", s).Await(&s); err != nil {
						return "", err
					}
				}
				return s, nil
			}))
		})
		e2eMust(e, c.StartOrchestration(e.ctx, "chain", "Chain", "a"))
		e.e2eWait(c, "chain", "axxx")
	}},
	{"FanOutFanIn", func(e *env) {
		c := e.e2eRuntime(func(reg *runtime.Registry) {
			e2eMust(e, reg.RegisterActivity("Double", activitypkg.Typed(func(_ *activitypkg.Context, n int) (int, error) { return 2 * n, nil })))
			e2eMust(e, reg.RegisterOrchestration("Fan", func(ctx *orchestration.Context, _ string) (string, error) {
				var fs []*orchestration.Future
				for i := 1; i <= 20; i++ {
					fs = append(fs, ctx.ScheduleActivity("Double", i))
				}
				var out []int
				if err := ctx.All(fs...).Await(&out); err != nil {
					return "", err
				}
				sum := 0
				for _, v := range out {
					sum += v
				}
				return strconv.Itoa(sum), nil
			}))
		})
		e2eMust(e, c.StartOrchestration(e.ctx, "fan", "Fan", ""))
		e.e2eWait(c, "fan", "420")
	}},
	{"TimerAndEvents", func(e *env) {
		c := e.e2eRuntime(func(reg *runtime.Registry) {
			e2eMust(e, reg.RegisterOrchestration("Waits", func(ctx *orchestration.Context, _ string) (string, error) {
				if err := ctx.CreateTimer(30 * time.Millisecond).Await(nil); err != nil {
					return "", err
				}
				var ev, q string
				if err := ctx.WaitForEvent("E").Await(&ev); err != nil {
					return "", err
				}
				if err := ctx.DequeueEvent("Q").Await(&q); err != nil {
					return "", err
				}
				return ev + q, nil
			}))
		})
		e2eMust(e, c.StartOrchestration(e.ctx, "waits", "Waits", ""))
		e2eMust(e, c.RaiseEvent(e.ctx, "waits", "E", "raised-"))
		e2eMust(e, c.EnqueueEvent(e.ctx, "waits", "Q", "queued"))
		e.e2eWait(c, "waits", "raised-queued")
	}},
	{"SubOrchestrationAndContinueAsNew", func(e *env) {
		c := e.e2eRuntime(func(reg *runtime.Registry) {
			e2eMust(e, reg.RegisterOrchestration("Child", func(_ *orchestration.Context, in string) (string, error) {
				return strings.ToUpper(in), nil
			}))
			e2eMust(e, reg.RegisterOrchestration("Parent", func(ctx *orchestration.Context, in string) (string, error) {
				n, _ := strconv.Atoi(in)
				if n < 2 {
					ctx.SetKVValue("round", strconv.Itoa(n))
					return "", ctx.ContinueAsNew(strconv.Itoa(n + 1))
				}
				var out string
				err := ctx.ScheduleSubOrchestration("Child", "done").Await(&out)
				round, _ := ctx.GetKVValue("round")
				return fmt.Sprintf("%s:%s", out, round), err
			}))
		})
		e2eMust(e, c.StartOrchestration(e.ctx, "parent", "Parent", "0"))
		e.e2eWait(c, "parent", "DONE:1")
	}},
	{"CancelCascades", func(e *env) {
		c := e.e2eRuntime(func(reg *runtime.Registry) {
			e2eMust(e, reg.RegisterOrchestration("Child", func(ctx *orchestration.Context, _ string) (string, error) {
				return "", ctx.WaitForEvent("never").Await(nil)
			}))
			e2eMust(e, reg.RegisterOrchestration("Parent", func(ctx *orchestration.Context, _ string) (string, error) {
				return "", ctx.ScheduleSubOrchestrationWithID("Child", "the-child", "").Await(nil)
			}))
		})
		e2eMust(e, c.StartOrchestration(e.ctx, "p", "Parent", ""))
		waitFor(e.t, 20*time.Second, "the child to start", func() bool {
			h, err := c.ReadHistory(e.ctx, "the-child")
			return err == nil && len(h) > 1
		})
		e2eMust(e, c.CancelInstance(e.ctx, "p", "stop"))
		for _, id := range []string{"p", "the-child"} {
			st, err := c.WaitForOrchestration(e.ctx, id, 30*time.Second)
			e2eMust(e, err)
			if st.State != client.StateFailed || st.Error.Kind != history.KindCancelled {
				e.t.Fatalf("%s: %s %+v, want cancelled", id, st.State, st.Error)
			}
		}
	}},
}
