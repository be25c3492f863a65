package history

import "fmt"

// ValidationError reports a malformed history: which instance and execution,
// which event (by id and kind), and what is wrong with it.
type ValidationError struct {
	Instance    string
	ExecutionID uint64
	EventID     uint64 // 0 when the history as a whole is wrong (for example empty)
	Kind        Kind
	Reason      string
}

// Error implements the error interface.
func (e *ValidationError) Error() string {
	if e.EventID == 0 {
		return fmt.Sprintf("invalid history for instance %q execution %d: %s", e.Instance, e.ExecutionID, e.Reason)
	}
	return fmt.Sprintf("invalid history for instance %q execution %d: event %d (%s): %s",
		e.Instance, e.ExecutionID, e.EventID, e.Kind, e.Reason)
}

// Validate checks the structure of one execution's history before it is
// replayed: the first event is OrchestrationStarted; event ids are 1, 2, 3 …
// in order; every kind is known; every completion, delivery and breadcrumb
// points at an earlier schedule of the right kind; nothing is completed
// twice; an arrival is delivered at most once, to a subscription for its
// name; at most one terminal event, and it is last. The first problem found
// is returned as a *ValidationError.
func Validate(instance string, executionID uint64, events []Event) error {
	fail := func(e *Event, format string, args ...any) error {
		ve := &ValidationError{Instance: instance, ExecutionID: executionID, Reason: fmt.Sprintf(format, args...)}
		if e != nil {
			ve.EventID, ve.Kind = e.EventID, e.Kind
		}
		return ve
	}
	if len(events) == 0 {
		return fail(nil, "history is empty")
	}
	type schedState struct {
		kind      Kind
		name      string
		completed bool
		crumbed   bool
	}
	scheds := make(map[uint64]*schedState)
	type arrivalState struct {
		kind      Kind
		name      string
		delivered bool
	}
	arrivals := make(map[uint64]*arrivalState)
	terminalSeen := false
	cancelSeen := false
	for i := range events {
		e := &events[i]
		want := uint64(i + 1)
		if e.EventID != want {
			return fail(e, "event id %d at position %d, want %d (ids must be dense and increasing)", e.EventID, i+1, want)
		}
		if !e.Kind.Known() {
			return fail(e, "unknown event kind %q", string(e.Kind))
		}
		if instance != "" && e.InstanceID != "" && e.InstanceID != instance {
			return fail(e, "belongs to instance %q", e.InstanceID)
		}
		if executionID != 0 && e.ExecutionID != 0 && e.ExecutionID != executionID {
			return fail(e, "belongs to execution %d", e.ExecutionID)
		}
		if terminalSeen {
			return fail(e, "follows the terminal event")
		}
		if i == 0 {
			if e.Kind != OrchestrationStarted {
				return fail(e, "first event must be OrchestrationStarted")
			}
			if e.Name == "" {
				return fail(e, "OrchestrationStarted has no orchestration name")
			}
			continue
		}
		switch c := e.Kind.Class(); c {
		case ClassOther:
			switch e.Kind {
			case OrchestrationStarted:
				return fail(e, "OrchestrationStarted may only be event 1")
			case OrchestrationCancelRequested:
				if cancelSeen {
					return fail(e, "cancellation requested twice")
				}
				cancelSeen = true
			}
		case ClassTerminal:
			terminalSeen = true
		case ClassSchedule:
			if e.SourceEventID != 0 {
				return fail(e, "schedule event has a source event id")
			}
			switch e.Kind {
			case ActivityScheduled, ExternalSubscribed, QueueSubscribed, SubOrchestrationScheduled, OrchestrationChained:
				if e.Name == "" {
					return fail(e, "has no name")
				}
			case SystemCall:
				if e.Op == "" {
					return fail(e, "system call has no op")
				}
			}
			if (e.Kind == SubOrchestrationScheduled || e.Kind == OrchestrationChained) && e.Instance == "" {
				return fail(e, "has no instance id")
			}
			scheds[e.EventID] = &schedState{kind: e.Kind, name: e.Name}
		case ClassArrival:
			if e.Name == "" {
				return fail(e, "arrival has no name")
			}
			arrivals[e.EventID] = &arrivalState{kind: e.Kind, name: e.Name}
		case ClassCompletion, ClassBreadcrumb:
			src := e.SourceEventID
			if src == 0 || src >= e.EventID {
				return fail(e, "source event id %d does not point at an earlier event", src)
			}
			s, ok := scheds[src]
			if !ok {
				return fail(e, "source event %d is not a schedule event", src)
			}
			okKind := false
			for _, k := range e.Kind.CompletionOf() {
				if s.kind == k {
					okKind = true
				}
			}
			if !okKind {
				return fail(e, "source event %d is a %s, which a %s cannot answer", src, s.kind, e.Kind)
			}
			if c == ClassBreadcrumb {
				if s.crumbed {
					return fail(e, "schedule %d cancelled twice", src)
				}
				s.crumbed = true
				continue
			}
			if s.completed {
				return fail(e, "schedule %d already completed (duplicate completion)", src)
			}
			if e.Kind == EventDelivered {
				if s.crumbed {
					return fail(e, "subscription %d was cancelled before this delivery", src)
				}
				a, ok := arrivals[e.ArrivalID]
				if !ok || e.ArrivalID >= e.EventID {
					return fail(e, "arrival %d is not an earlier ExternalEvent or QueueEvent", e.ArrivalID)
				}
				wantArrival := ExternalEvent
				if s.kind == QueueSubscribed {
					wantArrival = QueueEvent
				}
				if a.kind != wantArrival {
					return fail(e, "arrival %d is a %s but subscription %d is a %s", e.ArrivalID, a.kind, src, s.kind)
				}
				if a.name != s.name {
					return fail(e, "arrival %d is for %q but subscription %d waits for %q", e.ArrivalID, a.name, src, s.name)
				}
				if a.delivered {
					return fail(e, "arrival %d delivered twice", e.ArrivalID)
				}
				a.delivered = true
			}
			s.completed = true
		case ClassMetadata:
			if (e.Kind == KeyValueSet || e.Kind == KeyValueCleared) && e.Key == "" {
				return fail(e, "has no key")
			}
		}
	}
	return nil
}
