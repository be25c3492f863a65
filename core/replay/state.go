package replay

import (
	"github.com/duroxide/duroxide/core/history"
)

// sched is what the engine knows about one schedule event.
type sched struct {
	idx       int // index of the event in state.events
	eventID   uint64
	kind      history.Kind
	name      string
	seq       uint64 // 0 for OrchestrationChained
	done      bool   // completed, fired or delivered
	cancelled bool   // a cancellation breadcrumb exists
}

type arrivalKey struct {
	kind history.Kind // ExternalEvent or QueueEvent
	name string
}

// state is the engine's view of one execution, derived from its events.
// The same function builds it from persisted history at the start of a turn
// and is kept up to date as the turn appends events.
type state struct {
	instance string
	exec     uint64
	events   []history.Event
	started  *history.Event

	byEvent map[uint64]*sched
	bySeq   []*sched // bySeq[seq-1]

	// recorded lists the indices of events that replayed commands must
	// match, in order (schedule and metadata events).
	recorded []int

	// arrivals holds undelivered arrival event ids per (kind, name), FIFO.
	arrivals map[arrivalKey][]uint64
	// subs holds subscriptions per the arrival kind and name they take, in
	// seq order; answered and cancelled ones are trimmed lazily.
	subs map[arrivalKey][]*sched

	cancelRequested bool
	cancelReason    string
	terminal        bool

	customStatus *string
	kv           map[string]string
}

func newState(instance string, exec uint64, kvSnapshot map[string]string) *state {
	s := &state{
		instance: instance,
		exec:     exec,
		byEvent:  make(map[uint64]*sched),
		arrivals: make(map[arrivalKey][]uint64),
		subs:     make(map[arrivalKey][]*sched),
		kv:       make(map[string]string, len(kvSnapshot)),
	}
	for k, v := range kvSnapshot {
		s.kv[k] = v
	}
	return s
}

// apply appends e (whose EventID must be next) and updates the derived state.
func (s *state) apply(e history.Event) {
	s.events = append(s.events, e)
	idx := len(s.events) - 1
	ev := &s.events[idx]
	switch ev.Kind.Class() {
	case history.ClassSchedule:
		sc := &sched{idx: idx, eventID: ev.EventID, kind: ev.Kind, name: ev.Name}
		if ev.Kind.IsFuture() {
			s.bySeq = append(s.bySeq, sc)
			sc.seq = uint64(len(s.bySeq))
		}
		switch ev.Kind {
		case history.SystemCall:
			sc.done = true
		case history.ExternalSubscribed, history.QueueSubscribed:
			k := subKey(ev.Kind, ev.Name)
			s.subs[k] = append(s.subs[k], sc)
		}
		s.byEvent[ev.EventID] = sc
		s.recorded = append(s.recorded, idx)
	case history.ClassMetadata:
		s.recorded = append(s.recorded, idx)
		switch ev.Kind {
		case history.CustomStatusUpdated:
			s.customStatus = ev.CustomStatus
		case history.KeyValueSet:
			s.kv[ev.Key] = ev.Value
		case history.KeyValueCleared:
			delete(s.kv, ev.Key)
		case history.KeyValuesCleared:
			clear(s.kv)
		}
	case history.ClassCompletion:
		if sc := s.byEvent[ev.SourceEventID]; sc != nil {
			sc.done = true
		}
		if ev.Kind == history.EventDelivered {
			if a := s.event(ev.ArrivalID); a != nil {
				s.removeArrival(arrivalKey{a.Kind, a.Name}, ev.ArrivalID)
			}
		}
	case history.ClassBreadcrumb:
		if sc := s.byEvent[ev.SourceEventID]; sc != nil {
			sc.cancelled = true
		}
	case history.ClassArrival:
		k := arrivalKey{ev.Kind, ev.Name}
		s.arrivals[k] = append(s.arrivals[k], ev.EventID)
	case history.ClassTerminal:
		s.terminal = true
	default:
		switch ev.Kind {
		case history.OrchestrationStarted:
			s.started = ev
			if ev.CustomStatus != nil {
				cs := *ev.CustomStatus
				s.customStatus = &cs
			}
		case history.OrchestrationCancelRequested:
			s.cancelRequested = true
			s.cancelReason = ev.Reason
		}
	}
}

func (s *state) removeArrival(k arrivalKey, id uint64) {
	ids := s.arrivals[k]
	for i, a := range ids {
		if a == id {
			ids = append(ids[:i:i], ids[i+1:]...)
			if len(ids) == 0 {
				delete(s.arrivals, k)
			} else {
				s.arrivals[k] = ids
			}
			return
		}
	}
}

func (s *state) nextEventID() uint64 { return uint64(len(s.events)) + 1 }

func (s *state) event(id uint64) *history.Event {
	if id == 0 || id > uint64(len(s.events)) {
		return nil
	}
	return &s.events[id-1]
}

// jobFor returns the job that replaying event e delivers to the driver, if any.
func (s *state) jobFor(e *history.Event, replaying bool) (Job, bool) {
	seqOf := func(id uint64) uint64 {
		if sc := s.byEvent[id]; sc != nil {
			return sc.seq
		}
		return 0
	}
	j := Job{Replaying: replaying}
	switch e.Kind {
	case history.OrchestrationStarted:
		j.Kind = JobStart
		j.Input = e.Input
		j.CustomStatus = e.CustomStatus
		j.ParentInstance = e.ParentInstance
	case history.ActivityCompleted:
		j.Kind, j.Seq, j.Result = JobActivity, seqOf(e.SourceEventID), e.Result
	case history.ActivityFailed:
		j.Kind, j.Seq, j.Error = JobActivity, seqOf(e.SourceEventID), e.Error
	case history.TimerFired:
		j.Kind, j.Seq = JobTimer, seqOf(e.SourceEventID)
	case history.SubOrchestrationCompleted:
		j.Kind, j.Seq, j.Result = JobSubOrchestration, seqOf(e.SourceEventID), e.Result
	case history.SubOrchestrationFailed:
		j.Kind, j.Seq, j.Error = JobSubOrchestration, seqOf(e.SourceEventID), e.Error
	case history.EventDelivered:
		j.Kind, j.Seq = JobEvent, seqOf(e.SourceEventID)
		if a := s.event(e.ArrivalID); a != nil {
			j.Name, j.Data = a.Name, a.Data
		}
	case history.SystemCall:
		j.Kind, j.Seq, j.Result, j.Error = JobSystemCall, seqOf(e.EventID), e.Value, e.Error
	case history.OrchestrationCancelRequested:
		j.Kind, j.Reason = JobCancel, e.Reason
	default:
		return Job{}, false
	}
	return j, true
}

// firstActiveSubscription returns the oldest subscription that takes
// arrivals of key k and is neither answered nor cancelled.
func (s *state) firstActiveSubscription(k arrivalKey) *sched {
	list := s.subs[k]
	for len(list) > 0 && (list[0].done || list[0].cancelled) {
		list = list[1:]
	}
	if len(list) == 0 {
		delete(s.subs, k)
		return nil
	}
	s.subs[k] = list
	return list[0]
}

// subKey maps a subscription kind to the arrival kind it takes.
func subKey(kind history.Kind, name string) arrivalKey {
	if kind == history.QueueSubscribed {
		return arrivalKey{history.QueueEvent, name}
	}
	return arrivalKey{history.ExternalEvent, name}
}
