package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver

	"github.com/duroxide/duroxide/core/provider"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite store: a provider.Provider that also implements
// provider.Admin, provider.SessionRenewer and provider.Notifier. It is safe
// for concurrent use. Its errors are *provider.Error values naming the
// operation and the instance involved; busy-database and I/O conditions are
// retryable, constraint violations, lost locks and bad arguments are not.
// Close it to stop its goroutines and release the database.
type Store struct {
	dsn  string
	opts Options
	log  *slog.Logger
	mem  bool

	wdb   *sql.DB   // the writer's database handle (the only one in memory)
	wconn *sql.Conn // the writer goroutine's connection
	rdb   *sql.DB   // reader pool (nil in memory: reads go to the writer)
	vconn *sql.Conn // the watcher's connection (nil in memory)

	reqs       chan *request
	writerDone chan struct{}
	stopWriter chan struct{}

	hint      chan struct{} // pokes the watcher after a commit
	stopWatch chan struct{}
	watchDone chan struct{}

	mu      sync.RWMutex
	closed  bool
	closing chan struct{} // closed when Close starts: waiting fetchers leave
	ops     sync.WaitGroup

	orchSig  signal
	workSig  signal
	watchers provider.InstanceWatchers

	// Counters for tests and benchmarks.
	commits atomic.Int64
	// lightSync is true while the write connection runs synchronous=NORMAL
	// for a batch of light requests (only the writer goroutine touches it).
	lightSync    bool
	requests     atomic.Int64
	largestBatch atomic.Int64
}

var (
	_ provider.Provider       = (*Store)(nil)
	_ provider.Admin          = (*Store)(nil)
	_ provider.SessionRenewer = (*Store)(nil)
	_ provider.Notifier       = (*Store)(nil)
)

// Open opens (creating if needed) the store named by dsn and applies the
// schema. See the package documentation for the DSN forms.
func Open(dsn string, opts *Options) (*Store, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %q: %w", dsn, err)
	}
	loc, err := parseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %q: %w", dsn, err)
	}
	s := &Store{
		dsn:        dsn,
		opts:       o,
		log:        o.Logger,
		mem:        loc.memory,
		reqs:       make(chan *request, 1024),
		writerDone: make(chan struct{}),
		stopWriter: make(chan struct{}),
		hint:       make(chan struct{}, 1),
		stopWatch:  make(chan struct{}),
		watchDone:  make(chan struct{}),
		closing:    make(chan struct{}),
	}
	// Switching a new file to WAL needs an exclusive lock, which SQLite may
	// refuse at once (without waiting) when other connections open the
	// same file at the same moment: retry busy errors for BusyTimeout.
	deadline := time.Now().Add(s.opts.BusyTimeout)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		err = s.connect(loc)
		if err == nil {
			if err = s.migrate(); err != nil {
				err = fmt.Errorf("schema: %w", err)
			}
		}
		if err == nil {
			break
		}
		s.closeConns()
		s.wdb, s.wconn, s.rdb, s.vconn = nil, nil, nil, nil
		if !isBusy(err) || time.Now().After(deadline) {
			return nil, fmt.Errorf("open sqlite store %q: %w", dsn, err)
		}
		time.Sleep(wait)
	}
	go s.writer()
	go s.watch()
	s.log.Debug("sqlite: store opened", logKeyDSN, dsn, "memory", s.mem)
	return s, nil
}

// openWriter opens the single write connection, kept for the store's life.
func (s *Store) openWriter(ctx context.Context, uri string) error {
	db, err := sql.Open("sqlite3", uri)
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	s.wdb = db
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	s.wconn = c
	return nil
}

