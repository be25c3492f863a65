package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/runtime"
)

// buildHelloModule compiles examples/wasm/hello into dir.
func buildHelloModule(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "hello.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "../../../examples/wasm/hello")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the hello module: %v\n%s", err, b)
	}
	return out
}

// TestWasmRunAndReplay serves a WebAssembly module with "run --wasm" (the
// activity linked in), then replays the finished instance with
// "replay --wasm", and inspects the module.
func TestWasmRunAndReplay(t *testing.T) {
	modDir := t.TempDir()
	mod := buildHelloModule(t, modDir)
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "wasm.db")

	r := cli(t, nil, "wasm", "inspect", mod)
	expect(t, r, exitOK, "stdout", "HelloWasm", "1.0.0")

	reg := runtime.NewRegistry()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(reg.RegisterActivity("Hello", func(_ *activity.Context, in string) (string, error) { return "Hello, " + in + "!", nil }))
	p, err := openStore(dsn, true) // the store exists before "run" opens it
	must(err)
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	errw := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"run", "--wasm", modDir, "--store", dsn}, strings.NewReader(""), &out, errw, func(string) string { return "" }, reg)
	}()
	c := client.New(p, nil)
	must(c.StartOrchestration(ctx, "w1", "HelloWasm", "World"))
	st, err := c.WaitForOrchestration(ctx, "w1", 60*time.Second)
	if err != nil || st.Output != "Hello, World!" {
		t.Fatalf("wasm instance: %+v %v\n%s", st, err, errw.String())
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("run exited %d\n%s", code, errw.String())
	}
	r = cli(t, nil, "replay", "w1", "--wasm", modDir, "--store", dsn)
	expect(t, r, exitOK, "stdout", "replays cleanly")
}
