package guest

import (
	"encoding/json"
	"errors"
	"math"
	"time"
)

// BackoffKind selects how the delay between retry attempts grows.
type BackoffKind int

// Backoff kinds.
const (
	// BackoffNone retries at once.
	BackoffNone BackoffKind = iota
	// BackoffFixed waits Base between attempts.
	BackoffFixed
	// BackoffLinear waits Base×attempt, at most Max.
	BackoffLinear
	// BackoffExponential waits Base×Multiplier^(attempt-1), at most Max.
	BackoffExponential
)

// Backoff is the delay policy between retry attempts.
type Backoff struct {
	Kind       BackoffKind
	Base       time.Duration
	Multiplier float64 // exponential only; default 2
	Max        time.Duration
}

// NoBackoff retries at once.
func NoBackoff() Backoff { return Backoff{Kind: BackoffNone} }

// FixedBackoff waits d between attempts.
func FixedBackoff(d time.Duration) Backoff { return Backoff{Kind: BackoffFixed, Base: d} }

// LinearBackoff waits base×attempt, at most max.
func LinearBackoff(base, max time.Duration) Backoff {
	return Backoff{Kind: BackoffLinear, Base: base, Max: max}
}

// ExponentialBackoff waits base×multiplier^(attempt-1), at most max.
func ExponentialBackoff(base time.Duration, multiplier float64, max time.Duration) Backoff {
	return Backoff{Kind: BackoffExponential, Base: base, Multiplier: multiplier, Max: max}
}

// Delay returns the wait after the given failed attempt (1-based).
func (b Backoff) Delay(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	capAt := func(d time.Duration) time.Duration {
		if b.Max > 0 && d > b.Max {
			return b.Max
		}
		return d
	}
	switch b.Kind {
	case BackoffFixed:
		return b.Base
	case BackoffLinear:
		if b.Base > 0 && time.Duration(attempt) > time.Duration(math.MaxInt64)/b.Base {
			return capAt(time.Duration(math.MaxInt64))
		}
		return capAt(b.Base * time.Duration(attempt))
	case BackoffExponential:
		m := b.Multiplier
		if m <= 0 {
			m = 2
		}
		f := float64(b.Base) * math.Pow(m, float64(attempt-1))
		if f > float64(math.MaxInt64) || math.IsInf(f, 0) || math.IsNaN(f) {
			return capAt(time.Duration(math.MaxInt64))
		}
		return capAt(time.Duration(f))
	}
	return 0
}

// RetryPolicy retries a failed activity from the orchestration: every
// attempt is its own activity in history, waits between attempts are
// durable timers.
type RetryPolicy struct {
	// MaxAttempts is the number of attempts including the first; default 3.
	MaxAttempts int
	// Backoff between attempts; the zero value retries at once. Use
	// DefaultRetryPolicy for exponential backoff from 100 ms to 30 s.
	Backoff Backoff
	// Timeout bounds each attempt; an attempt that outlives it ends the
	// retries with ErrTimeout (the attempt is cancelled). Zero: no timeout.
	Timeout time.Duration
}

// DefaultRetryPolicy is 3 attempts with exponential backoff (100 ms,
// doubling, at most 30 s) and no timeout.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 3, Backoff: ExponentialBackoff(100*time.Millisecond, 2, 30*time.Second)}
}

func (c *Context) retryActivity(name, payload string, opts ActivityOptions) *Future {
	policy := *opts.Retry
	if policy.MaxAttempts < 1 {
		policy.MaxAttempts = 3
	}
	return c.Go(func(ctx *Context) (any, error) {
		var lastErr error
		for attempt := 1; attempt <= policy.MaxAttempts; attempt++ {
			f := ctx.scheduleActivityRaw(name, payload, opts)
			if policy.Timeout > 0 {
				r := ctx.Race(f, ctx.CreateTimer(policy.Timeout))
				_ = r.Await(nil)
				if r.Winner() == 1 {
					return nil, ErrTimeout
				}
			}
			var out json.RawMessage
			err := f.Await(&out)
			if err == nil {
				return out, nil
			}
			var ce *CanceledError
			if errors.As(err, &ce) {
				return nil, err
			}
			lastErr = err
			if attempt < policy.MaxAttempts {
				ctx.Logger().Warn("activity attempt failed; retrying", "activity", name, "attempt", attempt, "error", err.Error())
				if d := policy.Backoff.Delay(attempt); d > 0 {
					if err := ctx.CreateTimer(d).Await(nil); err != nil {
						return nil, err
					}
				}
			}
		}
		return nil, lastErr
	})
}
