// Package history defines what duroxide persists: the events of an
// orchestration's append-only history, the work items that travel through the
// store's queues, the error details recorded when something fails, the payload
// codec shared by every language, and the validation that a history must pass
// before it is replayed.
//
// Nothing here performs I/O. Every type encodes to JSON with stable field
// names, because histories written by one version of the engine (or by a
// process in another language sharing the store) must stay readable by the
// next one. Optional fields are omitted when empty and default when missing.
package history

import (
	"fmt"
	"strings"
)

// Kind names an event kind. It is stored as the "type" field of an event.
type Kind string

// Event kinds. Each kind documents the fields it uses; every other payload
// field of Event is empty for that kind.
const (
	// OrchestrationStarted is always event 1 of an execution.
	// Fields: Name, Version, Input, ParentInstance, ParentExecutionID, ParentID,
	// CustomStatus (the value carried over a continue-as-new), EngineVersion.
	OrchestrationStarted Kind = "OrchestrationStarted"
	// OrchestrationCompleted ends an execution with Output.
	OrchestrationCompleted Kind = "OrchestrationCompleted"
	// OrchestrationFailed ends an execution with Error.
	OrchestrationFailed Kind = "OrchestrationFailed"
	// OrchestrationContinuedAsNew ends an execution; Input is the next one's
	// input and Version its requested version (empty: the registry's policy).
	OrchestrationContinuedAsNew Kind = "OrchestrationContinuedAsNew"
	// OrchestrationCancelRequested records a cancellation with Reason.
	OrchestrationCancelRequested Kind = "OrchestrationCancelRequested"

	// ActivityScheduled: Name, Input, SessionID, Tag.
	ActivityScheduled Kind = "ActivityScheduled"
	// ActivityCompleted: SourceEventID, Result.
	ActivityCompleted Kind = "ActivityCompleted"
	// ActivityFailed: SourceEventID, Error.
	ActivityFailed Kind = "ActivityFailed"
	// ActivityCancelRequested: SourceEventID, Reason. The work item was
	// removed from the worker queue in the same commit.
	ActivityCancelRequested Kind = "ActivityCancelRequested"

	// TimerCreated: FireAtMs.
	TimerCreated Kind = "TimerCreated"
	// TimerFired: SourceEventID, FireAtMs.
	TimerFired Kind = "TimerFired"

	// ExternalSubscribed is a wait for the external event Name.
	ExternalSubscribed Kind = "ExternalSubscribed"
	// ExternalEvent records the arrival of a raised event (Name, Data). It is
	// buffered until a subscription takes it (see EventDelivered).
	ExternalEvent Kind = "ExternalEvent"
	// ExternalSubscribedCancelled: SourceEventID (the subscription), Reason.
	ExternalSubscribedCancelled Kind = "ExternalSubscribedCancelled"

	// QueueSubscribed is a dequeue from the event queue Name.
	QueueSubscribed Kind = "QueueSubscribed"
	// QueueEvent records the arrival of an enqueued message (Name, Data).
	// Undelivered queue events are carried over a continue-as-new.
	QueueEvent Kind = "QueueEvent"
	// QueueSubscriptionCancelled: SourceEventID (the subscription), Reason.
	QueueSubscriptionCancelled Kind = "QueueSubscriptionCancelled"

	// EventDelivered binds a buffered arrival (ArrivalID, an ExternalEvent or
	// QueueEvent) to the subscription SourceEventID that takes it. The data
	// stays in the arrival; this event records the engine's decision so that
	// replay makes the same one.
	EventDelivered Kind = "EventDelivered"

	// SubOrchestrationScheduled: Name, Version, Instance (the child), Input.
	SubOrchestrationScheduled Kind = "SubOrchestrationScheduled"
	// SubOrchestrationCompleted: SourceEventID, Result.
	SubOrchestrationCompleted Kind = "SubOrchestrationCompleted"
	// SubOrchestrationFailed: SourceEventID, Error.
	SubOrchestrationFailed Kind = "SubOrchestrationFailed"
	// SubOrchestrationCancelRequested: SourceEventID, Reason.
	SubOrchestrationCancelRequested Kind = "SubOrchestrationCancelRequested"

	// OrchestrationChained records a detached start: Name, Version, Instance, Input.
	OrchestrationChained Kind = "OrchestrationChained"

	// SystemCall records a value the engine produced for the code (a new
	// GUID, the current time, a read of another instance's KV store):
	// Op, Input (the call's arguments), Value, or Error when it failed.
	SystemCall Kind = "SystemCall"

	// CustomStatusUpdated: CustomStatus (nil resets it).
	CustomStatusUpdated Kind = "CustomStatusUpdated"
	// KeyValueSet: Key, Value, LastUpdatedAtMs.
	KeyValueSet Kind = "KeyValueSet"
	// KeyValueCleared: Key.
	KeyValueCleared Kind = "KeyValueCleared"
	// KeyValuesCleared clears every key.
	KeyValuesCleared Kind = "KeyValuesCleared"
)

