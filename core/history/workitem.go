package history

// WorkItemKind names a queue message kind.
type WorkItemKind string

// Work item kinds. Instance is always the instance whose queue the item
// belongs to (the parent, for sub-orchestration completions).
const (
	// WorkStartOrchestration starts execution 1 of Instance (Name, Version,
	// Input, parent link). Enqueued by the client, by a parent for a child,
	// or by a detached start.
	WorkStartOrchestration WorkItemKind = "StartOrchestration"
	// WorkContinueAsNew starts the next execution of Instance (Name,
	// Version, Input, CarryForward, CustomStatus, parent link).
	WorkContinueAsNew WorkItemKind = "ContinueAsNew"
	// WorkActivityExecute asks a worker to run activity Name with Input for
	// the schedule event ID of execution ExecutionID (worker queue).
	WorkActivityExecute WorkItemKind = "ActivityExecute"
	// WorkActivityCompleted carries Result for schedule event ID.
	WorkActivityCompleted WorkItemKind = "ActivityCompleted"
	// WorkActivityFailed carries Error for schedule event ID.
	WorkActivityFailed WorkItemKind = "ActivityFailed"
	// WorkTimerFired fires timer ID at FireAtMs (delayed visibility).
	WorkTimerFired WorkItemKind = "TimerFired"
	// WorkExternalRaised raises event Name with Data.
	WorkExternalRaised WorkItemKind = "ExternalRaised"
	// WorkQueueMessage enqueues Data on the event queue Name.
	WorkQueueMessage WorkItemKind = "QueueMessage"
	// WorkSubOrchCompleted tells the parent Instance (execution ExecutionID)
	// that the child started by schedule event ID completed with Result.
	WorkSubOrchCompleted WorkItemKind = "SubOrchCompleted"
	// WorkSubOrchFailed is the failure counterpart, with Error.
	WorkSubOrchFailed WorkItemKind = "SubOrchFailed"
	// WorkCancelInstance cancels Instance with Reason.
	WorkCancelInstance WorkItemKind = "CancelInstance"
)

// WorkItem is a message on the orchestrator or worker queue. Only the fields
// its kind uses are set.
type WorkItem struct {
	Kind        WorkItemKind `json:"kind"`
	Instance    string       `json:"instance"`
	ExecutionID uint64       `json:"execution_id,omitempty"`
	// ID is the schedule event id a completion answers (activity, timer,
	// child), or the activity's schedule id on WorkActivityExecute.
	ID        uint64        `json:"id,omitempty"`
	Name      string        `json:"name,omitempty"`
	Version   string        `json:"version,omitempty"`
	Input     string        `json:"input,omitempty"`
	Result    string        `json:"result,omitempty"`
	Error     *ErrorDetails `json:"error,omitempty"`
	SessionID string        `json:"session_id,omitempty"`
	Tag       string        `json:"tag,omitempty"`
	FireAtMs  int64         `json:"fire_at_ms,omitempty"`
	// ExpiresAtMs, on WorkActivityExecute, is the pickup deadline: if no
	// worker has taken the item by then, it fails instead of waiting.
	ExpiresAtMs  int64         `json:"expires_at_ms,omitempty"`
	Data         string        `json:"data,omitempty"`
	Reason       string        `json:"reason,omitempty"`
	CarryForward []QueuedEvent `json:"carry_forward,omitempty"`
	CustomStatus *string       `json:"custom_status,omitempty"`
	// Child names the child instance on sub-orchestration completions.
	Child             string `json:"child,omitempty"`
	ParentInstance    string `json:"parent_instance,omitempty"`
	ParentExecutionID uint64 `json:"parent_execution_id,omitempty"`
	ParentID          uint64 `json:"parent_id,omitempty"`
	// OrchestrationName and OrchestrationVersion describe the scheduling
	// orchestration on WorkActivityExecute, for the activity context.
	OrchestrationName    string `json:"orchestration_name,omitempty"`
	OrchestrationVersion string `json:"orchestration_version,omitempty"`
}

// QueuedEvent is an undelivered queue message carried into the next execution.
type QueuedEvent struct {
	Name string `json:"name"`
	Data string `json:"data"`
}

// IsStart reports whether the item starts an execution.
func (w *WorkItem) IsStart() bool {
	return w.Kind == WorkStartOrchestration || w.Kind == WorkContinueAsNew
}

// IsWorkerItem reports whether the item belongs on the worker queue.
func (w *WorkItem) IsWorkerItem() bool { return w.Kind == WorkActivityExecute }

// TargetsExecution reports whether the item is addressed to one execution
// (completions), as opposed to whichever execution is current.
func (w *WorkItem) TargetsExecution() bool {
	switch w.Kind {
	case WorkActivityCompleted, WorkActivityFailed, WorkTimerFired, WorkSubOrchCompleted, WorkSubOrchFailed:
		return true
	}
	return false
}

// Known reports whether k is a kind this version understands.
func (k WorkItemKind) Known() bool {
	switch k {
	case WorkStartOrchestration, WorkContinueAsNew, WorkActivityExecute, WorkActivityCompleted,
		WorkActivityFailed, WorkTimerFired, WorkExternalRaised, WorkQueueMessage,
		WorkSubOrchCompleted, WorkSubOrchFailed, WorkCancelInstance:
		return true
	}
	return false
}
