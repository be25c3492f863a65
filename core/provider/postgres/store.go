package postgres

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/duroxide/duroxide/core/provider"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the PostgreSQL store: a provider.Provider that also implements
// provider.Admin, provider.SessionRenewer and provider.Notifier. It is safe
// for concurrent use, and any number of Stores in any number of processes
// may share one schema. Its errors are *provider.Error values naming the
// operation and the instance involved. Close it to stop its goroutines and
// close its connections.
type Store struct {
	dsn    string // redacted
	opts   Options
	log    *slog.Logger
	id     string // this store's id in notifications it sends
	cfg    *pgx.ConnConfig
	pool   *pool
	schema string // quoted
	chname string // NOTIFY channel
	user   string // the role the store connects as
	dbname string

	stmts sync.Map // raw SQL → SQL with the schema filled in

	mu      sync.RWMutex
	closed  bool
	closing chan struct{} // closed when Close starts: waiting fetchers leave
	ops     sync.WaitGroup

	orchQ    waitQueue
	workQ    waitQueue
	watchers provider.InstanceWatchers
	plan     planner
	out      notifier

	bg     context.Context // cancelled by Close: stops the goroutines
	stopBg context.CancelFunc
	bgDone sync.WaitGroup

	listenMu  sync.Mutex
	listenPID uint32 // backend pid of the LISTEN connection (0: not listening)

	// Counters for tests and benchmarks.
	fetchCalls atomic.Int64 // fetch function calls (orchestrator and worker)
}

var (
	_ provider.Provider       = (*Store)(nil)
	_ provider.Admin          = (*Store)(nil)
	_ provider.SessionRenewer = (*Store)(nil)
	_ provider.Notifier       = (*Store)(nil)
)

// Open connects to the PostgreSQL database named by dsn (a URL
// "postgres://user:password@host:port/database?sslmode=disable" or
// keyword/value pairs), creates the schema if missing and applies the
// embedded migrations the schema lacks, under an advisory lock so that
// processes opening at once apply each migration once. Unless
// Options.DisableListen is set, it starts listening for the schema's
// notifications. Errors name the DSN with its password redacted and say
// what to fix: an unreachable server, a failed authentication, a missing
// database, a role that lacks privileges.
func Open(ctx context.Context, dsn string, opts *Options) (*Store, error) {
	s, err := open(ctx, dsn, opts)
	if err != nil {
		return nil, fmt.Errorf("open postgres store %s: %w", Redact(dsn), err)
	}
	return s, nil
}

func open(ctx context.Context, dsn string, opts *Options) (*Store, error) {
	explicit := ""
	if opts != nil {
		explicit = opts.Schema
	}
	rest, dsnSchema, err := splitSchema(strings.TrimSpace(dsn))
	if err != nil {
		return nil, err
	}
	if dsnSchema != "" {
		if explicit != "" && explicit != dsnSchema {
			return nil, fmt.Errorf("the DSN names schema %q and Options.Schema %q", dsnSchema, explicit)
		}
		o := Options{}
		if opts != nil {
			o = *opts
		}
		o.Schema = dsnSchema
		opts = &o
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if rest == "" {
		return nil, fmt.Errorf("empty DSN: want postgres://user:password@host:port/database")
	}
	cfg, err := pgx.ParseConfig(rest)
	if err != nil {
		return nil, fmt.Errorf("invalid DSN: %v", redactParseErr(err))
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = o.ConnectTimeout
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "duroxide"
	}
	// The store's statements are written to have good plans whatever their
	// parameters (ordered index walks); re-planning them on each call, as
	// PostgreSQL may do for statements inside functions, would cost more
	// than the work.
	if _, ok := cfg.RuntimeParams["plan_cache_mode"]; !ok {
		cfg.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}

	s := &Store{
		dsn:     Redact(dsn),
		opts:    o,
		log:     o.Logger,
		id:      rand.Text()[:12],
		cfg:     cfg,
		pool:    newPool(cfg, o.MaxConns),
		schema:  pgx.Identifier{o.Schema}.Sanitize(),
		chname:  "duroxide_" + o.Schema,
		closing: make(chan struct{}),
	}
	s.bg, s.stopBg = context.WithCancel(context.Background())
	s.orchQ.init()
	s.workQ.init()

	if err := s.connect(ctx); err != nil {
		s.pool.close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.pool.close()
		return nil, err
	}
	if !o.DisableListen {
		// The first LISTEN is made here so that a role or server that
		// cannot listen fails Open instead of degrading silently.
		c, err := s.listenConn(ctx)
		if err != nil {
			s.pool.close()
			return nil, fmt.Errorf("LISTEN on channel %q: %w", s.chname, err)
		}
		s.bgDone.Add(1)
		go s.listen(c)
	}
	s.plan.init()
	s.out.init()
	s.bgDone.Add(2)
	go s.runPlanner()
	go s.runNotifier()
	s.log.Debug("postgres: store opened", logKeyDSN, s.dsn, logKeySchema, o.Schema)
	return s, nil
}

// redactParseErr keeps pgx's explanation of a bad DSN without the DSN.
func redactParseErr(err error) string {
	msg := err.Error()
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		// "cannot parse `<dsn>`: <why>": keep the why.
		if i := strings.LastIndex(msg, "`: "); i >= 0 {
			return msg[i+3:]
		}
		return "cannot parse the DSN"
	}
	return msg
}

