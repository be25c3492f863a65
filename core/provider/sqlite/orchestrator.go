package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

// Queue names, as stored in dead_letters.queue.
const (
	queueOrchestrator = provider.QueueOrchestrator
	queueWorker       = provider.QueueWorker
)

func newToken() string { return rand.Text() }

// durMs converts a duration to whole milliseconds, rounding up.
func durMs(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// orchCandidate selects the instance to lock: the one owning the first
// visible message, in (visible_at, id) order, among instances that hold no
// valid lock and either exist (and pass the version filter) or have a
// visible start message queued. Messages of an instance that neither exists
// nor has a start never match, so they cannot block the queue.
func orchCandidate(now int64, filter *provider.VersionFilter) (string, []any) {
	join, cond := "", ""
	args := []any{now}
	if filter != nil {
		join = "LEFT JOIN executions e ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id"
		cond = `AND (e.pinned_major IS NULL OR (e.pinned_major, e.pinned_minor, e.pinned_patch) BETWEEN (?2, ?3, ?4) AND (?5, ?6, ?7))`
		args = append(args, filter.Min.Major, filter.Min.Minor, filter.Min.Patch, filter.Max.Major, filter.Max.Minor, filter.Max.Patch)
	}
	q := `SELECT q.instance_id FROM orchestrator_queue q
WHERE q.visible_at <= ?1
  AND NOT EXISTS (SELECT 1 FROM instance_locks l WHERE l.instance_id = q.instance_id AND l.locked_until > ?1)
  AND (EXISTS (SELECT 1 FROM instances i ` + join + ` WHERE i.instance_id = q.instance_id ` + cond + `)
       OR (NOT EXISTS (SELECT 1 FROM instances i2 WHERE i2.instance_id = q.instance_id)
           AND EXISTS (SELECT 1 FROM orchestrator_queue s WHERE s.instance_id = q.instance_id
                       AND s.visible_at <= ?1 AND s.kind IN ('StartOrchestration', 'ContinueAsNew'))))
ORDER BY q.visible_at, q.id
LIMIT 1`
	return q, args
}

// FetchOrchestrationItem implements provider.Provider. It waits up to
// pollTimeout, woken by work committed in this process, by delayed messages
// and expiring locks, and by writes of other processes. When ctx ends
// during the wait it returns ctx.Err() and holds nothing.
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
	err := s.fetch(ctx, &s.orchSig, pollTimeout,
		func(now int64) (string, []any) { return orchCandidate(now, filter) },
		func(w *wtx) (bool, error) {
			var err error
			item, err = w.fetchOrchestration(lockTimeout, filter)
			return item != nil, err
		})
	if err != nil {
		return nil, fetchErr(op, err)
	}
	return item, nil
}

// fetch is the long-poll loop of both queues. A try first peeks on a reader
// whether the candidate query finds anything (file stores), so that an
// idle fetch never takes the write lock; then take locks the candidate in
// a write request. If take finds nothing (another fetcher won), the try
// looks again, a few times, before it waits for the next wake-up.
func (s *Store) fetch(ctx context.Context, sig *signal, pollTimeout time.Duration,
	candidate func(now int64) (string, []any), take func(w *wtx) (bool, error)) error {
	return s.poll(ctx, sig, pollTimeout, func() (bool, error) {
		for spin := 0; spin < 3; spin++ {
			if !s.mem {
				found := false
				err := s.read(ctx, func(d dbq) error {
					q, args := candidate(nowMs())
					var v any
					err := d.row(q, args...).Scan(&v)
					if errors.Is(err, sql.ErrNoRows) {
						return nil
					}
					found = err == nil
					return err
				})
				if err != nil || !found {
					return false, err
				}
			}
			took := false
			err := s.writeLight(ctx, func(w *wtx) error {
				var err error
				took, err = take(w)
				return err
			})
			if err != nil || took {
				return took && err == nil, err
			}
			if s.mem {
				return false, nil
			}
		}
		return false, nil
	})
}

// fetchErr passes context errors through as they are (a cancelled poll is
// not a store failure) and wraps everything else.
func fetchErr(op string, err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return wrap(op, "", err)
}

