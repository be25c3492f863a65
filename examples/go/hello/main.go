// Command hello runs the smallest duroxide program: one orchestration that
// calls one activity twice, on an embedded SQLite store.
//
//	go run ./examples/go/hello --store sqlite:hello.db
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/provider/sqlite"
	"github.com/duroxide/duroxide/core/runtime"
)

// Hello is an activity: the place for side effects.
func Hello(_ *activity.Context, name string) (string, error) {
	return "Hello, " + name + "!", nil
}

// HelloWorld is an orchestration: deterministic code that schedules work.
func HelloWorld(ctx *orchestration.Context, name string) (string, error) {
	var first, second string
	if err := ctx.ScheduleActivity("Hello", "Go").Await(&first); err != nil {
		return "", err
	}
	ctx.Logger().Info("first greeting", "greeting", first)
	if err := ctx.ScheduleActivity("Hello", name).Await(&second); err != nil {
		return "", err
	}
	return second, nil
}

func main() {
	dsn := flag.String("store", "sqlite:hello.db", "store DSN (sqlite:path or sqlite::memory:)")
	name := flag.String("name", "World", "who to greet")
	flag.Parse()
	if err := run(*dsn, *name); err != nil {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(1)
	}
}

func run(dsn, name string) error {
	ctx := context.Background()
	store, err := sqlite.Open(dsn, nil)
	if err != nil {
		return err
	}
	defer store.Close()

	reg := runtime.NewRegistry()
	if err := reg.RegisterActivity("Hello", Hello); err != nil {
		return err
	}
	if err := reg.RegisterOrchestration("HelloWorld", HelloWorld); err != nil {
		return err
	}
	rt, err := runtime.Start(ctx, store, reg, nil)
	if err != nil {
		return err
	}
	defer rt.Stop(ctx)

	client := rt.Client()
	id := fmt.Sprintf("hello-%d", time.Now().UnixNano())
	if err := client.StartOrchestration(ctx, id, "HelloWorld", name); err != nil {
		return err
	}
	status, err := client.WaitForOrchestration(ctx, id, 30*time.Second)
	if err != nil {
		return err
	}
	if status.State != "Completed" {
		return fmt.Errorf("instance %s ended %s: %s", id, status.State, status.ErrorMessage())
	}
	log.SetFlags(0)
	fmt.Printf("instance %s completed: %s\n", id, status.Output)
	return nil
}
