package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

// Queue names, as stored in dead_letters.queue.
const (
	queueOrchestrator = provider.QueueOrchestrator
	queueWorker       = provider.QueueWorker
)

// FetchOrchestrationItem implements provider.Provider: one call of the
// fetch_orchestration_item function locks an instance, tags its batch and
// returns it with the history and the KV snapshot. It waits up to
// pollTimeout, woken by notifications of new work (this store's and, by
// LISTEN, other stores'), by delayed messages and by expiring locks. When
// ctx ends it returns ctx.Err() and holds nothing.
func (s *Store) FetchOrchestrationItem(ctx context.Context, lockTimeout, pollTimeout time.Duration, filter *provider.VersionFilter) (*provider.OrchestrationItem, error) {
	const op = "FetchOrchestrationItem"
	if err := s.enter(op); err != nil {
		return nil, err
	}
	defer s.leave()
	if lockTimeout <= 0 {
		return nil, wrap(op, "", badInput("lock timeout %v must be positive", lockTimeout))
	}
	var item *provider.OrchestrationItem
	err := s.poll(ctx, &s.orchQ, nil, pollTimeout, func() (bool, taken, error) {
		var more bool
		var err error
		item, more, err = s.fetchOrchestration(ctx, lockTimeout, filter)
		return item != nil, taken{more: more}, err
	})
	if err != nil {
		return nil, fetchErr(op, err)
	}
	if item != nil && ctx.Err() != nil {
		// The caller left while the fetch ran: give the batch back.
		s.releaseOrchestration(item.LockToken)
		return nil, ctx.Err()
	}
	return item, nil
}

// fetchErr passes context errors through as they are (a cancelled poll is
// not a store failure) and wraps everything else.
func fetchErr(op string, err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return wrap(op, "", err)
}

// fetchOrchestration runs the fetch function. The database call does not
// follow ctx's cancellation (a lock taken by a call cut short would be held
// until it expires); the caller checks ctx afterwards.
func (s *Store) fetchOrchestration(ctx context.Context, lockTimeout time.Duration, filter *provider.VersionFilter) (*provider.OrchestrationItem, bool, error) {
	ctx = context.WithoutCancel(ctx)
	useFilter := filter != nil
	var lo, hi provider.Semver
	if filter != nil {
		lo, hi = filter.Min, filter.Max
	}
	// Each round either returns an item or removes what made it fail
	// (undecodable rows); the bound keeps one call short.
	for round := 0; round < 8; round++ {
		token := newToken()
		var (
			inst, name, version   *string
			isNew, more           bool
			execID                *int64
			msgIDs, histIDs, kvTS []int64
			msgData, histData     []string
			kvKeys, kvVals        []string
			attempts              *int32
			found                 bool
		)
		s.fetchCalls.Add(1)
		err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
			rows, err := c.Query(ctx, s.sql(`SELECT instance_id, is_new, orchestration_name, orchestration_version, execution_id,
    msg_ids, msg_data, attempt_count, hist_ids, hist_data, kv_keys, kv_values, kv_ts, more
FROM __S__.fetch_orchestration_item($1, $2, $3, $4, $5, $6, $7, $8, $9)`),
				token, durMs(lockTimeout), useFilter, lo.Major, lo.Minor, lo.Patch, hi.Major, hi.Minor, hi.Patch)
			if err != nil {
				return err
			}
			defer rows.Close()
			if rows.Next() {
				found = true
				if err := rows.Scan(&inst, &isNew, &name, &version, &execID, &msgIDs, &msgData, &attempts,
					&histIDs, &histData, &kvKeys, &kvVals, &kvTS, &more); err != nil {
					return err
				}
			}
			return rows.Err()
		})
		if err != nil || !found {
			return nil, false, err
		}
		locked := time.Now()
		item := &provider.OrchestrationItem{Instance: *inst, LockToken: token}
		if attempts != nil {
			item.AttemptCount = int(*attempts)
		}
		var badIDs []int64
		var reasons []string
		for i, raw := range msgData {
			wi, err := decodeWorkItem(raw)
			if err != nil {
				badIDs = append(badIDs, msgIDs[i])
				reasons = append(reasons, err.Error())
				continue
			}
			item.Messages = append(item.Messages, wi)
		}
		if len(badIDs) > 0 {
			if err := s.deadLetter(ctx, queueOrchestrator, *inst, badIDs, reasons); err != nil {
				s.releaseOrchestration(token)
				return nil, false, err
			}
		}
		if len(item.Messages) == 0 {
			s.releaseOrchestration(token)
			continue
		}
		if isNew {
			var start *history.WorkItem
			for i := range item.Messages {
				if item.Messages[i].IsStart() {
					start = &item.Messages[i]
					break
				}
			}
			if start == nil {
				// The start was undecodable and is gone: give the rest back.
				s.releaseOrchestration(token)
				continue
			}
			item.OrchestrationName, item.Version, item.ExecutionID = start.Name, start.Version, 1
		} else {
			item.OrchestrationName, item.Version = deref(name), deref(version)
			item.ExecutionID = uint64(*execID)
			item.StoredEvents = len(histIDs)
			events, err := decodeHistory(*inst, item.ExecutionID, histIDs, histData)
			if err != nil {
				item.HistoryError = err.Error()
			} else {
				item.History = events
			}
		}
		item.KVSnapshot = make(map[string]provider.KVEntry, len(kvKeys))
		for i, k := range kvKeys {
			item.KVSnapshot[k] = provider.KVEntry{Value: kvVals[i], LastUpdatedAtMs: kvTS[i]}
		}
		s.hintLock(queueOrch, token, locked.Add(lockTimeout))
		return item, more, nil
	}
	return nil, false, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// releaseOrchestration gives a fetched batch back (best effort: if it
