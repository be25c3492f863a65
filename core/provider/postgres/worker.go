package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

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
	data, err := encodeWorkerItem(item)
	if err != nil {
		return wrap(op, instanceWhat(item.Instance), err)
	}
	err = s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, s.sql(`INSERT INTO __S__.worker_queue (instance_id, execution_id, activity_id, session_id, tag,
    work_item, visible_at, attempt_count, created_at, expires_at)
VALUES ($1, $2, $3, NULLIF($4, ''), NULLIF($5, ''), $6, clock_timestamp(), 0, clock_timestamp(),
    CASE WHEN $7::bigint > 0 THEN to_timestamp($7::bigint / 1000.0) END)`),
			item.Instance, int64(item.ExecutionID), int64(item.ID), item.SessionID, item.Tag, data, item.ExpiresAtMs)
		return err
	})
	if err != nil {
		return wrap(op, instanceWhat(item.Instance), err)
	}
	s.announce(workChange(item.Tag, item.SessionID != "", 0))
	return nil
}

// workChange is the change of one worker item becoming visible after delay.
func workChange(tag string, session bool, delay time.Duration) change {
	switch {
	case delay > 0:
		return change{workAt: []time.Time{time.Now().Add(delay)}}
	case tag == "" && !session:
		return change{workNow: 1}
	default:
		return change{workSpecial: true}
	}
}

// tagMode maps a tag filter to the fetch function's p_mode.
func tagMode(f provider.TagFilter) int32 {
	switch f.Mode {
	case provider.TagOnly:
		return 1
	case provider.TagDefaultAnd:
		return 2
	case provider.TagAny:
		return 3
	}
	return 0
}

// FetchWorkItem implements provider.Provider: one call of the
// fetch_work_item function. A session config without a LockTimeout claims
// sessions for lockTimeout. TagNone, and TagOnly without tags, return at
// once without touching the database. When ctx ends it returns ctx.Err()
// and holds nothing.
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
	var tagList []string
	for _, t := range tags.Tags {
		if t != "" {
			tagList = append(tagList, t)
		}
	}
	switch {
	case tags.Mode == provider.TagNone:
		return nil, nil
	case tags.Mode == provider.TagOnly && len(tagList) == 0:
		return nil, nil // no tag to serve
	}
	var owner *string
	var sessionMs int64
	if session != nil {
		if session.OwnerID == "" {
			return nil, wrap(op, "", badInput("session config without owner id"))
		}
		o := session.OwnerID
		owner = &o
		sessionMs = durMs(session.LockTimeout)
		if session.LockTimeout <= 0 {
			sessionMs = durMs(lockTimeout)
		}
	}
	hasSession := session != nil
	match := func(tag string, sess bool) bool { return tags.Matches(tag) && (!sess || hasSession) }

	var lease *provider.WorkItemLease
	err := s.poll(ctx, &s.workQ, match, pollTimeout, func() (bool, taken, error) {
		var tk taken
		var err error
		lease, tk, err = s.fetchWork(ctx, lockTimeout, owner, sessionMs, tagMode(tags), tagList)
		return lease != nil, tk, err
	})
	if err != nil {
		return nil, fetchErr(op, err)
	}
	if lease != nil && ctx.Err() != nil {
		// The caller left while the fetch ran: give the item back.
		s.releaseWork(lease.LockToken)
		return nil, ctx.Err()
	}
	return lease, nil
}

func (s *Store) fetchWork(ctx context.Context, lockTimeout time.Duration, owner *string, sessionMs int64, mode int32, tags []string) (*provider.WorkItemLease, taken, error) {
	ctx = context.WithoutCancel(ctx)
	for round := 0; round < 8; round++ {
		token := newToken()
		var (
			id       int64
			inst     string
			sess     *string
			raw      string
			attempts int32
			more     bool
			found    bool
		)
		s.fetchCalls.Add(1)
		err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
			rows, err := c.Query(ctx, s.sql(`SELECT id, instance_id, session_id, work_item, attempt_count, more
FROM __S__.fetch_work_item($1, $2, $3, $4, $5, $6)`), token, durMs(lockTimeout), owner, sessionMs, mode, tags)
			if err != nil {
				return err
			}
			defer rows.Close()
			if rows.Next() {
				found = true
				if err := rows.Scan(&id, &inst, &sess, &raw, &attempts, &more); err != nil {
					return err
				}
			}
			return rows.Err()
		})
		if err != nil || !found {
			return nil, taken{}, err
		}
		locked := time.Now()
		item, err := decodeWorkItem(raw)
		if err != nil {
			if err := s.deadLetter(ctx, queueWorker, inst, []int64{id}, []string{err.Error()}); err != nil {
				return nil, taken{}, err
			}
			continue
		}
		s.hintLock(queueWork, token, locked.Add(lockTimeout))
		if sess != nil {
			// Another owner may be waiting for this session to expire.
			s.plan.add(planEvent{at: locked.Add(time.Duration(sessionMs) * time.Millisecond), queue: queueWork, key: "session:" + *sess})
		}
		lease := &provider.WorkItemLease{Item: item, LockToken: token, AttemptCount: int(attempts)}
		return lease, taken{more: more, tag: item.Tag, session: sess != nil}, nil
	}
	return nil, taken{}, nil
}

