package wasm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/replay"
	"github.com/duroxide/duroxide/core/runtime"
)

func TestInspect(t *testing.T) {
	info, err := Inspect(guestPath("deploy_v1"), testOptions())
	must(t, err)
	if info.Name != "deploy_v1.wasm" || !strings.HasPrefix(info.SDK, "duroxide-go-guest/") || len(info.SHA256) != 64 {
		t.Fatalf("info %+v", info)
	}
	var got []string
	for _, o := range info.Orchestrations {
		got = append(got, o.Name+"@"+o.Version+"@"+o.Module)
	}
	if strings.Join(got, " ") != "Order@1.0.0@deploy_v1.wasm Versioned@1.0.0@deploy_v1.wasm" {
		t.Fatalf("orchestrations %v", got)
	}
}

func writeWat(t *testing.T, name, wat string) string {
	t.Helper()
	b, err := wasmtime.Wat2Wasm(wat)
	must(t, err)
	p := filepath.Join(t.TempDir(), name)
	must(t, os.WriteFile(p, b, 0o644))
	return p
}

// Modules that are not duroxide guests are refused with a reason.
func TestLoadRefusesOtherModules(t *testing.T) {
	garbage := filepath.Join(t.TempDir(), "garbage.wasm")
	must(t, os.WriteFile(garbage, []byte("not wasm"), 0o644))
	cases := map[string]string{
		garbage: "compile module garbage.wasm",
		writeWat(t, "plain.wasm", `(module (memory (export "memory") 1) (func (export "f")))`):        "not a duroxide guest module",
		writeWat(t, "command.wasm", `(module (memory (export "memory") 1) (func (export "_start")))`): "built as a WASI command",
		writeWat(t, "imports.wasm", `(module
			(import "env" "now" (func))
			(import "wasi_snapshot_preview1" "clock_time_get" (func (param i32 i32 i32) (result i32)))
			(import "wasi_snapshot_preview1" "fd_teleport" (func))
			(memory (export "memory") 1)
			(func (export "duroxide_activate") (result i32) i32.const 0)
			(func (export "duroxide_manifest") (result i32) i32.const 0))`): "env.now: the sandbox provides only",
	}
	for path, want := range cases {
		_, err := Inspect(path, &Options{DisableCache: true})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error containing %q", filepath.Base(path), err, want)
		}
	}
	_, err := Inspect(writeWat(t, "imports2.wasm", `(module
			(import "wasi_snapshot_preview1" "clock_time_get" (func (param i32 i32 i32) (result i32)))
			(import "wasi_snapshot_preview1" "fd_teleport" (func))
			(memory (export "memory") 1)
			(func (export "duroxide_activate") (result i32) i32.const 0)
			(func (export "duroxide_manifest") (result i32) i32.const 0))`), &Options{DisableCache: true})
	for _, want := range []string{"clock_time_get has signature (iii)->(i), want (iIi)->(i)", "fd_teleport is not a WASI preview 1 function"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v, want an error containing %q", err, want)
		}
	}
}

// Each module is compiled once: a second host (a restart) deserialises it
// from the cache; an unusable cache entry is compiled again.
func TestCompileCache(t *testing.T) {
	dir := t.TempDir()
	load := func() ModuleInfo {
		h := newTestHost(t, &Options{CacheDir: dir})
		m, err := h.LoadFile(context.Background(), guestPath("changed"))
		must(t, err)
		return m.Info()
	}
	first := load()
	second := load()
	if first.FromCache || !second.FromCache {
		t.Fatalf("from cache: first %v, second %v", first.FromCache, second.FromCache)
	}
	t.Logf("compile %v, from cache %v", first.CompileTime, second.CompileTime)
	entries, err := filepath.Glob(filepath.Join(dir, "*.cwasm"))
	must(t, err)
	if len(entries) != 1 {
		t.Fatalf("cache holds %v", entries)
	}
	must(t, os.WriteFile(entries[0], []byte("corrupt"), 0o600))
	if third := load(); third.FromCache {
		t.Fatal("a corrupt cache entry was used")
	}
	if fourth := load(); !fourth.FromCache {
		t.Fatal("the cache entry was not rewritten")
	}
}

