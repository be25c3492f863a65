package runtime_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/provider/sqlite"
	"github.com/duroxide/duroxide/core/runtime"
)

// childEnv, when set to a store DSN, makes the test binary run as a
// runtime process (see runChild) instead of running tests.
const childEnv = "DUROXIDE_TEST_CHILD_STORE"

// crashRegistry is the workload of the crash test: a chain of activities, a
// durable timer and a sub-orchestration per instance.
func crashRegistry() *runtime.Registry {
	reg := runtime.NewRegistry()
	step := func(ctx *activity.Context, in string) (string, error) {
		// Real work takes time; this is where a kill often lands.
		select {
		case <-time.After(time.Duration(5+rand.IntN(25)) * time.Millisecond):
		case <-ctx.Done():
			return "", ctx.Err()
		}
		return in + "+", nil
	}
	_ = reg.RegisterActivity("Step", step)
	_ = reg.RegisterOrchestration("Inner", func(ctx *orchestration.Context, in string) (string, error) {
		if err := ctx.CreateTimer(20 * time.Millisecond).Await(nil); err != nil {
			return "", err
		}
		var out string
		err := ctx.ScheduleActivity("Step", in).Await(&out)
		return out + "inner", err
	})
	_ = reg.RegisterOrchestration("Crashy", func(ctx *orchestration.Context, in string) (string, error) {
		s := in
		for i := 0; i < 3; i++ {
			if err := ctx.ScheduleActivity("Step", s).Await(&s); err != nil {
				return "", err
			}
		}
		var inner string
		if err := ctx.ScheduleSubOrchestration("Inner", s).Await(&inner); err != nil {
			return "", err
		}
		return "done:" + inner, nil
	})
	return reg
}

func crashExpected(in string) string { return "done:" + in + "++++inner" }

// runChild serves the crash workload until killed.
func runChild() int {
	store, err := sqlite.Open(os.Getenv(childEnv), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		return 1
	}
	rt, err := runtime.Start(context.Background(), store, crashRegistry(), &runtime.Options{
		OrchestratorLockTimeout: time.Second, WorkerLockTimeout: time.Second, PollTimeout: 200 * time.Millisecond,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: start:", err)
		return 1
	}
	fmt.Println("ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	_ = rt.Stop(context.Background())
	_ = store.Close()
	return 0
}

func startChild(t *testing.T, dsn string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dsn)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || !strings.HasPrefix(string(buf), "ready") {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child did not start: %q %v", buf, err)
	}
	return cmd
}

func kill(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
}

// TestCrashRecovery kills the runtime process with SIGKILL several times
// while instances are in flight (in turns, in activities, in acks) and
// checks that after a final restart every instance completes exactly with
// the expected result.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes; skipped with -short")
	}
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "crash.db")
	store, err := sqlite.Open(dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	c := client.New(store, nil)
	ctx := context.Background()
	const n = 30
	for i := 0; i < n; i++ {
		must(t, c.StartOrchestration(ctx, fmt.Sprintf("crash-%02d", i), "Crashy", fmt.Sprintf("in%02d", i)))
	}
	completed := func() int {
		done := 0
		for i := 0; i < n; i++ {
			st, err := c.GetStatus(ctx, fmt.Sprintf("crash-%02d", i))
			if err == nil && st.IsTerminal() {
				done++
			}
		}
		return done
	}
	// Kill at different moments: at once, mid-way, and late.
	kills := 0
	for round, target := range []int{0, n / 3, 2 * n / 3} {
		cmd := startChild(t, dsn)
		if target == 0 {
			// Kill as soon as activities are in flight.
			waitFor(t, "the first activities to be scheduled", func() bool {
				h, err := c.ReadHistory(ctx, "crash-00")
				return err == nil && len(h) >= 2
			})
		} else {
			waitFor(t, fmt.Sprintf("round %d: %d instances to finish", round, target), func() bool { return completed() >= target })
		}
		kill(cmd)
		kills++
	}
	if got := completed(); got == n {
		t.Logf("all instances finished before the last kill")
	}
	cmd := startChild(t, dsn)
	defer kill(cmd)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("crash-%02d", i)
		st, err := c.WaitForOrchestration(ctx, id, 60*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		want := crashExpected(fmt.Sprintf("in%02d", i))
		if st.State != client.StateCompleted || st.Output != want {
			t.Fatalf("%s: %s %q %q, want Completed %q", id, st.State, st.Output, st.ErrorMessage(), want)
		}
		execs, err := c.ListExecutions(ctx, id)
		must(t, err)
		if len(execs) != 1 {
			t.Fatalf("%s has executions %v, want exactly one", id, execs)
		}
	}
	t.Logf("survived %d SIGKILLs", kills)
}
