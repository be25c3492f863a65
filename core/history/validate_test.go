package history

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func started() Event {
	return Event{EventID: 1, InstanceID: "i", ExecutionID: 1, Kind: OrchestrationStarted, Name: "O", Version: "1.0.0"}
}

func TestValidate(t *testing.T) {
	ok := []Event{
		started(),
		{EventID: 2, Kind: ActivityScheduled, Name: "A"},
		{EventID: 3, Kind: ExternalSubscribed, Name: "E"},
		{EventID: 4, Kind: ExternalEvent, Name: "E", Data: "d"},
		{EventID: 5, Kind: EventDelivered, SourceEventID: 3, ArrivalID: 4},
		{EventID: 6, Kind: ActivityCompleted, SourceEventID: 2, Result: "r"},
		{EventID: 7, Kind: TimerCreated, FireAtMs: 10},
		{EventID: 8, Kind: OrchestrationCompleted, Output: "o"},
	}
	if err := Validate("i", 1, ok); err != nil {
		t.Fatalf("valid history rejected: %v", err)
	}
	mutate := func(f func([]Event) []Event) []Event {
		cp := append([]Event(nil), ok...)
		return f(cp)
	}
	cases := []struct {
		name    string
		events  []Event
		eventID uint64
		reason  string
	}{
		{"empty", nil, 0, "empty"},
		{"first not started", mutate(func(e []Event) []Event { e[0].Kind = ActivityScheduled; e[0].Name = "A"; return e }), 1, "first event"},
		{"gap in ids", mutate(func(e []Event) []Event { e[2].EventID = 9; return e }), 9, "dense"},
		{"unknown kind", mutate(func(e []Event) []Event { e[1].Kind = "Mystery"; return e }), 2, "unknown event kind"},
		{"completion of missing schedule", mutate(func(e []Event) []Event { e[5].SourceEventID = 7; return e }), 6, "earlier"},
		{"completion of wrong kind", mutate(func(e []Event) []Event { e[5].SourceEventID = 3; return e }), 6, "cannot answer"},
		{"duplicate completion", mutate(func(e []Event) []Event {
			e = append(e[:6], Event{EventID: 7, Kind: ActivityCompleted, SourceEventID: 2})
			return e
		}), 7, "duplicate completion"},
		{"event after terminal", append(append([]Event(nil), ok...), Event{EventID: 9, Kind: TimerCreated}), 9, "terminal"},
		{"delivery of wrong name", mutate(func(e []Event) []Event { e[3].Name = "F"; return e }), 5, "waits for"},
		{"second start", mutate(func(e []Event) []Event { e[6] = started(); e[6].EventID = 7; return e }), 7, "only be event 1"},
		{"other instance", mutate(func(e []Event) []Event { e[1].InstanceID = "other"; return e }), 2, "instance"},
		{"schedule without name", mutate(func(e []Event) []Event { e[1].Name = ""; return e }), 2, "no name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Validate("i", 1, c.events)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want a *ValidationError, got %v", err)
			}
			if ve.EventID != c.eventID {
				t.Fatalf("error names event %d, want %d: %v", ve.EventID, c.eventID, err)
			}
			if !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("error %q does not say %q", err, c.reason)
			}
		})
	}
}

// FuzzDecodeAndValidate feeds arbitrary bytes through the event decoder and
// the validator: neither may panic, whatever the input.
func FuzzDecodeAndValidate(f *testing.F) {
	seed, _ := json.Marshal([]Event{started(), {EventID: 2, Kind: ActivityScheduled, Name: "A"}, {EventID: 3, Kind: ActivityCompleted, SourceEventID: 2}})
	f.Add(seed)
	f.Add([]byte(`[{"event_id":1,"type":"OrchestrationStarted","name":"x"},{"event_id":2,"type":"EventDelivered","source_event_id":1,"arrival_id":5}]`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var evs []Event
		if json.Unmarshal(data, &evs) != nil {
			return
		}
		_ = Validate("i", 0, evs)
		for i := range evs {
			_ = evs[i].Summary()
		}
	})
}

// FuzzWorkItemDecode checks the work-item decoder never panics.
func FuzzWorkItemDecode(f *testing.F) {
	f.Add([]byte(`{"kind":"StartOrchestration","instance":"i","name":"n","input":"x"}`))
	f.Add([]byte(`{"kind":"ActivityFailed","instance":"i","id":3,"error":{"category":"poison"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var w WorkItem
		if json.Unmarshal(data, &w) != nil {
			return
		}
		_ = w.Kind.Known()
		_ = w.IsStart()
		_ = w.Error.DisplayMessage()
	})
}
