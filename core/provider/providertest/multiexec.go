package providertest

import (
	"slices"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

var multiExecutionTests = []test{
	{"ContinueAsNewCreatesExecution", func(e *env) {
		e.create("a", provider.ExecutionMetadata{}, scheduled("a", 1, 2))
		e.enqueue(raised("a", "go"))
		it := e.fetch("a")
		e.ack(it, 1, []history.Event{event("a", 1, 3, history.OrchestrationContinuedAsNew)}, nil,
			[]history.WorkItem{continueItem("a")}, terminal(provider.StatusContinuedAsNew, "next"))
		it = e.fetch("a")
		if it.ExecutionID != 1 || len(it.History) != 3 {
			e.t.Fatalf("before the new execution's first ack: exec %d with %d events, want 1 and 3", it.ExecutionID, len(it.History))
		}
		if len(it.Messages) != 1 || it.Messages[0].Kind != history.WorkContinueAsNew || it.Messages[0].Input != "next" {
			e.t.Fatalf("messages = %v", messageNames(it))
		}
		e.ack(it, 2, []history.Event{started("a", 2)}, nil, nil, meta())
		h := e.read("a")
		wantHistoryLen(e.t, "latest history", h, 1)
		if h[0].ExecutionID != 2 {
			e.t.Fatalf("Read returned execution %d, want 2", h[0].ExecutionID)
		}
		wantHistoryLen(e.t, "execution 1", e.readExec("a", 1), 3)
		e.enqueue(raised("a", "later"))
		if it := e.fetch("a"); it.ExecutionID != 2 || len(it.History) != 1 {
			e.t.Fatalf("next fetch: exec %d with %d events, want 2 and 1", it.ExecutionID, len(it.History))
		}
	}},
	{"NewExecutionUpdatesNameAndVersion", func(e *env) {
		e.create("a", provider.ExecutionMetadata{})
		e.continueAsNew("a", 1, 2, provider.ExecutionMetadata{OrchestrationName: "Renamed", OrchestrationVersion: "2.0.0", ParentInstance: "ignored"})
		e.enqueue(raised("a", "x"))
		if it := e.fetch("a"); it.OrchestrationName != "Renamed" || it.Version != "2.0.0" {
			e.t.Fatalf("after continue-as-new: name %q version %q, want Renamed 2.0.0", it.OrchestrationName, it.Version)
		}
		if a, ok := e.p.(provider.Admin); ok {
			if parent, err := a.GetParentID(e.ctx, "a"); err != nil || parent != "" {
				e.t.Fatalf("parent = %q (%v): the parent link is set once, at creation", parent, err)
			}
		}
	}},
	{"ExecutionsHaveTheirOwnEventIDs", func(e *env) {
		e.create("a", provider.ExecutionMetadata{}, scheduled("a", 1, 2))
		e.continueAsNew("a", 1, 3, provider.ExecutionMetadata{})
		e.turn("a", 2, []history.Event{scheduled("a", 2, 2), scheduled("a", 2, 3)}, provider.ExecutionMetadata{}, nil, nil)
		wantHistoryLen(e.t, "execution 1", e.readExec("a", 1), 3)
		wantHistoryLen(e.t, "execution 2", e.readExec("a", 2), 3)
		for _, ev := range e.readExec("a", 2) {
			if ev.ExecutionID != 2 {
				e.t.Fatalf("execution 2 holds an event of execution %d", ev.ExecutionID)
			}
		}
	}},
	{"CurrentExecutionIsTheHighest", func(e *env) {
		e.create("a", provider.ExecutionMetadata{})
		e.continueAsNew("a", 1, 2, provider.ExecutionMetadata{})
		// A late ack addressed to execution 1 does not move the instance back.
		e.turn("a", 1, []history.Event{scheduled("a", 1, 3)}, provider.ExecutionMetadata{}, nil, nil)
		if h := e.read("a"); len(h) != 1 || h[0].ExecutionID != 2 {
			e.t.Fatalf("Read after a late ack to execution 1 = %d events", len(h))
		}
		e.enqueue(raised("a", "x"))
		if it := e.fetch("a"); it.ExecutionID != 2 {
			e.t.Fatalf("current execution = %d, want 2", it.ExecutionID)
		}
	}},
	{"ListExecutionsAscending", func(e *env) {
		a := e.admin()
		e.create("a", provider.ExecutionMetadata{})
		e.continueAsNew("a", 1, 2, provider.ExecutionMetadata{})
		e.continueAsNew("a", 2, 2, provider.ExecutionMetadata{})
		ids, err := a.ListExecutions(e.ctx, "a")
		wantNoErr(e.t, "ListExecutions", err)
		if !slices.Equal(ids, []uint64{1, 2, 3}) {
			e.t.Fatalf("executions = %v, want [1 2 3]", ids)
		}
		info, err := a.GetInstanceInfo(e.ctx, "a")
		wantNoErr(e.t, "GetInstanceInfo", err)
		if info.CurrentExecutionID != 3 || info.Status != provider.StatusRunning {
			e.t.Fatalf("instance info: exec %d status %q", info.CurrentExecutionID, info.Status)
		}
		ex, err := a.GetExecutionInfo(e.ctx, "a", 1)
		wantNoErr(e.t, "GetExecutionInfo", err)
		if ex.Status != provider.StatusContinuedAsNew || ex.Output != "next" || ex.CompletedAt.IsZero() {
			e.t.Fatalf("execution 1 info: %+v", ex)
		}
	}},
	{"AppendWithExecutionNeverOverwrites", func(e *env) {
		e.create("a", provider.ExecutionMetadata{})
		wantNoErr(e.t, "append", e.p.AppendWithExecution(e.ctx, "a", 1, []history.Event{scheduled("a", 1, 2)}))
		h := e.read("a")
		wantHistoryLen(e.t, "after append", h, 2)
		other := event("a", 1, 2, history.TimerCreated)
		_ = e.p.AppendWithExecution(e.ctx, "a", 1, []history.Event{other}) // rejecting or ignoring are both fine
		h = e.read("a")
		wantHistoryLen(e.t, "after duplicate append", h, 2)
		if h[1].Kind != history.ActivityScheduled {
			e.t.Fatalf("event 2 was overwritten with %s", h[1].Kind)
		}
	}},
	{"ReadUnknownInstance", func(e *env) {
		wantHistoryLen(e.t, "Read", e.read("nope"), 0)
		wantHistoryLen(e.t, "ReadWithExecution", e.readExec("nope", 1), 0)
		e.create("a", provider.ExecutionMetadata{})
		wantHistoryLen(e.t, "unknown execution", e.readExec("a", 7), 0)
	}},
}
