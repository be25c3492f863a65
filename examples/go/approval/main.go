// Command approval shows a human-in-the-loop workflow: the orchestration
// asks for approval and waits for an external event, with a durable
// timeout. One request is approved by a "manager" (this program raising the
// event); another is left alone and times out.
//
//	go run ./examples/go/approval --store sqlite:approval.db
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

// Request is what needs approving.
type Request struct {
	Item    string        `json:"item"`
	Timeout time.Duration `json:"timeout"`
}

// NotifyManager would send an email or a chat message.
func NotifyManager(ctx *activity.Context, item string) (string, error) {
	ctx.Logger().Info("approval requested", "item", item)
	return "notified", nil
}

// Approval waits for the "Approval" event, or gives up after the timeout.
func Approval(ctx *orchestration.Context, req Request) (string, error) {
	if err := ctx.ScheduleActivity("NotifyManager", req.Item).Await(nil); err != nil {
		return "", err
	}
	ctx.SetCustomStatus("waiting for approval")
	decision := ctx.WaitForEvent("Approval")
	timeout := ctx.CreateTimer(req.Timeout)
	winner, err := ctx.Select(decision, timeout)
	if err != nil {
		return "", err
	}
	if winner == 1 {
		ctx.SetCustomStatus("timed out")
		return req.Item + ": no answer, request expired", nil
	}
	var answer string
	if err := decision.Await(&answer); err != nil {
		return "", err
	}
	ctx.SetCustomStatus("decided")
	return req.Item + ": " + answer, nil
}

func main() {
	dsn := flag.String("store", "sqlite:approval.db", "store DSN")
	flag.Parse()
	if err := run(*dsn); err != nil {
		fmt.Fprintln(os.Stderr, "approval:", err)
		os.Exit(1)
	}
}

func run(dsn string) error {
	ctx := context.Background()
	store, err := sqlite.Open(dsn, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	reg := runtime.NewRegistry()
	if err := reg.RegisterActivity("NotifyManager", NotifyManager); err != nil {
		return err
	}
	if err := reg.RegisterOrchestration("Approval", orchestration.Typed(Approval)); err != nil {
		return err
	}
	rt, err := runtime.Start(ctx, store, reg, nil)
	if err != nil {
		return err
	}
	defer rt.Stop(ctx)
	c := rt.Client()

	stamp := time.Now().UnixNano()
	approved := fmt.Sprintf("approval-laptop-%d", stamp)
	expired := fmt.Sprintf("approval-yacht-%d", stamp)
	if err := c.StartOrchestration(ctx, approved, "Approval", Request{Item: "laptop", Timeout: time.Minute}); err != nil {
		return err
	}
	if err := c.StartOrchestration(ctx, expired, "Approval", Request{Item: "yacht", Timeout: 300 * time.Millisecond}); err != nil {
		return err
	}
	// The manager answers once the request is waiting.
	if _, err := c.WaitForStatusChange(ctx, approved, 0, 10*time.Second); err != nil {
		return err
	}
	if err := c.RaiseEvent(ctx, approved, "Approval", "approved"); err != nil {
		return err
	}
	for _, id := range []string{approved, expired} {
		st, err := c.WaitForOrchestration(ctx, id, 30*time.Second)
		if err != nil {
			return err
		}
		fmt.Printf("%s: %s\n", id, st.Output)
	}
	return nil
}
