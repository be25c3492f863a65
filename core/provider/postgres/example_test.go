package postgres_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/provider/postgres"
	"github.com/duroxide/duroxide/core/runtime"
)

// A runtime on PostgreSQL. Start the same program on several machines with
// the same DSN and schema: they share the work.
func Example() {
	ctx := context.Background()
	store, err := postgres.Open(ctx, os.Getenv("DATABASE_URL"), &postgres.Options{Schema: "orders"})
	if err != nil {
		log.Fatal(err) // e.g. `role "app" may not create schema "orders" …; to fix: GRANT CREATE ON DATABASE …`
	}
	defer store.Close()

	reg := runtime.NewRegistry()
	_ = reg.RegisterActivity("Greet", func(_ *activity.Context, name string) (string, error) {
		return "Hello, " + name + "!", nil
	})
	_ = reg.RegisterOrchestration("Hello", func(ctx *orchestration.Context, name string) (string, error) {
		var out string
		err := ctx.ScheduleActivity("Greet", name).Await(&out)
		return out, err
	})
	rt, err := runtime.Start(ctx, store, reg, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Stop(ctx)

	c := rt.Client()
	if err := c.StartOrchestration(ctx, "hello-1", "Hello", "World"); err != nil {
		log.Fatal(err)
	}
	st, err := c.WaitForOrchestration(ctx, "hello-1", 30*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.Output)
}

// Names and passwords in messages: Redact hides the password.
func ExampleRedact() {
	fmt.Println(postgres.Redact("postgres://app:secret@db:5432/app?sslmode=disable"))
	// Output: postgres://app:xxxxx@db:5432/app?sslmode=disable
}
