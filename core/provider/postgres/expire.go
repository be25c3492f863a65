package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

var _ provider.WorkItemExpirer = (*Store)(nil)

// ExpireWorkItems implements provider.WorkItemExpirer: worker items whose
// pickup deadline (set from the scheduling runtime's clock) passed by the
// database clock and that no worker ever took are removed, and an
// ActivityFailed completion is enqueued for each, in one transaction. Rows
// other stores are expiring at the same moment are skipped.
func (s *Store) ExpireWorkItems(ctx context.Context, limit int) (int, error) {
	const op = "ExpireWorkItems"
	if err := s.enter(op); err != nil {
		return 0, err
	}
	defer s.leave()
	if limit <= 0 {
		limit = 100
	}
	var instances []string
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		instances = nil
		rows, err := tx.Query(ctx, s.sql(`SELECT q.id, q.instance_id, q.work_item, __S__.epoch_ms(clock_timestamp())
FROM __S__.worker_queue q
WHERE q.expires_at IS NOT NULL AND q.expires_at <= clock_timestamp() AND q.attempt_count = 0 AND q.lock_token IS NULL
ORDER BY q.expires_at
LIMIT $1
FOR UPDATE SKIP LOCKED`), limit)
		if err != nil {
			return err
		}
		type row struct {
			id       int64
			instance string
			raw      string
			nowMs    int64
		}
		var found []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.instance, &r.raw, &r.nowMs); err != nil {
				rows.Close()
				return err
			}
			found = append(found, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var badIDs, ids []int64
		var reasons, insts, kinds, data []string
		for _, r := range found {
			item, err := decodeWorkItem(r.raw)
			if err != nil {
				badIDs, reasons = append(badIDs, r.id), append(reasons, err.Error())
				continue
			}
			waited := time.Duration(0)
			if item.ExpiresAtMs > 0 {
				waited = time.Duration(r.nowMs-item.ExpiresAtMs) * time.Millisecond
			}
			what := fmt.Sprintf("activity %q", item.Name)
			if item.Tag != "" {
				what = fmt.Sprintf("activity %q with tag %q", item.Name, item.Tag)
			}
			failure := history.WorkItem{
				Kind: history.WorkActivityFailed, Instance: item.Instance, ExecutionID: item.ExecutionID, ID: item.ID,
				Error: history.AppError(history.KindTimeout, fmt.Sprintf("%s was not picked up by any worker before its pickup deadline (expired %v ago)",
					what, max(waited, 0).Round(time.Millisecond))),
			}
			d, err := encodeOrchItem(failure)
			if err != nil {
				return err
			}
			ids = append(ids, r.id)
			insts, kinds, data = append(insts, item.Instance), append(kinds, string(failure.Kind)), append(data, d)
		}
		if len(badIDs) > 0 {
			if _, err := tx.Exec(ctx, s.sql(`SELECT __S__.dead_letter_messages($1, $2, $3)`), queueWorker, badIDs, reasons); err != nil {
				return err
			}
		}
		if len(ids) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, s.sql(`DELETE FROM __S__.worker_queue WHERE id = ANY ($1)`), ids); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, s.sql(`INSERT INTO __S__.orchestrator_queue (instance_id, kind, work_item, visible_at, attempt_count, created_at)
SELECT u.inst, u.kind, u.data, clock_timestamp(), 0, clock_timestamp()
FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(inst, kind, data, ord) ORDER BY u.ord`), insts, kinds, data); err != nil {
			return err
		}
		instances = insts
		return nil
	})
	if err != nil {
		return 0, wrap(op, "", err)
	}
	if len(instances) > 0 {
		s.announce(change{orchNow: len(instances), instances: instances})
	}
	return len(instances), nil
}
