package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

// Read implements provider.Provider.
func (s *Store) Read(ctx context.Context, instance string) ([]history.Event, error) {
	const op = "Read"
	if err := s.enter(op); err != nil {
		return nil, err
	}
	defer s.leave()
	var events []history.Event
	err := s.read(ctx, func(d dbq) error {
		var cur uint64
		err := d.row(`SELECT current_execution_id FROM instances WHERE instance_id = ?`, instance).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		events, err = readHistoryStrict(d, instance, cur)
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
	err := s.read(ctx, func(d dbq) error {
		var err error
		events, err = readHistoryStrict(d, instance, executionID)
		return err
	})
	return events, wrap(op, fmt.Sprintf("instance %q execution %d", instance, executionID), err)
}

func readHistoryStrict(d dbq, instance string, executionID uint64) ([]history.Event, error) {
	events, _, decodeErr, err := readHistory(d, instance, executionID)
	if err != nil {
		return nil, err
	}
	if decodeErr != nil {
		return nil, decodeErr
	}
	return events, nil
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
	rows := make([]eventRow, 0, len(events))
	for i := range events {
		e := &events[i]
		if e.EventID == 0 || e.Kind == "" {
			return wrap(op, what, badInput("event %d: needs an event id and a kind", i))
		}
		data, err := encodeJSON(e)
		if err != nil {
			return wrap(op, what, badInput("encode event %d: %v", e.EventID, err))
		}
		rows = append(rows, eventRow{id: e.EventID, kind: string(e.Kind), data: data})
	}
	err := s.write(ctx, func(w *wtx) error {
		var exists bool
		if err := w.row(`SELECT EXISTS (SELECT 1 FROM instances WHERE instance_id = ?)`, instance).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return provider.ErrInstanceNotFound
		}
		if _, err := w.exec(`INSERT INTO executions(instance_id, execution_id, status, started_at)
VALUES (?, ?, 'Running', ?) ON CONFLICT DO NOTHING`, instance, executionID, w.now); err != nil {
			return err
		}
		for _, e := range rows {
			if _, err := w.exec(`INSERT INTO history(instance_id, execution_id, event_id, event_type, event_data, created_at)
VALUES (?, ?, ?, ?, ?, ?)`, instance, executionID, e.id, e.kind, e.data, w.now); err != nil {
				return fmt.Errorf("append event %d: %w", e.id, err)
			}
		}
		w.fx.notify(instance)
		return nil
	})
	return wrap(op, what, err)
}

// GetCustomStatus implements provider.Provider.
func (s *Store) GetCustomStatus(ctx context.Context, instance string, lastSeenVersion uint64) (*string, uint64, bool, error) {
	const op = "GetCustomStatus"
	if err := s.enter(op); err != nil {
		return nil, 0, false, err
	}
	defer s.leave()
	var status sql.NullString
	var version uint64
	found := false
	err := s.read(ctx, func(d dbq) error {
		err := d.row(`SELECT custom_status, custom_status_version FROM instances WHERE instance_id = ?`, instance).Scan(&status, &version)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		found = err == nil
		return err
	})
	if err != nil {
		return nil, 0, false, wrap(op, instanceWhat(instance), err)
	}
	if !found || version <= lastSeenVersion {
		return nil, 0, false, nil
	}
	if !status.Valid {
		return nil, version, true, nil
	}
	v := status.String
	return &v, version, true, nil
}

// GetKVValue implements provider.Provider: the current execution's change
// (kv_delta, where NULL is a deletion) wins over the snapshot (kv_store).
func (s *Store) GetKVValue(ctx context.Context, instance, key string) (string, bool, error) {
	const op = "GetKVValue"
	if err := s.enter(op); err != nil {
		return "", false, err
	}
	defer s.leave()
	var v sql.NullString
	err := s.read(ctx, func(d dbq) error {
		err := d.row(`SELECT value FROM kv_delta WHERE instance_id = ?1 AND key = ?2
UNION ALL
SELECT value FROM kv_store WHERE instance_id = ?1 AND key = ?2
    AND NOT EXISTS (SELECT 1 FROM kv_delta WHERE instance_id = ?1 AND key = ?2)`, instance, key).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return "", false, wrap(op, fmt.Sprintf("instance %q key %q", instance, key), err)
	}
	return v.String, v.Valid, nil
}

// GetKVAllValues implements provider.Provider.
func (s *Store) GetKVAllValues(ctx context.Context, instance string) (map[string]string, error) {
	const op = "GetKVAllValues"
	if err := s.enter(op); err != nil {
		return nil, err
	}
	defer s.leave()
	m := make(map[string]string)
	err := s.read(ctx, func(d dbq) error {
		rows, err := d.query(`SELECT key, value FROM kv_delta WHERE instance_id = ?1 AND value IS NOT NULL
UNION ALL
SELECT k.key, k.value FROM kv_store k WHERE k.instance_id = ?1
    AND NOT EXISTS (SELECT 1 FROM kv_delta d WHERE d.instance_id = ?1 AND d.key = k.key)`, instance)
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
