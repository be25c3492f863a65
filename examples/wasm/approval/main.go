// Command approval is a WebAssembly orchestration module with two
// versions of one orchestration, fan-out, a race against a durable timeout
// and a retried activity.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o build/wasm/approval.wasm ./examples/wasm/approval
package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/duroxide/duroxide/wasm/guest"
)

func main() {}

func init() {
	guest.RegisterVersioned("Approval", "1.0.0", guest.Typed(approvalV1))
	guest.RegisterVersioned("Approval", "2.0.0", guest.Typed(approvalV2))
}

// Request is what needs approving.
type Request struct {
	Item      string   `json:"item"`
	Approvers []string `json:"approvers"`
	TimeoutMs int64    `json:"timeout_ms"`
}

// approvalV1 asks one approver and waits for the "Approval" event.
func approvalV1(ctx *guest.Context, req Request) (string, error) {
	if err := ctx.ScheduleActivity("Notify", req.Item).Await(nil); err != nil {
		return "", err
	}
	var answer string
	err := ctx.WaitForEvent("Approval").Await(&answer)
	return req.Item + ": " + answer, err
}

// approvalV2 notifies every approver in parallel (retrying flaky
// notifications) and gives up when no answer comes in time.
func approvalV2(ctx *guest.Context, req Request) (string, error) {
	notes := make([]*guest.Future, len(req.Approvers))
	for i, who := range req.Approvers {
		notes[i] = ctx.ScheduleActivityWithRetry("Notify", fmt.Sprintf("%s -> %s", req.Item, who),
			guest.RetryPolicy{MaxAttempts: 3, Backoff: guest.FixedBackoff(50 * time.Millisecond)})
	}
	var receipts []string
	if err := ctx.All(notes...).Await(&receipts); err != nil {
		return "", err
	}
	ctx.SetCustomStatus("waiting: " + strings.Join(receipts, ", "))
	decision := ctx.WaitForEvent("Approval")
	winner, err := ctx.Select(decision, ctx.CreateTimer(time.Duration(req.TimeoutMs)*time.Millisecond))
	if err != nil {
		return "", err
	}
	if winner == 1 {
		return req.Item + ": no answer, request expired", nil
	}
	var answer string
	if err := decision.Await(&answer); err != nil {
		return "", err
	}
	return req.Item + ": " + answer, nil
}
