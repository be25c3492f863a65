package postgres

import (
	"container/heap"
	"container/list"
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/duroxide/duroxide/core/provider"
)

// ---- waiting fetchers ----

// waiter is a fetch waiting for work. It stays registered while it tries,
// so that a wake-up arriving during a try is not lost.
type waiter struct {
	ch    chan struct{} // receives one value per wake-up
	match func(tag string, session bool) bool
	elem  *list.Element // nil once woken (or removed)
}

// waitQueue holds a queue's waiting fetchers in arrival order. A wake-up
// goes to the oldest waiters that can serve it, one per announced item, so
// that a new message costs one query per process rather than one per idle
// fetcher; a fetch that finds more work behind its item passes the wake-up
// on (see Store.poll).
type waitQueue struct {
	mu sync.Mutex
	l  list.List
}

func (q *waitQueue) init() { q.l.Init() }

func (q *waitQueue) add(match func(tag string, session bool) bool) *waiter {
	w := &waiter{ch: make(chan struct{}, 1), match: match}
	q.mu.Lock()
	w.elem = q.l.PushBack(w)
	q.mu.Unlock()
	return w
}

// rearm puts a woken waiter back at the end of the queue.
func (q *waitQueue) rearm(w *waiter) {
	q.mu.Lock()
	if w.elem == nil {
		w.elem = q.l.PushBack(w)
	}
	q.mu.Unlock()
}

// remove unregisters w and reports whether it holds a wake-up it has not
// acted on.
func (q *waitQueue) remove(w *waiter) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if w.elem != nil {
		q.l.Remove(w.elem)
		w.elem = nil
		return false
	}
	select {
	case <-w.ch:
		return true
	default:
		return false
	}
}

// wake wakes up to n waiters that can serve an item with this tag and
// session-ness, oldest first.
func (q *waitQueue) wake(n int, tag string, session bool) {
	if n <= 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for e := q.l.Front(); e != nil && n > 0; {
		next := e.Next()
		w := e.Value.(*waiter)
		if w.match == nil || w.match(tag, session) {
			q.l.Remove(e)
			w.elem = nil
			w.ch <- struct{}{}
			n--
		}
		e = next
	}
}

// broadcast wakes every waiter.
func (q *waitQueue) broadcast() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for e := q.l.Front(); e != nil; e = q.l.Front() {
		w := e.Value.(*waiter)
		q.l.Remove(e)
		w.elem = nil
		w.ch <- struct{}{}
	}
}

// taken describes the item a successful try took, for passing a wake-up on.
type taken struct {
	more    bool // the fetch saw more work it could have taken
	tag     string
	session bool
}

// poll runs try until it finds something, the poll timeout passes, the
// context ends or the store closes. Between tries it waits on q.
func (s *Store) poll(ctx context.Context, q *waitQueue, match func(string, bool) bool, pollTimeout time.Duration,
	try func() (bool, taken, error)) error {
	w := q.add(match)
	var deadline <-chan time.Time
	for {
		if err := ctx.Err(); err != nil {
			if q.remove(w) {
				q.wake(1, "", false)
			}
			return err
		}
		found, tk, err := try()
		if found || err != nil {
			woken := q.remove(w)
			if found && (tk.more || woken) {
				q.wake(1, tk.tag, tk.session) // more work behind ours, or a wake-up we did not use
			} else if woken {
				q.wake(1, "", false)
			}
			return err
		}
		if deadline == nil {
			if pollTimeout <= 0 {
				if q.remove(w) {
					q.wake(1, "", false)
				}
				return nil
			}
			t := time.NewTimer(pollTimeout)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-w.ch:
			q.rearm(w)
			continue
		case <-deadline:
		case <-ctx.Done():
		case <-s.closing:
		}
		if q.remove(w) {
			q.wake(1, "", false) // woken as we left: pass it on
		}
		switch {
		case s.isClosing():
			return provider.ErrClosed
		case ctx.Err() != nil:
			return ctx.Err()
		}
		return nil
	}
}

func (s *Store) isClosing() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

