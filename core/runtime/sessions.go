package runtime

import (
	"context"
	"sync"
	"time"

	"github.com/duroxide/duroxide/core/provider"
)

// sessionTracker counts the distinct sessions this runtime has activities
// running for, to enforce MaxSessionsPerRuntime.
type sessionTracker struct {
	mu     sync.Mutex
	active map[string]int
	max    int
}

func newSessionTracker(max int) *sessionTracker {
	return &sessionTracker{active: map[string]int{}, max: max}
}

// full reports whether no new session may start here.
func (s *sessionTracker) full() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.active) >= s.max
}

// acquire records an activity of session id; it reports false when that
// would exceed the cap (a race between slots after the fetch).
func (s *sessionTracker) acquire(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.active[id]; !ok && len(s.active) >= s.max {
		return false
	}
	s.active[id]++
	return true
}

func (s *sessionTracker) release(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active[id] <= 1 {
		delete(s.active, id)
		return
	}
	s.active[id]--
}

// sessionOwners lists the owner ids this runtime's worker slots use.
func (r *Runtime) sessionOwners() []string {
	if r.opts.WorkerNodeID != "" {
		return []string{r.opts.WorkerNodeID}
	}
	owners := make([]string, 0, r.opts.WorkerConcurrency)
	for i := 0; i < r.opts.WorkerConcurrency; i++ {
		owners = append(owners, workerID(i, r.id))
	}
	return owners
}

// sessionManager heartbeats the sessions this runtime holds and deletes
// orphaned ones, when the store supports sessions.
func (r *Runtime) sessionManager(sr provider.SessionRenewer) {
	defer r.loops.Done()
	renew := time.NewTicker(renewInterval(r.opts.SessionLockTimeout))
	defer renew.Stop()
	cleanup := time.NewTicker(r.opts.SessionCleanupInterval)
	defer cleanup.Stop()
	owners := r.sessionOwners()
	for {
		select {
		case <-r.fetchCtx.Done():
			return
		case <-renew.C:
			ctx, cancel := context.WithTimeout(r.workCtx, r.opts.SessionLockTimeout)
			if _, err := sr.RenewSessionLock(ctx, owners, r.opts.SessionLockTimeout, r.opts.SessionIdleTimeout); err != nil {
				r.m.providerErrors.Add(1)
				r.log.Warn("session heartbeat failed", LogError, err)
			}
			cancel()
		case <-cleanup.C:
			ctx, cancel := context.WithTimeout(r.workCtx, r.opts.SessionCleanupInterval)
			if n, err := sr.CleanupOrphanedSessions(ctx, r.opts.SessionIdleTimeout); err != nil {
				r.log.Warn("session cleanup failed", LogError, err)
			} else if n > 0 {
				r.log.Debug("orphaned sessions removed", "count", n)
			}
			cancel()
		}
	}
}

// tagSweeper fails activities whose pickup deadline passed unclaimed.
func (r *Runtime) tagSweeper(ex provider.WorkItemExpirer) {
	defer r.loops.Done()
	t := time.NewTicker(r.opts.TagSweepInterval)
	defer t.Stop()
	for {
		select {
		case <-r.fetchCtx.Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(r.workCtx, 10*time.Second)
			n, err := ex.ExpireWorkItems(ctx, 100)
			cancel()
			if err != nil {
				r.m.providerErrors.Add(1)
				r.log.Warn("expiring unclaimed activities failed", LogError, err)
			} else if n > 0 {
				r.log.Info("activities expired: no worker picked them up in time", "count", n)
			}
		}
	}
}
