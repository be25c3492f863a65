package providertest

import (
	"slices"
	"time"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

func ids(infos []provider.InstanceInfo) []string {
	out := make([]string, len(infos))
	for i, in := range infos {
		out[i] = in.InstanceID
	}
	return out
}

// tick waits until the wall clock has moved on by a few milliseconds, so
// that creation times differ.
func tick() { time.Sleep(3 * time.Millisecond) }

var managementTests = []test{
	{"ListInstancesNewestFirst", func(e *env) {
		a := e.admin()
		for _, id := range []string{"a", "b", "c"} {
			e.create(id, provider.ExecutionMetadata{})
			tick()
		}
		got, err := a.ListInstances(e.ctx, provider.ListFilter{})
		wantNoErr(e.t, "ListInstances", err)
		if !slices.Equal(ids(got), []string{"c", "b", "a"}) {
			e.t.Fatalf("ListInstances = %v, want newest first [c b a]", ids(got))
		}
		page, err := a.ListInstances(e.ctx, provider.ListFilter{Limit: 1, Offset: 1})
		wantNoErr(e.t, "ListInstances page", err)
		if !slices.Equal(ids(page), []string{"b"}) {
			e.t.Fatalf("page (limit 1, offset 1) = %v, want [b]", ids(page))
		}
	}},
	{"ListInstancesFilters", func(e *env) {
		a := e.admin()
		e.create("done", provider.ExecutionMetadata{})
		e.complete("done", 1, provider.StatusCompleted)
		tick()
		afterDone := time.Now()
		tick()
		e.create("failed", provider.ExecutionMetadata{OrchestrationName: "Other"})
		e.complete("failed", 1, provider.StatusFailed)
		e.create("running", provider.ExecutionMetadata{})
		e.createChild("running", "kid")
		e.create("looping", provider.ExecutionMetadata{})
		e.continueAsNew("looping", 1, 2, provider.ExecutionMetadata{})
		cases := []struct {
			name string
			f    provider.ListFilter
			want []string
		}{
			{"completed", provider.ListFilter{Status: provider.StatusCompleted}, []string{"done"}},
			{"failed", provider.ListFilter{Status: provider.StatusFailed}, []string{"failed"}},
			{"running", provider.ListFilter{Status: provider.StatusRunning}, []string{"kid", "looping", "running"}},
			{"name", provider.ListFilter{Name: "Other"}, []string{"failed"}},
			{"parent", provider.ListFilter{Parent: "running"}, []string{"kid"}},
			{"roots", provider.ListFilter{RootsOnly: true}, []string{"done", "failed", "looping", "running"}},
			{"ids", provider.ListFilter{InstanceIDs: []string{"kid", "done", "ghost"}}, []string{"done", "kid"}},
			{"created after", provider.ListFilter{CreatedAfter: afterDone}, []string{"failed", "kid", "looping", "running"}},
			{"created before", provider.ListFilter{CreatedBefore: afterDone}, []string{"done"}},
			{"completed before", provider.ListFilter{CompletedBefore: time.Now().Add(time.Hour)}, []string{"done", "failed"}},
			{"completed before, none", provider.ListFilter{CompletedBefore: afterDone.Add(-time.Hour)}, nil},
			{"combined", provider.ListFilter{Status: provider.StatusRunning, RootsOnly: true}, []string{"looping", "running"}},
		}
		for _, c := range cases {
			got, err := a.ListInstances(e.ctx, c.f)
			wantNoErr(e.t, "ListInstances "+c.name, err)
			g := ids(got)
			slices.Sort(g)
			if !slices.Equal(g, c.want) {
				e.t.Errorf("ListInstances(%s) = %v, want %v", c.name, g, c.want)
			}
		}
	}},
	{"InstanceInfo", func(e *env) {
		a := e.admin()
		before := time.Now().Add(-time.Second)
		md := provider.ExecutionMetadata{OrchestrationName: "Named", OrchestrationVersion: "3.2.1", ParentInstance: "p"}
		e.create("a", md, statusEvent("a", 1, 2, strp("busy")))
		info, err := a.GetInstanceInfo(e.ctx, "a")
		wantNoErr(e.t, "GetInstanceInfo", err)
		if info.InstanceID != "a" || info.Name != "Named" || info.Version != "3.2.1" || info.CurrentExecutionID != 1 ||
			info.Status != provider.StatusRunning || info.ParentInstance != "p" || info.CustomStatus == nil ||
			*info.CustomStatus != "busy" || info.CustomStatusVer != 1 || !info.CompletedAt.IsZero() {
			e.t.Fatalf("running instance info: %+v", *info)
		}
		if info.CreatedAt.Before(before) || info.UpdatedAt.Before(info.CreatedAt) {
			e.t.Fatalf("timestamps: created %v updated %v", info.CreatedAt, info.UpdatedAt)
		}
		e.complete("a", 1, provider.StatusCompleted)
		info, err = a.GetInstanceInfo(e.ctx, "a")
		wantNoErr(e.t, "GetInstanceInfo", err)
		if info.Status != provider.StatusCompleted || info.Output != "out-a" || info.CompletedAt.IsZero() {
			e.t.Fatalf("completed instance info: %+v", *info)
		}
		_, err = a.GetInstanceInfo(e.ctx, "nope")
		wantErrIs(e.t, "GetInstanceInfo of an unknown instance", err, provider.ErrInstanceNotFound)
	}},
	{"ExecutionInfo", func(e *env) {
		a := e.admin()
		md := meta()
		md.PinnedVersion = "0.4.2"
		e.create("a", md, scheduled("a", 1, 2))
		e.complete("a", 1, provider.StatusFailed)
		info, err := a.GetExecutionInfo(e.ctx, "a", 1)
		wantNoErr(e.t, "GetExecutionInfo", err)
		if info.ExecutionID != 1 || info.Status != provider.StatusFailed || info.Output != "out-a" || info.EventCount != 3 ||
			info.StartedAt.IsZero() || info.CompletedAt.Before(info.StartedAt) || info.PinnedVersion != "0.4.2" {
			e.t.Fatalf("execution info: %+v", *info)
		}
		_, err = a.GetExecutionInfo(e.ctx, "a", 2)
		wantErrIs(e.t, "GetExecutionInfo of an unknown execution", err, provider.ErrInstanceNotFound)
	}},
	{"SystemMetrics", func(e *env) {
		a := e.admin()
		e.create("r", provider.ExecutionMetadata{})
		e.create("c", provider.ExecutionMetadata{})
		e.complete("c", 1, provider.StatusCompleted)
		e.create("f", provider.ExecutionMetadata{})
		e.complete("f", 1, provider.StatusFailed)
		e.create("n", provider.ExecutionMetadata{})
		e.enqueue(raised("n", "x"))
		it := e.fetch("n")
		e.ack(it, 1, []history.Event{event("n", 1, 2, history.OrchestrationContinuedAsNew)}, nil,
			[]history.WorkItem{continueItem("n")}, terminal(provider.StatusContinuedAsNew, "x"))
		m, err := a.GetSystemMetrics(e.ctx)
		wantNoErr(e.t, "GetSystemMetrics", err)
		want := provider.SystemMetrics{TotalInstances: 4, TotalExecutions: 4, RunningInstances: 1, CompletedInstances: 1,
			FailedInstances: 1, ContinuedAsNewCount: 1, TotalEvents: 7}
		if *m != want {
			e.t.Fatalf("metrics = %+v, want %+v", *m, want)
		}
	}},
	{"QueueDepths", func(e *env) {
		a := e.admin()
		e.enqueue(startItem("a"), startItem("b"), startItem("c"))
		wantNoErr(e.t, "delayed enqueue", e.p.EnqueueForOrchestrator(e.ctx, startItem("d"), time.Hour))
		e.enqueueWorker(activity("a", 1, 1), activity("a", 1, 2))
		e.fetch("a")
		e.fetchWork(nil, provider.TagFilter{})
		d, err := a.GetQueueDepths(e.ctx)
		wantNoErr(e.t, "GetQueueDepths", err)
		if d.Orchestrator != 2 || d.Delayed != 1 || d.Worker != 1 {
			e.t.Fatalf("queue depths = %+v, want 2 visible and 1 delayed orchestrator messages, 1 worker item (locked ones excluded)", *d)
		}
	}},
	{"NoDeadLettersByDefault", func(e *env) {
		a := e.admin()
		e.create("a", provider.ExecutionMetadata{})
		dls, err := a.ListDeadLetters(e.ctx, 10)
		wantNoErr(e.t, "ListDeadLetters", err)
		if len(dls) != 0 {
			e.t.Fatalf("dead letters: %+v", dls)
		}
	}},
}