// connect makes the first connection, turning the usual failures into
// messages that say what to fix.
func (s *Store) connect(ctx context.Context) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	c, err := s.pool.acquire(ctx)
	if err != nil {
		return explainConnectError(s.cfg, err)
	}
	defer s.pool.release(c)
	var version int
	if err := c.QueryRow(ctx, `SELECT current_user, current_database(), current_setting('server_version_num')::int`).
		Scan(&s.user, &s.dbname, &version); err != nil {
		return fmt.Errorf("read the server's identity: %w", err)
	}
	if version < 130000 {
		return fmt.Errorf("PostgreSQL %d.%d is too old: duroxide needs 13 or newer", version/10000, version%10000)
	}
	return nil
}

func explainConnectError(cfg *pgx.ConnConfig, err error) error {
	where := fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch {
		case pg.Code == "28P01" || pg.Code == "28000":
			return fmt.Errorf("authentication failed for user %q at %s (check the user and password in the DSN): %w", cfg.User, where, err)
		case pg.Code == "3D000":
			return fmt.Errorf("database %q does not exist at %s (create it, or fix the DSN): %w", cfg.Database, where, err)
		case pg.Code == "42501":
			return fmt.Errorf("user %q may not connect to database %q at %s (grant CONNECT): %w", cfg.User, cfg.Database, where, err)
		case pg.Code == "53300":
			return fmt.Errorf("the server at %s has no free connection slots: %w", where, err)
		case strings.HasPrefix(pg.Code, "57P"):
			return fmt.Errorf("the server at %s is starting up or shutting down: %w", where, err)
		}
		return fmt.Errorf("cannot connect to %s: %w", where, err)
	}
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
		return fmt.Errorf("cannot connect to the PostgreSQL server at %s: timed out: %w", where, err)
	}
	return fmt.Errorf("cannot connect to the PostgreSQL server at %s (is it running, and is the host and port right?): %w", where, err)
}

// migration is one embedded migration script.
type migration struct {
	version int
	name    string
	body    string
}

func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: bad name", base)
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: base, body: string(body)})
	}
	return out, nil
}

// SchemaVersion is the version of the newest embedded migration.
func SchemaVersion() int {
	ms, err := loadMigrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// lockNamespace is the first key of the advisory locks this schema's
// functions take on instance ids.
func (s *Store) lockNamespace() int32 {
	h := fnv.New32a()
	h.Write([]byte("duroxide-instance:" + s.opts.Schema))
	return int32(h.Sum32())
}

// template fills the placeholders of a migration script.
func (s *Store) template(body string) string {
	return strings.NewReplacer(
		"__SCHEMA__", s.schema,
		"__CHANNEL__", quoteLiteral(s.chname),
		"__LOCKNS__", strconv.Itoa(int(s.lockNamespace())),
	).Replace(body)
}

func quoteLiteral(v string) string { return "'" + strings.ReplaceAll(v, "'", "''") + "'" }

// migrate applies the embedded migrations the schema lacks. When the
// schema is up to date it runs no DDL and takes no lock, so a role that
// may only use the tables can open a schema another role migrated.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	latest := ms[len(ms)-1].version
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	c, err := s.pool.acquire(ctx)
	if err != nil {
		return explainConnectError(s.cfg, err)
	}
	defer s.pool.release(c)

	cur, err := s.currentVersion(ctx, c)
	if err != nil {
		return err
	}
	if cur >= latest {
		if cur > latest {
			s.log.Warn("postgres: the schema was migrated by a newer duroxide", logKeySchema, s.opts.Schema,
				"schema_version", cur, "known_version", latest)
		}
		return nil
	}

	return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		// One migrator per schema at a time, across processes.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('duroxide-migrate'), hashtext($1))`, s.opts.Schema); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, s.opts.Schema).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+s.schema); err != nil {
				return s.explainPrivilege(err, fmt.Sprintf("create schema %q in database %q", s.opts.Schema, s.dbname),
					fmt.Sprintf("GRANT CREATE ON DATABASE %s TO %s, or create the schema (and open the store once) with a role that may",
						pgx.Identifier{s.dbname}.Sanitize(), pgx.Identifier{s.user}.Sanitize()))
			}
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+s.schema+`.schema_version (
			version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT clock_timestamp())`); err != nil {
			return s.explainPrivilege(err, fmt.Sprintf("create tables in schema %q", s.opts.Schema),
				fmt.Sprintf("GRANT CREATE ON SCHEMA %s TO %s, or open the store once with the schema's owner",
					s.schema, pgx.Identifier{s.user}.Sanitize()))
		}
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM `+s.schema+`.schema_version`).Scan(&cur); err != nil {
			return err
		}
		for _, m := range ms {
			if m.version <= cur {
				continue
			}
			if _, err := tx.Exec(ctx, s.template(m.body), pgx.QueryExecModeSimpleProtocol); err != nil {
				return s.explainPrivilege(fmt.Errorf("migration %s: %w", m.name, err),
					fmt.Sprintf("apply migration %s to schema %q", m.name, s.opts.Schema),
					fmt.Sprintf("GRANT CREATE ON SCHEMA %s TO %s", s.schema, pgx.Identifier{s.user}.Sanitize()))
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+s.schema+`.schema_version (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
				return err
			}
			s.log.Info("postgres: migration applied", logKeySchema, s.opts.Schema, "migration", m.name)
		}
		return nil
	})
}

