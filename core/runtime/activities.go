package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

func (r *Runtime) workerLoop(idx int) {
	defer r.loops.Done()
	workerID := workerID(idx, r.id)
	owner := workerID
	if r.opts.WorkerNodeID != "" {
		owner = r.opts.WorkerNodeID
	}
	session := &provider.SessionConfig{OwnerID: owner, LockTimeout: r.opts.SessionLockTimeout}
	failures := 0
	for r.fetchCtx.Err() == nil {
		cfg, poll := session, r.opts.PollTimeout
		if r.sessions.full() {
			// At the session cap: only session-less work, and look again
			// soon, when a session place may have freed up.
			cfg, poll = nil, min(poll, 100*time.Millisecond)
		}
		lease, err := r.p.FetchWorkItem(r.fetchCtx, r.opts.WorkerLockTimeout, poll, cfg, r.opts.WorkerTagFilter)
		if err != nil {
			if r.fetchCtx.Err() != nil {
				return
			}
			failures++
			r.m.providerErrors.Add(1)
			r.log.Warn("fetch work item failed", LogError, err, LogWorker, workerID)
			if !r.sleep(fetchBackoff(err, failures)) {
				return
			}
			continue
		}
		failures = 0
		if lease == nil {
			continue
		}
		if sid := lease.Item.SessionID; sid != "" {
			if !r.sessions.acquire(sid) {
				// Another slot took the last session place meanwhile.
				_ = r.p.AbandonWorkItem(r.workCtx, lease.LockToken, 100*time.Millisecond, true)
				continue
			}
			r.runActivity(workerID, lease)
			r.sessions.release(sid)
			continue
		}
		r.runActivity(workerID, lease)
	}
}

// runActivity executes one work item and acks its outcome.
func (r *Runtime) runActivity(workerID string, lease *provider.WorkItemLease) {
	item := lease.Item
	log := r.log.With(LogInstance, item.Instance, LogExecution, item.ExecutionID, LogActivity, item.Name, LogActivityID, item.ID, LogWorker, workerID)
	ctx := r.workCtx

	if item.Kind != history.WorkActivityExecute {
		log.Error("worker queue holds a non-activity item; dropping it", "kind", item.Kind)
		r.ackWork(ctx, log, lease, nil)
		return
	}
	if lease.AttemptCount > r.opts.MaxAttempts {
		r.m.poison.Add(1)
		d := history.Poison(history.KindPoisonActivity, fmt.Sprintf("activity %s#%d of %q", item.Name, item.ID, item.Instance),
			lease.AttemptCount, r.opts.MaxAttempts, "the activity was delivered too many times without completing")
		log.Error("poison activity; failing it", LogAttempt, lease.AttemptCount)
		r.ackWork(ctx, log, lease, failedItem(item, d))
		return
	}
	fn, ok := r.reg.Activity(item.Name)
	if !ok {
		if lease.AttemptCount >= r.opts.MaxAttempts {
			d := history.AppError(history.KindUnregistered, fmt.Sprintf("activity %q is not registered on any runtime (tried %d times)", item.Name, lease.AttemptCount))
			log.Error("activity not registered; failing it", LogAttempt, lease.AttemptCount)
			r.m.actFailed.Add(1)
			r.ackWork(ctx, log, lease, failedItem(item, d))
			return
		}
		delay := r.opts.unregisteredDelay(lease.AttemptCount)
		log.Warn("activity not registered here; handing it back", LogAttempt, lease.AttemptCount, LogDelay, delay)
		r.m.abandoned.Add(1)
		if err := r.p.AbandonWorkItem(ctx, lease.LockToken, delay, false); err != nil {
			log.Warn("abandon work item failed", LogError, err)
		}
		return
	}

	actCtx, cancel := context.WithCancel(r.workCtx)
	defer cancel()
	ref := provider.ActivityRef{Instance: item.Instance, ExecutionID: item.ExecutionID, ActivityID: item.ID}
	r.runningMu.Lock()
	r.running[ref] = cancel
	if _, gone := r.withdrawn[ref]; gone {
		cancel() // its orchestration withdrew it while it was being fetched
	}
	r.runningMu.Unlock()
	defer func() {
		r.runningMu.Lock()
		delete(r.running, ref)
		delete(r.withdrawn, ref)
		r.runningMu.Unlock()
	}()
	lost := make(chan error, 1)
	stopRenew := make(chan struct{})
	go r.renewLoop(stopRenew, renewInterval(r.opts.WorkerLockTimeout),
		func(c context.Context) error {
			return r.p.RenewWorkItemLock(c, lease.LockToken, r.opts.WorkerLockTimeout)
		},
		func(err error) {
			lost <- err
			cancel()
		})

	info := activity.Info{
		InstanceID: item.Instance, ExecutionID: item.ExecutionID, OrchestrationName: item.OrchestrationName,
		OrchestrationVersion: item.OrchestrationVersion, ActivityName: item.Name, ActivityID: item.ID,
		Attempt: lease.AttemptCount, SessionID: item.SessionID, Tag: item.Tag, WorkerID: workerID,
	}
	actx := activity.NewContext(actCtx, info, r.client, r.log)

	type outcome struct {
		out string
		err error
	}
	done := make(chan outcome, 1)
	r.activities.Add(1)
	go func() {
		defer r.activities.Done()
		var o outcome
		defer func() {
			if p := recover(); p != nil {
				o = outcome{err: &panicError{value: p, stack: debug.Stack()}}
			}
			done <- o
		}()
		o.out, o.err = fn(actx, item.Input)
	}()

	var o outcome
	select {
	case o = <-done:
	case <-actCtx.Done():
		// Cancelled: give the activity its grace period to wind down.
		t := time.NewTimer(r.opts.ActivityCancellationGrace)
		select {
		case o = <-done:
		case <-t.C:
			log.Warn("cancelled activity did not stop within the grace period; its result will be discarded")
		}
		t.Stop()
		close(stopRenew)
		r.m.actCancelled.Add(1)
		select {
		case err := <-lost:
			log.Debug("activity cancelled: its work item is gone", LogError, err)
		default:
			if r.fetchCtx.Err() == nil {
				// Withdrawn by its orchestration in this process.
				log.Debug("activity cancelled by its orchestration")
				return
			}
			// Runtime shutdown: hand the item back for another runtime.
			abCtx, abCancel := context.WithTimeout(context.Background(), time.Second)
			_ = r.p.AbandonWorkItem(abCtx, lease.LockToken, 0, true)
			abCancel()
		}
		return
	}
	close(stopRenew)
	select {
	case err := <-lost:
		r.m.actCancelled.Add(1)
		log.Debug("activity finished after its work item was withdrawn; result discarded", LogError, err)
		return
	default:
	}
	var completion *history.WorkItem
	if o.err != nil {
		r.m.actFailed.Add(1)
		completion = failedItem(item, activityErrorDetails(o.err))
		var pe *panicError
		if errors.As(o.err, &pe) {
			log.Error("activity panicked", LogError, pe.Error(), "stack", string(pe.stack))
		}
	} else if err := r.opts.Limits.CheckPayload(fmt.Sprintf("result of activity %q", item.Name), o.out); err != nil {
		r.m.actFailed.Add(1)
		completion = failedItem(item, history.AppError(history.KindLimitExceeded, err.Error()))
	} else {
		r.m.actOK.Add(1)
		completion = &history.WorkItem{Kind: history.WorkActivityCompleted, Instance: item.Instance, ExecutionID: item.ExecutionID, ID: item.ID, Result: o.out}
	}
	r.ackWork(ctx, log, lease, completion)
}

