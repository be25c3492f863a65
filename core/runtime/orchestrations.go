package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
	"github.com/duroxide/duroxide/core/replay"
)

func (r *Runtime) orchestrationLoop(idx int) {
	defer r.loops.Done()
	failures := 0
	for r.fetchCtx.Err() == nil {
		item, err := r.p.FetchOrchestrationItem(r.fetchCtx, r.opts.OrchestratorLockTimeout, r.opts.PollTimeout, r.filter)
		if err != nil {
			if r.fetchCtx.Err() != nil {
				return
			}
			failures++
			r.m.providerErrors.Add(1)
			r.log.Warn("fetch orchestration item failed", LogError, err, LogWorker, fmt.Sprintf("orch-%d-%s", idx, r.id))
			if !r.sleep(fetchBackoff(err, failures)) {
				return
			}
			continue
		}
		failures = 0
		if item == nil {
			continue
		}
		r.processItem(item)
	}
}

// processItem runs one turn for a locked batch and commits it.
func (r *Runtime) processItem(item *provider.OrchestrationItem) {
	r.activeTurns.Add(1)
	defer r.activeTurns.Add(-1)
	ctx := r.workCtx
	log := r.log.With(LogInstance, item.Instance, LogExecution, item.ExecutionID)

	// Keep the instance lock while the turn runs.
	stopRenew := make(chan struct{})
	lostCh := make(chan error, 1)
	go r.renewLoop(stopRenew, renewInterval(r.opts.OrchestratorLockTimeout),
		func(c context.Context) error {
			return r.p.RenewOrchestrationItemLock(c, item.LockToken, r.opts.OrchestratorLockTimeout)
		},
		func(err error) { lostCh <- err })
	defer close(stopRenew)

	env := runtimeEnv{r: r}
	in := &replay.Input{
		Instance:      item.Instance,
		ExecutionID:   item.ExecutionID,
		History:       item.History,
		Messages:      item.Messages,
		EngineVersion: r.opts.EngineVersion,
		Limits:        r.opts.Limits,
	}
	if len(item.KVSnapshot) > 0 {
		in.KVSnapshot = make(map[string]string, len(item.KVSnapshot))
		for k, v := range item.KVSnapshot {
			in.KVSnapshot[k] = v.Value
		}
	}

	if item.HistoryError != "" {
		if item.AttemptCount > r.opts.MaxAttempts {
			d := history.Poison(history.KindPoisonHistory, fmt.Sprintf("orchestration %q execution %d", item.Instance, item.ExecutionID),
				item.AttemptCount, r.opts.MaxAttempts, "history could not be read: "+item.HistoryError)
			r.m.poison.Add(1)
			log.Error("history cannot be decoded; failing the instance", LogError, item.HistoryError)
			r.commit(ctx, log, item, replay.FailCorrupt(item.Instance, item.ExecutionID, item.StoredEvents, d, env.Now()), nil)
			return
		}
		log.Warn("history cannot be decoded; retrying later", LogError, item.HistoryError, LogAttempt, item.AttemptCount)
		r.abandon(ctx, log, item, time.Second, false)
		return
	}

	if item.AttemptCount > r.opts.MaxAttempts {
		msgs, _ := json.Marshal(item.Messages)
		d := history.Poison(history.KindPoisonOrchestration, fmt.Sprintf("orchestration %q execution %d", item.Instance, item.ExecutionID),
			item.AttemptCount, r.opts.MaxAttempts, "the batch was delivered too many times: "+history.Shorten(string(msgs), 400))
		r.m.poison.Add(1)
		log.Error("poison message; failing the instance", LogAttempt, item.AttemptCount)
		r.commit(ctx, log, item, replay.Fail(in, d, env), nil)
		return
	}

	src := &turnSource{r: r, log: log}
	res, err := replay.Run(ctx, in, src, env)
	r.m.turns.Add(1)
	if err != nil {
		r.m.providerErrors.Add(1)
		log.Warn("turn could not run; retrying later", LogError, err)
		r.abandon(ctx, log, item, 200*time.Millisecond, false)
		return
	}
	if res.Status == replay.StatusUnregistered {
		if item.AttemptCount >= r.opts.MaxAttempts {
			what := fmt.Sprintf("orchestration %q", res.Name)
			if res.Version != "" {
				what = fmt.Sprintf("orchestration %q version %s", res.Name, res.Version)
			}
			d := history.AppError(history.KindUnregistered, fmt.Sprintf("%s is not registered on any runtime (tried %d times)", what, item.AttemptCount))
			log.Error("orchestration not registered; failing the instance", LogOrch, res.Name, LogAttempt, item.AttemptCount)
			r.commit(ctx, log, item, replay.Fail(in, d, env), nil)
			return
		}
		delay := r.opts.unregisteredDelay(item.AttemptCount)
		log.Warn("orchestration not registered here; retrying later", LogOrch, res.Name, "version", res.Version, LogAttempt, item.AttemptCount, LogDelay, delay)
		r.abandon(ctx, log, item, delay, false)
		return
	}
	if res.Warm {
		r.m.warmTurns.Add(1)
	}
	r.m.replayedJobs.Add(int64(res.Replayed))
	for _, d := range res.Dropped {
		log.Debug("message dropped", LogDroppedItem, d)
	}
	var lockLost error
	select {
	case lockLost = <-lostCh:
	default:
	}
	if lockLost != nil {
		if res.Driver != nil {
			res.Driver.Close()
		}
		log.Warn("instance lock lost during the turn; another runtime will redo it", LogError, lockLost)
		r.m.ackConflicts.Add(1)
		return
	}
	r.commit(ctx, log, item, res, in)
}