// currentVersion reads the schema's migration version (0 when the schema
// or its version table does not exist).
func (s *Store) currentVersion(ctx context.Context, c *pgx.Conn) (int, error) {
	explain := func(err error) error {
		return s.explainPrivilege(err, fmt.Sprintf("read the tables of schema %q", s.opts.Schema),
			fmt.Sprintf("GRANT USAGE ON SCHEMA %[1]s TO %[2]s; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %[1]s TO %[2]s; GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA %[1]s TO %[2]s",
				s.schema, pgx.Identifier{s.user}.Sanitize()))
	}
	var reg *string
	if err := c.QueryRow(ctx, `SELECT to_regclass($1)::text`, s.schema+".schema_version").Scan(&reg); err != nil {
		return 0, explain(fmt.Errorf("look for schema %q: %w", s.opts.Schema, err))
	}
	if reg == nil {
		return 0, nil
	}
	var cur int
	if err := c.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM `+s.schema+`.schema_version`).Scan(&cur); err != nil {
		return 0, explain(err)
	}
	return cur, nil
}

// explainPrivilege turns a permission error into one that names the role,
// what it tried and how to grant it.
func (s *Store) explainPrivilege(err error, what, fix string) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "42501" {
		return fmt.Errorf("role %q may not %s (%s); to fix: %s", s.user, what, pg.Message, fix)
	}
	return err
}

// sql returns q with the schema placeholder __S__ filled in.
func (s *Store) sql(q string) string {
	if v, ok := s.stmts.Load(q); ok {
		return v.(string)
	}
	v := strings.ReplaceAll(q, "__S__", s.schema)
	s.stmts.Store(q, v)
	return v
}

// Name returns "postgres".
func (s *Store) Name() string { return "postgres" }

// DSN returns the DSN the store was opened with, password redacted.
func (s *Store) DSN() string { return s.dsn }

// Schema returns the store's schema.
func (s *Store) Schema() string { return s.opts.Schema }

// Close stops the store's goroutines (after the calls in progress return;
// waiting fetchers return at once with provider.ErrClosed) and closes its
// connections. It is idempotent; every other call after Close fails with
// provider.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	s.mu.Unlock()

	s.ops.Wait()
	s.out.flushAndStop()
	s.stopBg()
	s.bgDone.Wait()
	s.watchers.CloseAll()
	s.orchQ.broadcast()
	s.workQ.broadcast()
	s.pool.close()
	return nil
}

// enter registers a public call; it fails once Close has started.
func (s *Store) enter(op string) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return &provider.Error{Op: op, Err: provider.ErrClosed}
	}
	s.ops.Add(1)
	return nil
}

func (s *Store) leave() { s.ops.Done() }

// callCtx bounds a database call by QueryTimeout when ctx has no deadline.
func (s *Store) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.opts.QueryTimeout)
}

// with runs fn on a pooled connection.
func (s *Store) with(ctx context.Context, fn func(ctx context.Context, c *pgx.Conn) error) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	c, err := s.pool.acquire(ctx)
	if err != nil {
		return err
	}
	defer s.pool.release(c)
	return fn(ctx, c)
}

// tx runs fn in a transaction on a pooled connection.
func (s *Store) tx(ctx context.Context, fn func(ctx context.Context, tx pgx.Tx) error) error {
	return s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error { return fn(ctx, tx) })
	})
}

func newToken() string { return rand.Text() }

// durMs converts a duration to whole milliseconds, rounding up.
func durMs(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}
