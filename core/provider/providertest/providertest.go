// Package providertest is the conformance suite every duroxide store must
// pass: providertest.Run(t, factory) runs the provider contract (package
// provider) against fresh stores, in groups named after the reference
// duroxide provider validation (atomicity, instance locking, lock
// expiration, queue semantics, …).
//
// A store behaviour change comes with a change here. The EndToEnd group runs
// real orchestrations through core/runtime on the store. Optional
// capabilities (provider.Admin, provider.SessionRenewer, provider.Notifier,
// provider.WorkItemExpirer) are found by type assertion; a store without one
// gets the tests that need it skipped with the reason.
//
// The suite waits on conditions rather than sleeping, except where the
// point is to let a lock or a delay pass; it uses short locks (the
// factory's LockTimeout, 300ms by default) so that it stays fast.
package providertest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

// Factory describes the store under test. Only New is required; every
// other field has a documented default.
type Factory struct {
	// New returns a fresh, empty store for one test. The suite closes it
	// when the test ends (so New must not register its own Close, unless
	// the store's Close is idempotent).
	New func(t *testing.T) provider.Provider
	// LockTimeout is the short lock used by tests that wait for a lock, a
	// delay or a session to expire. Default 300ms.
	LockTimeout time.Duration
	// ShortPollThreshold bounds how long a fetch with a zero poll timeout
	// may take on an empty store. Default 100ms.
	ShortPollThreshold time.Duration
	// ShortPollOnly declares a store that ignores poll timeouts and always
	// returns at once; the long-poll tests then check exactly that.
	ShortPollOnly bool
	// DeadLetterAfter is the dead-letter threshold of the stores New
	// returns (messages for an instance that never started are set aside
	// after it). Zero skips the dead-letter test; keep it short (say 300ms).
	DeadLetterAfter time.Duration
	// CorruptHistory makes the stored history of one execution undecodable
	// (for example by overwriting an event's stored JSON). Nil skips the
	// tests that need it.
	CorruptHistory func(t *testing.T, p provider.Provider, instance string, executionID uint64)
}

func (f Factory) withDefaults() Factory {
	if f.LockTimeout <= 0 {
		f.LockTimeout = 300 * time.Millisecond
	}
	if f.ShortPollThreshold <= 0 {
		f.ShortPollThreshold = 100 * time.Millisecond
	}
	return f
}

// test is one conformance test.
type test struct {
	name string
	fn   func(e *env)
}

// group is a named set of tests, run as one subtest.
type group struct {
	name  string
	tests []test
}

func groups() []group {
	return []group{
		{"Atomicity", atomicityTests},
		{"InstanceLocking", lockingTests},
		{"LockExpiration", expirationTests},
		{"QueueSemantics", queueTests},
		{"MultiExecution", multiExecutionTests},
		{"PoisonAndAttempts", poisonTests},
		{"Cancellation", cancellationTests},
		{"Deletion", deletionTests},
		{"Prune", pruneTests},
		{"LongPolling", longPollTests},
		{"Sessions", sessionTests},
		{"Tags", tagTests},
		{"VersionFilter", versionFilterTests},
		{"KV", kvTests},
		{"CustomStatus", customStatusTests},
		{"Management", managementTests},
		{"Notifier", notifierTests},
		{"Concurrency", concurrencyTests},
		{"Expiry", expiryTests},
		{"EndToEnd", e2eTests},
	}
}

// Run runs the whole suite against the stores f.New makes.
func Run(t *testing.T, f Factory) {
	t.Helper()
	if f.New == nil {
		t.Fatal("providertest: Factory.New is required")
	}
	f = f.withDefaults()
	for _, g := range groups() {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.fn(newEnv(t, f))
				})
			}
		})
	}
}

// Long lock used wherever a test does not want a lock to expire.
const longLock = 30 * time.Second

// env is one test's store and helpers.
type env struct {
	t   *testing.T
	f   Factory
	p   provider.Provider
	ctx context.Context
}

