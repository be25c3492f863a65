package orchestration

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/duroxide/duroxide/core/history"
)

type futureKind int

const (
	kindActivity futureKind = iota
	kindTimer
	kindEvent
	kindSubOrchestration
	kindSystemCall
	kindAll
	kindRace
	kindCoroutine
	kindDone // resolved at creation (for example an input that failed to encode)
)

// Future is the pending result of something the orchestration scheduled: an
// activity, a timer, an event, a child orchestration, a composite of other
// futures, or a coroutine started with Context.Go. Await blocks the
// orchestration code until it is resolved.
//
// A Future passed to Race belongs to that race: when another branch wins,
// it is cancelled (the activity's work item is withdrawn, the child is
// cancelled, the wait stops taking events).
type Future struct {
	d        *driver
	kind     futureKind
	seq      uint64 // for futures backed by a command
	name     string // for error messages
	owner    *coroutine
	ready    bool
	dropped  bool
	value    string
	err      error
	children []*Future
	parents  []*Future
	winner   int
	co       *coroutine // for kindCoroutine
}

// IsReady reports whether the future is resolved (Await would not block).
func (f *Future) IsReady() bool { return f.ready }

// Winner returns, for a future made by Race, the index of the branch that
// won; -1 before the race is decided and for other futures.
func (f *Future) Winner() int {
	if f.kind != kindRace || !f.ready {
		return -1
	}
	return f.winner
}

// Await blocks until the future is resolved, then decodes its value into
// out (a pointer, or nil to discard it) with the payload codec and returns
// its error. For All, out may point to a slice: element i receives branch
// i's value. For Race, out receives the winner's value.
//
// Await must be called from orchestration code (the orchestration function
// or a coroutine started with Context.Go), never from another goroutine.
func (f *Future) Await(out any) error {
	f.d.await(f)
	if f.err != nil {
		return f.err
	}
	if f.kind == kindAll {
		return f.decodeAll(out)
	}
	if f.kind == kindRace && f.winner >= 0 {
		w := f.children[f.winner]
		if w.kind == kindAll {
			return w.decodeAll(out)
		}
	}
	if err := history.DecodePayload(f.value, out); err != nil {
		return fmt.Errorf("%s result: %w", f.describe(), err)
	}
	return nil
}

// Cancel abandons the future: its work is cancelled as if it had lost a
// race, and Await returns a *CanceledError. Cancelling a resolved future
// does nothing.
func (f *Future) Cancel() {
	if f.d.done {
		return
	}
	f.d.drop(f, "cancelled by the orchestration")
}

func (f *Future) describe() string {
	switch f.kind {
	case kindActivity:
		return fmt.Sprintf("activity %q", f.name)
	case kindTimer:
		return "timer"
	case kindEvent:
		return fmt.Sprintf("event %q", f.name)
	case kindSubOrchestration:
		return fmt.Sprintf("sub-orchestration %q", f.name)
	case kindSystemCall:
		return fmt.Sprintf("system call %q", f.name)
	case kindAll:
		return "All"
	case kindRace:
		return "Race"
	case kindCoroutine:
		return "coroutine"
	}
	return "future"
}

func (f *Future) decodeAll(out any) error {
	if out == nil {
		return nil
	}
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Slice {
		return fmt.Errorf("All result: target must be a pointer to a slice, got %T", out)
	}
	sl := reflect.MakeSlice(rv.Elem().Type(), len(f.children), len(f.children))
	for i, c := range f.children {
		if err := history.DecodePayload(c.value, sl.Index(i).Addr().Interface()); err != nil {
			return fmt.Errorf("All result %d: %w", i, err)
		}
	}
	rv.Elem().Set(sl)
	return nil
}

// resolve settles a future and propagates to the composites containing it.
func (f *Future) resolve(value string, err error) {
	if f.ready {
		return
	}
	f.ready = true
	f.value, f.err = value, err
	for _, p := range f.parents {
		p.childResolved(f)
	}
}

func (f *Future) childResolved(c *Future) {
	if f.ready {
		return
	}
	switch f.kind {
	case kindAll:
		for _, ch := range f.children {
			if !ch.ready {
				return
			}
		}
		var first error
		for _, ch := range f.children {
			if ch.err != nil {
				first = ch.err
				break
			}
		}
		f.resolve("", first)
	case kindRace:
		for i, ch := range f.children {
			if ch == c {
				f.winner = i
				break
			}
		}
		f.resolve(c.value, c.err)
		for _, ch := range f.children {
			if ch != c && !ch.ready {
				f.d.drop(ch, "lost a race")
			}
		}
	}
}

// ActivityError is the error of a failed activity.
type ActivityError struct {
	Name    string
	Details *history.ErrorDetails
}

// Error implements the error interface.
func (e *ActivityError) Error() string { return e.Details.DisplayMessage() }

// SubOrchestrationError is the error of a failed child orchestration.
type SubOrchestrationError struct {
	Name     string
	Instance string
	Details  *history.ErrorDetails
}

// Error implements the error interface.
func (e *SubOrchestrationError) Error() string { return e.Details.DisplayMessage() }

// CanceledError is returned by Await for a future that was cancelled: the
// instance is being cancelled, or the future lost a race or was abandoned.
type CanceledError struct{ Reason string }

// Error implements the error interface.
func (e *CanceledError) Error() string { return "canceled: " + e.Reason }

// ErrTimeout is the error of a retried activity whose attempt outlived
// RetryPolicy.Timeout.
var ErrTimeout = errors.New("timeout: activity timed out")

// ContinueAsNewError is returned by Context.ContinueAsNew; the orchestration
// returns it to end this execution and start the next one.
type ContinueAsNewError struct {
	Input   string
	Version string
}

// Error implements the error interface.
func (e *ContinueAsNewError) Error() string { return "continue as new" }
