package sqlite

import (
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Options configure a Store. A nil *Options means every default.
type Options struct {
	// PollInterval is the fallback interval at which the store re-reads
	// when its queues next change state (delayed messages, expiring locks
	// and sessions) and wakes waiting fetchers if visible work exists. The
	// store normally learns of changes sooner (writes in this process,
	// PRAGMA data_version for other processes); this bounds how late an
	// event it missed is noticed. Default 1s.
	PollInterval time.Duration
	// WatchInterval is how often a file store reads PRAGMA data_version to
	// notice writes by other processes sharing the file. Default 10ms.
	// Unused by in-memory stores.
	WatchInterval time.Duration
	// Synchronous is SQLite's synchronous setting for file databases:
	// "FULL" (default: every commit is durable) or "NORMAL" (WAL commits are
	// not synced, so a power loss may lose the last commits but never
	// corrupts the file).
	Synchronous string
	// BusyTimeout is how long a connection waits for a lock held by another
	// process before the operation fails with a retryable error. Default 5s.
	BusyTimeout time.Duration
	// DeadLetterAfter is how long a message for an instance that does not
	// exist (and has no start message queued) may wait before it is moved to
	// the dead_letters table. Default 5m.
	DeadLetterAfter time.Duration
	// ReadConnections is the size of the reader pool of a file store.
	// Default 4.
	ReadConnections int
	// MaxBatch bounds how many write requests share one transaction.
	// Default 256.
	MaxBatch int
	// Logger receives the store's warnings (dead letters, failed commits).
	// Nil discards them.
	Logger *slog.Logger
}

// Defaults.
const (
	DefaultPollInterval    = time.Second
	DefaultWatchInterval   = 10 * time.Millisecond
	DefaultSynchronous     = "FULL"
	DefaultBusyTimeout     = 5 * time.Second
	DefaultDeadLetterAfter = 5 * time.Minute
	DefaultReadConnections = 4
	DefaultMaxBatch        = 256
)

// Log attribute keys.
const (
	logKeyDSN      = "dsn"
	logKeyInstance = "instance"
	logKeyQueue    = "queue"
	logKeyReason   = "reason"
	logKeyError    = "error"
	logKeyCount    = "count"
)

func (o *Options) withDefaults() (Options, error) {
	var r Options
	if o != nil {
		r = *o
	}
	if r.PollInterval <= 0 {
		r.PollInterval = DefaultPollInterval
	}
	if r.WatchInterval <= 0 {
		r.WatchInterval = DefaultWatchInterval
	}
	switch s := strings.ToUpper(strings.TrimSpace(r.Synchronous)); s {
	case "":
		r.Synchronous = DefaultSynchronous
	case "FULL", "NORMAL":
		r.Synchronous = s
	default:
		return r, fmt.Errorf("Options.Synchronous %q: want FULL or NORMAL", r.Synchronous)
	}
	if r.BusyTimeout <= 0 {
		r.BusyTimeout = DefaultBusyTimeout
	}
	if r.DeadLetterAfter <= 0 {
		r.DeadLetterAfter = DefaultDeadLetterAfter
	}
	if r.ReadConnections <= 0 {
		r.ReadConnections = DefaultReadConnections
	}
	if r.MaxBatch <= 0 {
		r.MaxBatch = DefaultMaxBatch
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return r, nil
}

// location is a parsed DSN: a file path, or memory.
type location struct {
	memory bool
	path   string
}

// parseDSN accepts "sqlite:PATH", "sqlite://PATH", "sqlite::memory:",
// ":memory:" and a bare PATH (taken literally). The only query parameter
// a sqlite: DSN may carry is mode=rwc (the default: create the file if
// missing).
func parseDSN(dsn string) (location, error) {
	s := strings.TrimSpace(dsn)
	if s == "" {
		return location{}, fmt.Errorf("empty DSN: want sqlite:PATH, sqlite::memory: or a file path")
	}
	rest, isURL := strings.CutPrefix(s, "sqlite:")
	if isURL {
		s = strings.TrimPrefix(rest, "//")
	}
	if i := strings.IndexByte(s, '?'); i >= 0 && isURL {
		q, err := url.ParseQuery(s[i+1:])
		if err != nil {
			return location{}, fmt.Errorf("bad query in DSN: %w", err)
		}
		for k, v := range q {
			if k != "mode" || len(v) != 1 || v[0] != "rwc" {
				return location{}, fmt.Errorf("unsupported DSN parameter %q (use sqlite.Options)", k)
			}
		}
		s = s[:i]
	}
	switch s {
	case ":memory:", "memory":
		return location{memory: true}, nil
	case "":
		return location{}, fmt.Errorf("DSN names no file")
	}
	if strings.HasPrefix(s, "file:") {
		return location{}, fmt.Errorf("file: URIs are not supported; give a path")
	}
	return location{path: s}, nil
}

// fileURI builds the go-sqlite3 DSN of a database file with the given
// driver parameters.
func fileURI(path string, params url.Values) string {
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + esc + "?" + params.Encode()
}
