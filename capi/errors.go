package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/provider"
	"github.com/duroxide/duroxide/core/runtime"
)

// Status codes returned by every dx_* function (duroxide.h repeats them).
const (
	statusOK       = 0
	statusErr      = 1 // any other failure
	statusHandle   = 2 // unknown, closed or wrong-kind handle
	statusInvalid  = 3 // bad argument or malformed JSON
	statusNotFound = 4 // instance, driver or task not found
	statusTimeout  = 5 // a wait ended before its condition held
	statusPanic    = 6 // a Go panic was recovered
	statusForked   = 7 // called in a forked child process
	statusClosed   = 8 // the runtime (or client) is shut down
	statusExists   = 9 // already registered
)

type errInvalid struct{ msg string }

func (e *errInvalid) Error() string { return e.msg }

type errNotFound struct{ msg string }

func (e *errNotFound) Error() string { return e.msg }

type errClosed struct{ msg string }

func (e *errClosed) Error() string { return e.msg }

func invalidf(format string, a ...any) error  { return &errInvalid{fmt.Sprintf(format, a...)} }
func notFoundf(format string, a ...any) error { return &errNotFound{fmt.Sprintf(format, a...)} }

// statusOf maps an error to its status code.
func statusOf(err error) int {
	var eh *errHandle
	var ei *errInvalid
	var en *errNotFound
	var ec *errClosed
	switch {
	case err == nil:
		return statusOK
	case errors.Is(err, errForked):
		return statusForked
	case errors.As(err, &eh):
		return statusHandle
	case errors.As(err, &ec):
		return statusClosed
	case errors.As(err, &ei), errors.Is(err, client.ErrInvalidInput):
		return statusInvalid
	case errors.As(err, &en), errors.Is(err, provider.ErrInstanceNotFound):
		return statusNotFound
	case errors.Is(err, client.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return statusTimeout
	case errors.Is(err, runtime.ErrDuplicate):
		return statusExists
	}
	return statusErr
}
