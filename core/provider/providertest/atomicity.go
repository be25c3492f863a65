package providertest

import (
	"errors"
	"sync"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

var atomicityTests = []test{
	{"FailedAckRollsBackEverything", func(e *env) {
		e.create("a", provider.ExecutionMetadata{})
		e.enqueue(raised("a", "e1"))
		it := e.fetch("a")
		status := "half-done"
		cs := event("a", 1, 3, history.CustomStatusUpdated)
		cs.CustomStatus = &status
		kv := event("a", 1, 4, history.KeyValueSet)
		kv.Key, kv.Value = "k", "v"
		delta := []history.Event{scheduled("a", 1, 2), cs, kv, started("a", 1) /* duplicate id 1 */}
		err := e.p.AckOrchestrationItem(e.ctx, it.LockToken, 1, delta,
			[]history.WorkItem{activity("a", 1, 2)}, []history.WorkItem{startItem("b")},
			terminal(provider.StatusCompleted, "out"), nil)
		if err == nil {
			e.t.Fatal("ack with a duplicate event id succeeded")
		}
		if errors.Is(err, provider.ErrLockLost) {
			e.t.Fatalf("duplicate event id reported as a lost lock: %v", err)
		}
		wantHistoryLen(e.t, "history after failed ack", e.read("a"), 1)
		if _, _, changed, err := e.p.GetCustomStatus(e.ctx, "a", 0); err != nil || changed {
			e.t.Fatalf("custom status changed by a failed ack (changed=%v, err=%v)", changed, err)
		}
		if _, ok := e.kv("a", "k"); ok {
			e.t.Fatal("KV written by a failed ack")
		}
		e.noFetchWork(&provider.SessionConfig{OwnerID: "w", LockTimeout: longLock}, anyTag)
		// The lock is still held (nothing changed), so b's start would be
		// the only fetchable message if the ack had enqueued it.
		e.noFetch(nil)
		wantNoErr(e.t, "abandon after failed ack", e.p.AbandonOrchestrationItem(e.ctx, it.LockToken, 0, false))
		again := e.fetch("a")
		if got := messageNames(again); len(got) != 1 || got[0] != "ExternalRaised:e1" {
			e.t.Fatalf("messages after failed ack and abandon = %v, want the original message", got)
		}
		if a, ok := e.p.(provider.Admin); ok {
			info, err := a.GetInstanceInfo(e.ctx, "a")
			wantNoErr(e.t, "GetInstanceInfo", err)
			if info.Status != provider.StatusRunning {
				e.t.Fatalf("status after failed ack = %q, want Running", info.Status)
			}
		}
	}},
	{"MultiPartAckIsAtomic", func(e *env) {
		e.enqueue(startItem("a"))
		it := e.fetch("a")
		status := "working"
		cs := event("a", 1, 3, history.CustomStatusUpdated)
		cs.CustomStatus = &status
		kv := event("a", 1, 4, history.KeyValueSet)
		kv.Key, kv.Value = "k", "v"
		e.ack(it, 1, []history.Event{started("a", 1), scheduled("a", 1, 2), cs, kv},
			[]history.WorkItem{activity("a", 1, 2)}, []history.WorkItem{startItem("child")}, meta())
		wantHistoryLen(e.t, "history", e.read("a"), 4)
		if l := e.fetchWork(nil, provider.TagFilter{}); l.Item.Instance != "a" || l.Item.ID != 2 {
			e.t.Fatalf("worker item = %s/%d, want a/2", l.Item.Instance, l.Item.ID)
		}
		e.fetch("child")
		if s, _, changed, err := e.p.GetCustomStatus(e.ctx, "a", 0); err != nil || !changed || s == nil || *s != status {
			e.t.Fatalf("custom status = %v changed=%v err=%v, want %q", s, changed, err, status)
		}
		if v, ok := e.kv("a", "k"); !ok || v != "v" {
			e.t.Fatalf("KV k = %q,%v, want v", v, ok)
		}
	}},
	{"LockReleasedOnlyBySuccessfulAck", func(e *env) {
		e.create("a", provider.ExecutionMetadata{})
		e.enqueue(raised("a", "e1"))
		it := e.fetch("a")
		err := e.p.AckOrchestrationItem(e.ctx, it.LockToken, 1, []history.Event{started("a", 1)}, nil, nil, provider.ExecutionMetadata{}, nil)
		if err == nil {
			e.t.Fatal("ack with a duplicate event id succeeded")
		}
		e.enqueue(raised("a", "e2"))
		e.noFetch(nil) // still locked by it
		e.ack(it, 1, []history.Event{scheduled("a", 1, 2)}, nil, nil, provider.ExecutionMetadata{})
		next := e.fetch("a")
		if got := messageNames(next); len(got) != 1 || got[0] != "ExternalRaised:e2" {
			e.t.Fatalf("next batch = %v, want only e2", got)
		}
	}},
	{"SecondAckOfOneTokenFails", func(e *env) {
		e.enqueue(startItem("a"))
		it := e.fetch("a")
		e.ack(it, 1, []history.Event{started("a", 1)}, nil, nil, meta())
		err := e.p.AckOrchestrationItem(e.ctx, it.LockToken, 1, []history.Event{scheduled("a", 1, 2)}, nil, nil, provider.ExecutionMetadata{}, nil)
		wantLockLost(e.t, "second ack", err)
		wantHistoryLen(e.t, "history", e.read("a"), 1)
	}},
	{"AckWithUnknownTokenChangesNothing", func(e *env) {
		e.enqueue(startItem("a"))
		err := e.p.AckOrchestrationItem(e.ctx, "no-such-token", 1, []history.Event{started("a", 1)},
			[]history.WorkItem{activity("a", 1, 2)}, nil, meta(), nil)
		wantLockLost(e.t, "ack with unknown token", err)
		wantHistoryLen(e.t, "history", e.read("a"), 0)
		e.noFetchWork(nil, anyTag)
		e.fetch("a") // the start is still there and unlocked
	}},
	{"ConcurrentAcksOfOneLock", func(e *env) {
		e.enqueue(startItem("a"))
		it := e.fetch("a")
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = e.p.AckOrchestrationItem(e.ctx, it.LockToken, 1, []history.Event{started("a", 1)},
					[]history.WorkItem{activity("a", 1, 2)}, nil, meta(), nil)
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			}
		}
		if ok != 1 {
			e.t.Fatalf("%d of %d concurrent acks of one lock succeeded, want 1 (errors %v)", ok, n, errs)
		}
		wantHistoryLen(e.t, "history", e.read("a"), 1)
		e.fetchWork(nil, provider.TagFilter{})
		e.noFetchWork(nil, anyTag)
	}},
}
