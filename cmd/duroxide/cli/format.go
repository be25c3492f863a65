package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/duroxide/duroxide/core/history"
)

// timeLayout is how tables show times (local time).
const timeLayout = "2006-01-02 15:04:05"

// fmtTime shows a time in tables; "-" for none.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(timeLayout)
}

// parseWhen reads a point in time: RFC 3339 (2025-01-02T15:04:05Z), a date
// (2025-01-02, local midnight), or a duration before now (90m, 24h).
func parseWhen(flagName, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", v, time.Local); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, usagef("--%s %q: give a duration before now (90m, 24h), a date (2025-01-02) or an RFC 3339 time (2025-01-02T15:04:05Z)", flagName, v)
}

// parsePayload reads the value of a payload flag (--input, --data) with the
// payload codec's rule: JSON text is stored as is, except that a JSON
// string is stored as its text; other text is a plain string. Text that
// starts like a JSON object or array must be valid JSON. "@FILE" reads the
// value from a file, "@-" from standard input.
func parsePayload(e *env, flagName, v string) (string, error) {
	if rest, ok := strings.CutPrefix(v, "@"); ok {
		var b []byte
		var err error
		if rest == "-" {
			b, err = io.ReadAll(e.stdin)
		} else {
			b, err = os.ReadFile(rest)
		}
		if err != nil {
			return "", usagef("--%s %s: %v", flagName, v, err)
		}
		v = string(b)
	}
	t := strings.TrimSpace(v)
	if t == "" {
		return "", nil
	}
	if json.Valid([]byte(t)) {
		if t[0] == '"' {
			var s string
			if err := json.Unmarshal([]byte(t), &s); err == nil {
				return s, nil
			}
		}
		return t, nil
	}
	if t[0] == '{' || t[0] == '[' {
		var x any
		err := json.Unmarshal([]byte(t), &x)
		return "", usagef("--%s is not valid JSON: %v", flagName, err)
	}
	return v, nil
}

// oneLine shortens a payload to one line of at most n bytes for tables
// and timelines.
func oneLine(s string, n int) string {
	return history.Shorten(strings.Join(strings.Fields(s), " "), n)
}

// plural formats a count with its noun.
func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
