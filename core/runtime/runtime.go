// Package runtime executes orchestrations and activities against a store.
//
// A Runtime runs two kinds of dispatcher loops: orchestration dispatchers
// fetch a locked batch of messages for one instance, run one turn through
// the replay engine, and commit it with one atomic ack; worker dispatchers
// fetch activity work items, run the activity, and ack its result. Durable
// timers are orchestrator messages with delayed visibility. Any number of
// runtimes (in any number of processes) may share one store.
//
// Start returns a running Runtime; Stop drains in-flight work within its
// context's deadline, then cancels what remains.
package runtime

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/provider"
)

// Log attribute keys used by the runtime.
const (
	LogInstance    = "instance_id"
	LogExecution   = "execution_id"
	LogOrch        = "orchestration"
	LogActivity    = "activity"
	LogActivityID  = "activity_id"
	LogWorker      = "worker_id"
	LogAttempt     = "attempt"
	LogError       = "error"
	LogStatus      = "status"
	LogHistoryLen  = "history_events"
	LogDelay       = "delay"
	LogReplayed    = "replayed_jobs"
	LogWarm        = "warm"
	LogDroppedItem = "dropped"
)

// Runtime runs orchestrations and activities.
type Runtime struct {
	p      provider.Provider
	reg    *Registry
	opts   Options
	log    *slog.Logger
	client *client.Client
	id     string
	cache  *driverCache
	m      counters
	filter *provider.VersionFilter

	fetchCtx    context.Context // cancelled when Stop begins: no new work
	stopFetch   context.CancelFunc
	workCtx     context.Context // cancelled when Stop's deadline passes
	cancelWork  context.CancelFunc
	loops       sync.WaitGroup
	activities  sync.WaitGroup
	stopOnce    sync.Once
	stopped     atomic.Bool
	activeTurns atomic.Int64

	// running maps activities executing in this process to their cancel
	// functions, so a turn that withdraws one cancels it at once instead of
	// at its next lock renewal.
	runningMu sync.Mutex
	running   map[provider.ActivityRef]context.CancelFunc
	// withdrawn remembers recently withdrawn activities, for one fetched by
	// a worker slot just before its turn withdrew it but not yet running.
	withdrawn map[provider.ActivityRef]time.Time
	sessions  *sessionTracker
}

// Start starts a runtime on store p serving the registry's orchestrations
// and activities. It returns once the dispatchers run.
func Start(ctx context.Context, p provider.Provider, reg *Registry, opts *Options) (*Runtime, error) {
	if p == nil {
		return nil, errors.New("runtime: nil store")
	}
	if reg == nil {
		return nil, errors.New("runtime: nil registry")
	}
	o := opts.withDefaults()
	if o.WorkerTagFilter.Mode == provider.TagOnly || o.WorkerTagFilter.Mode == provider.TagDefaultAnd {
		if n := len(o.WorkerTagFilter.Tags); n < 1 || n > provider.MaxWorkerTags {
			return nil, fmt.Errorf("runtime: worker tag filter needs 1 to %d tags, got %d", provider.MaxWorkerTags, n)
		}
	}
	r := &Runtime{
		p:         p,
		reg:       reg,
		opts:      o,
		log:       o.Logger,
		client:    client.New(p, &client.Options{Limits: o.Limits}),
		id:        newRuntimeID(),
		cache:     newDriverCache(o.InstanceCacheSize),
		running:   map[provider.ActivityRef]context.CancelFunc{},
		withdrawn: map[provider.ActivityRef]time.Time{},
		sessions:  newSessionTracker(o.MaxSessionsPerRuntime),
	}
	if o.SessionIdleTimeout <= renewInterval(o.WorkerLockTimeout) {
		return nil, fmt.Errorf("runtime: SessionIdleTimeout (%v) must exceed the worker lock renewal interval (%v)", o.SessionIdleTimeout, renewInterval(o.WorkerLockTimeout))
	}
	if err := o.WorkerTagFilter.Validate(); err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	cur, err := provider.ParseSemver(o.EngineVersion)
	if err != nil {
		return nil, fmt.Errorf("runtime: engine version: %w", err)
	}
	r.opts.EngineVersion = cur.String()
	if o.SupportedVersions != nil {
		f := *o.SupportedVersions
		r.filter = &f
	} else {
		r.filter = &provider.VersionFilter{Max: cur}
	}
	r.fetchCtx, r.stopFetch = context.WithCancel(context.Background())
	r.workCtx, r.cancelWork = context.WithCancel(context.Background())
	for i := 0; i < o.OrchestrationConcurrency; i++ {
		r.loops.Add(1)
		go r.orchestrationLoop(i)
	}
	for i := 0; i < o.WorkerConcurrency; i++ {
		r.loops.Add(1)
		go r.workerLoop(i)
	}
	if sr, ok := p.(provider.SessionRenewer); ok && o.WorkerConcurrency > 0 {
		r.loops.Add(1)
		go r.sessionManager(sr)
	}
	if ex, ok := p.(provider.WorkItemExpirer); ok {
		r.loops.Add(1)
		go r.tagSweeper(ex)
	}
	r.log.Info("duroxide runtime started", "runtime_id", r.id, "store", p.Name(), "engine_version", r.opts.EngineVersion,
		"orchestration_concurrency", o.OrchestrationConcurrency, "worker_concurrency", o.WorkerConcurrency)
	return r, nil
}

