package wasm

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/provider/sqlite"
	"github.com/duroxide/duroxide/core/runtime"
)

// The guest modules the tests use, built once per test run from
// testdata/guests/<name> with the standard toolchain.
var guestNames = []string{"scenarios", "deploy_v1", "deploy_v2", "changed"}

var (
	guestDir     string // built .wasm files
	testCacheDir string // compile cache shared by the tests' hosts
)

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) != "" {
		os.Exit(runWorker())
	}
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "duroxide-wasm-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	guestDir = filepath.Join(dir, "guests")
	testCacheDir = filepath.Join(dir, "cache")
	for _, g := range guestNames {
		if err := buildGuest(g, filepath.Join(guestDir, g+".wasm")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			return 1
		}
	}
	return code
}

// buildGuest compiles testdata/guests/<name> into a WebAssembly module.
func buildGuest(name, out string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(goruntime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goTool, "build", "-buildmode=c-shared", "-o", out, "./testdata/guests/"+name)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build guest %s: %v\n%s", name, err, b)
	}
	return nil
}

func guestPath(name string) string { return filepath.Join(guestDir, name+".wasm") }

// testOptions are host options for tests: the shared compile cache.
func testOptions() *Options { return &Options{CacheDir: testCacheDir} }

func newTestHost(t testing.TB, opts *Options) *Host {
	t.Helper()
	if opts == nil {
		opts = testOptions()
	}
	if opts.CacheDir == "" && !opts.DisableCache {
		opts.CacheDir = testCacheDir
	}
	h, err := NewHost(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// testEnv is a runtime on a SQLite file serving wasm modules.
type testEnv struct {
	t     *testing.T
	path  string
	store *sqlite.Store
	reg   *runtime.Registry
	host  *Host
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

// newEnv opens a store and loads the named guest modules into a host whose
// orchestrations are registered in the env's registry.
func newEnv(t *testing.T, hostOpts *Options, modules ...string) *testEnv {
	t.Helper()
	path := filepath.Join(t.TempDir(), "duroxide.db")
	store, err := sqlite.Open("sqlite:"+path, nil)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	e := &testEnv{t: t, path: path, store: store, reg: runtime.NewRegistry(), opts: fastOptions()}
	e.c = client.New(store, nil)
	e.host = newTestHost(t, hostOpts)
	for _, m := range modules {
		e.load(m)
	}
	t.Cleanup(func() {
		e.stop()
		if err := store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return e
}

func (e *testEnv) load(module string) *Module {
	e.t.Helper()
	m, err := e.host.LoadFile(context.Background(), guestPath(module))
	must(e.t, err)
	must(e.t, m.Register(e.reg))
	return m
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

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// run starts an instance and waits for it to end.
func (e *testEnv) run(id, name string, input any) *client.Status {
	e.t.Helper()
	must(e.t, e.c.StartOrchestration(context.Background(), id, name, input))
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

func (e *testEnv) completed(id, name string, input any, want string) *client.Status {
	e.t.Helper()
	st := e.run(id, name, input)
	if st.State != client.StateCompleted {
		e.t.Fatalf("%s ended %s (%s), want Completed %q", id, st.State, st.ErrorMessage(), want)
	}
	if st.Output != want {
		e.t.Fatalf("%s output %q, want %q", id, st.Output, want)
	}
	return st
}

func (e *testEnv) failed(id, name string, input any, wantInMessage ...string) *client.Status {
	e.t.Helper()
	st := e.run(id, name, input)
	if st.State != client.StateFailed {
		e.t.Fatalf("%s ended %s (%q), want Failed", id, st.State, st.Output)
	}
	for _, w := range wantInMessage {
		if !strings.Contains(st.ErrorMessage(), w) {
			e.t.Fatalf("%s failed with %q, want it to contain %q", id, st.ErrorMessage(), w)
		}
	}
	return st
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
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
