package postgres

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/duroxide/duroxide/core/history"
)

// Rows hold work items and events as JSON text (the database never parses
// it). Decoding is strict about what a store can check without
// interpreting semantics: the text is one JSON object of the right shape, a
// work item's kind is known, an event has a kind and the event id of its
// row.

// decodeWorkItem decodes a queue row's work_item.
func decodeWorkItem(raw string) (history.WorkItem, error) {
	var w history.WorkItem
	if err := unmarshalObject(raw, &w); err != nil {
		return history.WorkItem{}, fmt.Errorf("undecodable work item: %w", err)
	}
	if !w.Kind.Known() {
		return history.WorkItem{}, fmt.Errorf("unknown work item kind %q", string(w.Kind))
	}
	return w, nil
}

// decodeEvent decodes a history row's event_data; eventID is the row's id.
func decodeEvent(raw string, eventID uint64) (history.Event, error) {
	var e history.Event
	if err := unmarshalObject(raw, &e); err != nil {
		return history.Event{}, fmt.Errorf("undecodable event %d: %w", eventID, err)
	}
	if e.Kind == "" {
		return history.Event{}, fmt.Errorf("event %d has no type", eventID)
	}
	if e.EventID != eventID {
		return history.Event{}, fmt.Errorf("event %d: stored data has event id %d", eventID, e.EventID)
	}
	return e, nil
}

// decodeHistory decodes the rows of one execution. A row that cannot be
// decoded is reported in decodeErr, naming the instance and execution.
func decodeHistory(instance string, executionID uint64, ids []int64, data []string) ([]history.Event, error) {
	events := make([]history.Event, 0, len(ids))
	for i, id := range ids {
		e, err := decodeEvent(data[i], uint64(id))
		if err != nil {
			return nil, fmt.Errorf("history of instance %q execution %d: %w", instance, executionID, err)
		}
		events = append(events, e)
	}
	return events, nil
}

func unmarshalObject(raw string, v any) error {
	b := bytes.TrimSpace([]byte(raw))
	if len(b) == 0 || b[0] != '{' {
		return fmt.Errorf("not a JSON object")
	}
	return json.Unmarshal(b, v)
}

func encodeJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