// WatchInstance implements provider.Notifier: the channel is closed at the
// next committed ack of the instance, at the next EnqueueForOrchestrator for
// it and when it is deleted — by this store or, through NOTIFY, by any
// other store listening on the same schema — or when the store closes.
func (s *Store) WatchInstance(instance string) (<-chan struct{}, func()) {
	return s.watchers.Watch(instance)
}

// ---- changes: what a commit tells the waiting fetchers ----

// change is what a committed write made visible.
type change struct {
	orchNow     int         // orchestrator messages visible now
	orchAt      []time.Time // orchestrator messages visible later
	workNow     int         // untagged, session-less worker items visible now
	workSpecial bool        // tagged or session worker items visible now
	workAt      []time.Time // worker items visible later
	instances   []string    // instances whose watchers to wake
}

func (c *change) empty() bool {
	return c.orchNow == 0 && len(c.orchAt) == 0 && c.workNow == 0 && !c.workSpecial && len(c.workAt) == 0 && len(c.instances) == 0
}

// announce applies a committed change to this store's waiters and has the
// notifier tell the other stores listening on the schema.
func (s *Store) announce(c change) {
	if c.empty() {
		return
	}
	s.apply(c)
	s.out.add(c)
}

// apply wakes this store's waiters for a change (local or from NOTIFY).
func (s *Store) apply(c change) {
	s.orchQ.wake(c.orchNow, "", false)
	s.workQ.wake(c.workNow, "", false)
	if c.workSpecial {
		s.workQ.broadcast()
	}
	for _, at := range c.orchAt {
		s.plan.add(planEvent{at: at, queue: queueOrch})
	}
	for _, at := range c.workAt {
		s.plan.add(planEvent{at: at, queue: queueWork})
	}
	for _, inst := range c.instances {
		s.watchers.Notify(inst)
	}
}

// wakeMsg is a NOTIFY payload: a change with relative delays.
type wakeMsg struct {
	S string   `json:"s"`           // sending store
	O int      `json:"o,omitempty"` // orchestrator messages visible now
	D []int64  `json:"d,omitempty"` // orchestrator messages visible in that many ms
	W int      `json:"w,omitempty"` // untagged, session-less worker items visible now
	X bool     `json:"x,omitempty"` // tagged or session worker items visible now
	E []int64  `json:"e,omitempty"` // worker items visible in that many ms
	I []string `json:"i,omitempty"` // instances that changed
	P bool     `json:"p,omitempty"` // more delays than fit: re-read the queues
}

// Bounds of one payload (PostgreSQL allows 8000 bytes).
const (
	maxPayload    = 7000
	maxDelayItems = 64
)

// payloads merges pending changes into NOTIFY payloads.
func (s *Store) payloads(cs []change, now time.Time) []string {
	m := wakeMsg{S: s.id}
	seen := map[string]bool{}
	var insts []string
	rel := func(at time.Time) int64 { return max(durMs(at.Sub(now)), 0) }
	for _, c := range cs {
		m.O += c.orchNow
		m.W += c.workNow
		m.X = m.X || c.workSpecial
		for _, at := range c.orchAt {
			if len(m.D) < maxDelayItems {
				m.D = append(m.D, rel(at))
			} else {
				m.P = true
			}
		}
		for _, at := range c.workAt {
			if len(m.E) < maxDelayItems {
				m.E = append(m.E, rel(at))
			} else {
				m.P = true
			}
		}
		for _, inst := range c.instances {
			if !seen[inst] {
				seen[inst] = true
				insts = append(insts, inst)
			}
		}
	}
	var out []string
	size := 0
	flush := func() {
		b, _ := json.Marshal(m)
		out = append(out, string(b))
		m = wakeMsg{S: s.id}
		size = 0
	}
	for _, inst := range insts {
		b, _ := json.Marshal(inst) // its size in the payload, escapes included
		if len(b) > maxPayload-1500 {
			continue // too long to announce; its watchers poll
		}
		if len(b)+size > maxPayload-1500 && len(m.I) > 0 {
			flush()
		}
		m.I = append(m.I, inst)
		size += len(b) + 1
	}
	if m.O > 0 || len(m.D) > 0 || m.W > 0 || m.X || len(m.E) > 0 || len(m.I) > 0 || m.P {
		flush()
	}
	return out
}

