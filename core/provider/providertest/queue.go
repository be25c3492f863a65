package providertest

import (
	"slices"
	"strings"
	"time"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

var queueTests = []test{
	{"WorkerFIFO", func(e *env) {
		for id := uint64(1); id <= 5; id++ {
			e.enqueueWorker(activity("a", 1, id))
		}
		for id := uint64(1); id <= 5; id++ {
			if l := e.fetchWork(nil, provider.TagFilter{}); l.Item.ID != id {
				e.t.Fatalf("fetched activity %d, want %d", l.Item.ID, id)
			}
		}
		e.noFetchWork(nil, anyTag)
	}},
	{"OrchestratorFIFOAcrossInstances", func(e *env) {
		e.enqueue(startItem("a"), startItem("b"), startItem("c"))
		e.fetch("a")
		e.fetch("b")
		e.fetch("c")
	}},
	{"BatchInQueueOrder", func(e *env) {
		e.create("a", provider.ExecutionMetadata{})
		e.enqueue(raised("a", "e1"), raised("a", "e2"), raised("a", "e3"))
		it := e.fetch("a")
		want := []string{"ExternalRaised:e1", "ExternalRaised:e2", "ExternalRaised:e3"}
		if got := messageNames(it); !slices.Equal(got, want) {
			e.t.Fatalf("batch = %v, want %v", got, want)
		}
		if it.Messages[0].Data != "d-e1" {
			e.t.Fatalf("message data = %q, want d-e1", it.Messages[0].Data)
		}
	}},
	{"WorkerPeekLock", func(e *env) {
		e.enqueueWorker(activity("a", 1, 1))
		l := e.fetchWork(nil, provider.TagFilter{})
		if l.Item.Name != "Act" || l.Item.Input != "in-1" || l.Item.Instance != "a" {
			e.t.Fatalf("work item round trip: %+v", l.Item)
		}
		e.noFetchWork(nil, provider.TagFilter{})
		wantNoErr(e.t, "abandon", e.p.AbandonWorkItem(e.ctx, l.LockToken, 0, false))
		again := e.fetchWork(nil, provider.TagFilter{})
		if again.Item.ID != 1 || again.AttemptCount != 2 {
			e.t.Fatalf("refetch: id %d attempt %d, want 1 and 2", again.Item.ID, again.AttemptCount)
		}
	}},
	{"WorkerAbandonWithDelay", func(e *env) {
		d := e.f.LockTimeout
		e.enqueueWorker(activity("a", 1, 1))
		l := e.fetchWork(nil, provider.TagFilter{})
		t0 := time.Now()
		wantNoErr(e.t, "abandon", e.p.AbandonWorkItem(e.ctx, l.LockToken, d, false))
		e.noFetchWork(nil, provider.TagFilter{})
		e.fetchWorkWithin(longLock, nil, provider.TagFilter{}, d+2*time.Second)
		if el := time.Since(t0); el < d-20*time.Millisecond {
			e.t.Fatalf("visible after %v, before the %v delay", el, d)
		}
	}},
	{"DelayedEnqueue", func(e *env) {
		d := e.f.LockTimeout
		t0 := time.Now()
		wantNoErr(e.t, "enqueue", e.p.EnqueueForOrchestrator(e.ctx, startItem("a"), d))
		e.noFetch(nil)
		e.fetchWithin("a", longLock, nil, d+2*time.Second)
		if el := time.Since(t0); el < d-20*time.Millisecond {
			e.t.Fatalf("visible after %v, before the %v delay", el, d)
		}
	}},
	{"TimerVisibleAtFireTime", func(e *env) {
		d := e.f.LockTimeout
		e.enqueue(startItem("a"))
		it := e.fetch("a")
		fireAt := time.Now().Add(d)
		timer := history.WorkItem{Kind: history.WorkTimerFired, Instance: "a", ExecutionID: 1, ID: 2, FireAtMs: fireAt.UnixMilli()}
		created := event("a", 1, 2, history.TimerCreated)
		created.FireAtMs = timer.FireAtMs
		e.ack(it, 1, []history.Event{started("a", 1), created}, nil, []history.WorkItem{timer}, meta())
		e.noFetch(nil)
		got := e.fetchWithin("a", longLock, nil, d+2*time.Second)
		if time.Now().Before(fireAt.Add(-20 * time.Millisecond)) {
			e.t.Fatalf("timer visible %v before its fire time", time.Until(fireAt))
		}
		if len(got.Messages) != 1 || got.Messages[0].Kind != history.WorkTimerFired || got.Messages[0].FireAtMs != timer.FireAtMs {
			e.t.Fatalf("messages = %v", messageNames(got))
		}
	}},
	{"AbandonOrchestrationWithDelay", func(e *env) {
		d := e.f.LockTimeout
		e.enqueue(startItem("a"))
		it := e.fetch("a")
		t0 := time.Now()
		wantNoErr(e.t, "abandon", e.p.AbandonOrchestrationItem(e.ctx, it.LockToken, d, false))
		e.noFetch(nil)
		e.fetchWithin("a", longLock, nil, d+2*time.Second)
		if el := time.Since(t0); el < d-20*time.Millisecond {
			e.t.Fatalf("visible after %v, before the %v delay", el, d)
		}
	}},
	{"UnknownInstanceDoesNotBlock", func(e *env) {
		e.enqueue(raised("ghost", "early"), history.WorkItem{Kind: history.WorkCancelInstance, Instance: "ghost2", Reason: "x"})
		e.enqueue(startItem("real"))
		e.fetch("real")
		e.noFetch(nil)
	}},
	{"EarlyMessageJoinsTheStartBatch", func(e *env) {
		e.enqueue(raised("a", "early"))
		e.noFetch(nil)
		e.enqueue(startItem("a"))
		it := e.fetch("a")
		want := []string{"ExternalRaised:early", "StartOrchestration:" + orchName}
		if got := messageNames(it); !slices.Equal(got, want) {
			e.t.Fatalf("batch = %v, want %v", got, want)
		}
		if it.OrchestrationName != orchName || it.ExecutionID != 1 {
			e.t.Fatalf("name %q exec %d, want them from the start message", it.OrchestrationName, it.ExecutionID)
		}
	}},
	{"UnknownInstanceDeadLettered", func(e *env) {
		a := e.admin()
		if e.f.DeadLetterAfter <= 0 {
			e.t.Skip("Factory.DeadLetterAfter is zero: the store's dead-letter threshold is not configurable for tests")
		}
		e.enqueue(raised("ghost", "lost"))
		e.create("real", provider.ExecutionMetadata{})
		var found *provider.DeadLetter
		waitFor(e.t, 5*e.f.DeadLetterAfter+3*time.Second, "the ghost message in the dead letters", func() bool {
			_, _ = e.p.FetchOrchestrationItem(e.ctx, longLock, 0, nil) // a store may sweep on fetch
			dls, err := a.ListDeadLetters(e.ctx, 0)
			wantNoErr(e.t, "ListDeadLetters", err)
			for i := range dls {
				if dls[i].Instance == "ghost" {
					found = &dls[i]
				}
			}
			return found != nil
		})
		if !strings.Contains(found.Reason, "ghost") || found.Queue == "" {
			e.t.Fatalf("dead letter reason %q queue %q: want the instance named and the queue", found.Reason, found.Queue)
		}
		if found.Item.Kind != history.WorkExternalRaised || found.Item.Name != "lost" {
			e.t.Fatalf("dead letter item = %+v", found.Item)
		}
		m, err := a.GetSystemMetrics(e.ctx)
		wantNoErr(e.t, "GetSystemMetrics", err)
		if m.DeadLetters < 1 {
			e.t.Fatalf("metrics count %d dead letters", m.DeadLetters)
		}
		// The queue is clean: a later start of "ghost" sees only itself.
		e.enqueue(startItem("ghost"))
		if got := messageNames(e.fetch("ghost")); len(got) != 1 {
			e.t.Fatalf("batch after dead-lettering = %v", got)
		}
	}},
	{"EnqueueRejectsItemsWithoutInstance", func(e *env) {
		if err := e.p.EnqueueForOrchestrator(e.ctx, history.WorkItem{Kind: history.WorkExternalRaised, Name: "x"}, 0); err == nil {
			e.t.Fatal("EnqueueForOrchestrator accepted an item without an instance")
		}
		if err := e.p.EnqueueForWorker(e.ctx, history.WorkItem{Kind: history.WorkActivityExecute, ID: 1}); err == nil {
			e.t.Fatal("EnqueueForWorker accepted an item without an instance")
		}
		e.noFetch(nil)
		e.noFetchWork(nil, anyTag)
	}},
}
