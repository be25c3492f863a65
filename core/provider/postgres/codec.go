package postgres

import (
	"encoding/json"
	"fmt"

	"github.com/duroxide/duroxide/core/history"
)

// Rows hold work items and events as JSON text, decoded by history's strict
// decoders (shared by every store, so corrupt rows are reported alike).

// decodeWorkItem decodes a queue row's work_item.
func decodeWorkItem(raw string) (history.WorkItem, error) { return history.DecodeStoredWorkItem(raw) }

// decodeEvent decodes a history row's event_data; eventID is the row's id.
func decodeEvent(raw string, eventID uint64) (history.Event, error) {
	return history.DecodeStoredEvent(raw, eventID)
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

func encodeJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