func (w *wtx) fetchOrchestration(lockTimeout time.Duration, filter *provider.VersionFilter) (*provider.OrchestrationItem, error) {
	q, args := orchCandidate(w.now, filter)
	// Each round either returns an item or removes what made it fail
	// (undecodable rows); the bound keeps one request short.
	for round := 0; round < 16; round++ {
		var inst string
		err := w.row(q, args...).Scan(&inst)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		token := newToken()
		until := w.now + durMs(lockTimeout)
		n, err := w.execN(`INSERT INTO instance_locks(instance_id, lock_token, locked_until, locked_at)
VALUES (?1, ?2, ?3, ?4)
ON CONFLICT(instance_id) DO UPDATE SET lock_token = excluded.lock_token,
    locked_until = excluded.locked_until, locked_at = excluded.locked_at
WHERE instance_locks.locked_until <= ?4`, inst, token, until, w.now)
		if err != nil {
			return nil, fmt.Errorf("lock instance %q: %w", inst, err)
		}
		if n == 0 {
			return nil, nil // locked meanwhile; impossible under the write lock
		}
		w.fx.changed = true
		// Tagged rows hide until the lock expires (visible_at = locked_until),
		// so that locked batches cost later fetches nothing.
		if _, err := w.exec(`UPDATE orchestrator_queue SET lock_token = ?1, attempt_count = attempt_count + 1, visible_at = ?4
WHERE instance_id = ?2 AND visible_at <= ?3`, token, inst, w.now, until); err != nil {
			return nil, err
		}
		item := &provider.OrchestrationItem{Instance: inst, LockToken: token}
		if err := w.loadBatch(item); err != nil {
			return nil, err
		}
		if len(item.Messages) == 0 {
			if _, err := w.exec(`DELETE FROM instance_locks WHERE lock_token = ?`, token); err != nil {
				return nil, err
			}
			continue
		}
		var cur uint64
		err = w.row(`SELECT orchestration_name, orchestration_version, current_execution_id
FROM instances WHERE instance_id = ?`, inst).Scan(&item.OrchestrationName, &item.Version, &cur)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			var start *history.WorkItem
			for i := range item.Messages {
				if item.Messages[i].IsStart() {
					start = &item.Messages[i]
					break
				}
			}
			if start == nil {
				// The start was undecodable and is gone: give the rest back.
				if _, err := w.exec(`UPDATE orchestrator_queue SET lock_token = NULL, visible_at = ?2,
attempt_count = MAX(attempt_count - 1, 0) WHERE lock_token = ?1`, token, w.now); err != nil {
					return nil, err
				}
				if _, err := w.exec(`DELETE FROM instance_locks WHERE lock_token = ?`, token); err != nil {
					return nil, err
				}
				continue
			}
			item.OrchestrationName, item.Version, item.ExecutionID = start.Name, start.Version, 1
		case err != nil:
			return nil, err
		default:
			item.ExecutionID = cur
			events, stored, decodeErr, err := readHistory(w.dbq, inst, cur)
			if err != nil {
				return nil, err
			}
			item.History, item.StoredEvents = events, stored
			if decodeErr != nil {
				item.History = nil
				item.HistoryError = decodeErr.Error()
			}
		}
		if item.KVSnapshot, err = kvSnapshot(w.dbq, inst); err != nil {
			return nil, err
		}
		return item, nil
	}
	return nil, nil
}

