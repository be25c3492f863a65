package runtime_test

import (
	"context"
	"fmt"
	"time"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/provider/sqlite"
	"github.com/duroxide/duroxide/core/runtime"
)

// A complete program: an activity, an orchestration, a runtime on an
// in-memory store, and a client that starts an instance and waits for it.
func Example() {
	ctx := context.Background()
	store, err := sqlite.Open("sqlite::memory:", nil)
	if err != nil {
		panic(err)
	}
	defer store.Close()

	reg := runtime.NewRegistry()
	_ = reg.RegisterActivity("Hello", func(_ *activity.Context, name string) (string, error) {
		return "Hello, " + name + "!", nil
	})
	_ = reg.RegisterOrchestration("HelloWorld", func(ctx *orchestration.Context, name string) (string, error) {
		var greeting string
		err := ctx.ScheduleActivity("Hello", name).Await(&greeting)
		return greeting, err
	})

	rt, err := runtime.Start(ctx, store, reg, nil)
	if err != nil {
		panic(err)
	}
	defer rt.Stop(ctx)

	c := rt.Client()
	_ = c.StartOrchestration(ctx, "greeting-1", "HelloWorld", "World")
	status, err := c.WaitForOrchestration(ctx, "greeting-1", 10*time.Second)
	if err != nil {
		panic(err)
	}
	fmt.Println(status.State, status.Output)
	// Output: Completed Hello, World!
}

// Versions let running instances finish on the code they started with
// while new instances take the new code.
func ExampleRegistry_RegisterOrchestrationVersioned() {
	reg := runtime.NewRegistry()
	_ = reg.RegisterOrchestrationVersioned("Checkout", "1.0.0", func(*orchestration.Context, string) (string, error) { return "v1", nil })
	_ = reg.RegisterOrchestrationVersioned("Checkout", "2.0.0", func(*orchestration.Context, string) (string, error) { return "v2", nil })
	latest, _ := reg.ResolveVersion("Checkout", "")
	fmt.Println(reg.OrchestrationVersions("Checkout"), "latest:", latest)
	_ = reg.SetVersionPolicy("Checkout", runtime.VersionPolicy{Exact: "1.0.0"})
	pinned, _ := reg.ResolveVersion("Checkout", "")
	fmt.Println("pinned:", pinned)
	// Output:
	// [1.0.0 2.0.0] latest: 2.0.0
	// pinned: 1.0.0
}