// handleNotification applies another store's payload.
func (s *Store) handleNotification(payload string) {
	var m wakeMsg
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		s.log.Debug("postgres: ignoring a notification", logKeyError, err)
		return
	}
	if m.S == s.id {
		return // applied when it was committed
	}
	now := time.Now()
	c := change{orchNow: m.O, workNow: m.W, workSpecial: m.X, instances: m.I}
	for _, d := range m.D {
		c.orchAt = append(c.orchAt, now.Add(time.Duration(d)*time.Millisecond))
	}
	for _, d := range m.E {
		c.workAt = append(c.workAt, now.Add(time.Duration(d)*time.Millisecond))
	}
	s.apply(c)
	if m.P {
		s.plan.requestReplan()
	}
}

// ---- notifier: NOTIFY after commit, batched ----

// notifier sends the changes this store commits to the schema's channel.
// Sending after the commit, from one goroutine, keeps NOTIFY out of the
// turn's transaction: PostgreSQL serialises the commits of notifying
// transactions (a global lock held through the commit's flush), which
// would halve the commit rate. The notifying transaction needs no flush of
// its own (notifications are hints), and changes that pile up while one is
// sent go out together in the next.
type notifier struct {
	mu      sync.Mutex
	pending []change
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

func (n *notifier) init() {
	n.kick = make(chan struct{}, 1)
	n.stop = make(chan struct{})
	n.done = make(chan struct{})
}

func (n *notifier) add(c change) {
	n.mu.Lock()
	n.pending = append(n.pending, c)
	n.mu.Unlock()
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

func (n *notifier) take() []change {
	n.mu.Lock()
	defer n.mu.Unlock()
	cs := n.pending
	n.pending = nil
	return cs
}

// flushAndStop sends what is pending and stops the notifier.
func (n *notifier) flushAndStop() {
	close(n.stop)
	<-n.done
}

func (s *Store) runNotifier() {
	defer s.bgDone.Done()
	defer close(s.out.done)
	for {
		select {
		case <-s.out.kick:
		case <-s.out.stop:
			s.sendNotifications(s.out.take())
			return
		}
		s.sendNotifications(s.out.take())
	}
}

func (s *Store) sendNotifications(cs []change) {
	if len(cs) == 0 {
		return
	}
	ps := s.payloads(cs, time.Now())
	if len(ps) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, s.sql(`SELECT __S__.notify($1)`), ps)
		return err
	})
	if err != nil {
		s.log.Debug("postgres: NOTIFY failed; other stores will notice by polling", logKeyError, err)
	}
}

// ---- LISTEN ----

// listenConn opens the dedicated LISTEN connection.
func (s *Store) listenConn(ctx context.Context) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.ConnectTimeout+5*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, s.cfg)
	if err != nil {
		return nil, err
	}
	if _, err := c.Exec(ctx, "LISTEN "+pgx.Identifier{s.chname}.Sanitize()); err != nil {
		_ = c.Close(context.Background())
		return nil, err
	}
	s.listenMu.Lock()
	s.listenPID = c.PgConn().PID()
	s.listenMu.Unlock()
	return c, nil
}

// listen receives the schema's notifications until the store closes,
// reconnecting when the connection drops. After a reconnect it wakes every
// waiter and re-reads the queues, since notifications may have been missed.
func (s *Store) listen(c *pgx.Conn) {
	defer s.bgDone.Done()
	defer func() {
		if c != nil {
			_ = c.Close(context.Background())
		}
	}()
	for {
		n, err := c.WaitForNotification(s.bg)
		if err == nil {
			s.handleNotification(n.Payload)
			continue
		}
		if s.bg.Err() != nil {
			return
		}
		s.log.Warn("postgres: LISTEN connection lost; reconnecting", logKeyError, err)
		_ = c.Close(context.Background())
		c = nil
		s.listenMu.Lock()
		s.listenPID = 0
		s.listenMu.Unlock()
		for wait := 50 * time.Millisecond; c == nil; wait = min(2*wait, 2*time.Second) {
			select {
			case <-s.bg.Done():
				return
			case <-time.After(wait):
			}
			c, err = s.listenConn(s.bg)
			if err != nil {
				c = nil
				s.log.Debug("postgres: LISTEN reconnect failed", logKeyError, err)
			}
		}
		s.log.Info("postgres: LISTEN connection restored")
		s.orchQ.broadcast()
		s.workQ.broadcast()
		s.plan.requestReplan()
	}
}