// fails, the lock expires).
func (s *Store) releaseOrchestration(token string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, s.sql(`SELECT __S__.release_orchestration_item($1)`), token)
		return err
	})
	s.plan.cancel(token)
	if err != nil {
		s.log.Warn("postgres: giving back a fetched batch failed; its lock will expire", logKeyError, err)
		return
	}
	s.announce(change{orchNow: 1})
}

// deadLetter moves undecodable queue rows to dead_letters.
func (s *Store) deadLetter(ctx context.Context, queue, instance string, ids []int64, reasons []string) error {
	err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, s.sql(`SELECT __S__.dead_letter_messages($1, $2, $3)`), queue, ids, reasons)
		return err
	})
	if err == nil {
		for _, r := range reasons {
			s.log.Warn("postgres: message dead-lettered", logKeyQueue, queue, logKeyInstance, instance, logKeyReason, r)
		}
	}
	return err
}

// ack is an AckOrchestrationItem call, validated and encoded as the
// arguments of the ack function.
type ack struct {
	token       string
	executionID uint64

	evIDs   []int64
	evKinds []string
	evData  []string

	wInst, wSession, wTag, wData []string
	wExec, wAct, wExpires        []int64

	oInst, oKind, oData []string
	oFire               []int64

	md     provider.ExecutionMetadata
	pinned []int32

	csSet bool
	cs    *string

	kvKind, kvKey []string
	kvValue       []*string
	kvTS          []int64

	cInst       []string
	cExec, cAct []int64

	// For the wake-ups after the commit.
	workPlain   int
	workSpecial bool
}

