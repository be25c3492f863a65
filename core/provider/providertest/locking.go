package providertest

import (
	"slices"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

var lockingTests = []test{
	{"ExclusiveLock", func(e *env) {
		e.enqueue(startItem("a"))
		e.fetch("a")
		e.noFetch(nil)
		e.enqueue(raised("a", "e1"))
		e.noFetch(nil)
	}},
	{"TokensAreUnique", func(e *env) {
		e.enqueue(startItem("a"), startItem("b"))
		a := e.fetch("a")
		b := e.fetch("b")
		if a.LockToken == "" || a.LockToken == b.LockToken {
			e.t.Fatalf("lock tokens %q and %q, want distinct non-empty tokens", a.LockToken, b.LockToken)
		}
		wantNoErr(e.t, "abandon", e.p.AbandonOrchestrationItem(e.ctx, a.LockToken, 0, false))
		a2 := e.fetch("a")
		if a2.LockToken == a.LockToken {
			e.t.Fatal("a refetch reused the released lock token")
		}
	}},
	{"UnknownTokenRejected", func(e *env) {
		wantLockLost(e.t, "abandon", e.p.AbandonOrchestrationItem(e.ctx, "bogus", 0, false))
		wantLockLost(e.t, "renew", e.p.RenewOrchestrationItemLock(e.ctx, "bogus", longLock))
		wantLockLost(e.t, "ack", e.p.AckOrchestrationItem(e.ctx, "bogus", 1, nil, nil, nil, provider.ExecutionMetadata{}, nil))
		wantLockLost(e.t, "ack work", e.p.AckWorkItem(e.ctx, "bogus", nil))
		wantLockLost(e.t, "renew work", e.p.RenewWorkItemLock(e.ctx, "bogus", longLock))
		wantLockLost(e.t, "abandon work", e.p.AbandonWorkItem(e.ctx, "bogus", 0, false))
	}},
	{"MessagesArrivingWhileLockedWaitForNextTurn", func(e *env) {
		e.create("a", provider.ExecutionMetadata{})
		e.enqueue(raised("a", "e1"))
		it := e.fetch("a")
		e.enqueue(raised("a", "e2"), raised("a", "e3"))
		if got := messageNames(it); !slices.Equal(got, []string{"ExternalRaised:e1"}) {
			e.t.Fatalf("first batch = %v", got)
		}
		e.ack(it, 1, nil, nil, nil, provider.ExecutionMetadata{})
		next := e.fetch("a")
		if got := messageNames(next); !slices.Equal(got, []string{"ExternalRaised:e2", "ExternalRaised:e3"}) {
			e.t.Fatalf("second batch = %v, want e2, e3 (the ack must delete only its own batch)", got)
		}
	}},
	{"InstancesAreIsolated", func(e *env) {
		e.enqueue(startItem("a"), startItem("b"))
		a := e.fetch("a")
		b := e.fetch("b")
		e.ack(a, 1, []history.Event{started("a", 1)}, nil, nil, meta())
		e.noFetch(nil) // b is still locked
		e.ack(b, 1, []history.Event{started("b", 1)}, nil, nil, meta())
		wantHistoryLen(e.t, "a", e.read("a"), 1)
		wantHistoryLen(e.t, "b", e.read("b"), 1)
	}},
	{"InstanceNotCreatedByEnqueue", func(e *env) {
		e.enqueue(startItem("a"))
		wantHistoryLen(e.t, "history before the first ack", e.read("a"), 0)
		if a, ok := e.p.(provider.Admin); ok {
			_, err := a.GetInstanceInfo(e.ctx, "a")
			wantErrIs(e.t, "GetInstanceInfo before the first ack", err, provider.ErrInstanceNotFound)
		}
		it := e.fetch("a")
		if it.ExecutionID != 1 || it.OrchestrationName != orchName || it.Version != "1.0.0" {
			e.t.Fatalf("new instance item: exec %d name %q version %q, want 1, %q, 1.0.0", it.ExecutionID, it.OrchestrationName, it.Version, orchName)
		}
		if len(it.History) != 0 || it.HistoryError != "" || it.StoredEvents != 0 {
			e.t.Fatalf("new instance item has history %d/%q/%d", len(it.History), it.HistoryError, it.StoredEvents)
		}
		if got := messageNames(it); !slices.Equal(got, []string{"StartOrchestration:" + orchName}) {
			e.t.Fatalf("messages = %v", got)
		}
		e.ack(it, 1, []history.Event{started("a", 1)}, nil, nil, meta())
		wantHistoryLen(e.t, "history after the first ack", e.read("a"), 1)
	}},
	{"AckWithoutNameDoesNotCreate", func(e *env) {
		e.enqueue(startItem("a"))
		it := e.fetch("a")
		e.ack(it, 1, nil, nil, nil, provider.ExecutionMetadata{})
		wantHistoryLen(e.t, "history", e.read("a"), 0)
		if a, ok := e.p.(provider.Admin); ok {
			_, err := a.GetInstanceInfo(e.ctx, "a")
			wantErrIs(e.t, "GetInstanceInfo", err, provider.ErrInstanceNotFound)
		}
		e.noFetch(nil) // the start was consumed
	}},
	{"ExistingInstanceItem", func(e *env) {
		e.create("a", provider.ExecutionMetadata{OrchestrationName: "Named", OrchestrationVersion: "2.1.0"})
		e.enqueue(raised("a", "e1"))
		it := e.fetch("a")
		if it.OrchestrationName != "Named" || it.Version != "2.1.0" || it.ExecutionID != 1 {
			e.t.Fatalf("item name %q version %q exec %d, want Named 2.1.0 1 (from the instance)", it.OrchestrationName, it.Version, it.ExecutionID)
		}
		if len(it.History) != 1 || it.History[0].Kind != history.OrchestrationStarted || it.StoredEvents != 1 {
			e.t.Fatalf("history = %d events (stored %d)", len(it.History), it.StoredEvents)
		}
	}},
	{"EmptyVersionKept", func(e *env) {
		e.create("a", provider.ExecutionMetadata{OrchestrationName: "NoVersion"})
		e.enqueue(raised("a", "e1"))
		if it := e.fetch("a"); it.Version != "" || it.OrchestrationName != "NoVersion" {
			e.t.Fatalf("name %q version %q, want NoVersion and empty", it.OrchestrationName, it.Version)
		}
	}},
	{"HistoryOrderedByEventID", func(e *env) {
		e.create("a", provider.ExecutionMetadata{}, scheduled("a", 1, 2), event("a", 1, 3, history.TimerCreated))
		e.enqueue(raised("a", "e1"))
		it := e.fetch("a")
		for i, ev := range it.History {
			if ev.EventID != uint64(i+1) {
				e.t.Fatalf("history[%d] has event id %d", i, ev.EventID)
			}
		}
		if len(it.History) != 3 || it.History[1].Name != "Act" {
			e.t.Fatalf("history round trip lost data: %+v", it.History)
		}
	}},
}
