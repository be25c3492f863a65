// Package provider defines the storage contract of duroxide: what a store
// must do for the runtime and the client, and nothing more. A store holds
// histories, two peek-lock queues (orchestrator and worker) with delayed
// visibility, instance locks, sessions, KV data and custom status. It never
// interprets orchestration semantics: the runtime computes them and passes
// the results down (ExecutionMetadata), and every id is chosen by the runtime.
//
// Method names follow the reference duroxide provider (FetchOrchestrationItem,
// AckOrchestrationItem, …) so the conformance suite in providertest maps one
// to one. Required behaviour is on Provider; management, sessions and
// notifications are optional interfaces a store may implement, discovered by
// type assertion (as database/sql/driver does).
//
// # Rules every store follows
//
// These settle what the method comments leave open; the conformance suite
// checks them.
//
//   - Fetch order: among fetchable instances, the one owning the message
//     with the lowest (visible_at, enqueue order) goes first.
//   - A message for an instance that does not exist, with no start message
//     queued for it, never blocks other instances: fetches skip it, and
//     after a grace period (the store's DeadLetterAfter option) it is moved
//     to the dead letters with the reason. A queue row that cannot be
//     decoded is dead-lettered at once.
//   - An ack for an instance that does not exist and whose metadata carries
//     no name commits only its queue effects (messages deleted, items
//     enqueued) and creates nothing; with history, a status or a pinned
//     version it is a permanent error.
//   - An orchestration lock that expired cannot be abandoned (ErrLockLost);
//     a worker item whose lock expired but that nobody has taken since may
//     still be abandoned.
//   - A fetch whose context is cancelled returns ctx.Err() and holds no lock.
//   - Unknown instances: GetParentID and PruneExecutions return
//     ErrInstanceNotFound; ListExecutions returns an empty list;
//     DeleteInstances deletes nothing (but clears the id's queued messages);
//     AppendWithExecution returns ErrInstanceNotFound.
//   - QueueDepths.Orchestrator counts unlocked messages visible now,
//     Delayed the unlocked future ones, Worker the items without a valid lock.
//   - Sessions: RenewSessionLock with idleTimeout <= 0 skips the idle check;
//     a SessionConfig without a LockTimeout uses the item's lock timeout.
//   - Tag filters are checked with TagFilter.Validate: TagOnly with no tags
//     serves nothing, TagDefaultAnd with no tags serves untagged items only.
//   - The parent link of an instance is set when it is created and never
//     changes; a child may outlive (or be created after) its parent's deletion.
//   - EnqueueForOrchestrator uses its delay argument for visibility, also for
//     TimerFired items; acks use TimerFired.FireAtMs.
package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/duroxide/duroxide/core/history"
)

