package orchestration

import (
	"context"
	"testing"

	"github.com/duroxide/duroxide/core/replay"
)

// A long execution must not keep every future it ever resolved.
func TestDriverForgetsResolvedFutures(t *testing.T) {
	const n = 1000
	fn := func(ctx *Context, _ string) (string, error) {
		for i := 0; i < n; i++ {
			r := ctx.Race(ctx.ScheduleActivity("Step", i), ctx.CreateTimer(1))
			if err := r.Await(nil); err != nil {
				return "", err
			}
		}
		return "done", nil
	}
	drv := NewDriver(fn, nil)
	defer drv.Close()
	d := drv.(*driver)
	act := func(jobs ...replay.Job) []replay.Command {
		cmds, err := drv.Activate(context.Background(), &replay.Activation{Protocol: replay.ProtocolVersion, Instance: "i", ExecutionID: 1, Name: "Long", Jobs: jobs})
		if err != nil {
			t.Fatal(err)
		}
		return cmds
	}
	activitySeq := func(cmds []replay.Command) uint64 {
		for _, c := range cmds {
			if c.Kind == replay.CmdScheduleActivity {
				return c.Seq
			}
		}
		return 0
	}
	cmds := act(replay.Job{Kind: replay.JobStart})
	for i := 0; i < n; i++ {
		seq := activitySeq(cmds)
		if seq == 0 {
			t.Fatalf("turn %d: no activity scheduled: %+v", i, cmds)
		}
		// The activity wins; the timer loses and is dropped.
		cmds = act(replay.Job{Kind: replay.JobActivity, Seq: seq, Result: "ok"})
		if live := len(d.futures); live > 2 {
			t.Fatalf("after %d turns the driver holds %d futures", i+1, live)
		}
	}
	if last := cmds[len(cmds)-1]; last.Kind != replay.CmdComplete || last.Output != "done" {
		t.Fatalf("final commands %+v", cmds)
	}
}
