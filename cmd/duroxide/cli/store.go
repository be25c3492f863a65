package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/provider"
	"github.com/duroxide/duroxide/core/provider/postgres"
	"github.com/duroxide/duroxide/core/provider/sqlite"
)

// openStore opens the store a DSN names:
//
//	sqlite:PATH, sqlite://PATH, a bare file path   a SQLite file
//	sqlite::memory:                                a private in-memory store
//	postgres://... or postgresql://...             PostgreSQL (?schema=NAME picks a schema)
//
// Unless create is set, a SQLite file that does not exist is an error rather
// than a new empty store: a mistyped --store must not look like an empty
// store, nor leave a file behind.
func openStore(dsn string, create bool) (provider.Provider, error) {
	dsn = strings.TrimSpace(dsn)
	lower := strings.ToLower(dsn)
	switch {
	case dsn == "":
		return nil, usagef("no store given: pass --store DSN or set %s", envStore)
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		p, err := postgres.Open(ctx, dsn, nil)
		if err != nil {
			return nil, err
		}
		return p, nil
	case strings.Contains(dsn, "://") && !strings.HasPrefix(lower, "sqlite://"):
		scheme, _, _ := strings.Cut(dsn, "://")
		return nil, usagef("unknown store scheme %q in %q: want sqlite:PATH, a SQLite file path, sqlite::memory: or postgres://...", scheme, dsn)
	}
	if path, isFile := sqlitePath(dsn); isFile && !create {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("store %q: the SQLite file %q does not exist (check --store or %s)", dsn, path, envStore)
		}
	}
	p, err := sqlite.Open(dsn, nil)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// sqlitePath returns the file a SQLite DSN names; isFile is false for an
// in-memory store.
func sqlitePath(dsn string) (path string, isFile bool) {
	s := dsn
	if rest, ok := strings.CutPrefix(s, "sqlite:"); ok {
		s = strings.TrimPrefix(rest, "//")
		if i := strings.IndexByte(s, '?'); i >= 0 {
			s = s[:i]
		}
	}
	switch s {
	case ":memory:", "memory", "":
		return "", false
	}
	return s, true
}

// client opens the command's store and returns a client on it and the
// function that closes the store.
func (e *env) client(create bool) (*client.Client, func(), error) {
	p, err := openStore(e.store, create)
	if err != nil {
		return nil, nil, err
	}
	return client.New(p, nil), func() { _ = p.Close() }, nil
}
