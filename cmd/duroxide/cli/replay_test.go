package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/runtime"
	"github.com/duroxide/duroxide/mcp/mcptest"
)

// withCode runs the CLI in this process with linked code.
func withCode(t *testing.T, reg *runtime.Registry, args ...string) result {
	t.Helper()
	var out bytes.Buffer
	errw := &syncBuffer{}
	code := run(context.Background(), args, strings.NewReader(""), &out, errw, func(string) string { return "" }, reg)
	return result{out.String(), errw.String(), code}
}

func TestReplayCleanHistories(t *testing.T) {
	dsn := fixture()
	for _, id := range mcptest.Instances {
		r := withCode(t, mcptest.Registry(), "replay", id, "--store", dsn)
		expect(t, r, exitOK, "stdout", "replays cleanly")
	}
	// Every execution of a continued instance, each with its own verdict.
	r := withCode(t, mcptest.Registry(), "replay", mcptest.Loop, "--store", dsn)
	expect(t, r, exitOK, "stdout", "execution 1", "execution 2", "execution 3")
	r = withCode(t, mcptest.Registry(), "replay", mcptest.Loop, "--execution", "2", "--store", dsn)
	if strings.Contains(r.out, "execution 1") || !strings.Contains(r.out, "execution 2") {
		t.Fatalf("--execution 2 replayed:\n%s", r.out)
	}
}

func TestReplayReportsChangedCode(t *testing.T) {
	reg := runtime.NewRegistry()
	_ = reg.RegisterActivity("Step", func(_ *activity.Context, in string) (string, error) { return in, nil })
	_ = reg.RegisterOrchestration("Chain3", func(ctx *orchestration.Context, in string) (string, error) {
		var out string
		err := ctx.ScheduleActivity("Twist", in).Await(&out)
		return out, err
	})
	r := withCode(t, reg, "replay", mcptest.Chain, "--store", fixture())
	expect(t, r, exitFailed, "stdout", "NONDETERMINISTIC", `"Step"`, `"Twist"`)
}

func TestReplayWithoutCode(t *testing.T) {
	r := withCode(t, runtime.NewRegistry(), "replay", mcptest.Chain, "--store", fixture())
	expect(t, r, exitFailed, "stdout", "no code", "Chain3")
	r = on(t, fixture(), "replay", mcptest.Chain)
	expect(t, r, exitFailed, "stderr", "no orchestration code")
	r = withCode(t, mcptest.Registry(), "replay", "nope", "--store", fixture())
	expect(t, r, exitFailed, "stderr", "not found")
}

func TestRunServesLinkedCodeUntilInterrupted(t *testing.T) {
	dsn := copyStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	errw := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"run", "--store", dsn}, strings.NewReader(""), &out, errw, func(string) string { return "" }, mcptest.Registry())
	}()
	p, err := openStore(dsn, false)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := client.New(p, nil)
	if err := c.RaiseEvent(ctx, mcptest.Wait, "Go", "from the test"); err != nil {
		t.Fatal(err)
	}
	st, err := c.WaitForOrchestration(ctx, mcptest.Wait, 30*time.Second)
	if err != nil || st.Output != "got from the test" {
		t.Fatalf("the served instance did not finish: %+v %v\n%s", st, err, errw.String())
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK || !strings.Contains(out.String(), "stopped") {
			t.Fatalf("exit %d\n%s\n%s", code, out.String(), errw.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop after the interrupt")
	}
}
