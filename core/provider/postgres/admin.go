package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/duroxide/duroxide/core/provider"
)

const instanceColumns = `i.instance_id, i.orchestration_name, i.orchestration_version, i.current_execution_id,
    COALESCE(e.status, 'Running'), COALESCE(e.output, ''), i.custom_status, i.custom_status_version,
    i.created_at, i.updated_at, e.completed_at, COALESCE(i.parent_instance_id, '')
FROM __S__.instances i
LEFT JOIN __S__.executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id`

func scanInstance(row pgx.Row) (provider.InstanceInfo, error) {
	var info provider.InstanceInfo
	var exec, csVer int64
	var completed *time.Time
	err := row.Scan(&info.InstanceID, &info.Name, &info.Version, &exec, &info.Status, &info.Output,
		&info.CustomStatus, &csVer, &info.CreatedAt, &info.UpdatedAt, &completed, &info.ParentInstance)
	if err != nil {
		return info, err
	}
	info.CurrentExecutionID, info.CustomStatusVer = uint64(exec), uint64(csVer)
	info.CreatedAt, info.UpdatedAt = info.CreatedAt.UTC(), info.UpdatedAt.UTC()
	if completed != nil {
		info.CompletedAt = completed.UTC()
	}
	return info, nil
}

// ListInstances implements provider.Admin.
func (s *Store) ListInstances(ctx context.Context, f provider.ListFilter) ([]provider.InstanceInfo, error) {
	const op = "ListInstances"
	if err := s.enter(op); err != nil {
		return nil, err
	}
	defer s.leave()
	var conds []string
	var args []any
	add := func(cond string, a ...any) {
		for _, v := range a {
			args = append(args, v)
			cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(args)), 1)
		}
		conds = append(conds, cond)
	}
	if f.Status != "" {
		add("COALESCE(e.status, 'Running') = ?", f.Status)
	}
	if f.Name != "" {
		add("i.orchestration_name = ?", f.Name)
	}
	if !f.CreatedAfter.IsZero() {
		add("i.created_at > ?", f.CreatedAfter)
	}
	if !f.CreatedBefore.IsZero() {
		add("i.created_at < ?", f.CreatedBefore)
	}
	if !f.CompletedBefore.IsZero() {
		add("e.completed_at IS NOT NULL AND e.completed_at < ?", f.CompletedBefore)
	}
	if f.Parent != "" {
		add("i.parent_instance_id = ?", f.Parent)
	}
	if f.RootsOnly {
		add("i.parent_instance_id IS NULL")
	}
	if f.InstanceIDs != nil {
		add("i.instance_id = ANY (?)", f.InstanceIDs)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	offset := max(f.Offset, 0)
	q := "SELECT " + instanceColumns
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	args = append(args, limit, offset)
	q += fmt.Sprintf(" ORDER BY i.created_at DESC, i.instance_id DESC LIMIT $%d OFFSET $%d", len(args)-1, len(args))
	var out []provider.InstanceInfo
	err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		rows, err := c.Query(ctx, s.sql(q), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			info, err := scanInstance(rows)
			if err != nil {
				return err
			}
			out = append(out, info)
		}
		return rows.Err()
	})
	return out, wrap(op, "", err)
}

// GetInstanceInfo implements provider.Admin.
func (s *Store) GetInstanceInfo(ctx context.Context, instance string) (*provider.InstanceInfo, error) {
	const op = "GetInstanceInfo"
	if err := s.enter(op); err != nil {
		return nil, err
	}
	defer s.leave()
	var info provider.InstanceInfo
	err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		var err error
		info, err = scanInstance(c.QueryRow(ctx, s.sql("SELECT "+instanceColumns+" WHERE i.instance_id = $1"), instance))
		if errors.Is(err, pgx.ErrNoRows) {
			return provider.ErrInstanceNotFound
		}
		return err
	})
	if err != nil {
		return nil, wrap(op, instanceWhat(instance), err)
	}
	return &info, nil
}

// ListExecutions implements provider.Admin (empty for an unknown instance).
func (s *Store) ListExecutions(ctx context.Context, instance string) ([]uint64, error) {
	const op = "ListExecutions"
	if err := s.enter(op); err != nil {
		return nil, err
	}
	defer s.leave()
	var ids []uint64
	err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		rows, err := c.Query(ctx, s.sql(`SELECT execution_id FROM __S__.executions WHERE instance_id = $1 ORDER BY execution_id`), instance)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, uint64(id))
		}
		return rows.Err()
	})
	return ids, wrap(op, instanceWhat(instance), err)
}

