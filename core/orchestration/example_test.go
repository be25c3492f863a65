package orchestration_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/duroxide/duroxide/core/orchestration"
)

// Fan out one activity per item and fan the results back in.
func ExampleContext_All() {
	_ = func(ctx *orchestration.Context, items []string) ([]string, error) {
		futures := make([]*orchestration.Future, len(items))
		for i, item := range items {
			futures[i] = ctx.ScheduleActivity("Process", item)
		}
		var results []string
		err := ctx.All(futures...).Await(&results)
		return results, err
	}
}

// Race an external event against a durable timeout; the loser is cancelled.
func ExampleContext_Race() {
	_ = func(ctx *orchestration.Context, _ string) (string, error) {
		approval := ctx.WaitForEvent("Approval")
		r := ctx.Race(approval, ctx.CreateTimer(24*time.Hour))
		var answer string
		if err := r.Await(&answer); err != nil {
			return "", err
		}
		if r.Winner() == 1 {
			return "", errors.New("no answer within a day")
		}
		return answer, nil
	}
}

// An eternal orchestration keeps its history short with continue-as-new.
func ExampleContext_ContinueAsNew() {
	_ = orchestration.Typed(func(ctx *orchestration.Context, round int) (int, error) {
		if err := ctx.ScheduleActivity("Poll", round).Await(nil); err != nil {
			return 0, err
		}
		if err := ctx.CreateTimer(time.Minute).Await(nil); err != nil {
			return 0, err
		}
		return 0, ctx.ContinueAsNew(round + 1)
	})
}

// Backoff delays grow per policy; the orchestration waits on durable timers.
func ExampleBackoff_Delay() {
	b := orchestration.ExponentialBackoff(100*time.Millisecond, 2, time.Second)
	for attempt := 1; attempt <= 5; attempt++ {
		fmt.Print(b.Delay(attempt), " ")
	}
	fmt.Println()
	// Output: 100ms 200ms 400ms 800ms 1s
}
