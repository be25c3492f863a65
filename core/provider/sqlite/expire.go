package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/duroxide/duroxide/core/history"
)

// ExpireWorkItems implements provider.WorkItemExpirer: worker items whose
// pickup deadline passed and that no worker ever took are removed, and an
// ActivityFailed completion is enqueued for each, in one transaction.
func (s *Store) ExpireWorkItems(ctx context.Context, limit int) (int, error) {
	const op = "ExpireWorkItems"
	if err := s.enter(op); err != nil {
		return 0, err
	}
	defer s.leave()
	if limit <= 0 {
		limit = 100
	}
	expired := 0
	err := s.write(ctx, func(w *wtx) error {
		rows, err := w.query(`SELECT id, instance_id, work_item FROM worker_queue
WHERE expires_at IS NOT NULL AND expires_at <= ? AND attempt_count = 0 AND lock_token IS NULL
ORDER BY expires_at LIMIT ?`, w.now, limit)
		if err != nil {
			return err
		}
		type row struct {
			id       int64
			instance string
			raw      string
		}
		var found []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.instance, &r.raw); err != nil {
				rows.Close()
				return err
			}
			found = append(found, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range found {
			item, err := decodeWorkItem(r.raw)
			if err != nil {
				if err := w.deadLetter(queueWorker, r.id, r.instance, r.raw, err.Error()); err != nil {
					return err
				}
				continue
			}
			waited := time.Duration(0)
			if item.ExpiresAtMs > 0 {
				waited = time.Duration(w.now-item.ExpiresAtMs) * time.Millisecond
			}
			what := fmt.Sprintf("activity %q", item.Name)
			if item.Tag != "" {
				what = fmt.Sprintf("activity %q with tag %q", item.Name, item.Tag)
			}
			failure := history.WorkItem{
				Kind: history.WorkActivityFailed, Instance: item.Instance, ExecutionID: item.ExecutionID, ID: item.ID,
				Error: history.AppError(history.KindTimeout, fmt.Sprintf("%s was not picked up by any worker before its pickup deadline (expired %v ago)", what, waited.Round(time.Millisecond))),
			}
			ir, err := encodeOrchItem(failure)
			if err != nil {
				return err
			}
			if _, err := w.exec(`DELETE FROM worker_queue WHERE id = ?`, r.id); err != nil {
				return err
			}
			if err := w.insertOrchItem(ir, w.now); err != nil {
				return err
			}
			w.fx.notify(item.Instance)
			expired++
		}
		return nil
	})
	if err != nil {
		return 0, wrap(op, "", err)
	}
	return expired, nil
}