// cancelLocal cancels activities of this process that a committed turn
// withdrew.
func (r *Runtime) cancelLocal(refs []provider.ActivityRef) {
	if len(refs) == 0 {
		return
	}
	now := time.Now()
	r.runningMu.Lock()
	defer r.runningMu.Unlock()
	if len(r.withdrawn) > 1000 {
		for ref, at := range r.withdrawn {
			if now.Sub(at) > time.Minute {
				delete(r.withdrawn, ref)
			}
		}
	}
	for _, ref := range refs {
		r.withdrawn[ref] = now
		if cancel, ok := r.running[ref]; ok {
			cancel()
		}
	}
}

func failedItem(item history.WorkItem, d *history.ErrorDetails) *history.WorkItem {
	return &history.WorkItem{Kind: history.WorkActivityFailed, Instance: item.Instance, ExecutionID: item.ExecutionID, ID: item.ID, Error: d}
}

// panicError is a recovered activity panic.
type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string { return fmt.Sprintf("activity panicked: %v", p.value) }

func activityErrorDetails(err error) *history.ErrorDetails {
	var pe *panicError
	if errors.As(err, &pe) {
		return &history.ErrorDetails{Category: history.CategoryApplication, Kind: history.KindPanicked, Message: pe.Error()}
	}
	var d *history.ErrorDetails
	if errors.As(err, &d) && d.Category != "" {
		cp := *d
		if cp.Category != history.CategoryApplication {
			// Activities report application failures only.
			cp.Category, cp.Kind = history.CategoryApplication, history.KindActivityFailed
		}
		return &cp
	}
	return &history.ErrorDetails{Category: history.CategoryApplication, Kind: history.KindActivityFailed, Message: err.Error(), Type: fmt.Sprintf("%T", err)}
}

// ackWork acks a work item, retrying transient errors.
func (r *Runtime) ackWork(ctx context.Context, log *slog.Logger, lease *provider.WorkItemLease, completion *history.WorkItem) {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = r.p.AckWorkItem(ctx, lease.LockToken, completion)
		if err == nil {
			return
		}
		if !provider.IsRetryable(err) {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond << attempt):
		}
	}
	if errors.Is(err, provider.ErrLockLost) {
		r.m.ackConflicts.Add(1)
		log.Debug("activity result discarded: its work item was withdrawn or its lock expired", LogError, err)
		return
	}
	r.m.providerErrors.Add(1)
	log.Warn("ack of activity result failed; it will run again", LogError, err)
	_ = r.p.AbandonWorkItem(ctx, lease.LockToken, 100*time.Millisecond, false)
}
