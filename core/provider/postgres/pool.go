package postgres

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// pool is a small connection pool over pgx.Conn: at most max connections,
// idle ones reused most recently released first, broken ones dropped. A
// connection idle for longer than pingAfter is pinged before it is handed
// out, so that connections the server closed (a restart) are replaced
// instead of failing a call.
//
// (pgxpool would do; it needs modules this repository does not require
// yet, and the store needs only this much.)
type pool struct {
	cfg       *pgx.ConnConfig
	max       int
	pingAfter time.Duration

	mu      sync.Mutex
	idle    []idleConn
	open    int
	closed  bool
	waiters []chan struct{}
}

type idleConn struct {
	c     *pgx.Conn
	since time.Time
}

var errPoolClosed = errors.New("connection pool is closed")

func newPool(cfg *pgx.ConnConfig, max int) *pool {
	return &pool{cfg: cfg, max: max, pingAfter: time.Second}
}

// acquire returns a connection for exclusive use until release.
func (p *pool) acquire(ctx context.Context) (*pgx.Conn, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, errPoolClosed
		}
		if n := len(p.idle); n > 0 {
			ic := p.idle[n-1]
			p.idle = p.idle[:n-1]
			p.mu.Unlock()
			if time.Since(ic.since) >= p.pingAfter {
				if err := ic.c.Ping(ctx); err != nil {
					p.discard(ic.c)
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
					continue
				}
			}
			return ic.c, nil
		}
		if p.open < p.max {
			p.open++
			p.mu.Unlock()
			c, err := pgx.ConnectConfig(ctx, p.cfg)
			if err != nil {
				p.mu.Lock()
				p.open--
				p.signalLocked()
				p.mu.Unlock()
				return nil, err
			}
			return c, nil
		}
		ch := make(chan struct{}, 1)
		p.waiters = append(p.waiters, ch)
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			p.mu.Lock()
			for i, w := range p.waiters {
				if w == ch {
					p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
					break
				}
			}
			p.mu.Unlock()
			select {
			case <-ch: // a signal raced with the cancellation: pass it on
				p.mu.Lock()
				p.signalLocked()
				p.mu.Unlock()
			default:
			}
			return nil, ctx.Err()
		}
	}
}

// signalLocked wakes one waiting acquire.
func (p *pool) signalLocked() {
	if len(p.waiters) > 0 {
		ch := p.waiters[0]
		p.waiters = p.waiters[1:]
		ch <- struct{}{}
	}
}

// release returns c to the pool, or closes it when it is broken or left
// inside a transaction.
func (p *pool) release(c *pgx.Conn) {
	if c.IsClosed() || c.PgConn().IsBusy() || c.PgConn().TxStatus() != 'I' {
		p.discard(c)
		return
	}
	p.mu.Lock()
	if p.closed {
		p.open--
		p.mu.Unlock()
		_ = c.Close(context.Background())
		return
	}
	p.idle = append(p.idle, idleConn{c: c, since: time.Now()})
	p.signalLocked()
	p.mu.Unlock()
}

// discard closes a connection that must not be reused.
func (p *pool) discard(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	_ = c.Close(ctx)
	cancel()
	p.mu.Lock()
	p.open--
	p.signalLocked()
	p.mu.Unlock()
}

// close closes the idle connections; connections in use are closed when
// released. Later acquires fail.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.open -= len(idle)
	for _, w := range p.waiters {
		w <- struct{}{}
	}
	p.waiters = nil
	p.mu.Unlock()
	for _, ic := range idle {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = ic.c.Close(ctx)
		cancel()
	}
}
