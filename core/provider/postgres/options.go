package postgres

import (
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Options configure a Store. A nil *Options means every default.
type Options struct {
	// Schema is the PostgreSQL schema that holds the store's tables and
	// functions, so that many stores (tenants, test runs) can share one
	// database. It is created if missing. It must match
	// [A-Za-z_][A-Za-z0-9_]* and be at most 48 characters; it is always
	// quoted, so case is kept as given. A URL DSN may carry it as the query
	// parameter "schema" instead. Default "public".
	Schema string
	// MaxConns bounds the store's pooled connections (the LISTEN connection
	// comes on top). Default 10.
	MaxConns int
	// PollInterval is the fallback interval at which the store re-reads
	// when its queues next change state (delayed messages, expiring locks
	// and sessions) and wakes waiting fetchers if visible work exists. With
	// LISTEN on, notifications wake fetchers within milliseconds and this
	// only bounds how late a missed one is noticed; with DisableListen it
	// is the polling interval. Default 1s.
	PollInterval time.Duration
	// DisableListen turns LISTEN/NOTIFY wake-ups off: waiting fetchers are
	// woken by this store's own writes and by polling every PollInterval.
	// For connection poolers in transaction mode, which cannot LISTEN, and
	// for comparisons. The store still sends notifications for others.
	DisableListen bool
	// DeadLetterAfter is how long a message for an instance that does not
	// exist (and has no start message queued) may wait before it is moved
	// to the dead_letters table. Default 5m.
	DeadLetterAfter time.Duration
	// ConnectTimeout bounds connecting to the server, unless the DSN sets
	// connect_timeout. Default 10s.
	ConnectTimeout time.Duration
	// QueryTimeout bounds each database call that has no earlier deadline,
	// so that a silent network failure cannot hang a dispatcher. Default 30s.
	QueryTimeout time.Duration
	// Logger receives the store's warnings (dead letters, lost LISTEN
	// connections). Nil discards them.
	Logger *slog.Logger
}

// Defaults.
const (
	DefaultSchema          = "public"
	DefaultMaxConns        = 10
	DefaultPollInterval    = time.Second
	DefaultDeadLetterAfter = 5 * time.Minute
	DefaultConnectTimeout  = 10 * time.Second
	DefaultQueryTimeout    = 30 * time.Second
)

// MaxSchemaLen bounds Options.Schema (the NOTIFY channel name is derived
// from it and must fit PostgreSQL's 63-byte identifiers).
const MaxSchemaLen = 48

// Log attribute keys.
const (
	logKeyDSN      = "dsn"
	logKeySchema   = "schema"
	logKeyInstance = "instance"
	logKeyQueue    = "queue"
	logKeyReason   = "reason"
	logKeyError    = "error"
	logKeyCount    = "count"
)

var schemaRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ValidateSchema reports whether name may be used as Options.Schema.
func ValidateSchema(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("schema name is empty")
	case len(name) > MaxSchemaLen:
		return fmt.Errorf("schema name %q is longer than %d characters", name, MaxSchemaLen)
	case !schemaRE.MatchString(name):
		return fmt.Errorf("schema name %q: use letters, digits and underscores, not starting with a digit", name)
	case strings.HasPrefix(strings.ToLower(name), "pg_"):
		return fmt.Errorf("schema name %q: names starting with pg_ are reserved by PostgreSQL", name)
	}
	return nil
}

func (o *Options) withDefaults() (Options, error) {
	var r Options
	if o != nil {
		r = *o
	}
	if r.Schema == "" {
		r.Schema = DefaultSchema
	}
	if err := ValidateSchema(r.Schema); err != nil {
		return r, fmt.Errorf("Options.Schema: %w", err)
	}
	if r.MaxConns <= 0 {
		r.MaxConns = DefaultMaxConns
	}
	if r.PollInterval <= 0 {
		r.PollInterval = DefaultPollInterval
	}
	if r.DeadLetterAfter <= 0 {
		r.DeadLetterAfter = DefaultDeadLetterAfter
	}
	if r.ConnectTimeout <= 0 {
		r.ConnectTimeout = DefaultConnectTimeout
	}
	if r.QueryTimeout <= 0 {
		r.QueryTimeout = DefaultQueryTimeout
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return r, nil
}

// splitSchema takes the "schema" query parameter out of a URL DSN (pgx
// would send it to the server as a setting). Keyword DSNs are returned as
// they are.
func splitSchema(dsn string) (rest, schema string, err error) {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn, "", nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", "", fmt.Errorf("invalid DSN: %v", redactErr(err))
	}
	q := u.Query()
	if !q.Has("schema") {
		return dsn, "", nil
	}
	schema = q.Get("schema")
	q.Del("schema")
	u.RawQuery = q.Encode()
	return u.String(), schema, nil
}

var keywordPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// Redact returns dsn with its password replaced by "xxxxx", for messages
// and logs.
func Redact(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil {
			if q := u.Query(); q.Has("password") {
				q.Set("password", "xxxxx")
				u.RawQuery = q.Encode()
			}
			return u.Redacted()
		}
		// Unparseable: keep the scheme only.
		return strings.SplitN(dsn, "://", 2)[0] + "://(unparseable DSN)"
	}
	return keywordPassword.ReplaceAllString(dsn, "${1}xxxxx")
}

// redactErr drops the DSN that a URL parse error quotes.
func redactErr(err error) string {
	if ue, ok := err.(*url.Error); ok {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}