// Provider is the storage contract every store implements.
//
// Lock rule: a fetch that returns an item holds a lock that must be acked or
// abandoned; a fetch that returns an error or nil holds nothing.
type Provider interface {
	// Name identifies the store ("sqlite", "postgres", …) in logs.
	Name() string

	// FetchOrchestrationItem locks one instance that has visible
	// orchestrator messages and no valid instance lock, tags all of that
	// instance's visible messages with the lock (incrementing each one's
	// attempt count), and returns them with the current execution's history
	// and KV snapshot. It may wait up to pollTimeout for work; it returns
	// (nil, nil) when there is none. With a non-nil filter, only instances
	// whose current execution is pinned inside the filter (or not pinned)
	// are considered, and the filter applies before anything is locked.
	FetchOrchestrationItem(ctx context.Context, lockTimeout, pollTimeout time.Duration, filter *VersionFilter) (*OrchestrationItem, error)

	// AckOrchestrationItem commits a turn atomically: deletes the messages
	// tagged with the lock, creates the instance and execution rows when
	// needed, appends historyDelta to execution executionID, applies
	// metadata (status, output, custom status, KV), enqueues worker and
	// orchestrator items, removes the worker rows of cancelledActivities
	// (after the inserts), and releases the lock — all only if the lock is
	// still held; otherwise it returns an error wrapping ErrLockLost and
	// changes nothing.
	AckOrchestrationItem(ctx context.Context, lockToken string, executionID uint64, historyDelta []history.Event,
		workerItems, orchestratorItems []history.WorkItem, metadata ExecutionMetadata, cancelledActivities []ActivityRef) error

	// AbandonOrchestrationItem releases the lock without committing. With a
	// delay, the instance's tagged messages become visible again only after
	// it. ignoreAttempt gives back the attempt the fetch counted (never
	// below zero). An unknown or expired token is an error.
	AbandonOrchestrationItem(ctx context.Context, lockToken string, delay time.Duration, ignoreAttempt bool) error

	// RenewOrchestrationItemLock extends a held instance lock to now+extendFor.
	// A lock that is no longer held is an error wrapping ErrLockLost.
	RenewOrchestrationItemLock(ctx context.Context, lockToken string, extendFor time.Duration) error

	// Read returns the latest execution's history, ordered by event id;
	// empty for an unknown instance.
	Read(ctx context.Context, instance string) ([]history.Event, error)
	// ReadWithExecution returns one execution's history.
	ReadWithExecution(ctx context.Context, instance string, executionID uint64) ([]history.Event, error)
	// AppendWithExecution appends events outside a turn. For tests and fault
	// injection only; it never overwrites an existing event.
	AppendWithExecution(ctx context.Context, instance string, executionID uint64, events []history.Event) error

	// EnqueueForWorker puts an ActivityExecute item on the worker queue,
	// visible now, keeping its session and tag.
	EnqueueForWorker(ctx context.Context, item history.WorkItem) error
	// FetchWorkItem locks one visible worker item that matches the tag
	// filter and the session rules (see SessionConfig), incrementing its
	// attempt count. It may wait up to pollTimeout; (nil, nil) means none.
	FetchWorkItem(ctx context.Context, lockTimeout, pollTimeout time.Duration, session *SessionConfig, tags TagFilter) (*WorkItemLease, error)
	// AckWorkItem deletes the locked worker item and, when completion is
	// not nil, enqueues it on the orchestrator queue, atomically. If the item
	// is gone (cancelled, stolen) or its lock expired, it returns an error
	// wrapping ErrLockLost and enqueues nothing.
	AckWorkItem(ctx context.Context, lockToken string, completion *history.WorkItem) error
	// RenewWorkItemLock extends a held worker lock. A missing row or an
	// expired lock is an error wrapping ErrLockLost: for a running activity
	// this is the cancellation signal.
	RenewWorkItemLock(ctx context.Context, lockToken string, extendFor time.Duration) error
	// AbandonWorkItem releases a worker lock; the item becomes visible after
	// delay. ignoreAttempt gives back the counted attempt.
	AbandonWorkItem(ctx context.Context, lockToken string, delay time.Duration, ignoreAttempt bool) error

	// EnqueueForOrchestrator puts an item on the queue of item.Instance,
	// visible after delay. It never creates an instance.
	EnqueueForOrchestrator(ctx context.Context, item history.WorkItem, delay time.Duration) error

	// GetCustomStatus returns the instance's custom status and its version
	// when the version is newer than lastSeenVersion; changed is false when
	// it is not newer or the instance is unknown.
	GetCustomStatus(ctx context.Context, instance string, lastSeenVersion uint64) (status *string, version uint64, changed bool, err error)
	// GetKVValue reads one key of an instance's KV store (the live view:
	// this execution's changes over the last snapshot).
	GetKVValue(ctx context.Context, instance, key string) (value string, found bool, err error)
	// GetKVAllValues reads every key of an instance's KV store.
	GetKVAllValues(ctx context.Context, instance string) (map[string]string, error)

	// Close releases the store's resources. Calls after Close fail with ErrClosed.
	Close() error
}