// releaseWork gives a fetched item back (best effort).
func (s *Store) releaseWork(token string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.abandonWork(ctx, token, 0, true); err != nil {
		s.log.Warn("postgres: giving back a fetched work item failed; its lock will expire", logKeyError, err)
	}
}

// AckWorkItem implements provider.Provider.
func (s *Store) AckWorkItem(ctx context.Context, lockToken string, completion *history.WorkItem) error {
	const op = "AckWorkItem"
	if err := s.enter(op); err != nil {
		return err
	}
	defer s.leave()
	var cInst, cKind, cData string
	if completion != nil {
		data, err := encodeOrchItem(*completion)
		if err != nil {
			return wrap(op, instanceWhat(completion.Instance), err)
		}
		cInst, cKind, cData = completion.Instance, string(completion.Kind), data
	}
	var inst string
	var nowMs int64
	err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		return c.QueryRow(ctx, s.sql(`SELECT instance_id, now_ms FROM __S__.ack_work_item($1, $2, $3, $4)`),
			lockToken, cInst, cKind, cData).Scan(&inst, &nowMs)
	})
	if err != nil {
		return wrap(op, "", err)
	}
	s.plan.cancel(lockToken)
	if completion != nil {
		s.announce(change{orchNow: 1})
	}
	return nil
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
	var inst *string
	err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		return c.QueryRow(ctx, s.sql(`SELECT __S__.renew_work_item_lock($1, $2)`), lockToken, durMs(extendFor)).Scan(&inst)
	})
	if err == nil && inst == nil {
		err = lockLost("work item is gone or its lock expired")
	}
	if err != nil {
		return wrap(op, "", err)
	}
	s.hintLock(queueWork, lockToken, time.Now().Add(extendFor))
	return nil
}

// AbandonWorkItem implements provider.Provider. The token must still be on
// the row; an expired lock nobody took over may still be abandoned.
func (s *Store) AbandonWorkItem(ctx context.Context, lockToken string, delay time.Duration, ignoreAttempt bool) error {
	const op = "AbandonWorkItem"
	if err := s.enter(op); err != nil {
		return err
	}
	defer s.leave()
	inst, err := s.abandonWork(ctx, lockToken, delay, ignoreAttempt)
	return wrap(op, instanceWhat(inst), err)
}

func (s *Store) abandonWork(ctx context.Context, lockToken string, delay time.Duration, ignoreAttempt bool) (string, error) {
	var inst, tag string
	var session bool
	err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		return c.QueryRow(ctx, s.sql(`UPDATE __S__.worker_queue q
SET lock_token = NULL, locked_until = NULL, visible_at = clock_timestamp() + __S__.ms($2),
    attempt_count = CASE WHEN $3 THEN GREATEST(q.attempt_count - 1, 0) ELSE q.attempt_count END
WHERE q.lock_token = $1
RETURNING q.instance_id, COALESCE(q.tag, ''), q.session_id IS NOT NULL`), lockToken, durMs(delay), ignoreAttempt).
			Scan(&inst, &tag, &session)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return "", lockLost("work item is gone or was taken by another worker")
	}
	if err != nil {
		return "", err
	}
	s.plan.cancel(lockToken)
	s.announce(workChange(tag, session, delay))
	return inst, nil
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
	var n int64
	err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		tag, err := c.Exec(ctx, s.sql(`UPDATE __S__.sessions x
SET locked_until = GREATEST(x.locked_until, clock_timestamp() + __S__.ms($2))
WHERE x.worker_id = ANY ($1) AND x.locked_until > clock_timestamp()
  AND ($3::bigint <= 0 OR x.last_activity_at > clock_timestamp() - __S__.ms($3::bigint))`), owners, durMs(extendFor), durMs(idleTimeout))
		n = tag.RowsAffected()
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
	err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		tag, err := c.Exec(ctx, s.sql(`DELETE FROM __S__.sessions x WHERE x.locked_until <= clock_timestamp()
AND NOT EXISTS (SELECT 1 FROM __S__.worker_queue q WHERE q.session_id = x.session_id)`))
		n = tag.RowsAffected()
		return err
	})
	return int(n), wrap(op, "", err)
}
