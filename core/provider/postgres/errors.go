package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/duroxide/duroxide/core/provider"
)

// SQLSTATEs the store's functions raise.
const (
	sqlstateLockLost = "DXLCK" // the lock token is unknown, released or expired
	sqlstateBadInput = "DXBAD" // an argument the store refuses
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
// was about (an instance, a key). Connection failures, serialization
// failures, deadlocks and server shutdowns are retryable; constraint
// violations, lost locks, permissions and bad input are permanent. The
// store's own SQLSTATEs become provider.ErrLockLost and bad input.
func wrap(op, what string, err error) error {
	if err == nil {
		return nil
	}
	var pe *provider.Error
	if errors.As(err, &pe) {
		return err
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case sqlstateLockLost:
			msg := pg.Message
			if pg.Detail != "" && what == "" {
				what = fmt.Sprintf("instance %q", pg.Detail)
			}
			err = lockLost(msg)
		case sqlstateBadInput:
			err = badInput("%s", pg.Message)
		}
	}
	return &provider.Error{Op: op, Message: what, Retryable: retryable(err), Err: err}
}

// retryable classifies an error.
func retryable(err error) bool {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.Is(err, provider.ErrLockLost), errors.Is(err, provider.ErrClosed),
		errors.Is(err, provider.ErrInstanceNotFound), errors.Is(err, provider.ErrInstanceRunning),
		errors.Is(err, provider.ErrOrphanedChild), errors.Is(err, errBadInput):
		return false
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return retryableSQLState(pg.Code)
	}
	// Everything that is not a server error is about the connection:
	// refused, reset, closed, timed out, or a pool that could not connect.
	if errors.Is(err, errPoolClosed) {
		return false
	}
	return true
}

// retryableSQLState reports whether a server error may go away when the
// call is repeated.
func retryableSQLState(code string) bool {
	if len(code) != 5 {
		return false
	}
	switch code[:2] {
	case "08": // connection exception
		return true
	case "40": // transaction rollback: serialization failure, deadlock
		return true
	case "53": // insufficient resources: too many connections, out of memory, disk full
		return true
	case "57": // operator intervention: shutdown, cannot connect now, query cancelled
		return true
	case "58": // system error (I/O)
		return true
	}
	switch code {
	case "55P03", // lock not available
		"55006", // object in use
		"XX000": // internal error (e.g. a crashed backend's leftovers)
		return true
	}
	return false
}

func instanceWhat(inst string) string {
	if inst == "" {
		return ""
	}
	return fmt.Sprintf("instance %q", inst)
}