// loadBatch reads the messages tagged with item.LockToken in queue order,
// dead-lettering the rows that cannot be decoded.
func (w *wtx) loadBatch(item *provider.OrchestrationItem) error {
	rows, err := w.query(`SELECT id, work_item, attempt_count FROM orchestrator_queue
WHERE lock_token = ? ORDER BY id`, item.LockToken)
	if err != nil {
		return err
	}
	type badRow struct {
		id          int64
		raw, reason string
	}
	var bad []badRow
	for rows.Next() {
		var id int64
		var raw string
		var attempts int
		if err := rows.Scan(&id, &raw, &attempts); err != nil {
			rows.Close()
			return err
		}
		wi, err := decodeWorkItem(raw)
		if err != nil {
			bad = append(bad, badRow{id, raw, err.Error()})
			continue
		}
		item.Messages = append(item.Messages, wi)
		if attempts > item.AttemptCount {
			item.AttemptCount = attempts
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, b := range bad {
		if err := w.deadLetter(queueOrchestrator, b.id, item.Instance, b.raw, b.reason); err != nil {
			return err
		}
	}
	return nil
}

// deadLetter moves queue row id to dead_letters with the reason.
func (w *wtx) deadLetter(queue string, id int64, instance, raw, reason string) error {
	table := "orchestrator_queue"
	if queue == queueWorker {
		table = "worker_queue"
	}
	if _, err := w.exec(`INSERT INTO dead_letters(queue, instance_id, work_item, reason, created_at)
VALUES (?, ?, ?, ?, ?)`, queue, instance, raw, reason, w.now); err != nil {
		return err
	}
	if _, err := w.exec(`DELETE FROM `+table+` WHERE id = ?`, id); err != nil {
		return err
	}
	w.fx.changed = true
	w.s.log.Warn("sqlite: message dead-lettered", logKeyQueue, queue, logKeyInstance, instance, logKeyReason, reason)
	return nil
}

// readHistory reads one execution's history. A row that cannot be decoded
// is reported in decodeErr (err is for database failures); stored counts
// the rows either way.
func readHistory(d dbq, instance string, executionID uint64) (events []history.Event, stored int, decodeErr, err error) {
	rows, err := d.query(`SELECT event_id, event_data FROM history
WHERE instance_id = ? AND execution_id = ? ORDER BY event_id`, instance, executionID)
	if err != nil {
		return nil, 0, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id uint64
		var raw string
		if err := rows.Scan(&id, &raw); err != nil {
			return nil, 0, nil, err
		}
		stored++
		if decodeErr != nil {
			continue
		}
		e, err := decodeEvent(raw, id)
		if err != nil {
			decodeErr = fmt.Errorf("history of instance %q execution %d: %w", instance, executionID, err)
			continue
		}
		events = append(events, e)
	}
	return events, stored, decodeErr, rows.Err()
}

func kvSnapshot(d dbq, instance string) (map[string]provider.KVEntry, error) {
	rows, err := d.query(`SELECT key, value, last_updated_at_ms FROM kv_store WHERE instance_id = ?`, instance)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := make(map[string]provider.KVEntry)
	for rows.Next() {
		var k string
		var e provider.KVEntry
		if err := rows.Scan(&k, &e.Value, &e.LastUpdatedAtMs); err != nil {
			return nil, err
		}
		m[k] = e
	}
	return m, rows.Err()
}

// eventRow is an encoded history event.
type eventRow struct {
	id   uint64
	kind string
	data string
}

// itemRow is an encoded work item.
type itemRow struct {
	item history.WorkItem
	data string
}

// kvOp is one KV change of an ack, in delta order.
type kvOp struct {
	kind  history.Kind
	key   string
	value string
	ts    int64
}

// ack is an AckOrchestrationItem call, validated and encoded before it
// reaches the writer so the writer only runs SQL.
type ack struct {
	token        string
	executionID  uint64
	events       []eventRow
	workerItems  []itemRow
	orchItems    []itemRow
	md           provider.ExecutionMetadata
	pinned       *provider.Semver
	customStatus *history.Event // the last CustomStatusUpdated, if any
	kv           []kvOp
	cancelled    []provider.ActivityRef
}

func prepareAck(token string, executionID uint64, delta []history.Event, workerItems, orchItems []history.WorkItem,
	md provider.ExecutionMetadata, cancelled []provider.ActivityRef) (*ack, error) {
	a := &ack{token: token, executionID: executionID, md: md, cancelled: cancelled}
	if token == "" {
		return nil, lockLost("empty lock token")
	}
	if executionID == 0 {
		return nil, badInput("execution id 0")
	}
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
		a.pinned = &v
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
		a.events = append(a.events, eventRow{id: e.EventID, kind: string(e.Kind), data: data})
		switch e.Kind {
		case history.CustomStatusUpdated:
			a.customStatus = e
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
			a.kv = append(a.kv, kvOp{kind: e.Kind, key: e.Key, value: e.Value, ts: ts})
		}
	}
	for _, it := range workerItems {
		r, err := encodeWorkerItem(it)
		if err != nil {
			return nil, err
		}
		a.workerItems = append(a.workerItems, r)
	}
	for _, it := range orchItems {
		r, err := encodeOrchItem(it)
		if err != nil {
			return nil, err
		}
		a.orchItems = append(a.orchItems, r)
	}
	return a, nil
}

func encodeWorkerItem(it history.WorkItem) (itemRow, error) {
	if it.Kind != history.WorkActivityExecute {
		return itemRow{}, badInput("worker item of kind %q (want %s)", it.Kind, history.WorkActivityExecute)
	}
	if it.Instance == "" {
		return itemRow{}, badInput("worker item for activity %d has no instance", it.ID)
	}
	data, err := encodeJSON(it)
	if err != nil {
		return itemRow{}, badInput("encode worker item: %v", err)
	}
	return itemRow{item: it, data: data}, nil
}

func encodeOrchItem(it history.WorkItem) (itemRow, error) {
	if it.Instance == "" {
		return itemRow{}, badInput("%s item has no instance", it.Kind)
	}
	if !it.Kind.Known() || it.IsWorkerItem() {
		return itemRow{}, badInput("%q is not an orchestrator work item kind", it.Kind)
	}
	data, err := encodeJSON(it)
	if err != nil {
		return itemRow{}, badInput("encode %s item: %v", it.Kind, err)
	}
	return itemRow{item: it, data: data}, nil
}

// AckOrchestrationItem implements provider.Provider.
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
	err = s.write(ctx, func(w *wtx) error {
		var err error
		inst, err = w.ackOrchestration(a)
		return err
	})
	if err != nil && inst != "" {
		return wrap(op, fmt.Sprintf("instance %q", inst), err)
	}
	return wrap(op, "", err)
}