// LoadDir registers every module of a directory next to Go orchestrations;
// a directory with a conflict registers nothing.
func TestLoadDir(t *testing.T) {
	copyGuests := func(dir string, names map[string]string) {
		for file, g := range names {
			b, err := os.ReadFile(guestPath(g))
			must(t, err)
			must(t, os.WriteFile(filepath.Join(dir, file), b, 0o644))
		}
	}
	dir := t.TempDir()
	copyGuests(dir, map[string]string{"a.wasm": "deploy_v1", "b.wasm": "deploy_v2"})
	reg := runtime.NewRegistry()
	must(t, reg.RegisterOrchestration("GoSide", func(*orchestration.Context, string) (string, error) { return "go", nil }))
	h, err := LoadDir(context.Background(), reg, dir, testOptions())
	must(t, err)
	defer h.Close()
	if got := strings.Join(reg.OrchestrationNames(), ","); got != "GoSide,Order,Versioned" {
		t.Fatalf("registered %s", got)
	}
	if got := fmt.Sprint(reg.OrchestrationVersions("Versioned")); got != "[1.0.0 2.0.0]" {
		t.Fatalf("versions %s", got)
	}
	if got := len(h.Orchestrations()); got != 4 {
		t.Fatalf("host lists %d orchestrations", got)
	}
	m, info, err := h.Module("Versioned", "")
	must(t, err)
	if m.Name() != "b.wasm" || info.Version != "2.0.0" {
		t.Fatalf("newest Versioned is %s in %s", info.Version, m.Name())
	}
	if _, _, err := h.Module("Versioned", "3.0.0"); !errors.Is(err, replay.ErrNotRegistered) {
		t.Fatalf("missing version: %v", err)
	}

	conflict := t.TempDir()
	copyGuests(conflict, map[string]string{"a.wasm": "deploy_v1", "b.wasm": "deploy_v1"})
	reg2 := runtime.NewRegistry()
	if _, err := LoadDir(context.Background(), reg2, conflict, testOptions()); err == nil || !strings.Contains(err.Error(), "already provides") {
		t.Fatalf("conflicting modules: %v", err)
	}
	if n := len(reg2.OrchestrationNames()); n != 0 {
		t.Fatalf("a failed LoadDir left %d orchestrations registered", n)
	}
	if _, err := LoadDir(context.Background(), reg2, t.TempDir(), testOptions()); err == nil || !strings.Contains(err.Error(), "no .wasm modules") {
		t.Fatalf("empty directory: %v", err)
	}
}

// logRecorder is a slog handler that keeps records.
type logRecorder struct {
	mu   sync.Mutex
	recs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.Key + "=" + a.Value.String())
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, b.String())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &attrHandler{l, attrs}
}
func (l *logRecorder) WithGroup(string) slog.Handler { return l }

func (l *logRecorder) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs {
		if strings.Contains(r, sub) {
			n++
		}
	}
	return n
}

type attrHandler struct {
	l     *logRecorder
	attrs []slog.Attr
}

func (h *attrHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *attrHandler) Handle(ctx context.Context, r slog.Record) error {
	r.AddAttrs(h.attrs...)
	return h.l.Handle(ctx, r)
}
func (h *attrHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &attrHandler{h.l, append(append([]slog.Attr{}, h.attrs...), attrs...)}
}
func (h *attrHandler) WithGroup(string) slog.Handler { return h }

// The guest's logs and its stdout/stderr reach the runtime's logger once
// per decision, even when every turn replays on a fresh instance.
func TestGuestLogsAreReplaySafe(t *testing.T) {
	logs := &logRecorder{}
	e := newEnv(t, nil, "scenarios")
	e.opts.Logger = slog.New(logs)
	e.opts.InstanceCacheSize = -1
	must(t, e.reg.RegisterActivity("Hello", helloActivity))
	must(t, e.reg.RegisterActivity("Echo", echoActivity))
	e.start()
	e.completed("hello", "HelloWorld", "World", "Hello, World!")
	if st := e.run("entropy", "Entropy", ""); st.State != client.StateCompleted {
		t.Fatalf("entropy: %s", st.ErrorMessage())
	}
	for _, want := range []string{
		"first greeting greeting=Hello, Go!",
		"entropy: to stdout stream=stdout",
		"entropy: to stderr stream=stderr",
		"entropy: logged replaying=false",
	} {
		if n := logs.count(want); n != 1 {
			t.Errorf("%q logged %d times, want once", want, n)
		}
	}
	if logs.count("first greeting") != 1 || logs.count("instance_id=hello") == 0 {
		t.Errorf("records lack the instance: %v", logs.recs)
	}
}