func (s *Store) connect(loc location) error {
	ctx := context.Background()
	busy := strconv.FormatInt(s.opts.BusyTimeout.Milliseconds(), 10)
	if loc.memory {
		// A private database per Open: one connection that is never closed.
		return s.openWriter(ctx, "file::memory:?_foreign_keys=1&_stmt_cache_size=64&_busy_timeout="+busy)
	}
	wp := url.Values{}
	wp.Set("_busy_timeout", busy)
	wp.Set("_journal_mode", "WAL")
	wp.Set("_synchronous", s.opts.Synchronous)
	wp.Set("_foreign_keys", "1")
	wp.Set("_cache_size", "-64000")
	wp.Set("_stmt_cache_size", "64")
	wp.Set("mode", "rwc")
	if err := s.openWriter(ctx, fileURI(loc.path, wp)); err != nil {
		return err
	}
	c := s.wconn
	// Touch the file now so that an unopenable path fails Open.
	if _, err := c.ExecContext(ctx, "PRAGMA wal_autocheckpoint=10000"); err != nil {
		return err
	}

	rp := url.Values{}
	rp.Set("_busy_timeout", busy)
	rp.Set("_foreign_keys", "1")
	rp.Set("_query_only", "1")
	rp.Set("_cache_size", "-16000")
	rp.Set("_stmt_cache_size", "64")
	rdb, err := sql.Open("sqlite3", fileURI(loc.path, rp))
	if err != nil {
		return err
	}
	n := s.opts.ReadConnections + 1 // one is the watcher's
	rdb.SetMaxOpenConns(n)
	rdb.SetMaxIdleConns(n)
	rdb.SetConnMaxLifetime(0)
	rdb.SetConnMaxIdleTime(0)
	s.rdb = rdb
	vc, err := rdb.Conn(ctx)
	if err != nil {
		return err
	}
	s.vconn = vc
	return nil
}

func (s *Store) closeConns() {
	if s.vconn != nil {
		_ = s.vconn.Close()
	}
	if s.rdb != nil {
		_ = s.rdb.Close()
	}
	if s.wconn != nil {
		_ = s.wconn.Close()
	}
	if s.wdb != nil {
		_ = s.wdb.Close()
	}
}

// migrate applies the embedded migrations newer than schema_version, in one
// write transaction, so that concurrent Opens of one file apply each once.
func (s *Store) migrate() error {
	ctx := context.Background()
	c := s.wconn
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	err := func() error {
		if _, err := c.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
			version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
			return err
		}
		var cur int
		if err := c.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_version").Scan(&cur); err != nil {
			return err
		}
		names, err := fs.Glob(migrations, "migrations/*.sql")
		if err != nil {
			return err
		}
		sort.Strings(names)
		for _, name := range names {
			base := strings.TrimPrefix(name, "migrations/")
			v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
			if err != nil {
				return fmt.Errorf("migration %s: bad name", base)
			}
			if v <= cur {
				continue
			}
			body, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			if _, err := c.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", base, err)
			}
			if _, err := c.ExecContext(ctx, "INSERT INTO schema_version(version, applied_at) VALUES(?, ?)", v, nowMs()); err != nil {
				return err
			}
		}
		return nil
	}()
	if err != nil {
		_, _ = c.ExecContext(ctx, "ROLLBACK")
		return err
	}
	_, err = c.ExecContext(ctx, "COMMIT")
	return err
}

// Name returns "sqlite".
func (s *Store) Name() string { return "sqlite" }

// DSN returns the DSN the store was opened with.
func (s *Store) DSN() string { return s.dsn }

// Close stops the store's goroutines (after the calls in progress return;
// waiting fetchers return at once) and closes the database. It is
// idempotent; every other call after Close fails with provider.ErrClosed.
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
	close(s.stopWatch)
	<-s.watchDone
	close(s.stopWriter)
	<-s.writerDone
	s.watchers.CloseAll()
	s.orchSig.broadcast()
	s.workSig.broadcast()

	var errs []error
	if s.vconn != nil {
		errs = append(errs, s.vconn.Close())
	}
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	errs = append(errs, s.wconn.Close(), s.wdb.Close())
	if err := errors.Join(errs...); err != nil {
		return provider.Permanent("Close", err)
	}
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

func nowMs() int64 { return time.Now().UnixMilli() }

func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func nullMs(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return msTime(v.Int64)
}
