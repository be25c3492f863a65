package wasm

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/replay"
)

// wasmtime-go v39 exports OutOfFuel as 11, but the trap code the C API
// reports when fuel runs out is 12. The host compares against the value
// wasmtime really returns; this test pins it down (and will say so when a
// new wasmtime-go changes either).
func TestOutOfFuelTrapCode(t *testing.T) {
	cfg := wasmtime.NewConfig()
	cfg.SetConsumeFuel(true)
	engine := wasmtime.NewEngineWithConfig(cfg)
	wasm, err := wasmtime.Wat2Wasm(`(module (func (export "spin") (loop (br 0))))`)
	must(t, err)
	mod, err := wasmtime.NewModule(engine, wasm)
	must(t, err)
	store := wasmtime.NewStore(engine)
	defer store.Close()
	must(t, store.SetFuel(10_000))
	inst, err := wasmtime.NewInstance(store, mod, nil)
	must(t, err)
	_, err = inst.GetFunc(store, "spin").Call(store)
	var trap *wasmtime.Trap
	if !errors.As(err, &trap) || trap.Code() == nil {
		t.Fatalf("spin returned %v, want a trap with a code", err)
	}
	if got := *trap.Code(); got != trapOutOfFuel {
		t.Fatalf("out-of-fuel trap code is %d, the host expects %d", got, trapOutOfFuel)
	}
	if wasmtime.OutOfFuel == trapOutOfFuel {
		t.Log("wasmtime.OutOfFuel now matches the real trap code; trapOutOfFuel can use it")
	}
}

// limitsEnv serves the scenarios module with small limits, plus a Hello
// activity so the runtime's other instances can be checked.
func limitsEnv(t *testing.T, opts *Options) *testEnv {
	opts.CacheDir = testCacheDir
	e := newEnv(t, opts, "scenarios")
	must(t, e.reg.RegisterActivity("Hello", helloActivity))
	e.start()
	return e
}

// A guest stuck in a loop runs out of fuel: its instance fails with an
// error naming the limit, the runtime keeps serving others, and a fresh
// replay of the failed history reaches the same verdict.
func TestRunawayLoop(t *testing.T) {
	e := limitsEnv(t, &Options{Fuel: 20_000_000})
	st := e.failed("spin", "Spin", "x", "ran out of fuel", "Fuel=20000000")
	if st.Error.Kind != history.KindLimitExceeded {
		t.Fatalf("error kind %q, want %s", st.Error.Kind, history.KindLimitExceeded)
	}
	e.completed("after-spin", "HelloWorld", "still", "Hello, still!")

	h, err := e.c.ReadHistory(context.Background(), "spin")
	must(t, err)
	drv, err := e.host.NewDriver("Spin", "", nil)
	must(t, err)
	defer drv.Close()
	rec := &recorder{Driver: drv}
	if err := replay.Verify(context.Background(), "spin", h, nil, rec); err != nil {
		t.Fatalf("a fresh replay of the runaway gave another verdict: %v", err)
	}
	last := rec.cmds[len(rec.cmds)-1]
	if last.Kind != replay.CmdFail || last.Error.Message != st.Error.Message {
		t.Fatalf("replay ended with %+v, want the same fuel failure", last)
	}
}

// A guest that allocates without end hits the memory limit.
func TestMemoryBomb(t *testing.T) {
	e := limitsEnv(t, &Options{MaxMemoryBytes: 64 << 20})
	st := e.failed("bomb", "Bomb", "x", "memory limit MaxMemoryBytes=67108864")
	t.Log(st.ErrorMessage())
	if st.Error.Kind != history.KindLimitExceeded {
		t.Fatalf("error kind %q, want %s", st.Error.Kind, history.KindLimitExceeded)
	}
	e.completed("after-bomb", "HelloWorld", "still", "Hello, still!")
}

// A guest whose Go runtime gives up (here: every goroutine blocked) fails
// with the runtime's own message.
func TestGuestDeadlock(t *testing.T) {
	e := limitsEnv(t, &Options{})
	e.failed("deadlock", "Deadlock", "", "aborted", "all goroutines are asleep")
	e.completed("after-deadlock", "HelloWorld", "still", "Hello, still!")
}

// A Go panic in orchestration code is recovered by the guest SDK: the
// instance fails as Panicked, as with the Go driver.
func TestGuestPanic(t *testing.T) {
	e := limitsEnv(t, &Options{})
	st := e.failed("panics", "Panics", "", "orchestration panicked", "nil map")
	if st.Error.Kind != history.KindPanicked {
		t.Fatalf("error kind %q, want %s", st.Error.Kind, history.KindPanicked)
	}
}

// Sleeping in a guest moves its logical clock; no real time passes.
func TestGuestSleepIsLogical(t *testing.T) {
	e := limitsEnv(t, &Options{})
	start := time.Now()
	e.completed("sleeper", "Sleeper", "", "slept 1h0m0s")
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("took %v", d)
	}
}

// A module whose initial memory is over the limit is refused at load.
func TestModuleOverMemoryLimit(t *testing.T) {
	h := newTestHost(t, &Options{CacheDir: testCacheDir, MaxMemoryBytes: 1 << 20})
	_, err := h.LoadFile(context.Background(), guestPath("deploy_v1"))
	if err == nil || !strings.Contains(err.Error(), "MaxMemoryBytes=1048576") {
		t.Fatalf("load: %v, want a refusal naming MaxMemoryBytes", err)
	}
}

// Cancellation reaches guest code, which can compensate before the
// instance ends as cancelled.
func TestGuestSeesCancellation(t *testing.T) {
	e := limitsEnv(t, &Options{})
	ctx := context.Background()
	must(t, e.c.StartOrchestration(ctx, "comp", "Compensate", ""))
	waitFor(t, "the wait", func() bool { return historyHas(e, "comp", history.ExternalSubscribed) })
	must(t, e.c.CancelInstance(ctx, "comp", "stop"))
	st := e.wait("comp")
	if st.State != client.StateFailed || st.Error.Kind != history.KindCancelled || st.CustomStatus == nil || *st.CustomStatus != "compensated: canceled: stop" {
		t.Fatalf("got %s %+v custom %v", st.State, st.Error, st.CustomStatus)
	}
}