func (w *wtx) ackOrchestration(a *ack) (string, error) {
	var inst string
	var until int64
	err := w.row(`SELECT instance_id, locked_until FROM instance_locks WHERE lock_token = ?`, a.token).Scan(&inst, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return "", lockLost("lock token is unknown or was released")
	}
	if err != nil {
		return "", err
	}
	if until <= w.now {
		return inst, lockLost("instance lock expired")
	}
	if _, err := w.exec(`DELETE FROM orchestrator_queue WHERE lock_token = ? AND instance_id = ?`, a.token, inst); err != nil {
		return inst, err
	}

	md := a.md
	exists := false
	if md.OrchestrationName != "" {
		if _, err := w.exec(`INSERT INTO instances(instance_id, orchestration_name, orchestration_version,
    current_execution_id, parent_instance_id, created_at, updated_at)
VALUES (?1, ?2, ?3, ?4, NULLIF(?5, ''), ?6, ?6)
ON CONFLICT(instance_id) DO UPDATE SET orchestration_name = excluded.orchestration_name,
    orchestration_version = excluded.orchestration_version`,
			inst, md.OrchestrationName, md.OrchestrationVersion, a.executionID, md.ParentInstance, w.now); err != nil {
			return inst, err
		}
		exists = true
	} else if err := w.row(`SELECT EXISTS (SELECT 1 FROM instances WHERE instance_id = ?)`, inst).Scan(&exists); err != nil {
		return inst, err
	}
	if !exists {
		if len(a.events) > 0 || md.Status != "" || a.pinned != nil {
			return inst, badInput("instance %q does not exist and the metadata names no orchestration to create it", inst)
		}
	} else if err := w.applyTurn(inst, a); err != nil {
		return inst, err
	}

	for _, r := range a.workerItems {
		if err := w.insertWorkerItem(r); err != nil {
			return inst, err
		}
	}
	// After the inserts, so that an activity scheduled and cancelled in the
	// same turn leaves no row.
	for _, c := range a.cancelled {
		n, err := w.execN(`DELETE FROM worker_queue WHERE instance_id = ? AND execution_id = ? AND activity_id = ?`,
			c.Instance, c.ExecutionID, c.ActivityID)
		if err != nil {
			return inst, err
		}
		if n > 0 {
			w.fx.changed = true
		}
	}
	for _, r := range a.orchItems {
		vis := w.now
		if r.item.Kind == history.WorkTimerFired {
			vis = r.item.FireAtMs
		}
		if err := w.insertOrchItem(r, vis); err != nil {
			return inst, err
		}
	}

	// The lock must still be held at commit time.
	if err := w.row(`SELECT locked_until FROM instance_locks WHERE lock_token = ?`, a.token).Scan(&until); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return inst, lockLost("instance lock was released during the ack")
		}
		return inst, err
	}
	if until <= nowMs() {
		return inst, lockLost("instance lock expired")
	}
	if _, err := w.exec(`DELETE FROM instance_locks WHERE lock_token = ?`, a.token); err != nil {
		return inst, err
	}
	w.fx.changed = true
	w.fx.notify(inst)
	var pending bool
	if err := w.row(`SELECT EXISTS (SELECT 1 FROM orchestrator_queue WHERE instance_id = ? AND visible_at <= ?)`,
		inst, w.now).Scan(&pending); err != nil {
		return inst, err
	}
	if pending {
		w.fx.wakeOrch = true
	}
	return inst, nil
}

