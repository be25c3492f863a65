package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/duroxide/duroxide/core/provider"
	"github.com/duroxide/duroxide/core/provider/postgres"
	"github.com/duroxide/duroxide/core/provider/sqlite"
)

// storeEntry is an open store and the runtimes and clients that use it.
type storeEntry struct {
	p    provider.Provider
	dsn  string
	mu   sync.Mutex
	refs int // open runtimes and clients on this store
	done bool
}

// storeOptions is the JSON of dx_store_open's options (all optional).
type storeOptions struct {
	// SQLite.
	PollIntervalMs  int64  `json:"poll_interval_ms"`
	WatchIntervalMs int64  `json:"watch_interval_ms"`
	Synchronous     string `json:"synchronous"`
	BusyTimeoutMs   int64  `json:"busy_timeout_ms"`
	DeadLetterMs    int64  `json:"dead_letter_after_ms"`
	ReadConnections int    `json:"read_connections"`
	// PostgreSQL.
	Schema   string `json:"schema"`
	MaxConns int    `json:"max_conns"`
}

func openStore(dsn string, optsJSON []byte) (*storeEntry, error) {
	var o storeOptions
	if len(optsJSON) > 0 {
		if err := decodeJSON(optsJSON, &o); err != nil {
			return nil, invalidf("store options: %v", err)
		}
	}
	d := strings.TrimSpace(dsn)
	switch {
	case strings.HasPrefix(d, "postgres://"), strings.HasPrefix(d, "postgresql://"):
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		s, err := postgres.Open(ctx, d, &postgres.Options{Schema: o.Schema, MaxConns: o.MaxConns, PollInterval: ms(o.PollIntervalMs)})
		if err != nil {
			return nil, err
		}
		return &storeEntry{p: s, dsn: postgres.Redact(d)}, nil
	}
	s, err := sqlite.Open(d, &sqlite.Options{
		PollInterval:    ms(o.PollIntervalMs),
		WatchInterval:   ms(o.WatchIntervalMs),
		Synchronous:     o.Synchronous,
		BusyTimeout:     ms(o.BusyTimeoutMs),
		DeadLetterAfter: ms(o.DeadLetterMs),
		ReadConnections: o.ReadConnections,
	})
	if err != nil {
		return nil, err
	}
	return &storeEntry{p: s, dsn: d}, nil
}

func ms(v int64) time.Duration { return time.Duration(v) * time.Millisecond }

// acquire counts a user of the store.
func (s *storeEntry) acquire() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return &errHandle{"the store is closed"}
	}
	s.refs++
	return nil
}

func (s *storeEntry) release() {
	s.mu.Lock()
	s.refs--
	s.mu.Unlock()
}

// close closes the store unless runtimes or clients still use it.
func (s *storeEntry) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refs > 0 {
		return fmt.Errorf("the store is still used by %d runtime(s) or client(s); shut them down and close them first", s.refs)
	}
	s.done = true
	if c, ok := s.p.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}
