package providertest

import (
	"time"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

var expirationTests = []test{
	{"OrchestrationLockExpires", func(e *env) {
		lock := e.f.LockTimeout
		e.enqueue(startItem("a"))
		t0 := time.Now()
		first := e.fetchWithin("a", lock, nil, time.Second)
		e.noFetch(nil)
		second := e.fetchWithin("a", longLock, nil, lock+2*time.Second)
		if el := time.Since(t0); el < lock-20*time.Millisecond {
			e.t.Fatalf("refetched after %v, before the %v lock expired", el, lock)
		}
		if second.LockToken == first.LockToken {
			e.t.Fatal("refetch after expiry returned the old token")
		}
		if second.AttemptCount != 2 {
			e.t.Fatalf("attempt count after expiry = %d, want 2", second.AttemptCount)
		}
		wantLockLost(e.t, "ack with the expired token", e.p.AckOrchestrationItem(e.ctx, first.LockToken, 1,
			[]history.Event{started("a", 1)}, nil, nil, meta(), nil))
		e.ack(second, 1, []history.Event{started("a", 1)}, nil, nil, meta())
		wantHistoryLen(e.t, "history", e.read("a"), 1)
	}},
	{"AbandonReleasesAtOnce", func(e *env) {
		e.enqueue(startItem("a"))
		it := e.fetch("a")
		wantNoErr(e.t, "abandon", e.p.AbandonOrchestrationItem(e.ctx, it.LockToken, 0, false))
		e.fetch("a")
		wantLockLost(e.t, "abandon twice", e.p.AbandonOrchestrationItem(e.ctx, it.LockToken, 0, false))
	}},
	{"RenewExtendsOrchestrationLock", func(e *env) {
		lock := e.f.LockTimeout
		e.enqueue(startItem("a"))
		t0 := time.Now()
		it := e.fetchWithin("a", lock, nil, time.Second)
		for range 3 {
			time.Sleep(lock / 2)
			wantNoErr(e.t, "renew", e.p.RenewOrchestrationItemLock(e.ctx, it.LockToken, lock))
		}
		if time.Since(t0) < lock {
			e.t.Fatal("test ran too fast to prove anything")
		}
		e.noFetch(nil)
		e.ack(it, 1, []history.Event{started("a", 1)}, nil, nil, meta())
	}},
	{"RenewAfterExpiryFails", func(e *env) {
		lock := e.f.LockTimeout
		e.enqueue(startItem("a"))
		t0 := time.Now()
		it := e.fetchWithin("a", lock, nil, time.Second)
		sleepPast(t0, lock)
		wantLockLost(e.t, "renew after expiry", e.p.RenewOrchestrationItemLock(e.ctx, it.LockToken, longLock))
		wantLockLost(e.t, "abandon after expiry", e.p.AbandonOrchestrationItem(e.ctx, it.LockToken, 0, false))
	}},
	{"AckAfterExpiryChangesNothing", func(e *env) {
		lock := e.f.LockTimeout
		e.enqueue(startItem("a"))
		t0 := time.Now()
		it := e.fetchWithin("a", lock, nil, time.Second)
		sleepPast(t0, lock)
		err := e.p.AckOrchestrationItem(e.ctx, it.LockToken, 1, []history.Event{started("a", 1)},
			[]history.WorkItem{activity("a", 1, 2)}, nil, meta(), nil)
		wantLockLost(e.t, "ack after expiry", err)
		wantHistoryLen(e.t, "history", e.read("a"), 0)
		e.noFetchWork(nil, anyTag)
		if again := e.fetch("a"); len(again.Messages) != 1 {
			e.t.Fatalf("the start was lost: %v", messageNames(again))
		}
	}},
	{"WorkerLockExpires", func(e *env) {
		lock := e.f.LockTimeout
		e.enqueueWorker(activity("a", 1, 1))
		t0 := time.Now()
		first := e.fetchWorkWithin(lock, nil, provider.TagFilter{}, time.Second)
		e.noFetchWork(nil, provider.TagFilter{})
		second := e.fetchWorkWithin(longLock, nil, provider.TagFilter{}, lock+2*time.Second)
		if el := time.Since(t0); el < lock-20*time.Millisecond {
			e.t.Fatalf("refetched after %v, before the %v lock expired", el, lock)
		}
		if second.AttemptCount != 2 || second.LockToken == first.LockToken {
			e.t.Fatalf("refetch: attempt %d, same token %v; want 2 and a new token", second.AttemptCount, second.LockToken == first.LockToken)
		}
		wantLockLost(e.t, "ack with the expired token", e.p.AckWorkItem(e.ctx, first.LockToken, nil))
		wantLockLost(e.t, "renew with the expired token", e.p.RenewWorkItemLock(e.ctx, first.LockToken, longLock))
		wantNoErr(e.t, "ack with the new token", e.p.AckWorkItem(e.ctx, second.LockToken, nil))
	}},
	{"WorkerRenewExtendsLock", func(e *env) {
		lock := e.f.LockTimeout
		e.enqueueWorker(activity("a", 1, 1))
		l := e.fetchWorkWithin(lock, nil, provider.TagFilter{}, time.Second)
		for range 3 {
			time.Sleep(lock / 2)
			wantNoErr(e.t, "renew", e.p.RenewWorkItemLock(e.ctx, l.LockToken, lock))
		}
		e.noFetchWork(nil, provider.TagFilter{})
		wantNoErr(e.t, "ack", e.p.AckWorkItem(e.ctx, l.LockToken, nil))
	}},
	{"WorkerRenewAfterAckFails", func(e *env) {
		e.enqueueWorker(activity("a", 1, 1))
		l := e.fetchWork(nil, provider.TagFilter{})
		wantNoErr(e.t, "ack", e.p.AckWorkItem(e.ctx, l.LockToken, nil))
		wantLockLost(e.t, "renew after ack", e.p.RenewWorkItemLock(e.ctx, l.LockToken, longLock))
		wantLockLost(e.t, "ack twice", e.p.AckWorkItem(e.ctx, l.LockToken, nil))
	}},
	{"WorkerAckAfterExpiryEnqueuesNothing", func(e *env) {
		lock := e.f.LockTimeout
		e.create("a", provider.ExecutionMetadata{})
		e.enqueueWorker(activity("a", 1, 2))
		t0 := time.Now()
		l := e.fetchWorkWithin(lock, nil, provider.TagFilter{}, time.Second)
		sleepPast(t0, lock)
		wantLockLost(e.t, "ack after expiry", e.p.AckWorkItem(e.ctx, l.LockToken, activityDone("a", 1, 2)))
		e.noFetch(nil)
		if again := e.fetchWork(nil, provider.TagFilter{}); again.AttemptCount != 2 {
			e.t.Fatalf("redelivered with attempt %d, want 2", again.AttemptCount)
		}
	}},
	{"CancelledActivityLockIsStolen", func(e *env) {
		e.create("a", provider.ExecutionMetadata{}, scheduled("a", 1, 2))
		e.enqueueWorker(activity("a", 1, 2))
		l := e.fetchWork(nil, provider.TagFilter{})
		// The orchestration drops the activity: the ack deletes its row.
		e.turn("a", 1, []history.Event{event("a", 1, 3, history.ActivityCancelRequested)}, provider.ExecutionMetadata{},
			nil, nil, provider.ActivityRef{Instance: "a", ExecutionID: 1, ActivityID: 2})
		wantLockLost(e.t, "renew of a cancelled activity", e.p.RenewWorkItemLock(e.ctx, l.LockToken, longLock))
		wantLockLost(e.t, "ack of a cancelled activity", e.p.AckWorkItem(e.ctx, l.LockToken, activityDone("a", 1, 2)))
		e.noFetch(nil)
		e.noFetchWork(nil, anyTag)
	}},
}
