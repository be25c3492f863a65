package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/duroxide/duroxide/core/provider"
)

// signal is a broadcast: waiters take the current channel, broadcast closes
// it. The channel is made only when someone waits, so a broadcast nobody
// listens to costs a mutex.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

func (g *signal) wait() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ch == nil {
		g.ch = make(chan struct{})
	}
	return g.ch
}

func (g *signal) broadcast() {
	g.mu.Lock()
	if g.ch != nil {
		close(g.ch)
		g.ch = nil
	}
	g.mu.Unlock()
}

// WatchInstance implements provider.Notifier: the channel is closed at the
// next committed ack of the instance, at the next EnqueueForOrchestrator for
// it, when it is deleted, or when the store closes.
func (s *Store) WatchInstance(instance string) (<-chan struct{}, func()) {
	return s.watchers.Watch(instance)
}

// poll runs try until it finds something, the poll timeout passes, the
// context ends or the store closes. Between tries it sleeps on the queue's
// signal, which a commit in this process or the watcher broadcasts.
func (s *Store) poll(ctx context.Context, sig *signal, pollTimeout time.Duration, try func() (bool, error)) error {
	var deadline <-chan time.Time
	for {
		ch := sig.wait()
		found, err := try()
		if found || err != nil {
			return err
		}
		if deadline == nil {
			if pollTimeout <= 0 {
				return nil
			}
			t := time.NewTimer(pollTimeout)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-ch:
		case <-deadline:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closing:
			return provider.ErrClosed
		}
	}
}

// plan is when the queues next change state on their own.
type plan struct {
	orchAt, workAt   int64 // next visible_at / lock or session expiry; 0 = none
	orchNow, workNow bool  // visible work exists now
}

// watch is the store's background goroutine. It wakes waiting fetchers
// when delayed work becomes visible or a lock or session expires, notices
// writes by other processes (PRAGMA data_version) and dead-letters
// messages for instances that never started.
func (s *Store) watch() {
	defer close(s.watchDone)
	var (
		p         plan
		lastPlan  time.Time
		needPlan  = true
		dv        int64
		dvKnown   bool
		nextSweep = time.Now().Add(s.sweepInterval())
		timer     = time.NewTimer(0)
	)
	defer timer.Stop()
	const minReplan = 10 * time.Millisecond
	for {
		select {
		case <-s.stopWatch:
			return
		case <-s.hint:
			needPlan = true
			// Coalesce a burst of commits into one re-plan.
			if d := minReplan - time.Since(lastPlan); d > 0 {
				select {
				case <-s.stopWatch:
					return
				case <-time.After(d):
				}
			}
		case <-timer.C:
		}
		now := time.Now()
		if !s.mem {
			var v int64
			if err := s.vconn.QueryRowContext(bg, "PRAGMA data_version").Scan(&v); err == nil {
				if dvKnown && v != dv {
					// Another connection committed: perhaps another process.
					needPlan = true
					s.orchSig.broadcast()
					s.workSig.broadcast()
				}
				dv, dvKnown = v, true
			}
		}
		ms := now.UnixMilli()
		if p.orchAt != 0 && ms >= p.orchAt {
			s.orchSig.broadcast()
			needPlan = true
		}
		if p.workAt != 0 && ms >= p.workAt {
			s.workSig.broadcast()
			needPlan = true
		}
		periodic := now.Sub(lastPlan) >= s.opts.PollInterval
		if needPlan || periodic {
			np, err := s.makePlan()
			if err != nil {
				// Forget the old plan (it may be in the past) and retry at
				// the next periodic or watch tick.
				s.log.Warn("sqlite: planning wake-ups failed", logKeyError, err)
				p = plan{}
			} else {
				p = np
				if periodic {
					// The fallback: wake waiters if anything is visible.
					if p.orchNow {
						s.orchSig.broadcast()
					}
					if p.workNow {
						s.workSig.broadcast()
					}
				}
			}
			lastPlan, needPlan = now, false
		}
		if !now.Before(nextSweep) {
			s.sweepOrphans()
			nextSweep = time.Now().Add(s.sweepInterval())
		}

		// Sleep until the next thing to do.
		next := lastPlan.Add(s.opts.PollInterval)
		if !s.mem {
			if t := now.Add(s.opts.WatchInterval); t.Before(next) {
				next = t
			}
		}
		for _, at := range []int64{p.orchAt, p.workAt} {
			if at != 0 {
				if t := time.UnixMilli(at); t.Before(next) {
					next = t
				}
			}
		}
		if nextSweep.Before(next) {
			next = nextSweep
		}
		d := time.Until(next)
		if d < time.Millisecond {
			d = time.Millisecond
		}
		timer.Reset(d)
	}
}

// sweepInterval is how often orphaned messages are looked for.
func (s *Store) sweepInterval() time.Duration {
	d := s.opts.DeadLetterAfter / 4
	if d < 50*time.Millisecond {
		d = 50 * time.Millisecond
	}
	if d > time.Minute {
		d = time.Minute
	}
	return d
}

// makePlan reads when each queue next changes state: the earliest future
// visible_at, lock expiry or session expiry. Every query is an index seek.
func (s *Store) makePlan() (plan, error) {
	var p plan
	now := nowMs()
	err := s.planQuery(func(d dbq) error {
		var orchVis, lockExp, workVis, sessExp sql.NullInt64
		var on, wn int64
		err := d.row(`SELECT
			(SELECT MIN(visible_at) FROM orchestrator_queue WHERE visible_at > ?1),
			(SELECT MIN(locked_until) FROM instance_locks WHERE locked_until > ?1),
			(SELECT MIN(visible_at) FROM worker_queue WHERE visible_at > ?1),
			(SELECT MIN(locked_until) FROM sessions WHERE locked_until > ?1),
			EXISTS (SELECT 1 FROM orchestrator_queue WHERE visible_at <= ?1),
			EXISTS (SELECT 1 FROM worker_queue WHERE visible_at <= ?1)`, now).
			Scan(&orchVis, &lockExp, &workVis, &sessExp, &on, &wn)
		if err != nil {
			return err
		}
		p.orchAt = minValid(orchVis, lockExp)
		p.workAt = minValid(workVis, sessExp)
		p.orchNow, p.workNow = on != 0, wn != 0
		return nil
	})
	return p, err
}

// planQuery runs a watcher query on the watcher's own connection (file) or
// through the writer (memory).
func (s *Store) planQuery(fn func(d dbq) error) error {
	if s.mem {
		return s.submit(bg, &request{read: true, fn: func(w *wtx) error { return fn(w.dbq) }})
	}
	return fn(dbq{ctx: bg, q: s.vconn})
}

func minValid(vs ...sql.NullInt64) int64 {
	var m int64
	for _, v := range vs {
		if v.Valid && (m == 0 || v.Int64 < m) {
			m = v.Int64
		}
	}
	return m
}
