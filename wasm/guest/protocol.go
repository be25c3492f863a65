package guest

import "fmt"

// The wire types below are the guest's own copies of the turn protocol
// (docs/protocol.md; replay.Activation, replay.Job and replay.Command in the
// host). Their JSON field names are the contract: a test in the host package
// round-trips them against the host's types. Orchestration code never needs
// them; they are exported for tools and tests.

// ProtocolVersion is the turn-protocol version this SDK speaks.
const ProtocolVersion = 1

// SDKVersion identifies this guest SDK in a module's manifest.
const SDKVersion = "duroxide-go-guest/0.1.0"

// Activation is what the host sends for one round of a turn.
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
	JobStart            JobKind = "start"
	JobActivity         JobKind = "activity"
	JobTimer            JobKind = "timer"
	JobEvent            JobKind = "event"
	JobSubOrchestration JobKind = "sub_orchestration"
	JobSystemCall       JobKind = "system_call"
	JobCancel           JobKind = "cancel"
)

// Job is one step of an activation.
type Job struct {
	Kind           JobKind           `json:"kind"`
	Seq            uint64            `json:"seq,omitempty"`
	Replaying      bool              `json:"replaying,omitempty"`
	Input          string            `json:"input,omitempty"`
	Result         string            `json:"result,omitempty"`
	Error          *ErrorDetails     `json:"error,omitempty"`
	Name           string            `json:"name,omitempty"`
	Data           string            `json:"data,omitempty"`
	Reason         string            `json:"reason,omitempty"`
	CustomStatus   *string           `json:"custom_status,omitempty"`
	KV             map[string]string `json:"kv,omitempty"`
	ParentInstance string            `json:"parent_instance,omitempty"`
}

// CommandKind names a command.
type CommandKind string

// Command kinds.
const (
	CmdScheduleActivity         CommandKind = "schedule_activity"
	CmdCreateTimer              CommandKind = "create_timer"
	CmdWaitEvent                CommandKind = "wait_event"
	CmdDequeueEvent             CommandKind = "dequeue_event"
	CmdScheduleSubOrchestration CommandKind = "schedule_sub_orchestration"
	CmdSystemCall               CommandKind = "system_call"
	CmdStartOrchestration       CommandKind = "start_orchestration"
	CmdDropFuture               CommandKind = "drop_future"
	CmdSetCustomStatus          CommandKind = "set_custom_status"
	CmdSetKV                    CommandKind = "set_kv"
	CmdClearKV                  CommandKind = "clear_kv"
	CmdClearAllKV               CommandKind = "clear_all_kv"
	CmdComplete                 CommandKind = "complete"
	CmdFail                     CommandKind = "fail"
	CmdContinueAsNew            CommandKind = "continue_as_new"
)

// System call operations.
const (
	OpNewGUID = "new_guid"
	OpUtcNow  = "utc_now"
	OpGetKV   = "get_kv"
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
	// worker takes it within that time.
	PickupTimeoutMs int64         `json:"pickup_timeout_ms,omitempty"`
	Op              string        `json:"op,omitempty"`
	Status          *string       `json:"status,omitempty"`
	Key             string        `json:"key,omitempty"`
	Value           string        `json:"value,omitempty"`
	Output          string        `json:"output,omitempty"`
	Error           *ErrorDetails `json:"error,omitempty"`
}

func (k CommandKind) createsFuture() bool {
	switch k {
	case CmdScheduleActivity, CmdCreateTimer, CmdWaitEvent, CmdDequeueEvent, CmdScheduleSubOrchestration, CmdSystemCall:
		return true
	}
	return false
}

// Error categories and kinds (the host's history package has the same).
const (
	CategoryApplication    = "application"
	CategoryInfrastructure = "infrastructure"
	CategoryConfiguration  = "configuration"
	CategoryPoison         = "poison"

	KindActivityFailed      = "ActivityFailed"
	KindOrchestrationFailed = "OrchestrationFailed"
	KindPanicked            = "Panicked"
	KindCancelled           = "Cancelled"
	KindUnregistered        = "Unregistered"
	KindLimitExceeded       = "LimitExceeded"
	KindNondeterminism      = "Nondeterminism"
)

// ErrorDetails is the recorded form of a failure: an activity's or a
// child's error as the code receives it, and the error a failing
// orchestration records.
type ErrorDetails struct {
	Category     string `json:"category"`
	Kind         string `json:"kind,omitempty"`
	Message      string `json:"message,omitempty"`
	Type         string `json:"error_type,omitempty"`
	Reason       string `json:"reason,omitempty"`
	Operation    string `json:"operation,omitempty"`
	Retryable    bool   `json:"retryable,omitempty"`
	AttemptCount int    `json:"attempt_count,omitempty"`
	MaxAttempts  int    `json:"max_attempts,omitempty"`
	Resource     string `json:"resource,omitempty"`
}

// DisplayMessage is the text orchestration code sees for the failure; it
// is the same text the host shows.
func (d *ErrorDetails) DisplayMessage() string {
	if d == nil {
		return ""
	}
	switch d.Category {
	case CategoryApplication:
		switch d.Kind {
		case KindCancelled:
			return "canceled: " + d.Reason
		case KindPanicked:
			return "orchestration panicked: " + d.Message
		}
		return d.Message
	case CategoryInfrastructure:
		return fmt.Sprintf("infrastructure:%s: %s", d.Operation, d.Message)
	case CategoryConfiguration:
		if d.Kind == KindNondeterminism {
			return "nondeterministic: " + d.Message
		}
		return "configuration: " + d.Message
	case CategoryPoison:
		return fmt.Sprintf("poison: %s exceeded %d attempts (max %d): %s", d.Resource, d.AttemptCount, d.MaxAttempts, d.Message)
	}
	return d.Message
}

// Error makes *ErrorDetails usable as an error.
func (d *ErrorDetails) Error() string { return d.DisplayMessage() }

// Manifest is what a module declares about itself: the orchestrations it
// serves. The host reads it once when it loads the module.
type Manifest struct {
	Protocol       int                `json:"protocol"`
	SDK            string             `json:"sdk"`
	Orchestrations []OrchestrationRef `json:"orchestrations"`
	// Errors lists registrations the SDK refused (a duplicate, an invalid
	// version); a host refuses to load a module that reports any.
	Errors []string `json:"errors,omitempty"`
}

// OrchestrationRef names one orchestration version.
type OrchestrationRef struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}