// Client returns a client on the runtime's store.
func (r *Runtime) Client() *client.Client { return r.client }

// Registry returns the runtime's registry.
func (r *Runtime) Registry() *Registry { return r.reg }

// Metrics returns the runtime's counters.
func (r *Runtime) Metrics() Metrics { return r.m.snapshot() }

// CachedInstances returns how many drivers the instance cache holds.
func (r *Runtime) CachedInstances() int { return r.cache.len() }

// Stop stops fetching new work, waits for in-flight turns and activities
// until ctx is done, then cancels what is left (cancelled activities see
// their context cancelled; their work items are delivered again later) and
// waits briefly for it to unwind. It returns ctx's error when the drain did
// not finish in time. Stop is idempotent.
func (r *Runtime) Stop(ctx context.Context) error {
	var err error
	r.stopOnce.Do(func() {
		r.stopped.Store(true)
		r.stopFetch()
		done := make(chan struct{})
		go func() {
			r.loops.Wait()
			r.activities.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			err = ctx.Err()
			r.cancelWork()
			select {
			case <-done:
			case <-time.After(2 * time.Second):
				r.log.Warn("runtime stop: some activities ignored cancellation and are still running")
			}
		}
		r.cancelWork()
		r.cache.closeAll()
		r.log.Info("duroxide runtime stopped", "runtime_id", r.id)
	})
	return err
}

// sleep waits d unless the runtime stops fetching first.
func (r *Runtime) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.fetchCtx.Done():
		return false
	}
}

// fetchBackoff is the wait after a failed fetch.
func fetchBackoff(err error, failures int) time.Duration {
	if !provider.IsRetryable(err) {
		return 100 * time.Millisecond
	}
	d := 100 * time.Millisecond << min(failures, 5)
	return min(d, 3*time.Second)
}

func workerID(idx int, runtimeID string) string { return fmt.Sprintf("work-%d-%s", idx, runtimeID) }

func newRuntimeID() string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%02x%02x", b[0], b[1])
}

// newGUID returns a random (version 4) UUID.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// renewLoop renews a lock every interval until stop is closed; it calls
// lost when a renewal reports the lock is gone.
func (r *Runtime) renewLoop(stop <-chan struct{}, interval time.Duration, renew func(context.Context) error, lost func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(r.workCtx, interval)
			err := renew(ctx)
			cancel()
			if err == nil {
				continue
			}
			if errors.Is(err, provider.ErrLockLost) {
				lost(err)
				return
			}
			r.m.providerErrors.Add(1)
			r.log.Warn("lock renewal failed", LogError, err)
		}
	}
}
