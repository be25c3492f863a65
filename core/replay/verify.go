package replay

import (
	"context"
	"fmt"

	"github.com/duroxide/duroxide/core/history"
)

// Verify replays an execution's recorded history through drv (a fresh,
// cold driver) and reports whether the code still makes exactly the
// recorded decisions: every recorded command again, no decision history
// lacks, and — for an ended execution — the same ending. It changes
// nothing and needs no store. The returned error is a *NondeterminismError
// on a mismatch, a *history.ValidationError for a malformed history.
func Verify(ctx context.Context, instance string, events []history.Event, kvSnapshot map[string]string, drv Driver) error {
	if len(events) == 0 {
		return &history.ValidationError{Instance: instance, Reason: "history is empty"}
	}
	exec := events[0].ExecutionID
	if err := history.Validate(instance, exec, events); err != nil {
		return err
	}
	e := &engine{
		ctx:     ctx,
		in:      &Input{Instance: instance, ExecutionID: exec, History: events, KVSnapshot: kvSnapshot},
		dropped: make(map[uint64]bool),
		res:     &Result{},
		verify:  true,
	}
	e.st = newState(instance, exec, kvSnapshot)
	for _, ev := range events {
		e.st.apply(ev)
	}
	e.persisted = len(events)
	e.name, e.version = e.st.started.Name, e.st.started.Version
	e.drv = drv
	for i := range events {
		if j, ok := e.st.jobFor(&events[i], true); ok {
			e.pending = append(e.pending, j)
		}
	}
	if len(e.pending) > 0 && e.pending[0].Kind == JobStart {
		e.pending[0].KV = kvSnapshot
	}
	// The ending is checked below, so stop treating the history's own
	// terminal event as the end of the code.
	e.st.terminal = false
	if err := e.pump(); err != nil {
		return err
	}
	if e.abortErr != nil {
		return e.verifyErr()
	}
	if e.matchIdx < len(e.st.recorded) {
		ev := &e.st.events[e.st.recorded[e.matchIdx]]
		return &NondeterminismError{Instance: instance, ExecutionID: exec, EventID: ev.EventID, History: ev.Summary(),
			Message: "history holds a decision the replayed code did not make"}
	}
	for i := range events {
		ev := &events[i]
		if ev.Kind.Class() == history.ClassBreadcrumb && ev.Reason == history.ReasonDroppedFuture {
			if sc := e.st.byEvent[ev.SourceEventID]; sc != nil && sc.seq != 0 && !e.dropped[sc.seq] {
				return &NondeterminismError{Instance: instance, ExecutionID: exec, EventID: ev.EventID, History: ev.Summary(),
					Message: "history records a future the code dropped, but the replayed code did not drop it"}
			}
		}
	}
	last := &events[len(events)-1]
	if !last.Kind.IsTerminal() || e.st.cancelRequested {
		if e.terminal != nil {
			return &NondeterminismError{Instance: instance, ExecutionID: exec, Code: describeCommand(e.terminal),
				Message: "the replayed code ended the execution, but history shows it still running"}
		}
		return nil
	}
	if e.terminal == nil {
		return &NondeterminismError{Instance: instance, ExecutionID: exec, EventID: last.EventID, History: last.Summary(),
			Message: "history shows the execution ended, but the replayed code did not end it"}
	}
	t := e.terminal
	mismatch := ""
	switch last.Kind {
	case history.OrchestrationCompleted:
		if t.Kind != CmdComplete {
			mismatch = "a different ending"
		} else if t.Output != last.Output {
			mismatch = fmt.Sprintf("output %q instead of %q", history.Shorten(t.Output, 60), history.Shorten(last.Output, 60))
		}
	case history.OrchestrationFailed:
		if t.Kind != CmdFail && last.Error != nil && last.Error.Category == history.CategoryApplication {
			mismatch = "a different ending"
		}
	case history.OrchestrationContinuedAsNew:
		if t.Kind != CmdContinueAsNew {
			mismatch = "a different ending"
		} else if t.Input != last.Input {
			mismatch = fmt.Sprintf("continue-as-new input %q instead of %q", history.Shorten(t.Input, 60), history.Shorten(last.Input, 60))
		}
	}
	if mismatch != "" {
		return &NondeterminismError{Instance: instance, ExecutionID: exec, EventID: last.EventID, History: last.Summary(), Code: describeCommand(t),
			Message: "the replayed code ended the execution with " + mismatch}
	}
	return nil
}

func (e *engine) verifyErr() error {
	d := e.abortErr
	if d.Category == history.CategoryConfiguration && d.Kind == history.KindNondeterminism {
		return e.lastNondeterminism
	}
	return fmt.Errorf("replay of %q failed: %s", e.in.Instance, d.DisplayMessage())
}
