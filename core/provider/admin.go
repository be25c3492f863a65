package provider

import (
	"context"
	"time"

	"github.com/duroxide/duroxide/core/history"
)

// Admin is the optional management capability of a store: listing,
// inspection, deletion and pruning. The client's management calls need it
// and report ErrNotSupported without it.
type Admin interface {
	// ListInstances returns instances matching the filter, newest first.
	ListInstances(ctx context.Context, filter ListFilter) ([]InstanceInfo, error)
	// GetInstanceInfo describes one instance (ErrInstanceNotFound if unknown).
	GetInstanceInfo(ctx context.Context, instance string) (*InstanceInfo, error)
	// ListExecutions returns the instance's execution ids, ascending.
	ListExecutions(ctx context.Context, instance string) ([]uint64, error)
	// GetExecutionInfo describes one execution (ErrInstanceNotFound if unknown).
	GetExecutionInfo(ctx context.Context, instance string, executionID uint64) (*ExecutionInfo, error)
	// GetSystemMetrics counts instances by status, executions and events.
	GetSystemMetrics(ctx context.Context) (*SystemMetrics, error)
	// GetQueueDepths counts unlocked messages per queue.
	GetQueueDepths(ctx context.Context) (*QueueDepths, error)
	// ListChildren returns the direct sub-orchestrations of an instance.
	ListChildren(ctx context.Context, instance string) ([]string, error)
	// GetParentID returns the parent of an instance ("" for a root).
	GetParentID(ctx context.Context, instance string) (string, error)
	// DeleteInstances deletes the given instances and all their data in one
	// transaction. Without force, a running instance is an error
	// (ErrInstanceRunning). A child of a listed instance that is not itself
	// listed is an error (ErrOrphanedChild), checked inside the transaction.
	DeleteInstances(ctx context.Context, instances []string, force bool) (*DeleteResult, error)
	// PruneExecutions deletes old executions of one instance; never the
	// current execution, never a running one.
	PruneExecutions(ctx context.Context, instance string, opts PruneOptions) (*PruneResult, error)
	// ListDeadLetters returns messages the store set aside, newest first.
	ListDeadLetters(ctx context.Context, limit int) ([]DeadLetter, error)
}

// ListFilter selects instances. Zero fields do not filter; Limit 0 means 1000.
type ListFilter struct {
	Status        string // StatusRunning, StatusCompleted, StatusFailed, StatusContinuedAsNew
	Name          string
	CreatedAfter  time.Time
	CreatedBefore time.Time
	// CompletedBefore selects instances whose current execution ended before it.
	CompletedBefore time.Time
	Parent          string
	// RootsOnly keeps only instances without a parent.
	RootsOnly   bool
	InstanceIDs []string
	Limit       int
	Offset      int
}

// InstanceInfo describes an instance as of its current execution.
type InstanceInfo struct {
	InstanceID         string    `json:"instance_id"`
	Name               string    `json:"name"`
	Version            string    `json:"version"`
	CurrentExecutionID uint64    `json:"current_execution_id"`
	Status             string    `json:"status"`
	Output             string    `json:"output,omitempty"`
	CustomStatus       *string   `json:"custom_status,omitempty"`
	CustomStatusVer    uint64    `json:"custom_status_version,omitempty"`
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
	CompletedAt        time.Time `json:"completed_at,omitzero"`
	ParentInstance     string    `json:"parent_instance,omitempty"`
}

// ExecutionInfo describes one execution.
type ExecutionInfo struct {
	ExecutionID uint64    `json:"execution_id"`
	Status      string    `json:"status"`
	Output      string    `json:"output,omitempty"`
	StartedAt   time.Time `json:"started_at"`
	CompletedAt time.Time `json:"completed_at,omitzero"`
	EventCount  int       `json:"event_count"`
	// PinnedVersion is the engine version that started the execution.
	PinnedVersion string `json:"pinned_version,omitempty"`
}

// SystemMetrics are store-wide counts.
type SystemMetrics struct {
	TotalInstances      int64 `json:"total_instances"`
	TotalExecutions     int64 `json:"total_executions"`
	RunningInstances    int64 `json:"running_instances"`
	CompletedInstances  int64 `json:"completed_instances"`
	FailedInstances     int64 `json:"failed_instances"`
	TotalEvents         int64 `json:"total_events"`
	DeadLetters         int64 `json:"dead_letters"`
	ContinuedAsNewCount int64 `json:"continued_as_new_instances"`
}

// QueueDepths counts unlocked messages.
type QueueDepths struct {
	Orchestrator int64 `json:"orchestrator_queue"`
	Worker       int64 `json:"worker_queue"`
	// Delayed counts orchestrator messages not yet visible (pending timers).
	Delayed int64 `json:"delayed"`
}

// DeleteResult counts what a delete removed.
type DeleteResult struct {
	InstancesDeleted  int64 `json:"instances_deleted"`
	ExecutionsDeleted int64 `json:"executions_deleted"`
	EventsDeleted     int64 `json:"events_deleted"`
	QueueMessages     int64 `json:"queue_messages_deleted"`
}

// PruneOptions select executions to prune. KeepLast 0 or 1 keeps only the
// current execution. CompletedBefore, when set, prunes only executions that
// ended before it.
type PruneOptions struct {
	KeepLast        int
	CompletedBefore time.Time
}

// PruneResult counts what a prune removed.
type PruneResult struct {
	InstancesProcessed int64 `json:"instances_processed"`
	ExecutionsDeleted  int64 `json:"executions_deleted"`
	EventsDeleted      int64 `json:"events_deleted"`
}

// Dead-letter queue names (DeadLetter.Queue).
const (
	QueueOrchestrator = "orchestrator"
	QueueWorker       = "worker"
)

// DeadLetter is a message the store set aside instead of letting it block
// a queue: a message for an instance that never started, or a row that could
// not be decoded.
type DeadLetter struct {
	ID        int64            `json:"id"`
	Instance  string           `json:"instance"`
	Queue     string           `json:"queue"`
	Item      history.WorkItem `json:"item"`
	Raw       string           `json:"raw,omitempty"`
	Reason    string           `json:"reason"`
	CreatedAt time.Time        `json:"created_at"`
}

// SessionRenewer is the optional session heartbeat capability.
type SessionRenewer interface {
	// RenewSessionLock extends the locks of sessions held by these owners
	// whose lock is still valid and that saw activity within idleTimeout;
	// it returns how many it renewed.
	RenewSessionLock(ctx context.Context, owners []string, extendFor, idleTimeout time.Duration) (int, error)
	// CleanupOrphanedSessions deletes expired sessions that no queued item
	// references; it returns how many it deleted.
	CleanupOrphanedSessions(ctx context.Context, idleTimeout time.Duration) (int, error)
}

// WorkItemExpirer is the optional capability to fail activities nobody
// picked up in time (history.WorkItem.ExpiresAtMs).
type WorkItemExpirer interface {
	// ExpireWorkItems removes up to limit worker items whose pickup
	// deadline passed and that no worker ever took, and for each enqueues,
	// atomically with the removal, an ActivityFailed completion (application
	// error of kind Timeout naming the activity and its tag) for its
	// orchestration. It returns how many it expired.
	ExpireWorkItems(ctx context.Context, limit int) (int, error)
}

// Notifier is the optional capability to wake waiters in this process when
// an instance's state changes (any committed turn of that instance). It is
// an optimisation: waiters must still poll, because other processes sharing
// the store do not notify.
type Notifier interface {
	// WatchInstance returns a channel that is closed at the next change of
	// the instance, and a function that stops watching.
	WatchInstance(instance string) (<-chan struct{}, func())
}
