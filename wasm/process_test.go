package wasm

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/provider/sqlite"
	"github.com/duroxide/duroxide/core/runtime"
)

// workerEnv, when set to a store DSN, makes the test binary run as an
// activity worker process (runWorker) instead of running tests.
const workerEnv = "DUROXIDE_WASM_TEST_WORKER_STORE"

// runWorker serves Go activities, and no orchestrations, on the store
// until its stdin closes.
func runWorker() int {
	store, err := sqlite.Open(os.Getenv(workerEnv), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker: open:", err)
		return 1
	}
	defer store.Close()
	pid := os.Getpid()
	reg := runtime.NewRegistry()
	_ = reg.RegisterActivity("Hello", func(_ *activity.Context, in string) (string, error) {
		return "Hello, " + in + "!", nil
	})
	_ = reg.RegisterActivity("Append", func(_ *activity.Context, s string) (string, error) { return s + "x", nil })
	_ = reg.RegisterActivity("Echo", func(_ *activity.Context, s string) (string, error) {
		return fmt.Sprintf("pid %d: %s", pid, s), nil
	})
	rt, err := runtime.Start(context.Background(), store, reg, &runtime.Options{
		OrchestrationConcurrency: -1, PollTimeout: 200 * time.Millisecond,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker: start:", err)
		return 1
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rt.Stop(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "worker: stop:", err)
		return 1
	}
	return 0
}

// A runtime hosting the wasm module registers no activities; a separate Go
// process on the same SQLite file serves them.
func TestActivitiesServedByAnotherProcess(t *testing.T) {
	e := newEnv(t, nil, "scenarios")
	e.opts.WorkerConcurrency = -1
	if n := len(e.reg.ActivityNames()); n != 0 {
		t.Fatalf("the wasm runtime registers %d activities", n)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerEnv+"=sqlite:"+e.path)
	stdin, err := cmd.StdinPipe()
	must(t, err)
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	cmd.Stderr = os.Stderr
	must(t, cmd.Start())
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("worker process: %v", err)
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Error("worker process did not stop")
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("worker said %q, %v", line, err)
	}

	e.start()
	e.completed("hello", "HelloWorld", "World", "Hello, World!")
	e.completed("loop", "Loop", "", "startxxx")
	st := e.run("entropy", "Entropy", "")
	if st.State != "Completed" {
		t.Fatalf("entropy ended %s: %s", st.State, st.ErrorMessage())
	}
	// The activity results carry the worker's pid.
	h, err := e.c.ReadHistory(context.Background(), "entropy")
	must(t, err)
	want := fmt.Sprintf("pid %d:", cmd.Process.Pid)
	for _, ev := range h {
		if strings.Contains(ev.Result, want) {
			return
		}
	}
	t.Fatalf("no activity result came from the worker process %d", cmd.Process.Pid)
}