// OrchestrationItem is one locked batch for one instance.
type OrchestrationItem struct {
	Instance          string
	OrchestrationName string
	Version           string
	// ExecutionID is the instance's current execution (1 for a new instance).
	ExecutionID uint64
	// History is the current execution's history, ordered by event id.
	History []history.Event
	// HistoryError is set, and History empty, when the stored history could
	// not be decoded. StoredEvents still counts the stored rows.
	HistoryError string
	// StoredEvents is the number of history rows stored for the execution.
	StoredEvents int
	// Messages is the whole locked batch, in queue order.
	Messages []history.WorkItem
	// KVSnapshot is the KV state as of the last execution boundary.
	KVSnapshot map[string]KVEntry
	LockToken  string
	// AttemptCount is the highest attempt count over the batch (1 on the
	// first fetch).
	AttemptCount int
}

// KVEntry is one key of a KV snapshot.
type KVEntry struct {
	Value           string
	LastUpdatedAtMs int64
}

// Execution statuses stored by the provider.
const (
	StatusRunning        = "Running"
	StatusCompleted      = "Completed"
	StatusFailed         = "Failed"
	StatusContinuedAsNew = "ContinuedAsNew"
)

// ExecutionMetadata is what the runtime computed for the provider to store.
type ExecutionMetadata struct {
	// Status is empty while the execution runs, else StatusCompleted,
	// StatusFailed or StatusContinuedAsNew.
	Status string
	// Output is the output (Completed), the display message (Failed) or the
	// next input (ContinuedAsNew).
	Output               string
	OrchestrationName    string
	OrchestrationVersion string
	ParentInstance       string
	// PinnedVersion is the engine version ("1.2.3") that started the
	// execution; set on an execution's first turn only.
	PinnedVersion string
}

// ActivityRef identifies a scheduled activity (its worker-queue row).
type ActivityRef struct {
	Instance    string
	ExecutionID uint64
	ActivityID  uint64
}

// WorkItemLease is a locked worker item.
type WorkItemLease struct {
	Item         history.WorkItem
	LockToken    string
	AttemptCount int
}

// SessionConfig asks FetchWorkItem to serve session-bound items too: those
// of sessions OwnerID holds, and of sessions nobody holds (or whose lock
// expired), which it then claims for LockTimeout. A nil *SessionConfig
// fetches only items without a session.
type SessionConfig struct {
	OwnerID     string
	LockTimeout time.Duration
}

// TagMode selects which activity tags a worker serves.
type TagMode int

// Tag modes.
const (
	// TagDefaultOnly serves only untagged items (the default).
	TagDefaultOnly TagMode = iota
	// TagOnly serves only items whose tag is in Tags.
	TagOnly
	// TagDefaultAnd serves untagged items and items whose tag is in Tags.
	TagDefaultAnd
	// TagAny serves everything.
	TagAny
	// TagNone serves nothing (an orchestration-only runtime).
	TagNone
)

// MaxWorkerTags bounds TagFilter.Tags.
const MaxWorkerTags = 5

// TagFilter is a worker's tag selection. The zero value serves untagged items.
type TagFilter struct {
	Mode TagMode
	Tags []string
}

// Matches reports whether an item with this tag ("" = untagged) passes.
func (f TagFilter) Matches(tag string) bool {
	in := func() bool {
		for _, t := range f.Tags {
			if t == tag {
				return true
			}
		}
		return false
	}
	switch f.Mode {
	case TagDefaultOnly:
		return tag == ""
	case TagOnly:
		return tag != "" && in()
	case TagDefaultAnd:
		return tag == "" || in()
	case TagAny:
		return true
	}
	return false
}

// Validate reports a filter a store must refuse: an unknown mode or more
// than MaxWorkerTags tags.
func (f TagFilter) Validate() error {
	if f.Mode < TagDefaultOnly || f.Mode > TagNone {
		return fmt.Errorf("tag filter: unknown mode %d", f.Mode)
	}
	if len(f.Tags) > MaxWorkerTags {
		return fmt.Errorf("tag filter has %d tags, at most %d allowed", len(f.Tags), MaxWorkerTags)
	}
	return nil
}

// Semver is a major.minor.patch version.
type Semver struct{ Major, Minor, Patch int }

// VersionFilter restricts fetches to executions pinned to an engine version
// in [Min, Max]. Executions with no pinned version always pass.
type VersionFilter struct{ Min, Max Semver }
