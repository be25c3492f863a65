package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

// readHistory reads one execution's history (current = the instance's
// current execution), strictly: an undecodable row is an error.
func readHistory(ctx context.Context, q querier, s *Store, instance string, executionID *uint64) ([]history.Event, error) {
	var rows pgx.Rows
	var err error
	if executionID == nil {
		rows, err = q.Query(ctx, s.sql(`SELECT h.execution_id, h.event_id, h.event_data FROM __S__.history h
JOIN __S__.instances i ON i.instance_id = h.instance_id AND i.current_execution_id = h.execution_id
WHERE h.instance_id = $1 ORDER BY h.event_id`), instance)
	} else {
		rows, err = q.Query(ctx, s.sql(`SELECT h.execution_id, h.event_id, h.event_data FROM __S__.history h
WHERE h.instance_id = $1 AND h.execution_id = $2 ORDER BY h.event_id`), instance, int64(*executionID))
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var events []history.Event
	for rows.Next() {
		var exec, id int64
		var raw string
		if err := rows.Scan(&exec, &id, &raw); err != nil {
			return nil, err
		}
		e, err := decodeEvent(raw, uint64(id))
		if err != nil {
			return nil, fmt.Errorf("history of instance %q execution %d: %w", instance, exec, err)
		}
		events = append(events, e)
	}
	return events, rows.Err()
}

// querier is what *pgx.Conn and pgx.Tx have in common that reads need.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Read implements provider.Provider.
func (s *Store) Read(ctx context.Context, instance string) ([]history.Event, error) {
	const op = "Read"
	if err := s.enter(op); err != nil {
		return nil, err
	}
	defer s.leave()
	var events []history.Event
	err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		var err error
		events, err = readHistory(ctx, c, s, instance, nil)
		return err
	})
	return events, wrap(op, instanceWhat(instance), err)
}

// ReadWithExecution implements provider.Provider.
func (s *Store) ReadWithExecution(ctx context.Context, instance string, executionID uint64) ([]history.Event, error) {
	const op = "ReadWithExecution"
	if err := s.enter(op); err != nil {
		return nil, err
	}
	defer s.leave()
	var events []history.Event
	err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		var err error
		events, err = readHistory(ctx, c, s, instance, &executionID)
		return err
	})
	return events, wrap(op, fmt.Sprintf("instance %q execution %d", instance, executionID), err)
}

// AppendWithExecution implements provider.Provider: the instance must
// exist; the execution row is created if needed; an event id already stored
// is an error and nothing is appended.
func (s *Store) AppendWithExecution(ctx context.Context, instance string, executionID uint64, events []history.Event) error {
	const op = "AppendWithExecution"
	if err := s.enter(op); err != nil {
		return err
	}
	defer s.leave()
	what := fmt.Sprintf("instance %q execution %d", instance, executionID)
	if executionID == 0 {
		return wrap(op, what, badInput("execution id 0"))
	}
	ids := make([]int64, 0, len(events))
	kinds := make([]string, 0, len(events))
	data := make([]string, 0, len(events))
	for i := range events {
		e := &events[i]
		if e.EventID == 0 || e.Kind == "" {
			return wrap(op, what, badInput("event %d: needs an event id and a kind", i))
		}
		d, err := encodeJSON(e)
		if err != nil {
			return wrap(op, what, badInput("encode event %d: %v", e.EventID, err))
		}
		ids, kinds, data = append(ids, int64(e.EventID)), append(kinds, string(e.Kind)), append(data, d)
	}
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, s.sql(`SELECT EXISTS (SELECT 1 FROM __S__.instances WHERE instance_id = $1)`), instance).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return provider.ErrInstanceNotFound
		}
		if _, err := tx.Exec(ctx, s.sql(`INSERT INTO __S__.executions (instance_id, execution_id, status, started_at)
VALUES ($1, $2, 'Running', clock_timestamp()) ON CONFLICT DO NOTHING`), instance, int64(executionID)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, s.sql(`INSERT INTO __S__.history (instance_id, execution_id, event_id, event_type, event_data, created_at)
SELECT $1, $2, u.id, u.kind, u.data, clock_timestamp() FROM unnest($3::bigint[], $4::text[], $5::text[]) AS u(id, kind, data)`),
			instance, int64(executionID), ids, kinds, data)
		return err
	})
	if err != nil {
		return wrap(op, what, err)
	}
	s.announce(change{instances: []string{instance}})
	return nil
}

// GetCustomStatus implements provider.Provider.
func (s *Store) GetCustomStatus(ctx context.Context, instance string, lastSeenVersion uint64) (*string, uint64, bool, error) {
	const op = "GetCustomStatus"
	if err := s.enter(op); err != nil {
		return nil, 0, false, err
	}
	defer s.leave()
	var status *string
	var version int64
	found := false
	err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		err := c.QueryRow(ctx, s.sql(`SELECT custom_status, custom_status_version FROM __S__.instances WHERE instance_id = $1`), instance).
			Scan(&status, &version)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		found = err == nil
		return err
	})
	if err != nil {
		return nil, 0, false, wrap(op, instanceWhat(instance), err)
	}
	if !found || uint64(version) <= lastSeenVersion {
		return nil, 0, false, nil
	}
	return status, uint64(version), true, nil
}

// GetKVValue implements provider.Provider: the current execution's change
// (kv_delta, where NULL is a deletion) wins over the snapshot (kv_store).
func (s *Store) GetKVValue(ctx context.Context, instance, key string) (string, bool, error) {
	const op = "GetKVValue"
	if err := s.enter(op); err != nil {
		return "", false, err
	}
	defer s.leave()
	var v *string
	err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		err := c.QueryRow(ctx, s.sql(`SELECT value FROM __S__.kv_delta WHERE instance_id = $1 AND key = $2
UNION ALL
SELECT value FROM __S__.kv_store WHERE instance_id = $1 AND key = $2
    AND NOT EXISTS (SELECT 1 FROM __S__.kv_delta WHERE instance_id = $1 AND key = $2)`), instance, key).Scan(&v)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return "", false, wrap(op, fmt.Sprintf("instance %q key %q", instance, key), err)
	}
	if v == nil {
		return "", false, nil
	}
	return *v, true, nil
}

// GetKVAllValues implements provider.Provider.
func (s *Store) GetKVAllValues(ctx context.Context, instance string) (map[string]string, error) {
	const op = "GetKVAllValues"
	if err := s.enter(op); err != nil {
		return nil, err
	}
	defer s.leave()
	m := make(map[string]string)
	err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		rows, err := c.Query(ctx, s.sql(`SELECT key, value FROM __S__.kv_delta WHERE instance_id = $1 AND value IS NOT NULL
UNION ALL
SELECT k.key, k.value FROM __S__.kv_store k WHERE k.instance_id = $1
    AND NOT EXISTS (SELECT 1 FROM __S__.kv_delta d WHERE d.instance_id = $1 AND d.key = k.key)`), instance)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				return err
			}
			m[k] = v
		}
		return rows.Err()
	})
	if err != nil {
		return nil, wrap(op, instanceWhat(instance), err)
	}
	return m, nil
}