// With MaxInstances, the host keeps at most that many guest instances
// alive; drivers whose instance was released rebuild it from their journal.
func TestInstancePoolBound(t *testing.T) {
	e := newEnv(t, &Options{CacheDir: testCacheDir, MaxInstances: 2}, "scenarios")
	must(t, e.reg.RegisterActivity("Prepare", func(*activity.Context, string) (string, error) { return "ready", nil }))
	e.start()
	ctx := context.Background()
	const n = 6
	for i := 0; i < n; i++ {
		must(t, e.c.StartOrchestration(ctx, fmt.Sprintf("approve-%d", i), "Approve", ""))
	}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("approve-%d", i)
		waitFor(t, id+" to wait", func() bool { return historyHas(e, id, history.ExternalSubscribed) })
	}
	if live := e.host.pool.liveInstances(); live > 2 {
		t.Fatalf("%d live instances, over MaxInstances=2", live)
	}
	if cached := e.rt.CachedInstances(); cached < n {
		t.Fatalf("the runtime keeps %d drivers warm, want %d", cached, n)
	}
	for i := 0; i < n; i++ {
		must(t, e.c.RaiseEvent(ctx, fmt.Sprintf("approve-%d", i), "Approval", fmt.Sprint(i)))
	}
	for i := 0; i < n; i++ {
		if st := e.wait(fmt.Sprintf("approve-%d", i)); st.Output != fmt.Sprintf("approved:%d", i) {
			t.Fatalf("approve-%d: %s %q %s", i, st.State, st.Output, st.ErrorMessage())
		}
	}
	if live := e.host.pool.liveInstances(); live > 2 {
		t.Fatalf("%d live instances, over MaxInstances=2", live)
	}
}

// Many instances at once through a small host pool and a small runtime
// cache: guest instances are released, rebuilt from journals and replayed
// from history concurrently, and every instance still ends right.
func TestHammer(t *testing.T) {
	e := newEnv(t, &Options{CacheDir: testCacheDir, MaxInstances: 3}, "scenarios")
	e.opts.InstanceCacheSize = 8
	must(t, e.reg.RegisterActivity("Append", func(_ *activity.Context, s string) (string, error) { return s + "x", nil }))
	must(t, e.reg.RegisterActivity("Prepare", func(*activity.Context, string) (string, error) { return "ready", nil }))
	e.start()
	ctx := context.Background()
	const chains, approvals = 40, 10
	for i := 0; i < chains; i++ {
		must(t, e.c.StartOrchestration(ctx, fmt.Sprintf("chain-%d", i), "Chain", "5"))
	}
	for i := 0; i < approvals; i++ {
		must(t, e.c.StartOrchestration(ctx, fmt.Sprintf("approve-%d", i), "Approve", ""))
		must(t, e.c.RaiseEvent(ctx, fmt.Sprintf("approve-%d", i), "Approval", fmt.Sprint(i)))
	}
	for i := 0; i < chains; i++ {
		if st := e.wait(fmt.Sprintf("chain-%d", i)); st.Output != "xxxxx" {
			t.Fatalf("chain-%d: %s %q %s", i, st.State, st.Output, st.ErrorMessage())
		}
	}
	for i := 0; i < approvals; i++ {
		if st := e.wait(fmt.Sprintf("approve-%d", i)); st.Output != fmt.Sprintf("approved:%d", i) {
			t.Fatalf("approve-%d: %s %q %s", i, st.State, st.Output, st.ErrorMessage())
		}
	}
	if live := e.host.pool.liveInstances(); live > 3 || live < 0 {
		t.Fatalf("%d live instances, want 0..3", live)
	}
	e.stop() // closes every cached driver
	if live := e.host.pool.liveInstances(); live != 0 {
		t.Fatalf("%d guest instances outlive their drivers", live)
	}
}
