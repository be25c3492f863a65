package sqlite

import (
	"encoding/json"

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

func encodeJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
