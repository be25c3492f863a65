package replay

import (
	"context"

	"github.com/duroxide/duroxide/core/history"
)

// ProtocolVersion is the version of the activation/command protocol. It is
// carried in every Activation so drivers in other languages can refuse a
// protocol they do not speak.
const ProtocolVersion = 1

// Driver runs orchestration code for one execution. The engine hands it
// activations; the driver applies each job in order, running the code until
// it blocks after each one, and returns every command the code issued, in
// the order it issued them.
//
// A driver is used by one turn at a time. Between turns the runtime may keep
// it (the instance cache) and later send only the new jobs.
type Driver interface {
	// Activate applies the activation's jobs and returns the code's
	// commands. An error means the driver could not run the code at all
	// (its host went away, a timeout); the turn is abandoned and retried.
	// Failures of the code itself are reported as a CmdFail command.
	Activate(ctx context.Context, a *Activation) ([]Command, error)
	// Close releases the driver and anything it runs. Idempotent.
	Close()
}

// Activation is what the engine sends a driver: the execution it is about
// and the jobs to apply, in history order.
type Activation struct {
	Protocol    int    `json:"protocol"`
	Instance    string `json:"instance"`
	ExecutionID uint64 `json:"execution_id"`
	Name        string `json:"name"`
	Version     string `json:"version"`
	Jobs        []Job  `json:"jobs"`
}

// JobKind names a job.
type JobKind string

// Job kinds.
const (
	// JobStart starts the code: Input, CustomStatus (carried over a
	// continue-as-new), KV (the KV store as of this execution's start),
	// ParentInstance.
	JobStart JobKind = "start"
	// JobActivity resolves activity Seq with Result, or Error.
	JobActivity JobKind = "activity"
	// JobTimer fires timer Seq.
	JobTimer JobKind = "timer"
	// JobEvent resolves the event wait or queue dequeue Seq with Data.
	JobEvent JobKind = "event"
	// JobSubOrchestration resolves child Seq with Result, or Error.
	JobSubOrchestration JobKind = "sub_orchestration"
	// JobSystemCall resolves system call Seq with Result, or Error.
	JobSystemCall JobKind = "system_call"
	// JobCancel tells the code the instance is being cancelled (Reason).
	// Every pending future fails with a cancellation error, the code runs
	// until it blocks or returns, and the instance then ends as cancelled.
	JobCancel JobKind = "cancel"
)

// Job is one step of an activation. Replaying is true when the job comes
// from history that was already committed: drivers suppress logs then.
type Job struct {
	Kind      JobKind               `json:"kind"`
	Seq       uint64                `json:"seq,omitempty"`
	Replaying bool                  `json:"replaying,omitempty"`
	Input     string                `json:"input,omitempty"`
	Result    string                `json:"result,omitempty"`
	Error     *history.ErrorDetails `json:"error,omitempty"`
	Name      string                `json:"name,omitempty"`
	Data      string                `json:"data,omitempty"`
	Reason    string                `json:"reason,omitempty"`
	// CustomStatus and KV are set on JobStart.
	CustomStatus   *string           `json:"custom_status,omitempty"`
	KV             map[string]string `json:"kv,omitempty"`
	ParentInstance string            `json:"parent_instance,omitempty"`
}

// CommandKind names a command.
type CommandKind string

// Command kinds. Commands that create a future carry Seq: the driver numbers
// them 1, 2, 3 … in the order the code issued them, for the whole execution.
const (
	CmdScheduleActivity         CommandKind = "schedule_activity"          // Seq, Name, Input, SessionID, Tag, PickupTimeoutMs
	CmdCreateTimer              CommandKind = "create_timer"               // Seq, DelayMs
	CmdWaitEvent                CommandKind = "wait_event"                 // Seq, Name
	CmdDequeueEvent             CommandKind = "dequeue_event"              // Seq, Name (the queue)
	CmdScheduleSubOrchestration CommandKind = "schedule_sub_orchestration" // Seq, Name, Version, Instance, Input
	CmdSystemCall               CommandKind = "system_call"                // Seq, Op, Input (arguments)
	CmdStartOrchestration       CommandKind = "start_orchestration"        // Name, Version, Instance, Input (detached)
	CmdDropFuture               CommandKind = "drop_future"                // Seq
	CmdSetCustomStatus          CommandKind = "set_custom_status"          // Status (nil resets)
	CmdSetKV                    CommandKind = "set_kv"                     // Key, Value
	CmdClearKV                  CommandKind = "clear_kv"                   // Key
	CmdClearAllKV               CommandKind = "clear_all_kv"               //
	CmdComplete                 CommandKind = "complete"                   // Output
	CmdFail                     CommandKind = "fail"                       // Error
	CmdContinueAsNew            CommandKind = "continue_as_new"            // Input, Version
)

// System call operations.
const (
	OpNewGUID = "new_guid" // Result: a random UUID (36 characters)
	OpUtcNow  = "utc_now"  // Result: milliseconds since the Unix epoch, decimal
	// OpGetKV reads another instance's KV store. Input: {"instance":…,"key":…}.
	// Result: the value as a JSON string, or null when missing.
	OpGetKV = "get_kv"
)

// Command is one decision of the orchestration code.
type Command struct {
	Kind      CommandKind `json:"kind"`
	Seq       uint64      `json:"seq,omitempty"`
	Name      string      `json:"name,omitempty"`
	Version   string      `json:"version,omitempty"`
	Instance  string      `json:"instance,omitempty"`
	Input     string      `json:"input,omitempty"`
	SessionID string      `json:"session_id,omitempty"`
	Tag       string      `json:"tag,omitempty"`
	DelayMs   int64       `json:"delay_ms,omitempty"`
	// PickupTimeoutMs, on schedule_activity, fails the activity if no
	// worker takes it within that time (for tags no worker may serve).
	PickupTimeoutMs int64                 `json:"pickup_timeout_ms,omitempty"`
	Op              string                `json:"op,omitempty"`
	Status          *string               `json:"status,omitempty"`
	Key             string                `json:"key,omitempty"`
	Value           string                `json:"value,omitempty"`
	Output          string                `json:"output,omitempty"`
	Error           *history.ErrorDetails `json:"error,omitempty"`
}

// CreatesFuture reports whether the command carries a Seq.
func (k CommandKind) CreatesFuture() bool {
	switch k {
	case CmdScheduleActivity, CmdCreateTimer, CmdWaitEvent, CmdDequeueEvent, CmdScheduleSubOrchestration, CmdSystemCall:
		return true
	}
	return false
}

// IsTerminal reports whether the command ends the execution.
func (k CommandKind) IsTerminal() bool {
	return k == CmdComplete || k == CmdFail || k == CmdContinueAsNew
}

// recordedKind is the history event kind a recorded command becomes; ""
// for commands that are not matched against history.
func (k CommandKind) recordedKind() history.Kind {
	switch k {
	case CmdScheduleActivity:
		return history.ActivityScheduled
	case CmdCreateTimer:
		return history.TimerCreated
	case CmdWaitEvent:
		return history.ExternalSubscribed
	case CmdDequeueEvent:
		return history.QueueSubscribed
	case CmdScheduleSubOrchestration:
		return history.SubOrchestrationScheduled
	case CmdSystemCall:
		return history.SystemCall
	case CmdStartOrchestration:
		return history.OrchestrationChained
	case CmdSetCustomStatus:
		return history.CustomStatusUpdated
	case CmdSetKV:
		return history.KeyValueSet
	case CmdClearKV:
		return history.KeyValueCleared
	case CmdClearAllKV:
		return history.KeyValuesCleared
	}
	return ""
}
