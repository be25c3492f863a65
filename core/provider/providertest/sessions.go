package providertest

import (
	"sync"
	"time"

	"github.com/duroxide/duroxide/core/provider"
)

func owner(id string, lock time.Duration) *provider.SessionConfig {
	return &provider.SessionConfig{OwnerID: id, LockTimeout: lock}
}

var sessionTests = []test{
	{"NilConfigSkipsSessionItems", func(e *env) {
		e.enqueueWorker(sessionActivity("a", 1, "s1"), activity("a", 1, 2))
		if l := e.fetchWork(nil, provider.TagFilter{}); l.Item.ID != 2 {
			e.t.Fatalf("fetched %d, want the item without a session", l.Item.ID)
		}
		e.noFetchWork(nil, provider.TagFilter{})
		if l := e.fetchWork(owner("A", longLock), provider.TagFilter{}); l.Item.ID != 1 || l.Item.SessionID != "s1" {
			e.t.Fatalf("with a session config: fetched %d (session %q)", l.Item.ID, l.Item.SessionID)
		}
	}},
	{"ConfigAlsoServesItemsWithoutSession", func(e *env) {
		e.enqueueWorker(activity("a", 1, 1))
		e.fetchWork(owner("A", longLock), provider.TagFilter{})
	}},
	{"ClaimAndAffinity", func(e *env) {
		e.enqueueWorker(sessionActivity("a", 1, "s1"), sessionActivity("a", 2, "s1"))
		first := e.fetchWork(owner("A", longLock), provider.TagFilter{})
		if first.Item.ID != 1 {
			e.t.Fatalf("A fetched %d, want 1", first.Item.ID)
		}
		e.noFetchWork(owner("B", longLock), provider.TagFilter{})
		if l := e.fetchWork(owner("A", longLock), provider.TagFilter{}); l.Item.ID != 2 {
			e.t.Fatalf("A fetched %d, want 2", l.Item.ID)
		}
	}},
	{"DifferentSessionsDifferentOwners", func(e *env) {
		e.enqueueWorker(sessionActivity("a", 1, "s1"), sessionActivity("a", 2, "s2"))
		if l := e.fetchWork(owner("A", longLock), provider.TagFilter{}); l.Item.SessionID != "s1" {
			e.t.Fatalf("A fetched session %q", l.Item.SessionID)
		}
		if l := e.fetchWork(owner("B", longLock), provider.TagFilter{}); l.Item.SessionID != "s2" {
			e.t.Fatalf("B fetched session %q", l.Item.SessionID)
		}
	}},
	{"ExpiredSessionIsTakenOver", func(e *env) {
		lock := e.f.LockTimeout
		e.enqueueWorker(sessionActivity("a", 1, "s1"))
		t0 := time.Now()
		l := e.fetchWork(owner("A", lock), provider.TagFilter{})
		wantNoErr(e.t, "ack", e.p.AckWorkItem(e.ctx, l.LockToken, nil))
		e.enqueueWorker(sessionActivity("a", 2, "s1"))
		e.noFetchWork(owner("B", longLock), provider.TagFilter{})
		l2 := e.fetchWorkWithin(longLock, owner("B", longLock), provider.TagFilter{}, lock+2*time.Second)
		if l2.Item.ID != 2 || time.Since(t0) < lock-20*time.Millisecond {
			e.t.Fatalf("B fetched %d after %v, want 2 after the %v session lock", l2.Item.ID, time.Since(t0), lock)
		}
		e.enqueueWorker(sessionActivity("a", 3, "s1"))
		e.noFetchWork(owner("A", longLock), provider.TagFilter{}) // B owns it now
	}},
	{"SharedOwnerServesConcurrentItems", func(e *env) {
		e.enqueueWorker(sessionActivity("a", 1, "s1"), sessionActivity("a", 2, "s1"))
		l1 := e.fetchWork(owner("node", longLock), provider.TagFilter{})
		l2 := e.fetchWork(owner("node", longLock), provider.TagFilter{})
		if l1.Item.ID == l2.Item.ID {
			e.t.Fatal("the same item was leased twice")
		}
	}},
	{"ConcurrentClaimHasOneWinner", func(e *env) {
		e.enqueueWorker(sessionActivity("a", 1, "s1"), sessionActivity("a", 2, "s1"))
		const n = 8
		winners := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := string(rune('A' + i))
				l, err := e.p.FetchWorkItem(e.ctx, longLock, 0, owner(id, longLock), provider.TagFilter{})
				if err != nil {
					e.t.Errorf("fetch: %v", err)
				}
				if l != nil {
					winners[i] = id
				}
			}()
		}
		wg.Wait()
		got := map[string]bool{}
		for _, w := range winners {
			if w != "" {
				got[w] = true
			}
		}
		if len(got) != 1 {
			e.t.Fatalf("session items went to owners %v, want exactly one owner", got)
		}
	}},
	{"AbandonKeepsAffinity", func(e *env) {
		e.enqueueWorker(sessionActivity("a", 1, "s1"))
		l := e.fetchWork(owner("A", longLock), provider.TagFilter{})
		wantNoErr(e.t, "abandon", e.p.AbandonWorkItem(e.ctx, l.LockToken, 0, false))
		e.noFetchWork(owner("B", longLock), provider.TagFilter{})
		if again := e.fetchWork(owner("A", longLock), provider.TagFilter{}); again.Item.ID != 1 {
			e.t.Fatalf("A refetched %d", again.Item.ID)
		}
	}},
	{"RenewSessionLock", func(e *env) {
		r := e.sessionRenewer()
		lock := e.f.LockTimeout
		e.enqueueWorker(sessionActivity("a", 1, "s1"))
		t0 := time.Now()
		l := e.fetchWork(owner("A", lock), provider.TagFilter{})
		n, err := r.RenewSessionLock(e.ctx, []string{"A", "Z"}, 10*lock, time.Hour)
		wantNoErr(e.t, "RenewSessionLock", err)
		if n != 1 {
			e.t.Fatalf("renewed %d sessions, want 1", n)
		}
		wantNoErr(e.t, "ack", e.p.AckWorkItem(e.ctx, l.LockToken, nil))
		sleepPast(t0, lock)
		e.enqueueWorker(sessionActivity("a", 2, "s1"))
		e.noFetchWork(owner("B", longLock), provider.TagFilter{})
	}},
	{"IdleSessionIsNotRenewed", func(e *env) {
		r := e.sessionRenewer()
		e.enqueueWorker(sessionActivity("a", 1, "s1"))
		l := e.fetchWork(owner("A", longLock), provider.TagFilter{})
		wantNoErr(e.t, "ack", e.p.AckWorkItem(e.ctx, l.LockToken, nil))
		const idle = 100 * time.Millisecond
		time.Sleep(idle + 50*time.Millisecond) // the point: no activity for longer than idle
		n, err := r.RenewSessionLock(e.ctx, []string{"A"}, longLock, idle)
		wantNoErr(e.t, "RenewSessionLock", err)
		if n != 0 {
			e.t.Fatalf("renewed %d idle sessions, want 0", n)
		}
	}},
	{"WorkRefreshesSessionActivity", func(e *env) {
		r := e.sessionRenewer()
		e.enqueueWorker(sessionActivity("a", 1, "s1"))
		l := e.fetchWork(owner("A", longLock), provider.TagFilter{})
		const idle = 150 * time.Millisecond
		time.Sleep(idle + 50*time.Millisecond) // the point: the fetch is now older than idle
		wantNoErr(e.t, "renew work", e.p.RenewWorkItemLock(e.ctx, l.LockToken, longLock))
		n, err := r.RenewSessionLock(e.ctx, []string{"A"}, longLock, idle)
		wantNoErr(e.t, "RenewSessionLock", err)
		if n != 1 {
			e.t.Fatalf("renewed %d sessions after a work renewal, want 1", n)
		}
		time.Sleep(idle + 50*time.Millisecond)
		wantNoErr(e.t, "ack work", e.p.AckWorkItem(e.ctx, l.LockToken, nil))
		if n, err = r.RenewSessionLock(e.ctx, []string{"A"}, longLock, idle); err != nil || n != 1 {
			e.t.Fatalf("renewed %d sessions after a work ack (err %v), want 1", n, err)
		}
	}},
	{"CleanupOrphanedSessions", func(e *env) {
		r := e.sessionRenewer()
		lock := e.f.LockTimeout
		e.enqueueWorker(sessionActivity("a", 1, "s1"), sessionActivity("a", 2, "s2"), sessionActivity("a", 3, "s2"))
		t0 := time.Now()
		l1 := e.fetchWork(owner("A", lock), provider.TagFilter{})
		l2 := e.fetchWork(owner("B", lock), provider.TagFilter{})
		if l1.Item.SessionID != "s1" || l2.Item.SessionID != "s2" {
			e.t.Fatalf("sessions %q and %q", l1.Item.SessionID, l2.Item.SessionID)
		}
		wantNoErr(e.t, "ack", e.p.AckWorkItem(e.ctx, l1.LockToken, nil))
		wantNoErr(e.t, "ack", e.p.AckWorkItem(e.ctx, l2.LockToken, nil))
		n, err := r.CleanupOrphanedSessions(e.ctx, time.Millisecond)
		wantNoErr(e.t, "cleanup", err)
		if n != 0 {
			e.t.Fatalf("cleaned %d sessions with live locks", n)
		}
		sleepPast(t0, lock)
		n, err = r.CleanupOrphanedSessions(e.ctx, time.Millisecond)
		wantNoErr(e.t, "cleanup", err)
		if n != 1 {
			e.t.Fatalf("cleaned %d sessions, want 1 (s2 still has a queued item)", n)
		}
		if l := e.fetchWork(owner("C", longLock), provider.TagFilter{}); l.Item.ID != 3 {
			e.t.Fatalf("C fetched %d, want 3", l.Item.ID)
		}
	}},
}
