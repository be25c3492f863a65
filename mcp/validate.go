package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

// checkID verifies a required identifier argument (an instance id, an
// orchestration, event or queue name).
func checkID(arg, v string) error {
	switch {
	case v == "":
		return fmt.Errorf("%s is required and must not be empty", arg)
	case len(v) > MaxIDBytes:
		return fmt.Errorf("%s is %d bytes long; the limit is %d bytes", arg, len(v), MaxIDBytes)
	case !utf8.ValidString(v):
		return fmt.Errorf("%s is not valid UTF-8", arg)
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return fmt.Errorf("%s must not contain control characters", arg)
	}
	return nil
}

// checkOptionalID verifies an optional identifier argument.
func checkOptionalID(arg, v string) error {
	if v == "" {
		return nil
	}
	return checkID(arg, v)
}

// payload turns a JSON argument into a stored payload with the payload
// codec's rule, so Go, Python and Node code read it alike: a JSON string is
// stored as its text, any other value as its JSON text, null or nothing as
// the empty payload.
func payload(arg string, v json.RawMessage) (string, error) {
	v = bytes.TrimSpace(v)
	if len(v) > MaxPayloadBytes {
		return "", fmt.Errorf("%s is %d bytes of JSON; the limit is %d bytes", arg, len(v), MaxPayloadBytes)
	}
	if len(v) == 0 || string(v) == "null" {
		return "", nil
	}
	if !json.Valid(v) {
		return "", fmt.Errorf("%s is not valid JSON", arg)
	}
	if v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", fmt.Errorf("%s: %v", arg, err)
		}
		return s, nil
	}
	return string(v), nil
}

// page checks a limit/offset pair and applies the default limit.
func page(limit, offset, def, max int) (int, int, error) {
	if limit < 0 || limit > max {
		return 0, 0, fmt.Errorf("limit %d is out of range: give 1 to %d (or leave it out for %d)", limit, max, def)
	}
	if limit == 0 {
		limit = def
	}
	if offset < 0 || offset > MaxOffset {
		return 0, 0, fmt.Errorf("offset %d is out of range: give 0 to %d", offset, MaxOffset)
	}
	return limit, offset, nil
}

// parseTime reads an RFC 3339 time or a duration before now ("1h", "30m").
func parseTime(arg, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%s %q: give an RFC 3339 time (2025-01-02T15:04:05Z) or a duration before now (90m, 24h)", arg, short(v))
}

// checkStatus verifies a status filter.
func checkStatus(v string) error {
	switch v {
	case "", provider.StatusRunning, provider.StatusCompleted, provider.StatusFailed, provider.StatusContinuedAsNew:
		return nil
	}
	return fmt.Errorf("status %q: give Running, Completed, Failed or ContinuedAsNew", short(v))
}

// storeError turns a store or client error into a sentence for the model.
func storeError(op, instance string, err error) error {
	switch {
	case errors.Is(err, provider.ErrInstanceNotFound):
		return fmt.Errorf("instance %q not found", instance)
	case errors.Is(err, provider.ErrInstanceRunning):
		return fmt.Errorf("%s %q: the instance is still running; cancel it first, or pass force=true", op, instance)
	case errors.Is(err, provider.ErrIsSubOrchestration):
		return fmt.Errorf("%s %q: %v", op, instance, err)
	case errors.Is(err, client.ErrManagementNotAvailable):
		return fmt.Errorf("%s: this store does not support management calls", op)
	case instance == "":
		return fmt.Errorf("%s: %v", op, err)
	}
	return fmt.Errorf("%s %q: %v", op, instance, err)
}

// short cuts an argument echoed in an error message.
func short(v string) string { return history.Shorten(v, 64) }