func prepareAck(token string, executionID uint64, delta []history.Event, workerItems, orchItems []history.WorkItem,
	md provider.ExecutionMetadata, cancelled []provider.ActivityRef) (*ack, error) {
	if token == "" {
		return nil, lockLost("empty lock token")
	}
	if executionID == 0 {
		return nil, badInput("execution id 0")
	}
	a := &ack{token: token, executionID: executionID, md: md}
	switch md.Status {
	case "", provider.StatusRunning, provider.StatusCompleted, provider.StatusFailed, provider.StatusContinuedAsNew:
	default:
		return nil, badInput("unknown execution status %q", md.Status)
	}
	if md.PinnedVersion != "" {
		v, err := provider.ParseSemver(md.PinnedVersion)
		if err != nil {
			return nil, badInput("pinned version: %v", err)
		}
		a.pinned = []int32{int32(v.Major), int32(v.Minor), int32(v.Patch)}
	}
	for i := range delta {
		e := &delta[i]
		if e.EventID == 0 {
			return nil, badInput("event %d (%s) has event id 0", i, e.Kind)
		}
		if e.Kind == "" {
			return nil, badInput("event %d has no kind", e.EventID)
		}
		data, err := encodeJSON(e)
		if err != nil {
			return nil, badInput("encode event %d: %v", e.EventID, err)
		}
		a.evIDs = append(a.evIDs, int64(e.EventID))
		a.evKinds = append(a.evKinds, string(e.Kind))
		a.evData = append(a.evData, data)
		switch e.Kind {
		case history.CustomStatusUpdated:
			a.csSet, a.cs = true, e.CustomStatus
		case history.KeyValueSet, history.KeyValueCleared:
			if e.Key == "" {
				return nil, badInput("event %d (%s) has no key", e.EventID, e.Kind)
			}
			fallthrough
		case history.KeyValuesCleared:
			ts := e.LastUpdatedAtMs
			if ts == 0 {
				ts = e.TimestampMs
			}
			var v *string
			if e.Kind == history.KeyValueSet {
				val := e.Value
				v = &val
			}
			a.kvKind = append(a.kvKind, string(e.Kind))
			a.kvKey = append(a.kvKey, e.Key)
			a.kvValue = append(a.kvValue, v)
			a.kvTS = append(a.kvTS, ts)
		}
	}
	for _, it := range workerItems {
		data, err := encodeWorkerItem(it)
		if err != nil {
			return nil, err
		}
		a.wInst = append(a.wInst, it.Instance)
		a.wExec = append(a.wExec, int64(it.ExecutionID))
		a.wAct = append(a.wAct, int64(it.ID))
		a.wSession = append(a.wSession, it.SessionID)
		a.wTag = append(a.wTag, it.Tag)
		a.wData = append(a.wData, data)
		a.wExpires = append(a.wExpires, it.ExpiresAtMs)
		if it.SessionID == "" && it.Tag == "" {
			a.workPlain++
		} else {
			a.workSpecial = true
		}
	}
	for _, it := range orchItems {
		data, err := encodeOrchItem(it)
		if err != nil {
			return nil, err
		}
		fire := int64(0)
		if it.Kind == history.WorkTimerFired {
			fire = it.FireAtMs
		}
		a.oInst = append(a.oInst, it.Instance)
		a.oKind = append(a.oKind, string(it.Kind))
		a.oData = append(a.oData, data)
		a.oFire = append(a.oFire, fire)
	}
	for _, c := range cancelled {
		a.cInst = append(a.cInst, c.Instance)
		a.cExec = append(a.cExec, int64(c.ExecutionID))
		a.cAct = append(a.cAct, int64(c.ActivityID))
	}
	return a, nil
}

func encodeWorkerItem(it history.WorkItem) (string, error) {
	if it.Kind != history.WorkActivityExecute {
		return "", badInput("worker item of kind %q (want %s)", it.Kind, history.WorkActivityExecute)
	}
	if it.Instance == "" {
		return "", badInput("worker item for activity %d has no instance", it.ID)
	}
	data, err := encodeJSON(it)
	if err != nil {
		return "", badInput("encode worker item: %v", err)
	}
	return data, nil
}

func encodeOrchItem(it history.WorkItem) (string, error) {
	if it.Instance == "" {
		return "", badInput("%s item has no instance", it.Kind)
	}
	if !it.Kind.Known() || it.IsWorkerItem() {
		return "", badInput("%q is not an orchestrator work item kind", it.Kind)
	}
	data, err := encodeJSON(it)
	if err != nil {
		return "", badInput("encode %s item: %v", it.Kind, err)
	}
	return data, nil
}