// GetExecutionInfo implements provider.Admin.
func (s *Store) GetExecutionInfo(ctx context.Context, instance string, executionID uint64) (*provider.ExecutionInfo, error) {
	const op = "GetExecutionInfo"
	if err := s.enter(op); err != nil {
		return nil, err
	}
	defer s.leave()
	var info provider.ExecutionInfo
	err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		var exec int64
		var output *string
		var completed *time.Time
		var maj, mnr, pat *int32
		err := c.QueryRow(ctx, s.sql(`SELECT e.execution_id, e.status, e.output, e.started_at, e.completed_at,
    e.pinned_major, e.pinned_minor, e.pinned_patch,
    (SELECT COUNT(*) FROM __S__.history h WHERE h.instance_id = e.instance_id AND h.execution_id = e.execution_id)
FROM __S__.executions e WHERE e.instance_id = $1 AND e.execution_id = $2`), instance, int64(executionID)).
			Scan(&exec, &info.Status, &output, &info.StartedAt, &completed, &maj, &mnr, &pat, &info.EventCount)
		if errors.Is(err, pgx.ErrNoRows) {
			return provider.ErrInstanceNotFound
		}
		if err != nil {
			return err
		}
		info.ExecutionID = uint64(exec)
		info.Output = deref(output)
		info.StartedAt = info.StartedAt.UTC()
		if completed != nil {
			info.CompletedAt = completed.UTC()
		}
		if maj != nil && mnr != nil && pat != nil {
			info.PinnedVersion = provider.Semver{Major: int(*maj), Minor: int(*mnr), Patch: int(*pat)}.String()
		}
		return nil
	})
	if err != nil {
		return nil, wrap(op, fmt.Sprintf("instance %q execution %d", instance, executionID), err)
	}
	return &info, nil
}

// GetSystemMetrics implements provider.Admin.
func (s *Store) GetSystemMetrics(ctx context.Context) (*provider.SystemMetrics, error) {
	const op = "GetSystemMetrics"
	if err := s.enter(op); err != nil {
		return nil, err
	}
	defer s.leave()
	var m provider.SystemMetrics
	err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		return c.QueryRow(ctx, s.sql(`WITH cur AS (
    SELECT e.status FROM __S__.instances i
    JOIN __S__.executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id)
SELECT
    (SELECT COUNT(*) FROM __S__.instances),
    (SELECT COUNT(*) FROM __S__.executions),
    (SELECT COUNT(*) FROM cur WHERE status = 'Running'),
    (SELECT COUNT(*) FROM cur WHERE status = 'Completed'),
    (SELECT COUNT(*) FROM cur WHERE status = 'Failed'),
    (SELECT COUNT(*) FROM cur WHERE status = 'ContinuedAsNew'),
    (SELECT COUNT(*) FROM __S__.history),
    (SELECT COUNT(*) FROM __S__.dead_letters)`)).
			Scan(&m.TotalInstances, &m.TotalExecutions, &m.RunningInstances, &m.CompletedInstances,
				&m.FailedInstances, &m.ContinuedAsNewCount, &m.TotalEvents, &m.DeadLetters)
	})
	if err != nil {
		return nil, wrap(op, "", err)
	}
	return &m, nil
}

// GetQueueDepths implements provider.Admin. Orchestrator counts unlocked
// messages visible now, Delayed unlocked ones not yet visible, Worker every
// worker item not under a valid lock.
func (s *Store) GetQueueDepths(ctx context.Context) (*provider.QueueDepths, error) {
	const op = "GetQueueDepths"
	if err := s.enter(op); err != nil {
		return nil, err
	}
	defer s.leave()
	var q provider.QueueDepths
	err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		return c.QueryRow(ctx, s.sql(`SELECT
    (SELECT COUNT(*) FROM __S__.orchestrator_queue q WHERE q.visible_at <= now() AND NOT EXISTS
        (SELECT 1 FROM __S__.instance_locks l WHERE l.lock_token = q.lock_token AND l.locked_until > now())),
    (SELECT COUNT(*) FROM __S__.orchestrator_queue q WHERE q.visible_at > now() AND NOT EXISTS
        (SELECT 1 FROM __S__.instance_locks l WHERE l.lock_token = q.lock_token AND l.locked_until > now())),
    (SELECT COUNT(*) FROM __S__.worker_queue WHERE lock_token IS NULL OR locked_until <= now())`)).
			Scan(&q.Orchestrator, &q.Delayed, &q.Worker)
	})
	if err != nil {
		return nil, wrap(op, "", err)
	}
	return &q, nil
}