// applyTurn writes an existing instance's part of an ack: execution row,
// history, status, custom status and KV.
func (w *wtx) applyTurn(inst string, a *ack) error {
	md := a.md
	if _, err := w.exec(`INSERT INTO executions(instance_id, execution_id, status, started_at)
VALUES (?, ?, 'Running', ?) ON CONFLICT DO NOTHING`, inst, a.executionID, w.now); err != nil {
		return err
	}
	if a.pinned != nil {
		if _, err := w.exec(`UPDATE executions SET pinned_major = ?, pinned_minor = ?, pinned_patch = ?
WHERE instance_id = ? AND execution_id = ?`, a.pinned.Major, a.pinned.Minor, a.pinned.Patch, inst, a.executionID); err != nil {
			return err
		}
	}
	if _, err := w.exec(`UPDATE instances SET current_execution_id = MAX(current_execution_id, ?), updated_at = ?
WHERE instance_id = ?`, a.executionID, w.now, inst); err != nil {
		return err
	}
	for _, e := range a.events {
		if _, err := w.exec(`INSERT INTO history(instance_id, execution_id, event_id, event_type, event_data, created_at)
VALUES (?, ?, ?, ?, ?, ?)`, inst, a.executionID, e.id, e.kind, e.data, w.now); err != nil {
			return fmt.Errorf("append event %d to execution %d: %w", e.id, a.executionID, err)
		}
	}
	if md.Status != "" {
		var completed any
		if md.Status != provider.StatusRunning {
			completed = w.now
		}
		if _, err := w.exec(`UPDATE executions SET status = ?, output = ?, completed_at = ?
WHERE instance_id = ? AND execution_id = ?`, md.Status, md.Output, completed, inst, a.executionID); err != nil {
			return err
		}
	}
	if cs := a.customStatus; cs != nil {
		var v any
		if cs.CustomStatus != nil {
			v = *cs.CustomStatus
		}
		if _, err := w.exec(`UPDATE instances SET custom_status = ?, custom_status_version = custom_status_version + 1
WHERE instance_id = ?`, v, inst); err != nil {
			return err
		}
	}
	for _, op := range a.kv {
		ts := op.ts
		if ts == 0 {
			ts = w.now
		}
		var err error
		switch op.kind {
		case history.KeyValueSet:
			_, err = w.exec(`INSERT INTO kv_delta(instance_id, key, value, last_updated_at_ms) VALUES (?, ?, ?, ?)
ON CONFLICT(instance_id, key) DO UPDATE SET value = excluded.value, last_updated_at_ms = excluded.last_updated_at_ms`,
				inst, op.key, op.value, ts)
		case history.KeyValueCleared:
			_, err = w.exec(`INSERT INTO kv_delta(instance_id, key, value, last_updated_at_ms) VALUES (?, ?, NULL, ?)
ON CONFLICT(instance_id, key) DO UPDATE SET value = NULL, last_updated_at_ms = excluded.last_updated_at_ms`,
				inst, op.key, ts)
		case history.KeyValuesCleared:
			if _, err = w.exec(`UPDATE kv_delta SET value = NULL, last_updated_at_ms = ? WHERE instance_id = ?`, ts, inst); err == nil {
				_, err = w.exec(`INSERT INTO kv_delta(instance_id, key, value, last_updated_at_ms)
SELECT instance_id, key, NULL, ?1 FROM kv_store WHERE instance_id = ?2
ON CONFLICT(instance_id, key) DO UPDATE SET value = NULL, last_updated_at_ms = excluded.last_updated_at_ms`, ts, inst)
			}
		}
		if err != nil {
			return fmt.Errorf("apply %s %q: %w", op.kind, op.key, err)
		}
	}
	switch md.Status {
	case provider.StatusCompleted, provider.StatusFailed, provider.StatusContinuedAsNew:
		// An execution boundary: the delta becomes the snapshot.
		if _, err := w.exec(`DELETE FROM kv_store WHERE instance_id = ?1
AND key IN (SELECT key FROM kv_delta WHERE instance_id = ?1 AND value IS NULL)`, inst); err != nil {
			return err
		}
		if _, err := w.exec(`INSERT INTO kv_store(instance_id, key, value, last_updated_at_ms)
SELECT instance_id, key, value, last_updated_at_ms FROM kv_delta WHERE instance_id = ?1 AND value IS NOT NULL
ON CONFLICT(instance_id, key) DO UPDATE SET value = excluded.value, last_updated_at_ms = excluded.last_updated_at_ms`, inst); err != nil {
			return err
		}
		if _, err := w.exec(`DELETE FROM kv_delta WHERE instance_id = ?`, inst); err != nil {
			return err
		}
	}
	return nil
}