// AckOrchestrationItem implements provider.Provider: one call of the
// ack_orchestration_item function, which checks the lock, applies the turn
// and releases the lock in one transaction.
func (s *Store) AckOrchestrationItem(ctx context.Context, lockToken string, executionID uint64, historyDelta []history.Event,
	workerItems, orchestratorItems []history.WorkItem, metadata provider.ExecutionMetadata, cancelledActivities []provider.ActivityRef) error {
	const op = "AckOrchestrationItem"
	if err := s.enter(op); err != nil {
		return err
	}
	defer s.leave()
	a, err := prepareAck(lockToken, executionID, historyDelta, workerItems, orchestratorItems, metadata, cancelledActivities)
	if err != nil {
		return wrap(op, "", err)
	}
	var inst string
	var nowMs int64
	var pending bool
	err = s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		md := a.md
		return c.QueryRow(ctx, s.sql(`SELECT instance_id, now_ms, pending FROM __S__.ack_orchestration_item(
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
    $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31)`),
			a.token, int64(a.executionID), a.evIDs, a.evKinds, a.evData,
			a.wInst, a.wExec, a.wAct, a.wSession, a.wTag, a.wData, a.wExpires,
			a.oInst, a.oKind, a.oData, a.oFire,
			md.Status, md.Output, md.OrchestrationName, md.OrchestrationVersion, md.ParentInstance, a.pinned,
			a.csSet, a.cs,
			a.kvKind, a.kvKey, a.kvValue, a.kvTS,
			a.cInst, a.cExec, a.cAct).Scan(&inst, &nowMs, &pending)
	})
	if err != nil {
		return wrap(op, "", err)
	}
	s.plan.cancel(lockToken)
	now := time.Now()
	ch := change{workNow: a.workPlain, workSpecial: a.workSpecial, instances: []string{inst}}
	for _, fire := range a.oFire {
		if fire > nowMs {
			ch.orchAt = append(ch.orchAt, now.Add(time.Duration(fire-nowMs)*time.Millisecond))
		} else {
			ch.orchNow++
		}
	}
	if pending {
		ch.orchNow++
	}
	s.announce(ch)
	return nil
}

// AbandonOrchestrationItem implements provider.Provider.
func (s *Store) AbandonOrchestrationItem(ctx context.Context, lockToken string, delay time.Duration, ignoreAttempt bool) error {
	const op = "AbandonOrchestrationItem"
	if err := s.enter(op); err != nil {
		return err
	}
	defer s.leave()
	var inst string
	err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		return c.QueryRow(ctx, s.sql(`SELECT __S__.abandon_orchestration_item($1, $2, $3)`),
			lockToken, durMs(delay), ignoreAttempt).Scan(&inst)
	})
	if err != nil {
		return wrap(op, "", err)
	}
	s.plan.cancel(lockToken)
	if delay <= 0 {
		s.announce(change{orchNow: 1})
	} else {
		s.announce(change{orchAt: []time.Time{time.Now().Add(delay)}})
	}
	return nil
}

// RenewOrchestrationItemLock implements provider.Provider.
func (s *Store) RenewOrchestrationItemLock(ctx context.Context, lockToken string, extendFor time.Duration) error {
	const op = "RenewOrchestrationItemLock"
	if err := s.enter(op); err != nil {
		return err
	}
	defer s.leave()
	if extendFor <= 0 {
		return wrap(op, "", badInput("extension %v must be positive", extendFor))
	}
	var ok bool
	err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		return c.QueryRow(ctx, s.sql(`SELECT __S__.renew_orchestration_item_lock($1, $2)`), lockToken, durMs(extendFor)).Scan(&ok)
	})
	if err == nil && !ok {
		err = lockLost("instance lock is unknown, released or expired")
	}
	if err != nil {
		return wrap(op, "", err)
	}
	s.hintLock(queueOrch, lockToken, time.Now().Add(extendFor))
	return nil
}

// EnqueueForOrchestrator implements provider.Provider: visible after delay
// (TimerFired items too: their FireAtMs applies only in acks).
func (s *Store) EnqueueForOrchestrator(ctx context.Context, item history.WorkItem, delay time.Duration) error {
	const op = "EnqueueForOrchestrator"
	if err := s.enter(op); err != nil {
		return err
	}
	defer s.leave()
	data, err := encodeOrchItem(item)
	if err != nil {
		return wrap(op, instanceWhat(item.Instance), err)
	}
	err = s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, s.sql(`INSERT INTO __S__.orchestrator_queue (instance_id, kind, work_item, visible_at, attempt_count, created_at)
VALUES ($1, $2, $3, clock_timestamp() + __S__.ms($4), 0, clock_timestamp())`), item.Instance, string(item.Kind), data, durMs(delay))
		return err
	})
	if err != nil {
		return wrap(op, instanceWhat(item.Instance), err)
	}
	ch := change{instances: []string{item.Instance}}
	if delay <= 0 {
		ch.orchNow = 1
	} else {
		ch.orchAt = []time.Time{time.Now().Add(delay)}
	}
	s.announce(ch)
	return nil
}
