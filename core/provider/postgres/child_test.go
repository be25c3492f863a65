package postgres

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/runtime"
)

// The multi-process tests and benchmarks re-execute the test binary as
// runtime processes sharing one schema (TestMain calls runChild).
const (
	childEnv       = "DUROXIDE_PG_TEST_CHILD" // the child's role: "runtime"
	childDSNEnv    = "DUROXIDE_PG_TEST_CHILD_DSN"
	childSchemaEnv = "DUROXIDE_PG_TEST_CHILD_SCHEMA"
	childLockEnv   = "DUROXIDE_PG_TEST_CHILD_LOCK" // lock timeouts, a Go duration
)

// workRegistry is the workload of the multi-process tests and benchmarks.
//
// ScaleOut(in): two Steps, a 20 ms timer, a third Step; returns
// in+"+++" and, after '#', the process ids that ran the three Steps.
// Chain3(in): three Steps in sequence, returning in+"+++" (pids dropped).
func workRegistry() *runtime.Registry {
	reg := runtime.NewRegistry()
	pid := strconv.Itoa(os.Getpid())
	_ = reg.RegisterActivity("Step", func(ctx *activity.Context, in string) (string, error) {
		if d := rand.IntN(4); d > 0 {
			select {
			case <-time.After(time.Duration(d) * time.Millisecond):
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		return in + "+@" + pid, nil
	})
	_ = reg.RegisterActivity("FastStep", func(_ *activity.Context, in string) (string, error) { return in + "+", nil })
	step := func(ctx *orchestration.Context, v string) (string, string, error) {
		var r string
		if err := ctx.ScheduleActivity("Step", v).Await(&r); err != nil {
			return "", "", err
		}
		val, p, _ := strings.Cut(r, "@")
		return val, p, nil
	}
	_ = reg.RegisterOrchestration("ScaleOut", func(ctx *orchestration.Context, in string) (string, error) {
		v, pids := in, []string{}
		for i := 0; i < 3; i++ {
			if i == 2 {
				if err := ctx.CreateTimer(20 * time.Millisecond).Await(nil); err != nil {
					return "", err
				}
			}
			var p string
			var err error
			if v, p, err = step(ctx, v); err != nil {
				return "", err
			}
			pids = append(pids, p)
		}
		return v + "#" + strings.Join(pids, ","), nil
	})
	_ = reg.RegisterOrchestration("Chain3", func(ctx *orchestration.Context, in string) (string, error) {
		s := in
		for i := 0; i < 3; i++ {
			if err := ctx.ScheduleActivity("FastStep", s).Await(&s); err != nil {
				return "", err
			}
		}
		return s, nil
	})
	return reg
}

// runChild serves workRegistry as a runtime process until SIGTERM (or
// SIGKILL).
func runChild() int {
	lock := 2 * time.Second
	if v := os.Getenv(childLockEnv); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			lock = d
		}
	}
	store, err := Open(context.Background(), os.Getenv(childDSNEnv), &Options{Schema: os.Getenv(childSchemaEnv)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		return 1
	}
	rt, err := runtime.Start(context.Background(), store, workRegistry(), &runtime.Options{
		OrchestratorLockTimeout: lock, WorkerLockTimeout: lock, PollTimeout: 5 * time.Second,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: start:", err)
		return 1
	}
	fmt.Printf("ready %d\n", os.Getpid())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = rt.Stop(ctx)
	_ = store.Close()
	return 0
}

// child is a runtime process.
type child struct {
	cmd *exec.Cmd
	pid int
}

// startChildren starts n runtime processes on dsn and schema and waits
// until each is ready.
func startChildren(tb testing.TB, n int, dsn, schema string, lock time.Duration) []*child {
	tb.Helper()
	var out []*child
	for i := 0; i < n; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=runtime", childDSNEnv+"="+dsn, childSchemaEnv+"="+schema,
			childLockEnv+"="+lock.String())
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			tb.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			tb.Fatal(err)
		}
		c := &child{cmd: cmd}
		tb.Cleanup(func() { c.kill() })
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "ready ") {
			tb.Fatalf("child %d did not start: %q %v", i, line, err)
		}
		c.pid, _ = strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "ready ")))
		out = append(out, c)
	}
	return out
}

// kill ends the process with SIGKILL (idempotent).
func (c *child) kill() {
	if c.cmd.ProcessState != nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	_ = c.cmd.Wait()
}

// stop ends the process with SIGTERM: the runtime drains and stops.
func (c *child) stop() {
	if c.cmd.ProcessState != nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		c.kill()
	}
}
