package history

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Stores keep work items and events as JSON. These decoders are strict about
// what a store can check without interpreting semantics — the text is one
// JSON object, a work item's kind is known, an event has a kind and the id of
// its row — so every store dead-letters and reports corrupt rows alike.

// DecodeStoredWorkItem decodes a queue row's work item.
func DecodeStoredWorkItem(raw string) (WorkItem, error) {
	var w WorkItem
	if err := unmarshalObject(raw, &w); err != nil {
		return WorkItem{}, fmt.Errorf("undecodable work item: %w", err)
	}
	if !w.Kind.Known() {
		return WorkItem{}, fmt.Errorf("unknown work item kind %q", string(w.Kind))
	}
	return w, nil
}

// DecodeStoredEvent decodes a history row's event; eventID is the row's id.
func DecodeStoredEvent(raw string, eventID uint64) (Event, error) {
	var e Event
	if err := unmarshalObject(raw, &e); err != nil {
		return Event{}, fmt.Errorf("undecodable event %d: %w", eventID, err)
	}
	if e.Kind == "" {
		return Event{}, fmt.Errorf("event %d has no type", eventID)
	}
	if e.EventID != eventID {
		return Event{}, fmt.Errorf("event %d: stored data has event id %d", eventID, e.EventID)
	}
	return e, nil
}

func unmarshalObject(raw string, v any) error {
	b := bytes.TrimSpace([]byte(raw))
	if len(b) == 0 || b[0] != '{' {
		return fmt.Errorf("not a JSON object")
	}
	return json.Unmarshal(b, v)
}
