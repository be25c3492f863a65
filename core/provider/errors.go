package provider

import (
	"errors"
	"fmt"
)

// Sentinel conditions callers branch on. Store errors wrap them, so test
// with errors.Is.
var (
	// ErrLockLost: the lock token is unknown, was released, or expired.
	ErrLockLost = errors.New("lock lost")
	// ErrInstanceNotFound: no instance with that id.
	ErrInstanceNotFound = errors.New("instance not found")
	// ErrInstanceRunning: the operation needs a terminal instance (or force).
	ErrInstanceRunning = errors.New("instance is still running")
	// ErrIsSubOrchestration: the instance is a child; act on its root.
	ErrIsSubOrchestration = errors.New("instance is a sub-orchestration")
	// ErrOrphanedChild: a delete would leave a child without its parent.
	ErrOrphanedChild = errors.New("delete would orphan a child instance")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store is closed")
	// ErrNotSupported: the store lacks an optional capability.
	ErrNotSupported = errors.New("not supported by this store")
)

// Error is a store failure with the operation that failed and whether
// retrying may help (a busy database, a dropped connection) or not (a
// constraint violation, a lost lock).
type Error struct {
	Op        string
	Message   string
	Retryable bool
	Err       error
}

// Error implements the error interface.
func (e *Error) Error() string {
	kind := "permanent"
	if e.Retryable {
		kind = "retryable"
	}
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	} else if e.Err != nil {
		msg = msg + ": " + e.Err.Error()
	}
	return fmt.Sprintf("%s (%s): %s", e.Op, kind, msg)
}

// Unwrap returns the underlying error, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// Permanent wraps err as a non-retryable store error of op.
func Permanent(op string, err error) error {
	return &Error{Op: op, Err: err}
}

// Retryable wraps err as a retryable store error of op.
func Retryable(op string, err error) error {
	return &Error{Op: op, Err: err, Retryable: true}
}

// IsRetryable reports whether err is a store error that may succeed if retried.
func IsRetryable(err error) bool {
	var pe *Error
	return errors.As(err, &pe) && pe.Retryable
}
