package runtime_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/provider/sqlite"
	"github.com/duroxide/duroxide/core/runtime"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	goleak.VerifyTestMain(m)
}

// testEnv is a runtime on a SQLite file in a temporary directory.
type testEnv struct {
	t     *testing.T
	path  string
	store *sqlite.Store
	reg   *runtime.Registry
	rt    *runtime.Runtime
	c     *client.Client
	opts  runtime.Options
}

// fastOptions keep retries and polling short so failure paths finish quickly.
func fastOptions() runtime.Options {
	return runtime.Options{
		MaxAttempts:            4,
		UnregisteredBackoff:    20 * time.Millisecond,
		UnregisteredBackoffMax: 100 * time.Millisecond,
		PollTimeout:            time.Second,
	}
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	return newEnvWith(t, nil)
}

func newEnvWith(t *testing.T, storeOpts *sqlite.Options) *testEnv {
	t.Helper()
	path := filepath.Join(t.TempDir(), "duroxide.db")
	store, err := sqlite.Open("sqlite:"+path, storeOpts)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	e := &testEnv{t: t, path: path, store: store, reg: runtime.NewRegistry(), opts: fastOptions()}
	e.c = client.New(store, nil)
	t.Cleanup(func() {
		e.stop()
		if err := store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return e
}

func (e *testEnv) start() *runtime.Runtime {
	e.t.Helper()
	opts := e.opts
	rt, err := runtime.Start(context.Background(), e.store, e.reg, &opts)
	if err != nil {
		e.t.Fatalf("start runtime: %v", err)
	}
	e.rt = rt
	return rt
}

func (e *testEnv) stop() {
	if e.rt == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.rt.Stop(ctx); err != nil {
		e.t.Errorf("stop runtime: %v", err)
	}
	e.rt = nil
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// run starts an instance and waits for it to end.
func (e *testEnv) run(id, name string, input any) *client.Status {
	e.t.Helper()
	ctx := context.Background()
	must(e.t, e.c.StartOrchestration(ctx, id, name, input))
	return e.wait(id)
}

func (e *testEnv) wait(id string) *client.Status {
	e.t.Helper()
	st, err := e.c.WaitForOrchestration(context.Background(), id, 30*time.Second)
	if err != nil {
		e.t.Fatalf("wait for %s: %v", id, err)
	}
	return st
}

func (e *testEnv) completed(id, name string, input any, want string) {
	e.t.Helper()
	st := e.run(id, name, input)
	if st.State != client.StateCompleted {
		e.t.Fatalf("%s ended %s (%s), want Completed %q", id, st.State, st.ErrorMessage(), want)
	}
	if st.Output != want {
		e.t.Fatalf("%s output %q, want %q", id, st.Output, want)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	delay := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(delay)
		if delay < 50*time.Millisecond {
			delay *= 2
		}
	}
}