// Reasons recorded on cancellation breadcrumbs.
const (
	ReasonDroppedFuture = "dropped_future"
	// ReasonTerminalPrefix is followed by the terminal status in lower case:
	// "orchestration_terminal_completed", "..._failed", "..._continued_as_new".
	ReasonTerminalPrefix = "orchestration_terminal_"
	// ReasonParentCanceled is sent to outstanding children of a cancelled parent.
	ReasonParentCanceled = "parent canceled"
)

// Event is one entry of an execution's history. EventID is its position
// (1-based, dense); SourceEventID links a completion or breadcrumb to the
// schedule event it answers. The payload fields used by each kind are listed
// with the kind constants.
type Event struct {
	EventID       uint64 `json:"event_id"`
	SourceEventID uint64 `json:"source_event_id,omitempty"`
	InstanceID    string `json:"instance_id"`
	ExecutionID   uint64 `json:"execution_id"`
	TimestampMs   int64  `json:"timestamp_ms"`
	// EngineVersion is the duroxide version that wrote the event; on
	// OrchestrationStarted it pins the execution (see version filtering).
	EngineVersion string `json:"duroxide_version,omitempty"`
	Kind          Kind   `json:"type"`

	Name              string        `json:"name,omitempty"`
	Version           string        `json:"version,omitempty"`
	Input             string        `json:"input,omitempty"`
	Output            string        `json:"output,omitempty"`
	Result            string        `json:"result,omitempty"`
	Error             *ErrorDetails `json:"error,omitempty"`
	SessionID         string        `json:"session_id,omitempty"`
	Tag               string        `json:"tag,omitempty"`
	FireAtMs          int64         `json:"fire_at_ms,omitempty"`
	Instance          string        `json:"instance,omitempty"`
	Data              string        `json:"data,omitempty"`
	Reason            string        `json:"reason,omitempty"`
	ArrivalID         uint64        `json:"arrival_id,omitempty"`
	Op                string        `json:"op,omitempty"`
	Key               string        `json:"key,omitempty"`
	Value             string        `json:"value,omitempty"`
	LastUpdatedAtMs   int64         `json:"last_updated_at_ms,omitempty"`
	CustomStatus      *string       `json:"custom_status,omitempty"`
	ParentInstance    string        `json:"parent_instance,omitempty"`
	ParentExecutionID uint64        `json:"parent_execution_id,omitempty"`
	ParentID          uint64        `json:"parent_id,omitempty"`
}

// Class groups event kinds by the role they play in replay.
type Class int

// Event classes.
const (
	ClassOther      Class = iota
	ClassSchedule         // a decision the code made that later completions answer
	ClassCompletion       // answers a schedule event (SourceEventID)
	ClassArrival          // a buffered external or queue event
	ClassBreadcrumb       // a cancellation note about a schedule event
	ClassMetadata         // custom status and KV decisions
	ClassTerminal         // ends the execution
)