func (w *wtx) insertWorkerItem(r itemRow) error {
	it := r.item
	if _, err := w.exec(`INSERT INTO worker_queue(instance_id, execution_id, activity_id, session_id, tag, work_item,
    visible_at, attempt_count, created_at, expires_at)
VALUES (?1, ?2, ?3, NULLIF(?4, ''), NULLIF(?5, ''), ?6, ?7, 0, ?7, NULLIF(?8, 0))`,
		it.Instance, it.ExecutionID, it.ID, it.SessionID, it.Tag, r.data, w.now, it.ExpiresAtMs); err != nil {
		return fmt.Errorf("enqueue activity %d of instance %q: %w", it.ID, it.Instance, err)
	}
	w.fx.wakeWork = true
	return nil
}

func (w *wtx) insertOrchItem(r itemRow, visibleAt int64) error {
	it := r.item
	if _, err := w.exec(`INSERT INTO orchestrator_queue(instance_id, kind, work_item, visible_at, attempt_count, created_at)
VALUES (?, ?, ?, ?, 0, ?)`, it.Instance, string(it.Kind), r.data, visibleAt, w.now); err != nil {
		return fmt.Errorf("enqueue %s for instance %q: %w", it.Kind, it.Instance, err)
	}
	w.fx.changed = true
	if visibleAt <= w.now {
		w.fx.wakeOrch = true
	}
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
	err := s.write(ctx, func(w *wtx) error {
		var until int64
		err := w.row(`SELECT instance_id, locked_until FROM instance_locks WHERE lock_token = ?`, lockToken).Scan(&inst, &until)
		if errors.Is(err, sql.ErrNoRows) {
			return lockLost("lock token is unknown or was released")
		}
		if err != nil {
			return err
		}
		if until <= w.now {
			return lockLost("instance lock expired")
		}
		if _, err := w.exec(`UPDATE orchestrator_queue SET lock_token = NULL, visible_at = ?1,
    attempt_count = CASE WHEN ?2 THEN MAX(attempt_count - 1, 0) ELSE attempt_count END
WHERE lock_token = ?3`, w.now+durMs(delay), ignoreAttempt, lockToken); err != nil {
			return err
		}
		if _, err := w.exec(`DELETE FROM instance_locks WHERE lock_token = ?`, lockToken); err != nil {
			return err
		}
		w.fx.changed = true
		w.fx.wakeOrch = delay <= 0
		return nil
	})
	return wrap(op, instanceWhat(inst), err)
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
	err := s.writeLight(ctx, func(w *wtx) error {
		until := w.now + durMs(extendFor)
		n, err := w.execN(`UPDATE instance_locks SET locked_until = ? WHERE lock_token = ? AND locked_until > ?`,
			until, lockToken, w.now)
		if err != nil {
			return err
		}
		if n == 0 {
			return lockLost("instance lock is unknown, released or expired")
		}
		if _, err := w.exec(`UPDATE orchestrator_queue SET visible_at = ? WHERE lock_token = ?`, until, lockToken); err != nil {
			return err
		}
		w.fx.changed = true
		return nil
	})
	return wrap(op, "", err)
}

// EnqueueForOrchestrator implements provider.Provider.
func (s *Store) EnqueueForOrchestrator(ctx context.Context, item history.WorkItem, delay time.Duration) error {
	const op = "EnqueueForOrchestrator"
	if err := s.enter(op); err != nil {
		return err
	}
	defer s.leave()
	r, err := encodeOrchItem(item)
	if err != nil {
		return wrap(op, instanceWhat(item.Instance), err)
	}
	err = s.write(ctx, func(w *wtx) error {
		if err := w.insertOrchItem(r, w.now+durMs(delay)); err != nil {
			return err
		}
		w.fx.notify(item.Instance)
		return nil
	})
	return wrap(op, instanceWhat(item.Instance), err)
}

func instanceWhat(inst string) string {
	if inst == "" {
		return ""
	}
	return fmt.Sprintf("instance %q", inst)
}
