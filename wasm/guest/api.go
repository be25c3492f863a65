package guest

import (
	"time"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/orchestration"
)

// The orchestration API is core/orchestration's, under the names the guest
// SDK has always used: a guest runs the same driver, futures and context as
// a native Go worker, so the two behave alike by construction.

type (
	// Context is the orchestration's handle on the engine (see
	// orchestration.Context).
	Context = orchestration.Context
	// Future is the pending result of something the orchestration scheduled
	// (see orchestration.Future).
	Future = orchestration.Future
	// Func is an orchestration: it receives its context and its input
	// payload and returns its output payload.
	Func = orchestration.Func

	// ActivityOptions route and retry an activity.
	ActivityOptions = orchestration.ActivityOptions
	// SubOrchestrationOptions choose a child's instance id and version.
	SubOrchestrationOptions = orchestration.SubOrchestrationOptions
	// RetryPolicy retries a failed activity from the orchestration.
	RetryPolicy = orchestration.RetryPolicy
	// Backoff is the delay policy between retry attempts.
	Backoff = orchestration.Backoff
	// BackoffKind selects how the delay between retry attempts grows.
	BackoffKind = orchestration.BackoffKind

	// ActivityError is the error of a failed activity.
	ActivityError = orchestration.ActivityError
	// SubOrchestrationError is the error of a failed child orchestration.
	SubOrchestrationError = orchestration.SubOrchestrationError
	// CanceledError is returned by Await for a future that was cancelled.
	CanceledError = orchestration.CanceledError
	// ContinueAsNewError is returned by Context.ContinueAsNew.
	ContinueAsNewError = orchestration.ContinueAsNewError

	// ErrorDetails is the recorded form of a failure, as an ActivityError or
	// a SubOrchestrationError carries it.
	ErrorDetails = history.ErrorDetails
	// Category classifies a failure (ErrorDetails.Category).
	Category = history.Category
)

// Backoff kinds.
const (
	BackoffNone        = orchestration.BackoffNone
	BackoffFixed       = orchestration.BackoffFixed
	BackoffLinear      = orchestration.BackoffLinear
	BackoffExponential = orchestration.BackoffExponential
)

// Error categories and kinds of ErrorDetails.
const (
	CategoryApplication    = history.CategoryApplication
	CategoryInfrastructure = history.CategoryInfrastructure
	CategoryConfiguration  = history.CategoryConfiguration
	CategoryPoison         = history.CategoryPoison

	KindActivityFailed      = history.KindActivityFailed
	KindOrchestrationFailed = history.KindOrchestrationFailed
	KindPanicked            = history.KindPanicked
	KindCancelled           = history.KindCancelled
	KindUnregistered        = history.KindUnregistered
	KindLimitExceeded       = history.KindLimitExceeded
	KindNondeterminism      = history.KindNondeterminism
)

// ErrTimeout is the error of a retried activity whose attempt outlived
// RetryPolicy.Timeout (the same value as orchestration.ErrTimeout).
var ErrTimeout = orchestration.ErrTimeout

// Typed adapts a function with typed input and output to a Func, using the
// payload codec (a string travels raw, anything else as JSON).
func Typed[In, Out any](fn func(ctx *Context, input In) (Out, error)) Func {
	return orchestration.Typed(fn)
}

// NoBackoff retries at once.
func NoBackoff() Backoff { return orchestration.NoBackoff() }

// FixedBackoff waits d between attempts.
func FixedBackoff(d time.Duration) Backoff { return orchestration.FixedBackoff(d) }

// LinearBackoff waits base×attempt, at most max.
func LinearBackoff(base, max time.Duration) Backoff { return orchestration.LinearBackoff(base, max) }

// ExponentialBackoff waits base×multiplier^(attempt-1), at most max.
func ExponentialBackoff(base time.Duration, multiplier float64, max time.Duration) Backoff {
	return orchestration.ExponentialBackoff(base, multiplier, max)
}

// DefaultRetryPolicy is 3 attempts with exponential backoff (100 ms,
// doubling, at most 30 s) and no timeout.
func DefaultRetryPolicy() RetryPolicy { return orchestration.DefaultRetryPolicy() }

// EncodePayload turns a value into a payload with the codec every duroxide
// language shares: a value that encodes to a JSON string travels raw,
// anything else as its JSON text; nil encodes to "".
func EncodePayload(v any) (string, error) { return history.EncodePayload(v) }

// DecodePayload stores the payload s into out, a non-nil pointer (or nil to
// discard the value): JSON first, the raw text when that fails.
func DecodePayload(s string, out any) error { return history.DecodePayload(s, out) }