// Class reports the role of a kind in replay.
func (k Kind) Class() Class {
	switch k {
	case ActivityScheduled, TimerCreated, ExternalSubscribed, QueueSubscribed,
		SubOrchestrationScheduled, OrchestrationChained, SystemCall:
		return ClassSchedule
	case ActivityCompleted, ActivityFailed, TimerFired, SubOrchestrationCompleted,
		SubOrchestrationFailed, EventDelivered:
		return ClassCompletion
	case ExternalEvent, QueueEvent:
		return ClassArrival
	case ActivityCancelRequested, ExternalSubscribedCancelled, QueueSubscriptionCancelled,
		SubOrchestrationCancelRequested:
		return ClassBreadcrumb
	case CustomStatusUpdated, KeyValueSet, KeyValueCleared, KeyValuesCleared:
		return ClassMetadata
	case OrchestrationCompleted, OrchestrationFailed, OrchestrationContinuedAsNew:
		return ClassTerminal
	}
	return ClassOther
}

// IsTerminal reports whether the kind ends an execution.
func (k Kind) IsTerminal() bool { return k.Class() == ClassTerminal }

// Known reports whether k is one of the kinds this version understands.
func (k Kind) Known() bool {
	switch k {
	case OrchestrationStarted, OrchestrationCancelRequested:
		return true
	}
	return k.Class() != ClassOther
}

// IsFuture reports whether a schedule event of this kind is answered later
// (every schedule kind except the detached OrchestrationChained). Such events
// get a sequence number in the turn protocol.
func (k Kind) IsFuture() bool {
	return k.Class() == ClassSchedule && k != OrchestrationChained
}

// CompletionOf returns the schedule kinds a completion or breadcrumb kind may
// point at.
func (k Kind) CompletionOf() []Kind {
	switch k {
	case ActivityCompleted, ActivityFailed, ActivityCancelRequested:
		return []Kind{ActivityScheduled}
	case TimerFired:
		return []Kind{TimerCreated}
	case SubOrchestrationCompleted, SubOrchestrationFailed, SubOrchestrationCancelRequested:
		return []Kind{SubOrchestrationScheduled}
	case EventDelivered:
		return []Kind{ExternalSubscribed, QueueSubscribed}
	case ExternalSubscribedCancelled:
		return []Kind{ExternalSubscribed}
	case QueueSubscriptionCancelled:
		return []Kind{QueueSubscribed}
	}
	return nil
}

// Summary is a short human-readable description of the event, used in logs,
// nondeterminism errors and the CLI timeline. Payloads are cut to 60 bytes.
func (e *Event) Summary() string {
	var b strings.Builder
	b.WriteString(string(e.Kind))
	add := func(k, v string) {
		if v == "" {
			return
		}
		fmt.Fprintf(&b, " %s=%s", k, Shorten(v, 60))
	}
	add("name", e.Name)
	add("version", e.Version)
	add("instance", e.Instance)
	add("op", e.Op)
	add("input", e.Input)
	add("session", e.SessionID)
	add("tag", e.Tag)
	add("key", e.Key)
	add("value", e.Value)
	add("data", e.Data)
	add("result", e.Result)
	add("output", e.Output)
	add("reason", e.Reason)
	if e.Error != nil {
		add("error", e.Error.DisplayMessage())
	}
	if e.SourceEventID != 0 {
		fmt.Fprintf(&b, " source=%d", e.SourceEventID)
	}
	if e.ArrivalID != 0 {
		fmt.Fprintf(&b, " arrival=%d", e.ArrivalID)
	}
	if e.Kind == CustomStatusUpdated {
		if e.CustomStatus == nil {
			b.WriteString(" status=<reset>")
		} else {
			add("status", *e.CustomStatus)
		}
	}
	return b.String()
}

// Shorten cuts s to at most n bytes (on a rune boundary), marking the cut.
func Shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && (s[cut]&0xC0) == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
