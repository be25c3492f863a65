package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

// EnqueueForWorker implements provider.Provider.
func (s *Store) EnqueueForWorker(ctx context.Context, item history.WorkItem) error {
	const op = "EnqueueForWorker"
	if err := s.enter(op); err != nil {
		return err
	}
	defer s.leave()
	r, err := encodeWorkerItem(item)
	if err != nil {
		return wrap(op, instanceWhat(item.Instance), err)
	}
	err = s.write(ctx, func(w *wtx) error { return w.insertWorkerItem(r) })
	return wrap(op, instanceWhat(item.Instance), err)
}

// workCandidate selects the first visible worker row, in (visible_at, id)
// order, that the tag filter and the session rules allow. A locked row has
// visible_at = locked_until, so expired locks are simply visible. Each tag
// the filter names (NULL for untagged) is one ordered seek on
// idx_worker_tag, so no filter ever sorts the queue.
func workCandidate(now int64, session *provider.SessionConfig, tags provider.TagFilter) (string, []any) {
	args := []any{now}
	from := "worker_queue q"
	sessCond := "q.session_id IS NULL"
	if session != nil {
		from += " LEFT JOIN sessions s ON s.session_id = q.session_id"
		sessCond = "(q.session_id IS NULL OR s.session_id IS NULL OR s.worker_id = ?2 OR s.locked_until <= ?1)"
		args = append(args, session.OwnerID)
	}
	branch := func(tagCond string) string {
		return `SELECT q.id, q.visible_at FROM ` + from + ` WHERE q.visible_at <= ?1 AND ` + tagCond + ` AND ` + sessCond + `
ORDER BY q.visible_at, q.id LIMIT 1`
	}
	var branches []string
	if tags.Mode == provider.TagAny {
		branches = append(branches, branch("1"))
	}
	if tags.Mode == provider.TagDefaultOnly || tags.Mode == provider.TagDefaultAnd {
		branches = append(branches, branch("q.tag IS NULL"))
	}
	if tags.Mode == provider.TagOnly || tags.Mode == provider.TagDefaultAnd {
		for _, t := range slices.Compact(slices.Sorted(slices.Values(tags.Tags))) {
			if t == "" {
				continue // untagged is not a tag
			}
			args = append(args, t)
			branches = append(branches, branch(fmt.Sprintf("q.tag = ?%d", len(args))))
		}
	}
	if len(branches) == 1 {
		return `SELECT id FROM (` + branches[0] + `)`, args
	}
	q := `SELECT id FROM (`
	for i, b := range branches {
		if i > 0 {
			q += ` UNION ALL `
		}
		q += `SELECT * FROM (` + b + `)`
	}
	return q + `) ORDER BY visible_at, id LIMIT 1`, args
}

// FetchWorkItem implements provider.Provider. A session config without a
// LockTimeout claims sessions for lockTimeout. TagNone returns at once
// without touching the database. When ctx ends during the wait it returns
// ctx.Err() and holds nothing.
func (s *Store) FetchWorkItem(ctx context.Context, lockTimeout, pollTimeout time.Duration, session *provider.SessionConfig, tags provider.TagFilter) (*provider.WorkItemLease, error) {
	const op = "FetchWorkItem"
	if err := s.enter(op); err != nil {
		return nil, err
	}
	defer s.leave()
	if lockTimeout <= 0 {
		return nil, wrap(op, "", badInput("lock timeout %v must be positive", lockTimeout))
	}
	if err := tags.Validate(); err != nil {
		return nil, wrap(op, "", badInput("%v", err))
	}
	switch tags.Mode {
	case provider.TagNone:
		return nil, nil
	case provider.TagDefaultOnly, provider.TagAny:
	case provider.TagOnly, provider.TagDefaultAnd:
		if tags.Mode == provider.TagOnly && !slices.ContainsFunc(tags.Tags, func(t string) bool { return t != "" }) {
			return nil, nil // no tag to serve
		}
	default:
		return nil, wrap(op, "", badInput("unknown tag mode %d", tags.Mode))
	}
	if session != nil {
		if session.OwnerID == "" {
			return nil, wrap(op, "", badInput("session config without owner id"))
		}
		if session.LockTimeout <= 0 {
			c := *session
			c.LockTimeout = lockTimeout
			session = &c
		}
	}
	var lease *provider.WorkItemLease
	err := s.fetch(ctx, &s.workSig, pollTimeout,
		func(now int64) (string, []any) { return workCandidate(now, session, tags) },
		func(w *wtx) (bool, error) {
			var err error
			lease, err = w.fetchWork(lockTimeout, session, tags)
			return lease != nil, err
		})
	if err != nil {
		return nil, fetchErr(op, err)
	}
	return lease, nil
}

