package sqlite

import (
	"context"
	"errors"
	"fmt"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/duroxide/duroxide/core/provider"
)

// errBadInput marks an argument the store refuses (an empty instance id, a
// work item of the wrong kind, …). It is never retryable.
var errBadInput = errors.New("invalid argument")

func badInput(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadInput, fmt.Sprintf(format, args...))
}

// lockLost reports a lock token that is unknown, released or expired.
func lockLost(what string) error {
	return fmt.Errorf("%s: %w", what, provider.ErrLockLost)
}

// wrap turns err into a *provider.Error for op, naming what the operation
// was about (an instance, a key, a token). SQLITE_BUSY and other transient
// conditions are retryable; constraint violations, lost locks and bad input
// are permanent.
func wrap(op, what string, err error) error {
	if err == nil {
		return nil
	}
	var pe *provider.Error
	if errors.As(err, &pe) {
		return err
	}
	return &provider.Error{Op: op, Message: what, Retryable: retryable(err), Err: err}
}

func retryable(err error) bool {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.Is(err, provider.ErrLockLost), errors.Is(err, provider.ErrClosed),
		errors.Is(err, provider.ErrInstanceNotFound), errors.Is(err, provider.ErrInstanceRunning),
		errors.Is(err, provider.ErrOrphanedChild), errors.Is(err, errBadInput):
		return false
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrBusy, sqlite3.ErrLocked, sqlite3.ErrIoErr, sqlite3.ErrNomem,
			sqlite3.ErrCantOpen, sqlite3.ErrProtocol, sqlite3.ErrInterrupt, sqlite3.ErrFull,
			sqlite3.ErrSchema:
			return true
		}
		return false
	}
	return false
}

// isBusy reports SQLITE_BUSY or SQLITE_LOCKED.
func isBusy(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked)
}
