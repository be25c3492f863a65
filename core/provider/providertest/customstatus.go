package providertest

import (
	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

func statusEvent(instance string, exec, id uint64, status *string) history.Event {
	ev := event(instance, exec, id, history.CustomStatusUpdated)
	ev.CustomStatus = status
	return ev
}

func strp(s string) *string { return &s }

func (e *env) customStatus(instance string, lastSeen uint64) (*string, uint64, bool) {
	e.t.Helper()
	s, v, changed, err := e.p.GetCustomStatus(e.ctx, instance, lastSeen)
	wantNoErr(e.t, "GetCustomStatus", err)
	return s, v, changed
}

func (e *env) wantCustomStatus(instance string, want *string, version uint64) {
	e.t.Helper()
	s, v, changed := e.customStatus(instance, 0)
	if !changed || v != version || (s == nil) != (want == nil) || (s != nil && *s != *want) {
		e.t.Fatalf("custom status = %v (version %d, changed %v), want %v at version %d", deref(s), v, changed, deref(want), version)
	}
	if _, _, changed := e.customStatus(instance, version); changed {
		e.t.Fatalf("custom status reported changed since version %d, its current version", version)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return "\"" + *s + "\""
}

var customStatusTests = []test{
	{"UnsetOnANewInstance", func(e *env) {
		e.create("a", provider.ExecutionMetadata{})
		if _, _, changed := e.customStatus("a", 0); changed {
			e.t.Fatal("a new instance reports a custom status")
		}
	}},
	{"SetOnTheFirstTurn", func(e *env) {
		e.create("a", provider.ExecutionMetadata{}, statusEvent("a", 1, 2, strp("booting")))
		e.wantCustomStatus("a", strp("booting"), 1)
	}},
	{"EachTurnWithAnUpdateIncrementsTheVersion", func(e *env) {
		e.create("a", provider.ExecutionMetadata{})
		e.turn("a", 1, []history.Event{statusEvent("a", 1, 2, strp("one"))}, provider.ExecutionMetadata{}, nil, nil)
		e.wantCustomStatus("a", strp("one"), 1)
		e.turn("a", 1, []history.Event{statusEvent("a", 1, 3, strp("two"))}, provider.ExecutionMetadata{}, nil, nil)
		e.wantCustomStatus("a", strp("two"), 2)
		if s, v, changed := e.customStatus("a", 1); !changed || v != 2 || *s != "two" {
			e.t.Fatalf("since version 1: %v %d %v", deref(s), v, changed)
		}
	}},
	{"LastUpdateInATurnWins", func(e *env) {
		e.create("a", provider.ExecutionMetadata{})
		e.turn("a", 1, []history.Event{statusEvent("a", 1, 2, strp("first")), statusEvent("a", 1, 3, strp("last"))},
			provider.ExecutionMetadata{}, nil, nil)
		e.wantCustomStatus("a", strp("last"), 1)
	}},
	{"NilResets", func(e *env) {
		e.create("a", provider.ExecutionMetadata{}, statusEvent("a", 1, 2, strp("set")))
		e.turn("a", 1, []history.Event{statusEvent("a", 1, 3, nil)}, provider.ExecutionMetadata{}, nil, nil)
		e.wantCustomStatus("a", nil, 2)
	}},
	{"TurnWithoutUpdateKeepsIt", func(e *env) {
		e.create("a", provider.ExecutionMetadata{}, statusEvent("a", 1, 2, strp("kept")))
		e.turn("a", 1, []history.Event{scheduled("a", 1, 3)}, provider.ExecutionMetadata{}, nil, nil)
		e.complete("a", 1, provider.StatusCompleted)
		e.wantCustomStatus("a", strp("kept"), 1)
	}},
	{"UnknownInstance", func(e *env) {
		if s, v, changed := e.customStatus("nope", 0); changed || s != nil || v != 0 {
			e.t.Fatalf("unknown instance: %v %d %v", deref(s), v, changed)
		}
	}},
}
