package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/duroxide/duroxide/core/provider"
)

const instanceColumns = `i.instance_id, i.orchestration_name, i.orchestration_version, i.current_execution_id,
    COALESCE(e.status, 'Running'), COALESCE(e.output, ''), i.custom_status, i.custom_status_version,
    i.created_at, i.updated_at, e.completed_at, COALESCE(i.parent_instance_id, '')
FROM instances i
LEFT JOIN executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id`

func scanInstance(sc interface{ Scan(...any) error }) (provider.InstanceInfo, error) {
	var info provider.InstanceInfo
	var cs sql.NullString
	var created, updated int64
	var completed sql.NullInt64
	err := sc.Scan(&info.InstanceID, &info.Name, &info.Version, &info.CurrentExecutionID, &info.Status, &info.Output,
		&cs, &info.CustomStatusVer, &created, &updated, &completed, &info.ParentInstance)
	if err != nil {
		return info, err
	}
	if cs.Valid {
		v := cs.String
		info.CustomStatus = &v
	}
	info.CreatedAt, info.UpdatedAt, info.CompletedAt = msTime(created), msTime(updated), nullMs(completed)
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
		conds = append(conds, cond)
		args = append(args, a...)
	}
	if f.Status != "" {
		add("COALESCE(e.status, 'Running') = ?", f.Status)
	}
	if f.Name != "" {
		add("i.orchestration_name = ?", f.Name)
	}
	if !f.CreatedAfter.IsZero() {
		add("i.created_at > ?", f.CreatedAfter.UnixMilli())
	}
	if !f.CreatedBefore.IsZero() {
		add("i.created_at < ?", f.CreatedBefore.UnixMilli())
	}
	if !f.CompletedBefore.IsZero() {
		add("e.completed_at IS NOT NULL AND e.completed_at < ?", f.CompletedBefore.UnixMilli())
	}
	if f.Parent != "" {
		add("i.parent_instance_id = ?", f.Parent)
	}
	if f.RootsOnly {
		add("i.parent_instance_id IS NULL")
	}
	if f.InstanceIDs != nil {
		ids, err := json.Marshal(f.InstanceIDs)
		if err != nil {
			return nil, wrap(op, "", badInput("instance ids: %v", err))
		}
		add("i.instance_id IN (SELECT value FROM json_each(?))", string(ids))
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
	q += " ORDER BY i.created_at DESC, i.rowid DESC LIMIT ? OFFSET ?"
	args = append(args, limit, offset)
	var out []provider.InstanceInfo
	err := s.read(ctx, func(d dbq) error {
		rows, err := d.query(q, args...)
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
	err := s.read(ctx, func(d dbq) error {
		var err error
		info, err = scanInstance(d.row("SELECT "+instanceColumns+" WHERE i.instance_id = ?", instance))
		if errors.Is(err, sql.ErrNoRows) {
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
	err := s.read(ctx, func(d dbq) error {
		rows, err := d.query(`SELECT execution_id FROM executions WHERE instance_id = ? ORDER BY execution_id`, instance)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id uint64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
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
	err := s.read(ctx, func(d dbq) error {
		var output sql.NullString
		var started int64
		var completed, maj, mnr, pat sql.NullInt64
		err := d.row(`SELECT e.execution_id, e.status, e.output, e.started_at, e.completed_at,
    e.pinned_major, e.pinned_minor, e.pinned_patch,
    (SELECT COUNT(*) FROM history h WHERE h.instance_id = e.instance_id AND h.execution_id = e.execution_id)
FROM executions e WHERE e.instance_id = ? AND e.execution_id = ?`, instance, executionID).
			Scan(&info.ExecutionID, &info.Status, &output, &started, &completed, &maj, &mnr, &pat, &info.EventCount)
		if errors.Is(err, sql.ErrNoRows) {
			return provider.ErrInstanceNotFound
		}
		if err != nil {
			return err
		}
		info.Output = output.String
		info.StartedAt, info.CompletedAt = msTime(started), nullMs(completed)
		if maj.Valid {
			info.PinnedVersion = provider.Semver{Major: int(maj.Int64), Minor: int(mnr.Int64), Patch: int(pat.Int64)}.String()
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
	err := s.read(ctx, func(d dbq) error {
		return d.row(`SELECT
    (SELECT COUNT(*) FROM instances),
    (SELECT COUNT(*) FROM executions),
    (SELECT COUNT(*) FROM instances i JOIN executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id WHERE e.status = 'Running'),
    (SELECT COUNT(*) FROM instances i JOIN executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id WHERE e.status = 'Completed'),
    (SELECT COUNT(*) FROM instances i JOIN executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id WHERE e.status = 'Failed'),
    (SELECT COUNT(*) FROM instances i JOIN executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id WHERE e.status = 'ContinuedAsNew'),
    (SELECT COUNT(*) FROM history),
    (SELECT COUNT(*) FROM dead_letters)`).
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
	err := s.read(ctx, func(d dbq) error {
		return d.row(`SELECT
    (SELECT COUNT(*) FROM orchestrator_queue q WHERE q.visible_at <= ?1 AND NOT EXISTS
        (SELECT 1 FROM instance_locks l WHERE l.lock_token = q.lock_token AND l.locked_until > ?1)),
    (SELECT COUNT(*) FROM orchestrator_queue q WHERE q.visible_at > ?1 AND NOT EXISTS
        (SELECT 1 FROM instance_locks l WHERE l.lock_token = q.lock_token AND l.locked_until > ?1)),
    (SELECT COUNT(*) FROM worker_queue WHERE lock_token IS NULL OR locked_until <= ?1)`, nowMs()).
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
	err := s.read(ctx, func(d dbq) error {
		rows, err := d.query(`SELECT instance_id FROM instances WHERE parent_instance_id = ? ORDER BY created_at, instance_id`, instance)
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
	var parent sql.NullString
	err := s.read(ctx, func(d dbq) error {
		err := d.row(`SELECT parent_instance_id FROM instances WHERE instance_id = ?`, instance).Scan(&parent)
		if errors.Is(err, sql.ErrNoRows) {
			return provider.ErrInstanceNotFound
		}
		return err
	})
	return parent.String, wrap(op, instanceWhat(instance), err)
}

// DeleteInstances implements provider.Admin. Ids with no instance row still
// have their queued messages removed; they count no instance.
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
	idsJSON, err := json.Marshal(ids)
	if err != nil {
		return nil, wrap(op, "", badInput("instance ids: %v", err))
	}
	list := string(idsJSON)
	err = s.write(ctx, func(w *wtx) error {
		res = provider.DeleteResult{}
		if !force {
			var running string
			err := w.row(`SELECT i.instance_id FROM instances i
JOIN executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id
WHERE i.instance_id IN (SELECT value FROM json_each(?)) AND e.status = 'Running' LIMIT 1`, list).Scan(&running)
			if err == nil {
				return fmt.Errorf("instance %q: %w (use force)", running, provider.ErrInstanceRunning)
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		// Inside the transaction, so a child created after the caller read
		// the tree is caught.
		var child, parent string
		err := w.row(`SELECT instance_id, parent_instance_id FROM instances
WHERE parent_instance_id IN (SELECT value FROM json_each(?1))
  AND instance_id NOT IN (SELECT value FROM json_each(?1)) LIMIT 1`, list).Scan(&child, &parent)
		if err == nil {
			return fmt.Errorf("instance %q is a child of %q and is not in the list: %w", child, parent, provider.ErrOrphanedChild)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		in := `instance_id IN (SELECT value FROM json_each(?))`
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
			n, err := w.execN(`DELETE FROM `+st.table+` WHERE `+in, list)
			if err != nil {
				return fmt.Errorf("delete from %s: %w", st.table, err)
			}
			if st.count != nil {
				*st.count += n
			}
		}
		w.fx.changed = true
		for _, id := range ids {
			w.fx.notify(id)
		}
		return nil
	})
	if err != nil {
		return nil, wrap(op, describeIDs(ids), err)
	}
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
	err := s.write(ctx, func(w *wtx) error {
		res = provider.PruneResult{}
		var cur uint64
		err := w.row(`SELECT current_execution_id FROM instances WHERE instance_id = ?`, instance).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return provider.ErrInstanceNotFound
		}
		if err != nil {
			return err
		}
		rows, err := w.query(`SELECT execution_id, status, completed_at FROM executions
WHERE instance_id = ? ORDER BY execution_id DESC`, instance)
		if err != nil {
			return err
		}
		var victims []uint64
		rank := 0
		for rows.Next() {
			var id uint64
			var status string
			var completed sql.NullInt64
			if err := rows.Scan(&id, &status, &completed); err != nil {
				rows.Close()
				return err
			}
			rank++
			if id == cur || rank <= keep || status == provider.StatusRunning {
				continue
			}
			if !opts.CompletedBefore.IsZero() && (!completed.Valid || completed.Int64 >= opts.CompletedBefore.UnixMilli()) {
				continue
			}
			victims = append(victims, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		sort.Slice(victims, func(i, j int) bool { return victims[i] < victims[j] })
		res.InstancesProcessed = 1
		for _, id := range victims {
			n, err := w.execN(`DELETE FROM history WHERE instance_id = ? AND execution_id = ?`, instance, id)
			if err != nil {
				return err
			}
			res.EventsDeleted += n
			if _, err := w.exec(`DELETE FROM executions WHERE instance_id = ? AND execution_id = ?`, instance, id); err != nil {
				return err
			}
			res.ExecutionsDeleted++
		}
		return nil
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
	err := s.read(ctx, func(d dbq) error {
		rows, err := d.query(`SELECT id, queue, instance_id, work_item, reason, created_at FROM dead_letters
ORDER BY id DESC LIMIT ?`, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var dl provider.DeadLetter
			var raw string
			var created int64
			if err := rows.Scan(&dl.ID, &dl.Queue, &dl.Instance, &raw, &dl.Reason, &created); err != nil {
				return err
			}
			dl.CreatedAt = msTime(created)
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
// DeadLetterAfter. The watcher calls it; it writes only when a read finds
// something to move.
func (s *Store) sweepOrphans() {
	const orphanQuery = `SELECT q.id, q.instance_id, q.work_item FROM orchestrator_queue q
WHERE q.created_at <= ?1
  AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.instance_id = q.instance_id)
  AND NOT EXISTS (SELECT 1 FROM orchestrator_queue s WHERE s.instance_id = q.instance_id
                  AND s.kind IN ('StartOrchestration', 'ContinueAsNew'))
  AND NOT EXISTS (SELECT 1 FROM instance_locks l WHERE l.instance_id = q.instance_id AND l.locked_until > ?2)
ORDER BY q.id LIMIT 500`
	cutoff := func() int64 { return nowMs() - durMs(s.opts.DeadLetterAfter) }
	if !s.mem {
		found := false
		err := s.planQuery(func(d dbq) error {
			var id int64
			err := d.row(`SELECT id FROM (`+orphanQuery+`) LIMIT 1`, cutoff(), nowMs()).Scan(&id)
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			found = err == nil
			return err
		})
		if err != nil || !found {
			return
		}
	}
	err := s.write(bg, func(w *wtx) error {
		rows, err := w.query(orphanQuery, w.now-durMs(s.opts.DeadLetterAfter), w.now)
		if err != nil {
			return err
		}
		type orphan struct {
			id        int64
			inst, raw string
		}
		var list []orphan
		for rows.Next() {
			var o orphan
			if err := rows.Scan(&o.id, &o.inst, &o.raw); err != nil {
				rows.Close()
				return err
			}
			list = append(list, o)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, o := range list {
			reason := fmt.Sprintf("no instance %q exists and no start message arrived within %s", o.inst, s.opts.DeadLetterAfter)
			if err := w.deadLetter(queueOrchestrator, o.id, o.inst, o.raw, reason); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.log.Warn("sqlite: dead-letter sweep failed", logKeyError, err)
	}
}