func (w *wtx) fetchWork(lockTimeout time.Duration, session *provider.SessionConfig, tags provider.TagFilter) (*provider.WorkItemLease, error) {
	q, args := workCandidate(w.now, session, tags)
	for round := 0; round < 16; round++ {
		var id int64
		err := w.row(q, args...).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		var inst, raw string
		var sess sql.NullString
		if err := w.row(`SELECT instance_id, session_id, work_item FROM worker_queue WHERE id = ?`, id).Scan(&inst, &sess, &raw); err != nil {
			return nil, err
		}
		item, err := decodeWorkItem(raw)
		if err != nil {
			if err := w.deadLetter(queueWorker, id, inst, raw, err.Error()); err != nil {
				return nil, err
			}
			continue
		}
		if sess.Valid {
			// Claim the session, or keep it: only if it is free, expired or ours.
			n, err := w.execN(`INSERT INTO sessions(session_id, worker_id, locked_until, last_activity_at)
VALUES (?1, ?2, ?3, ?4)
ON CONFLICT(session_id) DO UPDATE SET worker_id = excluded.worker_id,
    locked_until = CASE WHEN sessions.worker_id = excluded.worker_id
        THEN MAX(sessions.locked_until, excluded.locked_until) ELSE excluded.locked_until END,
    last_activity_at = excluded.last_activity_at
WHERE sessions.worker_id = excluded.worker_id OR sessions.locked_until <= ?4`,
				sess.String, session.OwnerID, w.now+durMs(session.LockTimeout), w.now)
			if err != nil {
				return nil, fmt.Errorf("claim session %q: %w", sess.String, err)
			}
			if n == 0 {
				return nil, nil // held by another owner; impossible under the write lock
			}
		}
		token := newToken()
		until := w.now + durMs(lockTimeout)
		var attempts int
		if err := w.row(`UPDATE worker_queue SET lock_token = ?1, locked_until = ?2, visible_at = ?2,
    attempt_count = attempt_count + 1
WHERE id = ?3 RETURNING attempt_count`, token, until, id).Scan(&attempts); err != nil {
			return nil, err
		}
		w.fx.changed = true
		return &provider.WorkItemLease{Item: item, LockToken: token, AttemptCount: attempts}, nil
	}
	return nil, nil
}

// AckWorkItem implements provider.Provider.
func (s *Store) AckWorkItem(ctx context.Context, lockToken string, completion *history.WorkItem) error {
	const op = "AckWorkItem"
	if err := s.enter(op); err != nil {
		return err
	}
	defer s.leave()
	var r *itemRow
	if completion != nil {
		c, err := encodeOrchItem(*completion)
		if err != nil {
			return wrap(op, instanceWhat(completion.Instance), err)
		}
		r = &c
	}
	var inst string
	err := s.write(ctx, func(w *wtx) error {
		var id int64
		var sess sql.NullString
		var until int64
		err := w.row(`SELECT id, instance_id, session_id, locked_until FROM worker_queue WHERE lock_token = ?`, lockToken).
			Scan(&id, &inst, &sess, &until)
		if errors.Is(err, sql.ErrNoRows) {
			return lockLost("work item is gone (cancelled, acked or taken by another worker)")
		}
		if err != nil {
			return err
		}
		if until <= w.now {
			return lockLost("work item lock expired")
		}
		if _, err := w.exec(`DELETE FROM worker_queue WHERE id = ?`, id); err != nil {
			return err
		}
		w.fx.changed = true
		if r != nil {
			if err := w.insertOrchItem(*r, w.now); err != nil {
				return err
			}
		}
		return w.touchSession(sess)
	})
	return wrap(op, instanceWhat(inst), err)
}

func (w *wtx) touchSession(sess sql.NullString) error {
	if !sess.Valid {
		return nil
	}
	_, err := w.exec(`UPDATE sessions SET last_activity_at = ? WHERE session_id = ?`, w.now, sess.String)
	return err
}