func newEnv(t *testing.T, f Factory) *env {
	p := f.New(t)
	if p == nil {
		t.Fatal("providertest: Factory.New returned nil")
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &env{t: t, f: f, p: p, ctx: context.Background()}
}

func (e *env) admin() provider.Admin {
	e.t.Helper()
	a, ok := e.p.(provider.Admin)
	if !ok {
		e.t.Skip("store does not implement provider.Admin")
	}
	return a
}

func (e *env) sessionRenewer() provider.SessionRenewer {
	e.t.Helper()
	r, ok := e.p.(provider.SessionRenewer)
	if !ok {
		e.t.Skip("store does not implement provider.SessionRenewer")
	}
	return r
}

func (e *env) notifier() provider.Notifier {
	e.t.Helper()
	n, ok := e.p.(provider.Notifier)
	if !ok {
		e.t.Skip("store does not implement provider.Notifier")
	}
	return n
}

func (e *env) corrupt(instance string, executionID uint64) {
	e.t.Helper()
	if e.f.CorruptHistory == nil {
		e.t.Skip("Factory.CorruptHistory is nil: cannot corrupt stored history")
	}
	e.f.CorruptHistory(e.t, e.p, instance, executionID)
}

// ---- work items and events ----

const orchName = "Orch"

func startItem(instance string) history.WorkItem {
	return history.WorkItem{Kind: history.WorkStartOrchestration, Instance: instance, Name: orchName,
		Version: "1.0.0", Input: `{"n":1}`, ExecutionID: 1}
}

func raised(instance, name string) history.WorkItem {
	return history.WorkItem{Kind: history.WorkExternalRaised, Instance: instance, Name: name, Data: "d-" + name}
}

func continueItem(instance string) history.WorkItem {
	return history.WorkItem{Kind: history.WorkContinueAsNew, Instance: instance, Name: orchName, Version: "1.0.0", Input: "next"}
}

func activity(instance string, exec, id uint64) history.WorkItem {
	return history.WorkItem{Kind: history.WorkActivityExecute, Instance: instance, ExecutionID: exec, ID: id,
		Name: "Act", Input: fmt.Sprintf("in-%d", id)}
}

func sessionActivity(instance string, id uint64, session string) history.WorkItem {
	w := activity(instance, 1, id)
	w.SessionID = session
	return w
}

func taggedActivity(instance string, id uint64, tag string) history.WorkItem {
	w := activity(instance, 1, id)
	w.Tag = tag
	return w
}

func activityDone(instance string, exec, id uint64) *history.WorkItem {
	return &history.WorkItem{Kind: history.WorkActivityCompleted, Instance: instance, ExecutionID: exec, ID: id, Result: "ok"}
}

func started(instance string, exec uint64) history.Event {
	return history.Event{EventID: 1, Kind: history.OrchestrationStarted, InstanceID: instance, ExecutionID: exec,
		Name: orchName, Version: "1.0.0", Input: "in", TimestampMs: time.Now().UnixMilli()}
}

func event(instance string, exec, id uint64, kind history.Kind) history.Event {
	return history.Event{EventID: id, Kind: kind, InstanceID: instance, ExecutionID: exec, TimestampMs: time.Now().UnixMilli()}
}

func scheduled(instance string, exec, id uint64) history.Event {
	ev := event(instance, exec, id, history.ActivityScheduled)
	ev.Name = "Act"
	return ev
}

func meta() provider.ExecutionMetadata {
	return provider.ExecutionMetadata{OrchestrationName: orchName, OrchestrationVersion: "1.0.0"}
}

func terminal(status, output string) provider.ExecutionMetadata {
	return provider.ExecutionMetadata{Status: status, Output: output}
}

// ---- store operations that must succeed ----

func (e *env) enqueue(items ...history.WorkItem) {
	e.t.Helper()
	for _, it := range items {
		if err := e.p.EnqueueForOrchestrator(e.ctx, it, 0); err != nil {
			e.t.Fatalf("EnqueueForOrchestrator(%s %s): %v", it.Kind, it.Instance, err)
		}
	}
}

func (e *env) enqueueWorker(items ...history.WorkItem) {
	e.t.Helper()
	for _, it := range items {
		if err := e.p.EnqueueForWorker(e.ctx, it); err != nil {
			e.t.Fatalf("EnqueueForWorker(%s %d): %v", it.Instance, it.ID, err)
		}
	}
}

// tryFetch fetches with the given lock and filter and no wait.
func (e *env) tryFetch(lock time.Duration, filter *provider.VersionFilter) *provider.OrchestrationItem {
	e.t.Helper()
	it, err := e.p.FetchOrchestrationItem(e.ctx, lock, 0, filter)
	if err != nil {
		e.t.Fatalf("FetchOrchestrationItem: %v", err)
	}
	return it
}

// fetch returns the next orchestration item (long lock), failing the test
// if there is none within a second, or if it is not for instance (when
// instance is not empty).
func (e *env) fetch(instance string) *provider.OrchestrationItem {
	e.t.Helper()
	return e.fetchWithin(instance, longLock, nil, time.Second)
}

// fetchWithin waits up to d for an item, polling in short steps so that
// it works with short-poll stores too.
func (e *env) fetchWithin(instance string, lock time.Duration, filter *provider.VersionFilter, d time.Duration) *provider.OrchestrationItem {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for {
		poll := min(time.Until(deadline), 100*time.Millisecond)
		it, err := e.p.FetchOrchestrationItem(e.ctx, lock, max(poll, 0), filter)
		if err != nil {
			e.t.Fatalf("FetchOrchestrationItem: %v", err)
		}
		if it != nil {
			if instance != "" && it.Instance != instance {
				e.t.Fatalf("fetched instance %q, want %q", it.Instance, instance)
			}
			return it
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no orchestration item within %v (want instance %q)", d, instance)
		}
	}
}

// noFetch asserts that no orchestration item is available now.
func (e *env) noFetch(filter *provider.VersionFilter) {
	e.t.Helper()
	if it := e.tryFetch(longLock, filter); it != nil {
		e.t.Fatalf("fetched instance %q with %d messages, want nothing", it.Instance, len(it.Messages))
	}
}

func (e *env) ack(it *provider.OrchestrationItem, exec uint64, delta []history.Event, workerItems, orchItems []history.WorkItem,
	md provider.ExecutionMetadata, cancelled ...provider.ActivityRef) {
	e.t.Helper()
	if err := e.p.AckOrchestrationItem(e.ctx, it.LockToken, exec, delta, workerItems, orchItems, md, cancelled); err != nil {
		e.t.Fatalf("AckOrchestrationItem(%s exec %d): %v", it.Instance, exec, err)
	}
}

// create starts instance: enqueues a start, fetches it and acks the first
// turn with OrchestrationStarted plus extra events, with metadata md
// (name and version are filled in when empty).
func (e *env) create(instance string, md provider.ExecutionMetadata, extra ...history.Event) {
	e.t.Helper()
	e.enqueue(startItem(instance))
	it := e.fetch(instance)
	if md.OrchestrationName == "" {
		md.OrchestrationName, md.OrchestrationVersion = orchName, "1.0.0"
	}
	e.ack(it, 1, append([]history.Event{started(instance, 1)}, extra...), nil, nil, md)
}

// turn runs one turn of an existing instance: it raises an event, fetches
// the batch and acks it with the given delta and metadata on execution exec.
func (e *env) turn(instance string, exec uint64, delta []history.Event, md provider.ExecutionMetadata,
	workerItems, orchItems []history.WorkItem, cancelled ...provider.ActivityRef) *provider.OrchestrationItem {
	e.t.Helper()
	e.enqueue(raised(instance, "turn"))
	it := e.fetch(instance)
	e.ack(it, exec, delta, workerItems, orchItems, md, cancelled...)
	return it
}

// continueAsNew ends execution exec with ContinuedAsNew (event eventID,
// after delta) and starts exec+1 (its first turn acked with
// OrchestrationStarted and metadata md).
func (e *env) continueAsNew(instance string, exec, eventID uint64, md provider.ExecutionMetadata, delta ...history.Event) {
	e.t.Helper()
	e.enqueue(raised(instance, "can"))
	it := e.fetch(instance)
	delta = append(delta, event(instance, exec, eventID, history.OrchestrationContinuedAsNew))
	e.ack(it, exec, delta, nil, []history.WorkItem{continueItem(instance)}, terminal(provider.StatusContinuedAsNew, "next"))
	it = e.fetch(instance)
	if md.OrchestrationName == "" {
		md.OrchestrationName, md.OrchestrationVersion = orchName, "1.0.0"
	}
	e.ack(it, exec+1, []history.Event{started(instance, exec+1)}, nil, nil, md)
}

func (e *env) tryFetchWork(lock time.Duration, session *provider.SessionConfig, tags provider.TagFilter) *provider.WorkItemLease {
	e.t.Helper()
	l, err := e.p.FetchWorkItem(e.ctx, lock, 0, session, tags)
	if err != nil {
		e.t.Fatalf("FetchWorkItem: %v", err)
	}
	return l
}

// fetchWork returns the next worker item (long lock), failing the test if
// there is none within a second.
func (e *env) fetchWork(session *provider.SessionConfig, tags provider.TagFilter) *provider.WorkItemLease {
	e.t.Helper()
	return e.fetchWorkWithin(longLock, session, tags, time.Second)
}

func (e *env) fetchWorkWithin(lock time.Duration, session *provider.SessionConfig, tags provider.TagFilter, d time.Duration) *provider.WorkItemLease {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for {
		poll := min(time.Until(deadline), 100*time.Millisecond)
		l, err := e.p.FetchWorkItem(e.ctx, lock, max(poll, 0), session, tags)
		if err != nil {
			e.t.Fatalf("FetchWorkItem: %v", err)
		}
		if l != nil {
			return l
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no work item within %v", d)
		}
	}
}

func (e *env) noFetchWork(session *provider.SessionConfig, tags provider.TagFilter) {
	e.t.Helper()
	if l := e.tryFetchWork(longLock, session, tags); l != nil {
		e.t.Fatalf("fetched work item %s/%d (session %q, tag %q), want nothing", l.Item.Instance, l.Item.ID, l.Item.SessionID, l.Item.Tag)
	}
}

var anyTag = provider.TagFilter{Mode: provider.TagAny}

func (e *env) read(instance string) []history.Event {
	e.t.Helper()
	h, err := e.p.Read(e.ctx, instance)
	if err != nil {
		e.t.Fatalf("Read(%s): %v", instance, err)
	}
	return h
}

func (e *env) readExec(instance string, exec uint64) []history.Event {
	e.t.Helper()
	h, err := e.p.ReadWithExecution(e.ctx, instance, exec)
	if err != nil {
		e.t.Fatalf("ReadWithExecution(%s, %d): %v", instance, exec, err)
	}
	return h
}

func (e *env) kv(instance, key string) (string, bool) {
	e.t.Helper()
	v, ok, err := e.p.GetKVValue(e.ctx, instance, key)
	if err != nil {
		e.t.Fatalf("GetKVValue(%s, %s): %v", instance, key, err)
	}
	return v, ok
}

func (e *env) kvAll(instance string) map[string]string {
	e.t.Helper()
	m, err := e.p.GetKVAllValues(e.ctx, instance)
	if err != nil {
		e.t.Fatalf("GetKVAllValues(%s): %v", instance, err)
	}
	return m
}

// ---- assertions ----

func wantLockLost(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: succeeded, want an error wrapping provider.ErrLockLost", what)
	}
	if !errors.Is(err, provider.ErrLockLost) {
		t.Fatalf("%s: %v, want an error wrapping provider.ErrLockLost", what, err)
	}
}

func wantErrIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want one wrapping %v", what, err, target)
	}
}

func wantNoErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantHistoryLen(t *testing.T, what string, h []history.Event, n int) {
	t.Helper()
	if len(h) != n {
		kinds := make([]history.Kind, len(h))
		for i := range h {
			kinds[i] = h[i].Kind
		}
		t.Fatalf("%s: %d events %v, want %d", what, len(h), kinds, n)
	}
}

func messageNames(it *provider.OrchestrationItem) []string {
	out := make([]string, len(it.Messages))
	for i, m := range it.Messages {
		out[i] = string(m.Kind) + ":" + m.Name
	}
	return out
}

// waitFor polls cond every few milliseconds until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sleepPast sleeps until d after start, plus a margin: for tests whose
// point is that a lock or a delay has run out.
func sleepPast(start time.Time, d time.Duration) {
	time.Sleep(time.Until(start.Add(d)) + 50*time.Millisecond)
}
