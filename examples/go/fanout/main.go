// Command fanout shows fan-out/fan-in: an orchestration schedules one
// activity per item in parallel, waits for all of them, and sums the results.
//
//	go run ./examples/go/fanout --store sqlite:fanout.db --items 20
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/provider/sqlite"
	"github.com/duroxide/duroxide/core/runtime"
)

// Square pretends to do some work on one item.
func Square(ctx *activity.Context, n int) (int, error) {
	select {
	case <-time.After(10 * time.Millisecond):
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return n * n, nil
}

// SumOfSquares fans out one Square per item and fans in the results.
func SumOfSquares(ctx *orchestration.Context, items int) (int, error) {
	futures := make([]*orchestration.Future, 0, items)
	for i := 1; i <= items; i++ {
		futures = append(futures, ctx.ScheduleActivity("Square", i))
	}
	var squares []int
	if err := ctx.All(futures...).Await(&squares); err != nil {
		return 0, err
	}
	sum := 0
	for _, s := range squares {
		sum += s
	}
	return sum, nil
}

func main() {
	dsn := flag.String("store", "sqlite:fanout.db", "store DSN")
	items := flag.Int("items", 20, "number of parallel activities")
	flag.Parse()
	if err := run(*dsn, *items); err != nil {
		fmt.Fprintln(os.Stderr, "fanout:", err)
		os.Exit(1)
	}
}

func run(dsn string, items int) error {
	ctx := context.Background()
	store, err := sqlite.Open(dsn, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	reg := runtime.NewRegistry()
	if err := reg.RegisterActivity("Square", activity.Typed(Square)); err != nil {
		return err
	}
	if err := reg.RegisterOrchestration("SumOfSquares", orchestration.Typed(SumOfSquares)); err != nil {
		return err
	}
	rt, err := runtime.Start(ctx, store, reg, nil)
	if err != nil {
		return err
	}
	defer rt.Stop(ctx)

	id := fmt.Sprintf("fanout-%d", time.Now().UnixNano())
	start := time.Now()
	if err := rt.Client().StartOrchestration(ctx, id, "SumOfSquares", items); err != nil {
		return err
	}
	st, err := rt.Client().WaitForOrchestration(ctx, id, time.Minute)
	if err != nil {
		return err
	}
	var sum int
	if err := st.DecodeOutput(&sum); err != nil {
		return fmt.Errorf("%s ended %s: %s", id, st.State, st.ErrorMessage())
	}
	fmt.Printf("sum of squares 1..%d = %d (%d activities in %v)\n", items, sum, items, time.Since(start).Round(time.Millisecond))
	return nil
}