// RenewWorkItemLock implements provider.Provider.
func (s *Store) RenewWorkItemLock(ctx context.Context, lockToken string, extendFor time.Duration) error {
	const op = "RenewWorkItemLock"
	if err := s.enter(op); err != nil {
		return err
	}
	defer s.leave()
	if extendFor <= 0 {
		return wrap(op, "", badInput("extension %v must be positive", extendFor))
	}
	var inst string
	err := s.writeLight(ctx, func(w *wtx) error {
		var sess sql.NullString
		until := w.now + durMs(extendFor)
		err := w.row(`UPDATE worker_queue SET locked_until = ?1, visible_at = ?1
WHERE lock_token = ?2 AND locked_until > ?3 RETURNING instance_id, session_id`, until, lockToken, w.now).Scan(&inst, &sess)
		if errors.Is(err, sql.ErrNoRows) {
			return lockLost("work item is gone or its lock expired")
		}
		if err != nil {
			return err
		}
		w.fx.changed = true
		return w.touchSession(sess)
	})
	return wrap(op, instanceWhat(inst), err)
}

// AbandonWorkItem implements provider.Provider. The token must still be on
// the row; an expired lock nobody took over may still be abandoned.
func (s *Store) AbandonWorkItem(ctx context.Context, lockToken string, delay time.Duration, ignoreAttempt bool) error {
	const op = "AbandonWorkItem"
	if err := s.enter(op); err != nil {
		return err
	}
	defer s.leave()
	var inst string
	err := s.write(ctx, func(w *wtx) error {
		err := w.row(`UPDATE worker_queue SET lock_token = NULL, locked_until = NULL, visible_at = ?1,
    attempt_count = CASE WHEN ?2 THEN MAX(attempt_count - 1, 0) ELSE attempt_count END
WHERE lock_token = ?3 RETURNING instance_id`, w.now+durMs(delay), ignoreAttempt, lockToken).Scan(&inst)
		if errors.Is(err, sql.ErrNoRows) {
			return lockLost("work item is gone or was taken by another worker")
		}
		if err != nil {
			return err
		}
		w.fx.changed = true
		w.fx.wakeWork = delay <= 0
		return nil
	})
	return wrap(op, instanceWhat(inst), err)
}

// RenewSessionLock implements provider.SessionRenewer. An idleTimeout of
// zero or less renews every live session of the owners, idle or not.
func (s *Store) RenewSessionLock(ctx context.Context, owners []string, extendFor, idleTimeout time.Duration) (int, error) {
	const op = "RenewSessionLock"
	if err := s.enter(op); err != nil {
		return 0, err
	}
	defer s.leave()
	if len(owners) == 0 {
		return 0, nil
	}
	if extendFor <= 0 {
		return 0, wrap(op, "", badInput("extension %v must be positive", extendFor))
	}
	ownersJSON, err := json.Marshal(owners)
	if err != nil {
		return 0, wrap(op, "", badInput("owners: %v", err))
	}
	var n int64
	err = s.write(ctx, func(w *wtx) error {
		idleSince := int64(math.MinInt64)
		if idleTimeout > 0 {
			idleSince = w.now - durMs(idleTimeout)
		}
		var err error
		n, err = w.execN(`UPDATE sessions SET locked_until = MAX(locked_until, ?1)
WHERE worker_id IN (SELECT value FROM json_each(?2)) AND locked_until > ?3 AND last_activity_at > ?4`,
			w.now+durMs(extendFor), string(ownersJSON), w.now, idleSince)
		if n > 0 {
			w.fx.changed = true
		}
		return err
	})
	return int(n), wrap(op, "", err)
}

// CleanupOrphanedSessions implements provider.SessionRenewer: it deletes
// sessions whose lock expired and that no queued worker item references.
// idleTimeout is not needed (an expired lock already means idle).
func (s *Store) CleanupOrphanedSessions(ctx context.Context, idleTimeout time.Duration) (int, error) {
	const op = "CleanupOrphanedSessions"
	if err := s.enter(op); err != nil {
		return 0, err
	}
	defer s.leave()
	var n int64
	err := s.write(ctx, func(w *wtx) error {
		var err error
		n, err = w.execN(`DELETE FROM sessions WHERE locked_until <= ?
AND NOT EXISTS (SELECT 1 FROM worker_queue q WHERE q.session_id = sessions.session_id)`, w.now)
		return err
	})
	return int(n), wrap(op, "", err)
}