// ListenerPID returns the server process id of the store's LISTEN
// connection, 0 when it is not connected (or listening is disabled). For
// tests and diagnostics.
func (s *Store) ListenerPID() uint32 {
	s.listenMu.Lock()
	defer s.listenMu.Unlock()
	return s.listenPID
}

// ---- planner: timed wake-ups, polling, dead letters ----

const (
	queueOrch = iota
	queueWork
)

// planEvent is a moment a queue changes state on its own: a delayed
// message becomes visible, a lock or a session expires.
type planEvent struct {
	at    time.Time
	queue int
	// key names a cancellable event (a lock's token, a session), replaced by
	// a later event with the same key and dropped when cancelled.
	key string
	// replan: the event came from reading the queues; when it passes, read
	// them again for the next one.
	replan    bool
	cancelled bool
	index     int
}

type eventHeap []*planEvent

func (h eventHeap) Len() int           { return len(h) }
func (h eventHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h eventHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *eventHeap) Push(x any) {
	e := x.(*planEvent)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}

// maxPlanEvents bounds the heap; past it, events are dropped and the
// periodic re-read finds them.
const maxPlanEvents = 100000

type planner struct {
	mu     sync.Mutex
	h      eventHeap
	keyed  map[string]*planEvent
	replan bool
	kick   chan struct{}
}

func (p *planner) init() {
	p.keyed = map[string]*planEvent{}
	p.kick = make(chan struct{}, 1)
}

func (p *planner) poke() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// add schedules an event; a keyed event replaces the previous one of its key.
func (p *planner) add(e planEvent) {
	p.mu.Lock()
	if e.key != "" {
		if old := p.keyed[e.key]; old != nil {
			old.cancelled = true
		}
	}
	if len(p.h) >= maxPlanEvents {
		p.replan = true
		p.mu.Unlock()
		p.poke()
		return
	}
	ev := e
	heap.Push(&p.h, &ev)
	if e.key != "" {
		p.keyed[e.key] = &ev
	}
	first := p.h[0] == &ev
	p.mu.Unlock()
	if first {
		p.poke()
	}
}

// cancel drops the keyed event (a lock that was released).
func (p *planner) cancel(key string) {
	p.mu.Lock()
	if old := p.keyed[key]; old != nil {
		old.cancelled = true
		delete(p.keyed, key)
	}
	p.mu.Unlock()
}

func (p *planner) requestReplan() {
	p.mu.Lock()
	p.replan = true
	p.mu.Unlock()
	p.poke()
}

// due pops the events that have passed.
func (p *planner) due(now time.Time) (evs []*planEvent, replan bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.h) > 0 && !p.h[0].at.After(now) {
		e := heap.Pop(&p.h).(*planEvent)
		if e.key != "" && p.keyed[e.key] == e {
			delete(p.keyed, e.key)
		}
		if !e.cancelled {
			evs = append(evs, e)
		}
	}
	replan, p.replan = p.replan, false
	return evs, replan
}

// next is when the earliest event is due (zero: none).
func (p *planner) next() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.h) == 0 {
		return time.Time{}
	}
	return p.h[0].at
}

// covered reports whether an event of the queue is due at or before t.
func (p *planner) covered(queue int, t time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.h {
		if e.queue == queue && !e.cancelled && !e.at.After(t) {
			return true
		}
	}
	return false
}

// hintLock schedules a wake-up at a lock's expiry, cancelled when the lock
// is released.
func (s *Store) hintLock(queue int, token string, until time.Time) {
	s.plan.add(planEvent{at: until, queue: queue, key: token})
}

// sweepInterval is how often orphaned messages are looked for.
func (s *Store) sweepInterval() time.Duration {
	return min(max(s.opts.DeadLetterAfter/4, 50*time.Millisecond), time.Minute)
}

