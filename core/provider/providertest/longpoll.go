package providertest

import (
	"context"
	"errors"
	"time"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

// longPoll is the poll timeout of the long-poll tests; a woken fetch must
// return well before it.
const longPoll = 10 * time.Second

// promptly is how soon after the work appears a woken fetch must return.
const promptly = time.Second

// later runs fn after d on another goroutine; the test waits for it.
func (e *env) later(d time.Duration, fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(d)
		fn()
	}()
	e.t.Cleanup(func() { <-done })
}

// shortPollOnly checks a short-poll store returns at once even when asked
// to wait, and reports whether the test should stop there.
func (e *env) shortPollOnly() bool {
	e.t.Helper()
	if !e.f.ShortPollOnly {
		return false
	}
	t0 := time.Now()
	it, err := e.p.FetchOrchestrationItem(e.ctx, longLock, longPoll, nil)
	if err != nil || it != nil {
		e.t.Fatalf("fetch on an empty store: %v, %v", it, err)
	}
	if el := time.Since(t0); el > e.f.ShortPollThreshold {
		e.t.Fatalf("short-poll store took %v, over the %v threshold", el, e.f.ShortPollThreshold)
	}
	return true
}

var longPollTests = []test{
	{"ShortPollOrchestration", func(e *env) {
		t0 := time.Now()
		it, err := e.p.FetchOrchestrationItem(e.ctx, longLock, 0, nil)
		el := time.Since(t0)
		if err != nil || it != nil {
			e.t.Fatalf("fetch on an empty store: %v, %v", it, err)
		}
		if el > e.f.ShortPollThreshold {
			e.t.Fatalf("fetch with no poll timeout took %v, over %v", el, e.f.ShortPollThreshold)
		}
	}},
	{"ShortPollWorker", func(e *env) {
		t0 := time.Now()
		l, err := e.p.FetchWorkItem(e.ctx, longLock, 0, nil, provider.TagFilter{})
		el := time.Since(t0)
		if err != nil || l != nil {
			e.t.Fatalf("fetch on an empty store: %v, %v", l, err)
		}
		if el > e.f.ShortPollThreshold {
			e.t.Fatalf("fetch with no poll timeout took %v, over %v", el, e.f.ShortPollThreshold)
		}
	}},
	{"WokenByEnqueue", func(e *env) {
		if e.shortPollOnly() {
			return
		}
		e.later(100*time.Millisecond, func() { _ = e.p.EnqueueForOrchestrator(e.ctx, startItem("a"), 0) })
		t0 := time.Now()
		it, err := e.p.FetchOrchestrationItem(e.ctx, longLock, longPoll, nil)
		el := time.Since(t0)
		if err != nil || it == nil || it.Instance != "a" {
			e.t.Fatalf("long poll returned %v, %v; want the enqueued instance", it, err)
		}
		if el > promptly {
			e.t.Fatalf("long poll returned after %v; the enqueue should have woken it", el)
		}
	}},
	{"WorkerWokenByEnqueue", func(e *env) {
		if e.shortPollOnly() {
			return
		}
		e.later(100*time.Millisecond, func() { _ = e.p.EnqueueForWorker(e.ctx, activity("a", 1, 1)) })
		t0 := time.Now()
		l, err := e.p.FetchWorkItem(e.ctx, longLock, longPoll, nil, provider.TagFilter{})
		el := time.Since(t0)
		if err != nil || l == nil {
			e.t.Fatalf("long poll returned %v, %v; want the enqueued item", l, err)
		}
		if el > promptly {
			e.t.Fatalf("long poll returned after %v; the enqueue should have woken it", el)
		}
	}},
	{"WorkerWokenByOrchestrationAck", func(e *env) {
		if e.shortPollOnly() {
			return
		}
		e.enqueue(startItem("a"))
		it := e.fetch("a")
		e.later(100*time.Millisecond, func() {
			_ = e.p.AckOrchestrationItem(e.ctx, it.LockToken, 1, []history.Event{started("a", 1), scheduled("a", 1, 2)},
				[]history.WorkItem{activity("a", 1, 2)}, nil, meta(), nil)
		})
		t0 := time.Now()
		l, err := e.p.FetchWorkItem(e.ctx, longLock, longPoll, nil, provider.TagFilter{})
		if err != nil || l == nil || l.Item.ID != 2 {
			e.t.Fatalf("long poll returned %v, %v; want the scheduled activity", l, err)
		}
		if el := time.Since(t0); el > promptly {
			e.t.Fatalf("long poll returned after %v; the ack should have woken it", el)
		}
	}},
	{"WokenByDelayedVisibility", func(e *env) {
		if e.shortPollOnly() {
			return
		}
		d := e.f.LockTimeout
		wantNoErr(e.t, "enqueue", e.p.EnqueueForOrchestrator(e.ctx, startItem("a"), d))
		t0 := time.Now()
		it, err := e.p.FetchOrchestrationItem(e.ctx, longLock, longPoll, nil)
		el := time.Since(t0)
		if err != nil || it == nil {
			e.t.Fatalf("long poll returned %v, %v; want the delayed item", it, err)
		}
		if el < d-20*time.Millisecond || el > d+promptly {
			e.t.Fatalf("long poll returned after %v; the item became visible after %v", el, d)
		}
	}},
	{"WokenByLockExpiry", func(e *env) {
		if e.shortPollOnly() {
			return
		}
		lock := e.f.LockTimeout
		e.enqueue(startItem("a"))
		t0 := time.Now()
		e.fetchWithin("a", lock, nil, time.Second)
		it, err := e.p.FetchOrchestrationItem(e.ctx, longLock, longPoll, nil)
		el := time.Since(t0)
		if err != nil || it == nil {
			e.t.Fatalf("long poll returned %v, %v; want the instance whose lock expired", it, err)
		}
		if el > lock+promptly {
			e.t.Fatalf("long poll returned after %v; the lock expired after %v", el, lock)
		}
	}},
	{"WokenByAbandon", func(e *env) {
		if e.shortPollOnly() {
			return
		}
		e.enqueue(startItem("a"))
		it := e.fetch("a")
		e.later(100*time.Millisecond, func() { _ = e.p.AbandonOrchestrationItem(e.ctx, it.LockToken, 0, false) })
		t0 := time.Now()
		got, err := e.p.FetchOrchestrationItem(e.ctx, longLock, longPoll, nil)
		if err != nil || got == nil {
			e.t.Fatalf("long poll returned %v, %v; want the abandoned instance", got, err)
		}
		if el := time.Since(t0); el > promptly {
			e.t.Fatalf("long poll returned after %v; the abandon should have woken it", el)
		}
	}},
	{"WorkerWokenByLockExpiry", func(e *env) {
		if e.shortPollOnly() {
			return
		}
		lock := e.f.LockTimeout
		e.enqueueWorker(activity("a", 1, 1))
		t0 := time.Now()
		e.fetchWorkWithin(lock, nil, provider.TagFilter{}, time.Second)
		l, err := e.p.FetchWorkItem(e.ctx, longLock, longPoll, nil, provider.TagFilter{})
		if err != nil || l == nil {
			e.t.Fatalf("long poll returned %v, %v; want the item whose lock expired", l, err)
		}
		if el := time.Since(t0); el > lock+promptly {
			e.t.Fatalf("long poll returned after %v; the lock expired after %v", el, lock)
		}
	}},
	{"WorkerWokenBySessionExpiry", func(e *env) {
		if e.shortPollOnly() {
			return
		}
		lock := e.f.LockTimeout
		e.enqueueWorker(sessionActivity("a", 1, "s1"))
		t0 := time.Now()
		first := e.fetchWork(owner("A", lock), provider.TagFilter{})
		wantNoErr(e.t, "ack", e.p.AckWorkItem(e.ctx, first.LockToken, nil))
		e.enqueueWorker(sessionActivity("a", 2, "s1"))
		l, err := e.p.FetchWorkItem(e.ctx, longLock, longPoll, owner("B", longLock), provider.TagFilter{})
		if err != nil || l == nil || l.Item.ID != 2 {
			e.t.Fatalf("long poll returned %v, %v; want the session's item once A's session expired", l, err)
		}
		if el := time.Since(t0); el < lock-20*time.Millisecond || el > lock+promptly {
			e.t.Fatalf("long poll returned after %v; the session lock expired after %v", el, lock)
		}
	}},
	{"PollTimeoutIsAnUpperBound", func(e *env) {
		const poll = 300 * time.Millisecond
		t0 := time.Now()
		it, err := e.p.FetchOrchestrationItem(e.ctx, longLock, poll, nil)
		if err != nil || it != nil {
			e.t.Fatalf("fetch on an empty store: %v, %v", it, err)
		}
		l, err := e.p.FetchWorkItem(e.ctx, longLock, poll, nil, provider.TagFilter{})
		if err != nil || l != nil {
			e.t.Fatalf("work fetch on an empty store: %v, %v", l, err)
		}
		if el := time.Since(t0); el > 2*poll+promptly {
			e.t.Fatalf("two fetches with a %v poll took %v", poll, el)
		}
	}},
	{"CancelledContextEndsTheWait", func(e *env) {
		ctx, cancel := context.WithCancel(e.ctx)
		e.later(100*time.Millisecond, cancel)
		t0 := time.Now()
		it, err := e.p.FetchOrchestrationItem(ctx, longLock, longPoll, nil)
		if it != nil {
			e.t.Fatalf("fetch on an empty store returned %s", it.Instance)
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			e.t.Fatalf("cancelled fetch: %v, want nil or context.Canceled", err)
		}
		if el := time.Since(t0); el > promptly {
			e.t.Fatalf("cancelled fetch returned after %v", el)
		}
	}},
}
