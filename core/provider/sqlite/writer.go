package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"runtime/debug"

	"github.com/duroxide/duroxide/core/provider"
)

// querier is what *sql.Conn and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// dbq runs statements on a querier with a fixed context.
type dbq struct {
	ctx context.Context
	q   querier
}

func (d dbq) exec(query string, args ...any) (sql.Result, error) {
	return d.q.ExecContext(d.ctx, query, args...)
}

// execN runs a statement and returns the number of rows it changed.
func (d dbq) execN(query string, args ...any) (int64, error) {
	r, err := d.q.ExecContext(d.ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

func (d dbq) query(query string, args ...any) (*sql.Rows, error) {
	return d.q.QueryContext(d.ctx, query, args...)
}

func (d dbq) row(query string, args ...any) *sql.Row {
	return d.q.QueryRowContext(d.ctx, query, args...)
}

// effects are what a committed write tells the rest of the process.
type effects struct {
	wakeOrch  bool     // orchestrator work became visible
	wakeWork  bool     // worker work became visible
	changed   bool     // queue, lock or session state changed: re-plan wake-ups
	instances []string // instances whose watchers to notify
}

func (f *effects) notify(instance string) { f.instances = append(f.instances, instance) }

// wtx is a write request's view of the open batch transaction.
type wtx struct {
	dbq
	s   *Store
	now int64 // Unix ms, taken when the request starts
	fx  *effects
}

// request is one unit of work for the writer goroutine.
type request struct {
	ctx  context.Context
	read bool // read-only: runs without a savepoint (in-memory reads)
	// light marks a write whose loss in a power cut is harmless (taking or
	// renewing a lock: it would simply expire). A batch of only light
	// requests commits without an fsync.
	light bool
	fn    func(w *wtx) error
	fx    effects
	err   error
	done  chan struct{}
}

// write runs fn as one write request of the next group commit and waits
// for its outcome. Once submitted, the request is always carried out or
// refused before write returns, so a lock taken by fn is never lost to a
// caller that stopped waiting.
func (s *Store) write(ctx context.Context, fn func(w *wtx) error) error {
	return s.submit(ctx, &request{fn: fn})
}

// writeLight is write for a request that need not survive a power cut:
// it takes or renews a lock and nothing else of value.
func (s *Store) writeLight(ctx context.Context, fn func(w *wtx) error) error {
	return s.submit(ctx, &request{fn: fn, light: true})
}

func (s *Store) submit(ctx context.Context, r *request) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.ctx, r.done = ctx, make(chan struct{})
	select {
	case s.reqs <- r:
	case <-s.writerDone:
		return provider.ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	<-r.done
	return r.err
}

// read runs fn against a consistent snapshot: a read transaction on the
// reader pool, or, in memory, a request to the writer (one connection).
func (s *Store) read(ctx context.Context, fn func(d dbq) error) error {
	if s.mem {
		return s.submit(ctx, &request{read: true, fn: func(w *wtx) error { return fn(w.dbq) }})
	}
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(dbq{ctx: ctx, q: tx}); err != nil {
		return err
	}
	return tx.Commit()
}

// writer is the single goroutine that owns the write connection. It takes
// the pending requests (up to MaxBatch) and commits them together.
func (s *Store) writer() {
	defer close(s.writerDone)
	batch := make([]*request, 0, s.opts.MaxBatch)
	for {
		var first *request
		select {
		case first = <-s.reqs:
		case <-s.stopWriter:
			// Close has waited for every caller; refuse stragglers.
			for {
				select {
				case r := <-s.reqs:
					r.err = provider.ErrClosed
					close(r.done)
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
	drain:
		for len(batch) < s.opts.MaxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		s.runBatch(batch)
		for i := range batch {
			batch[i] = nil
		}
	}
}

// The writer's statements never use the callers' contexts: go-sqlite3
// interrupts a statement whose context ends, and an interrupted write
// inside an explicit transaction may roll back the whole batch.
var bg = context.Background()

func (s *Store) runBatch(batch []*request) {
	c := dbq{ctx: bg, q: s.wconn}
	s.setDurability(c, batch)
	if _, err := c.exec("BEGIN IMMEDIATE"); err != nil {
		s.log.Warn("sqlite: begin failed", logKeyError, err, logKeyCount, len(batch))
		for _, r := range batch {
			r.err = err
			close(r.done)
		}
		return
	}
	broken := error(nil)
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		if r.read {
			r.err = s.call(c, r)
			continue
		}
		if _, err := c.exec("SAVEPOINT req"); err != nil {
			broken = err
			break
		}
		r.err = s.call(c, r)
		if r.err != nil {
			if _, err := c.exec("ROLLBACK TO req"); err != nil {
				// SQLite rolled the whole transaction back (I/O error, full disk…).
				broken = fmt.Errorf("%w (the transaction was rolled back: %v)", r.err, err)
				break
			}
		}
		if _, err := c.exec("RELEASE req"); err != nil {
			broken = err
			break
		}
	}
	if broken == nil {
		if _, err := c.exec("COMMIT"); err != nil {
			broken = err
		}
	}
	if broken != nil {
		_, _ = c.exec("ROLLBACK")
		s.log.Error("sqlite: group commit failed", logKeyError, broken, logKeyCount, len(batch))
		for _, r := range batch {
			if r.err == nil {
				r.err = broken
			}
			close(r.done)
		}
		return
	}
	s.commits.Add(1)
	s.requests.Add(int64(len(batch)))
	if n := int64(len(batch)); n > s.largestBatch.Load() {
		s.largestBatch.Store(n) // only the writer stores
	}
	var wakeOrch, wakeWork, changed bool
	for _, r := range batch {
		if r.err != nil {
			continue
		}
		wakeOrch = wakeOrch || r.fx.wakeOrch
		wakeWork = wakeWork || r.fx.wakeWork
		changed = changed || r.fx.changed || r.fx.wakeOrch || r.fx.wakeWork
		for _, inst := range r.fx.instances {
			s.watchers.Notify(inst)
		}
	}
	if wakeOrch {
		s.orchSig.broadcast()
	}
	if wakeWork {
		s.workSig.broadcast()
	}
	if changed {
		select {
		case s.hint <- struct{}{}:
		default:
		}
	}
	for _, r := range batch {
		close(r.done)
	}
}

// setDurability lets a batch of only light requests (locks) commit without
// an fsync when the store is configured for FULL durability: their loss in a
// power cut is harmless, and the next durable commit syncs the log anyway.
func (s *Store) setDurability(c dbq, batch []*request) {
	if s.mem || s.opts.Synchronous != "FULL" {
		return
	}
	light := true
	for _, r := range batch {
		if !r.light && !r.read {
			light = false
			break
		}
	}
	if light == s.lightSync {
		return
	}
	mode := "FULL"
	if light {
		mode = "NORMAL"
	}
	if _, err := c.exec("PRAGMA synchronous=" + mode); err != nil {
		s.log.Warn("sqlite: cannot change synchronous mode", logKeyError, err)
		return
	}
	s.lightSync = light
}

// call runs one request's function, turning a panic into an error.
func (s *Store) call(c dbq, r *request) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error: panic in store operation: %v\n%s", p, debug.Stack())
		}
	}()
	r.fx = effects{}
	return r.fn(&wtx{dbq: c, s: s, now: nowMs(), fx: &r.fx})
}