// runPlanner wakes waiting fetchers when delayed work becomes visible or a
// lock or session expires, re-reads the queues every PollInterval (the
// fallback for missed notifications, and the polling of DisableListen) and
// dead-letters messages for instances that never started.
func (s *Store) runPlanner() {
	defer s.bgDone.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var lastPlan time.Time
	nextSweep := time.Now().Add(s.sweepInterval())
	for {
		select {
		case <-s.bg.Done():
			return
		case <-timer.C:
		case <-s.plan.kick:
		}
		now := time.Now()
		evs, replan := s.plan.due(now)
		for _, e := range evs {
			switch {
			case e.replan:
				replan = true
				s.queueOf(e.queue).broadcast()
			case e.queue == queueOrch:
				s.orchQ.wake(1, "", false)
			default:
				// Worker items may be tagged or bound to a session: any
				// waiter may be the one that can take them.
				s.workQ.broadcast()
			}
		}
		periodic := now.Sub(lastPlan) >= s.opts.PollInterval
		if replan || periodic {
			if err := s.readPlan(periodic); err != nil && s.bg.Err() == nil {
				s.log.Debug("postgres: reading the queues' next events failed", logKeyError, err)
			}
			lastPlan = time.Now()
		}
		if !now.Before(nextSweep) {
			s.sweepOrphans()
			nextSweep = time.Now().Add(s.sweepInterval())
		}

		next := lastPlan.Add(s.opts.PollInterval)
		if at := s.plan.next(); !at.IsZero() && at.Before(next) {
			next = at
		}
		if nextSweep.Before(next) {
			next = nextSweep
		}
		timer.Reset(max(time.Until(next), time.Millisecond))
	}
}

func (s *Store) queueOf(queue int) *waitQueue {
	if queue == queueOrch {
		return &s.orchQ
	}
	return &s.workQ
}

// readPlan reads when each queue next changes state (a delayed message, a
// lock or a session expiring: index seeks) and schedules a wake-up for it
// unless one is already due by then. With wakeVisible it also wakes the
// waiters of a queue that has visible work now: the fallback for a missed
// notification.
func (s *Store) readPlan(wakeVisible bool) error {
	var orchVis, orchLock, workVis, sessExp *int64
	var orchNow, workNow bool
	ctx, cancel := context.WithTimeout(s.bg, 10*time.Second)
	defer cancel()
	err := s.with(ctx, func(ctx context.Context, c *pgx.Conn) error {
		return c.QueryRow(ctx, s.sql(`SELECT
    (SELECT ceil(extract(epoch FROM min(q.visible_at) - now()) * 1000)::bigint FROM __S__.orchestrator_queue q WHERE q.visible_at > now()),
    (SELECT ceil(extract(epoch FROM min(l.locked_until) - now()) * 1000)::bigint FROM __S__.instance_locks l WHERE l.locked_until > now()),
    (SELECT ceil(extract(epoch FROM min(w.visible_at) - now()) * 1000)::bigint FROM __S__.worker_queue w WHERE w.visible_at > now()),
    (SELECT ceil(extract(epoch FROM min(x.locked_until) - now()) * 1000)::bigint FROM __S__.sessions x WHERE x.locked_until > now()),
    EXISTS (SELECT 1 FROM __S__.orchestrator_queue q WHERE q.visible_at <= now()),
    EXISTS (SELECT 1 FROM __S__.worker_queue w WHERE w.visible_at <= now())`)).
			Scan(&orchVis, &orchLock, &workVis, &sessExp, &orchNow, &workNow)
	})
	if err != nil {
		return err
	}
	now := time.Now()
	schedule := func(queue int, ms ...*int64) {
		var best *int64
		for _, m := range ms {
			if m != nil && (best == nil || *m < *best) {
				best = m
			}
		}
		if best == nil {
			return
		}
		at := now.Add(time.Duration(*best+1) * time.Millisecond)
		if !s.plan.covered(queue, at.Add(2*time.Millisecond)) {
			s.plan.add(planEvent{at: at, queue: queue, replan: true})
		}
	}
	schedule(queueOrch, orchVis, orchLock)
	schedule(queueWork, workVis, sessExp)
	if wakeVisible {
		if orchNow {
			s.orchQ.broadcast()
		}
		if workNow {
			s.workQ.broadcast()
		}
	}
	return nil
}
