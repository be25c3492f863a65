package replay_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/replay"
)

type fuzzSource struct{ fn orchestration.Func }

func (f fuzzSource) ResolveVersion(name, requested string) (string, error) { return "1.0.0", nil }
func (f fuzzSource) Driver(replay.DriverRequest) (replay.Driver, bool, error) {
	return orchestration.NewDriver(f.fn, nil), false, nil
}

type fixedEnv struct{}

func (fixedEnv) Now() time.Time  { return time.UnixMilli(1_800_000_000_000) }
func (fixedEnv) NewGUID() string { return "00000000-0000-4000-8000-000000000000" }
func (fixedEnv) ReadKV(context.Context, string, string) (string, bool, error) {
	return "v", true, nil
}

// fuzzOrchestration uses most of the API so arbitrary messages meet every
// kind of open schedule.
func fuzzOrchestration(ctx *orchestration.Context, in string) (string, error) {
	a := ctx.ScheduleActivity("A", in)
	t := ctx.CreateTimer(time.Second)
	ev := ctx.WaitForEvent("E")
	q := ctx.DequeueEvent("Q")
	sub := ctx.ScheduleSubOrchestration("Child", in)
	r := ctx.Race(a, t, ctx.All(ev, q))
	if err := r.Await(nil); err != nil {
		return "", err
	}
	ctx.SetKVValue("k", in)
	if _, err := ctx.NewGUID(); err != nil {
		return "", err
	}
	var out string
	err := sub.Await(&out)
	return out, err
}

// FuzzTurn feeds arbitrary message batches to a turn over a real history:
// the engine must never panic, and whatever it appends must leave a valid
// history.
func FuzzTurn(f *testing.F) {
	seed := func(items ...history.WorkItem) []byte { b, _ := json.Marshal(items); return b }
	f.Add(seed(history.WorkItem{Kind: history.WorkStartOrchestration, Instance: "i", Name: "F", Input: "x"}))
	f.Add(seed(history.WorkItem{Kind: history.WorkActivityCompleted, Instance: "i", ExecutionID: 1, ID: 2, Result: "r"},
		history.WorkItem{Kind: history.WorkExternalRaised, Instance: "i", Name: "E", Data: "d"}))
	f.Add(seed(history.WorkItem{Kind: history.WorkTimerFired, Instance: "i", ExecutionID: 1, ID: 3},
		history.WorkItem{Kind: history.WorkCancelInstance, Instance: "i", Reason: "r"}))
	f.Add(seed(history.WorkItem{Kind: history.WorkSubOrchFailed, Instance: "i", ExecutionID: 1, ID: 6, Error: &history.ErrorDetails{Category: "poison"}}))
	f.Add(seed(history.WorkItem{Kind: history.WorkQueueMessage, Instance: "i", Name: "Q", Data: "1"},
		history.WorkItem{Kind: history.WorkContinueAsNew, Instance: "i", Name: "F"}))

	// The history after the first turn of fuzzOrchestration.
	first, err := replay.Run(context.Background(), &replay.Input{
		Instance: "i", ExecutionID: 1,
		Messages: []history.WorkItem{{Kind: history.WorkStartOrchestration, Instance: "i", Name: "F", Input: "x"}},
	}, fuzzSource{fuzzOrchestration}, fixedEnv{})
	if err != nil {
		f.Fatal(err)
	}
	base := first.Delta

	f.Fuzz(func(t *testing.T, data []byte) {
		var msgs []history.WorkItem
		if json.Unmarshal(data, &msgs) != nil {
			return
		}
		for _, hist := range [][]history.Event{nil, base} {
			res, err := replay.Run(context.Background(), &replay.Input{Instance: "i", ExecutionID: 1, History: hist, Messages: msgs},
				fuzzSource{fuzzOrchestration}, fixedEnv{})
			if err != nil {
				continue
			}
			if res.Driver != nil {
				res.Driver.Close()
			}
			if res.Status == replay.StatusNoOp || res.Status == replay.StatusUnregistered || len(res.Delta) == 0 {
				continue
			}
			full := append(append([]history.Event(nil), hist...), res.Delta...)
			if res.ExecutionID != 1 {
				full = res.Delta
			}
			if err := history.Validate("i", res.ExecutionID, full); err != nil {
				t.Fatalf("turn wrote an invalid history: %v\nmessages: %s", err, data)
			}
		}
	})
}