// ListChildren implements provider.Admin.
func (s *Store) ListChildren(ctx context.Context, instance string) ([]string, error) {
	const op = "ListChildren"
	if err := s.enter(op); err != nil {
		return nil, err
	}
	defer s.leave()
	var out []string
	err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		rows, err := c.Query(ctx, s.sql(`SELECT instance_id FROM __S__.instances WHERE parent_instance_id = $1
ORDER BY created_at, instance_id`), instance)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			out = append(out, id)
		}
		return rows.Err()
	})
	return out, wrap(op, instanceWhat(instance), err)
}

// GetParentID implements provider.Admin (ErrInstanceNotFound if unknown).
func (s *Store) GetParentID(ctx context.Context, instance string) (string, error) {
	const op = "GetParentID"
	if err := s.enter(op); err != nil {
		return "", err
	}
	defer s.leave()
	var parent *string
	err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		err := c.QueryRow(ctx, s.sql(`SELECT parent_instance_id FROM __S__.instances WHERE instance_id = $1`), instance).Scan(&parent)
		if errors.Is(err, pgx.ErrNoRows) {
			return provider.ErrInstanceNotFound
		}
		return err
	})
	return deref(parent), wrap(op, instanceWhat(instance), err)
}

// DeleteInstances implements provider.Admin, in one transaction. Ids with
// no instance row still have their queued messages removed; they count no
// instance. The orphan check runs inside the transaction; a child whose
// first turn commits concurrently may still outlive its parent (the
// contract allows it).
func (s *Store) DeleteInstances(ctx context.Context, instances []string, force bool) (*provider.DeleteResult, error) {
	const op = "DeleteInstances"
	if err := s.enter(op); err != nil {
		return nil, err
	}
	defer s.leave()
	seen := make(map[string]bool, len(instances))
	var ids []string
	for _, id := range instances {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	var res provider.DeleteResult
	if len(ids) == 0 {
		return &res, nil
	}
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		res = provider.DeleteResult{}
		// Lock the instances' lock rows first: an ack in flight either
		// commits before the delete or finds its lock gone.
		if _, err := tx.Exec(ctx, s.sql(`SELECT 1 FROM __S__.instance_locks WHERE instance_id = ANY ($1) FOR UPDATE`), ids); err != nil {
			return err
		}
		if !force {
			var running string
			err := tx.QueryRow(ctx, s.sql(`SELECT i.instance_id FROM __S__.instances i
JOIN __S__.executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
WHERE i.instance_id = ANY ($1) AND e.status = 'Running' LIMIT 1`), ids).Scan(&running)
			if err == nil {
				return fmt.Errorf("instance %q: %w (use force)", running, provider.ErrInstanceRunning)
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		var child, parent string
		err := tx.QueryRow(ctx, s.sql(`SELECT instance_id, parent_instance_id FROM __S__.instances
WHERE parent_instance_id = ANY ($1) AND NOT (instance_id = ANY ($1)) LIMIT 1`), ids).Scan(&child, &parent)
		if err == nil {
			return fmt.Errorf("instance %q is a child of %q and is not in the list: %w", child, parent, provider.ErrOrphanedChild)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		steps := []struct {
			table string
			count *int64
		}{
			{"history", &res.EventsDeleted},
			{"executions", &res.ExecutionsDeleted},
			{"orchestrator_queue", &res.QueueMessages},
			{"worker_queue", &res.QueueMessages},
			{"instance_locks", nil},
			{"kv_store", nil},
			{"kv_delta", nil},
			{"instances", &res.InstancesDeleted},
		}
		for _, st := range steps {
			tag, err := tx.Exec(ctx, s.sql(`DELETE FROM __S__.`+st.table+` WHERE instance_id = ANY ($1)`), ids)
			if err != nil {
				return fmt.Errorf("delete from %s: %w", st.table, err)
			}
			if st.count != nil {
				*st.count += tag.RowsAffected()
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrap(op, describeIDs(ids), err)
	}
	s.announce(change{instances: ids})
	return &res, nil
}

func describeIDs(ids []string) string {
	if len(ids) == 1 {
		return instanceWhat(ids[0])
	}
	return fmt.Sprintf("%d instances", len(ids))
}

// PruneExecutions implements provider.Admin. The KV store is not touched.
func (s *Store) PruneExecutions(ctx context.Context, instance string, opts provider.PruneOptions) (*provider.PruneResult, error) {
	const op = "PruneExecutions"
	if err := s.enter(op); err != nil {
		return nil, err
	}
	defer s.leave()
	keep := max(opts.KeepLast, 1)
	var res provider.PruneResult
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		res = provider.PruneResult{}
		var cur int64
		err := tx.QueryRow(ctx, s.sql(`SELECT current_execution_id FROM __S__.instances WHERE instance_id = $1 FOR UPDATE`), instance).Scan(&cur)
		if errors.Is(err, pgx.ErrNoRows) {
			return provider.ErrInstanceNotFound
		}
		if err != nil {
			return err
		}
		var cutoff *time.Time
		if !opts.CompletedBefore.IsZero() {
			cutoff = &opts.CompletedBefore
		}
		// Rank executions newest first; keep the current one, the newest
		// `keep`, the running ones and (with a cutoff) those that ended later.
		rows, err := tx.Query(ctx, s.sql(`WITH ranked AS (
    SELECT e.execution_id, e.status, e.completed_at,
           row_number() OVER (ORDER BY e.execution_id DESC) AS rank
    FROM __S__.executions e WHERE e.instance_id = $1),
victims AS (
    SELECT r.execution_id FROM ranked r
    WHERE r.execution_id <> $2 AND r.rank > $3 AND r.status <> 'Running'
      AND ($4::timestamptz IS NULL OR (r.completed_at IS NOT NULL AND r.completed_at < $4::timestamptz))),
gone_history AS (
    DELETE FROM __S__.history h USING victims v
    WHERE h.instance_id = $1 AND h.execution_id = v.execution_id
    RETURNING 1),
gone AS (
    DELETE FROM __S__.executions e USING victims v
    WHERE e.instance_id = $1 AND e.execution_id = v.execution_id
    RETURNING 1)
SELECT (SELECT COUNT(*) FROM gone), (SELECT COUNT(*) FROM gone_history)`), instance, cur, keep, cutoff)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := rows.Scan(&res.ExecutionsDeleted, &res.EventsDeleted); err != nil {
				return err
			}
		}
		res.InstancesProcessed = 1
		return rows.Err()
	})
	if err != nil {
		return nil, wrap(op, instanceWhat(instance), err)
	}
	return &res, nil
}

// ListDeadLetters implements provider.Admin; limit 0 means 1000.
func (s *Store) ListDeadLetters(ctx context.Context, limit int) ([]provider.DeadLetter, error) {
	const op = "ListDeadLetters"
	if err := s.enter(op); err != nil {
		return nil, err
	}
	defer s.leave()
	if limit <= 0 {
		limit = 1000
	}
	var out []provider.DeadLetter
	err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		rows, err := c.Query(ctx, s.sql(`SELECT id, queue, instance_id, work_item, reason, created_at FROM __S__.dead_letters
ORDER BY id DESC LIMIT $1`), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var dl provider.DeadLetter
			var raw string
			if err := rows.Scan(&dl.ID, &dl.Queue, &dl.Instance, &raw, &dl.Reason, &dl.CreatedAt); err != nil {
				return err
			}
			dl.CreatedAt = dl.CreatedAt.UTC()
			if it, err := decodeWorkItem(raw); err == nil {
				dl.Item = it
			} else {
				dl.Raw = raw
			}
			out = append(out, dl)
		}
		return rows.Err()
	})
	return out, wrap(op, "", err)
}

// sweepOrphans dead-letters messages for instances that do not exist, have
// no start message queued and no lock, once they are older than
// DeadLetterAfter. The planner calls it.
func (s *Store) sweepOrphans() {
	ctx, cancel := context.WithTimeout(s.bg, 30*time.Second)
	defer cancel()
	var insts []string
	err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		rows, err := c.Query(ctx, s.sql(`SELECT instance_id FROM __S__.sweep_orphans($1, $2)`),
			durMs(s.opts.DeadLetterAfter), s.opts.DeadLetterAfter.String())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var inst string
			if err := rows.Scan(&inst); err != nil {
				return err
			}
			insts = append(insts, inst)
		}
		return rows.Err()
	})
	if err != nil {
		if s.bg.Err() == nil {
			s.log.Warn("postgres: dead-letter sweep failed", logKeyError, err)
		}
		return
	}
	for _, inst := range insts {
		s.log.Warn("postgres: message dead-lettered", logKeyQueue, queueOrchestrator, logKeyInstance, inst,
			logKeyReason, "no such instance and no start message")
	}
}
