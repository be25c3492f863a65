package history

import "fmt"

// Category classifies a failure. Only application failures reach
// orchestration code as errors it can handle; the others end the instance.
type Category string

// Error categories.
const (
	CategoryApplication    Category = "application"
	CategoryInfrastructure Category = "infrastructure"
	CategoryConfiguration  Category = "configuration"
	CategoryPoison         Category = "poison"
)

// Error kinds within a category.
const (
	// Application kinds.
	KindActivityFailed      = "ActivityFailed"
	KindOrchestrationFailed = "OrchestrationFailed"
	KindPanicked            = "Panicked"
	KindCancelled           = "Cancelled"
	KindUnregistered        = "Unregistered"
	KindLimitExceeded       = "LimitExceeded"
	KindTimeout             = "Timeout"
	// Configuration kinds.
	KindNondeterminism = "Nondeterminism"
	KindInvalidHistory = "InvalidHistory"
	// Poison kinds.
	KindPoisonOrchestration = "Orchestration"
	KindPoisonActivity      = "Activity"
	KindPoisonHistory       = "FailedDeserialization"
)

// ErrorDetails is the recorded form of a failure: in ActivityFailed,
// SubOrchestrationFailed and OrchestrationFailed events, and in the status
// the client reports.
type ErrorDetails struct {
	Category Category `json:"category"`
	// Kind refines the category (see the Kind* constants).
	Kind string `json:"kind,omitempty"`
	// Message is the human-readable cause.
	Message string `json:"message,omitempty"`
	// Type is the error's type in the language that raised it (for example
	// "ValueError" or "*errors.errorString"), when known.
	Type string `json:"error_type,omitempty"`
	// Reason is the cancellation reason for KindCancelled.
	Reason string `json:"reason,omitempty"`
	// Operation names the failing operation of an infrastructure error.
	Operation string `json:"operation,omitempty"`
	// Retryable marks transient failures.
	Retryable bool `json:"retryable,omitempty"`
	// AttemptCount and MaxAttempts describe a poison failure.
	AttemptCount int `json:"attempt_count,omitempty"`
	MaxAttempts  int `json:"max_attempts,omitempty"`
	// Resource names what a poison or configuration error is about: an
	// instance, an activity name and id, a history position.
	Resource string `json:"resource,omitempty"`
}

// DisplayMessage is the text orchestration code receives for an application
// failure and the text the client shows for a failed instance.
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

// IsApplication reports whether the failure may be handled by orchestration code.
func (d *ErrorDetails) IsApplication() bool { return d != nil && d.Category == CategoryApplication }

// AppError builds an application failure of the given kind.
func AppError(kind, message string) *ErrorDetails {
	return &ErrorDetails{Category: CategoryApplication, Kind: kind, Message: message}
}

// Cancelled builds the failure recorded for a cancelled instance.
func Cancelled(reason string) *ErrorDetails {
	return &ErrorDetails{Category: CategoryApplication, Kind: KindCancelled, Reason: reason, Message: "canceled: " + reason}
}

// Nondeterminism builds the failure recorded when replayed code does not
// match its history.
func Nondeterminism(message string) *ErrorDetails {
	return &ErrorDetails{Category: CategoryConfiguration, Kind: KindNondeterminism, Message: message}
}

// Infrastructure builds an infrastructure failure.
func Infrastructure(op, message string, retryable bool) *ErrorDetails {
	return &ErrorDetails{Category: CategoryInfrastructure, Operation: op, Message: message, Retryable: retryable}
}

// Poison builds the failure recorded when a message exceeded its attempts.
func Poison(kind, resource string, attempts, max int, message string) *ErrorDetails {
	return &ErrorDetails{Category: CategoryPoison, Kind: kind, Resource: resource, AttemptCount: attempts, MaxAttempts: max, Message: message}
}