// commit acks a turn's result, retrying transient store errors, and keeps
// the driver warm when the execution goes on.
func (r *Runtime) commit(ctx context.Context, log *slog.Logger, item *provider.OrchestrationItem, res *replay.Result, in *replay.Input) {
	err := r.ack(ctx, item, res)
	if err != nil {
		if res.Driver != nil {
			res.Driver.Close()
		}
		if errors.Is(err, provider.ErrLockLost) {
			r.m.ackConflicts.Add(1)
			log.Warn("ack refused: the instance lock was lost; the turn will run again", LogError, err)
			return
		}
		r.m.providerErrors.Add(1)
		log.Error("ack failed", LogError, err)
		if in != nil && !provider.IsRetryable(err) && res.Status != replay.StatusNoOp {
			// The turn's result cannot be stored: fail the instance with
			// the store's error instead of retrying it forever.
			env := runtimeEnv{r: r}
			d := history.Infrastructure("ack_orchestration_item", err.Error(), false)
			if err2 := r.ack(ctx, item, replay.Fail(in, d, env)); err2 == nil {
				r.m.failed.Add(1)
				return
			}
		}
		r.abandon(ctx, log, item, 50*time.Millisecond, false)
		return
	}
	r.cancelLocal(res.CancelledActivities)
	switch res.Status {
	case replay.StatusCompleted:
		r.m.completed.Add(1)
	case replay.StatusFailed:
		r.m.failed.Add(1)
		log.Warn("orchestration failed", LogOrch, res.Name, LogError, res.Error.DisplayMessage())
	case replay.StatusContinuedAsNew:
		r.m.continuedAsNew.Add(1)
	}
	if len(res.Delta) > 0 && res.Delta[0].Kind == history.OrchestrationStarted {
		r.m.started.Add(1)
	}
	if res.Driver != nil {
		if res.Status == replay.StatusContinue && r.opts.InstanceCacheSize > 0 {
			r.cache.put(&cacheEntry{instance: item.Instance, name: res.Name, version: res.Version, fingerprint: res.Fingerprint, drv: res.Driver})
		} else {
			res.Driver.Close()
		}
	}
}

// ack commits a result, retrying retryable store errors a few times.
func (r *Runtime) ack(ctx context.Context, item *provider.OrchestrationItem, res *replay.Result) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = r.p.AckOrchestrationItem(ctx, item.LockToken, res.ExecutionID, res.Delta, res.WorkerItems, res.OrchestratorItems, res.Metadata, res.CancelledActivities)
		if err == nil || !provider.IsRetryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(10 * time.Millisecond << attempt):
		}
	}
	return err
}

func (r *Runtime) abandon(ctx context.Context, log *slog.Logger, item *provider.OrchestrationItem, delay time.Duration, ignoreAttempt bool) {
	r.m.abandoned.Add(1)
	if err := r.p.AbandonOrchestrationItem(ctx, item.LockToken, delay, ignoreAttempt); err != nil {
		log.Warn("abandon failed; the lock will expire", LogError, err)
	}
}

// turnSource gives the engine drivers, warm from the cache when possible.
type turnSource struct {
	r   *Runtime
	log *slog.Logger
}

func (s *turnSource) ResolveVersion(name, requested string) (string, error) {
	return s.r.reg.ResolveVersion(name, requested)
}

func (s *turnSource) Driver(req replay.DriverRequest) (replay.Driver, bool, error) {
	if e := s.r.cache.take(req.Instance); e != nil {
		if e.fingerprint == req.Fingerprint && e.name == req.Name && e.version == req.Version {
			return e.drv, true, nil
		}
		e.drv.Close()
	}
	h, err := s.r.reg.Handler(req.Name, req.Version)
	if err != nil {
		return nil, false, err
	}
	drv, err := h.NewDriver(s.r.log)
	if err != nil {
		return nil, false, fmt.Errorf("create driver for %q %s: %w", req.Name, req.Version, err)
	}
	return drv, false, nil
}

// runtimeEnv gives the engine the clock, GUIDs and KV reads.
type runtimeEnv struct{ r *Runtime }

func (e runtimeEnv) Now() time.Time  { return time.Now() }
func (e runtimeEnv) NewGUID() string { return newGUID() }
func (e runtimeEnv) ReadKV(ctx context.Context, instance, key string) (string, bool, error) {
	return e.r.p.GetKVValue(ctx, instance, key)
}
