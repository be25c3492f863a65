package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

func (q *waitQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.l.Len()
}

// pair opens two stores on one schema: two processes, as far as wake-ups
// go (each has its own connections and its own LISTEN connection).
func pair(t *testing.T, opts *Options) (*Store, *Store) {
	t.Helper()
	o := Options{PollInterval: time.Hour}
	if opts != nil {
		o = *opts
	}
	a := openTest(t, &o)
	o.Schema = a.Schema()
	b, err := Open(bg0, testDSN(t), &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(); a.Close() })
	return a, b
}

// A long poll in one store is woken by a write in another within
// milliseconds, through LISTEN/NOTIFY alone (the fallback poll is off).
func TestCrossStoreWake(t *testing.T) {
	a, b := pair(t, nil)
	for _, tc := range []struct {
		name  string
		write func()
		fetch func() (bool, error)
	}{
		{"orchestrator", func() { mustEnqueue(t, b, start("x")) }, func() (bool, error) {
			it, err := a.FetchOrchestrationItem(bg0, time.Minute, 10*time.Second, nil)
			return it != nil, err
		}},
		{"worker", func() {
			if err := b.EnqueueForWorker(bg0, history.WorkItem{Kind: history.WorkActivityExecute, Instance: "x", ExecutionID: 1, ID: 2}); err != nil {
				t.Error(err)
			}
		}, func() (bool, error) {
			l, err := a.FetchWorkItem(bg0, time.Minute, 10*time.Second, nil, provider.TagFilter{})
			return l != nil, err
		}},
		{"tagged worker", func() {
			if err := b.EnqueueForWorker(bg0, history.WorkItem{Kind: history.WorkActivityExecute, Instance: "x", ExecutionID: 1, ID: 3, Tag: "gpu"}); err != nil {
				t.Error(err)
			}
		}, func() (bool, error) {
			l, err := a.FetchWorkItem(bg0, time.Minute, 10*time.Second, nil, provider.TagFilter{Mode: provider.TagOnly, Tags: []string{"gpu"}})
			return l != nil, err
		}},
		{"delayed", func() {
			if err := b.EnqueueForOrchestrator(bg0, start("y"), 300*time.Millisecond); err != nil {
				t.Error(err)
			}
		}, func() (bool, error) {
			it, err := a.FetchOrchestrationItem(bg0, time.Minute, 10*time.Second, nil)
			return it != nil, err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var wrote time.Time
			done := make(chan struct{})
			go func() {
				defer close(done)
				waitUntil(t, 5*time.Second, "the fetch to wait", func() bool { return a.orchQ.len()+a.workQ.len() > 0 })
				tc.write()
				wrote = time.Now()
			}()
			got, err := tc.fetch()
			took := time.Now()
			<-done
			if err != nil || !got {
				t.Fatalf("fetch in the other store: %v, %v", got, err)
			}
			if el := took.Sub(wrote); el > time.Second {
				t.Fatalf("woken %v after the write", el)
			}
			t.Logf("woken %v after the write", took.Sub(wrote).Round(time.Microsecond))
		})
	}
}

// Another store's commit wakes this store's instance watchers.
func TestNotifierAcrossStores(t *testing.T) {
	a, b := pair(t, nil)
	ch, stop := a.WatchInstance("x")
	defer stop()
	createInstance(t, b, "x")
	select {
	case <-ch:
	case <-time.After(2 * time.Second):
		t.Fatal("the other store's ack did not wake the watcher")
	}
}

// When the LISTEN connection drops, the store reconnects, and wake-ups
// from other stores work again.
func TestListenerReconnects(t *testing.T) {
	a, b := pair(t, nil)
	pid := a.ListenerPID()
	if pid == 0 {
		t.Fatal("no LISTEN connection")
	}
	admin := adminConn(t, testDSN(t))
	if _, err := admin.Exec(bg0, "SELECT pg_terminate_backend($1)", int32(pid)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "a new LISTEN connection", func() bool {
		p := a.ListenerPID()
		return p != 0 && p != pid
	})
	go func() {
		waitUntil(t, 5*time.Second, "the fetch to wait", func() bool { return a.orchQ.len() > 0 })
		mustEnqueue(t, b, start("x"))
	}()
	t0 := time.Now()
	it, err := a.FetchOrchestrationItem(bg0, time.Minute, 10*time.Second, nil)
	if err != nil || it == nil {
		t.Fatalf("fetch after the reconnect: %v %v", it, err)
	}
	if el := time.Since(t0); el > 3*time.Second {
		t.Fatalf("woken after %v", el)
	}
}

// A new item wakes one idle fetcher per store, not all of them: sixteen
// idle workers cost one query for one new item.
func TestOneWakeUpPerItem(t *testing.T) {
	a, b := pair(t, nil)
	ctx, cancel := context.WithCancel(bg0)
	var wg sync.WaitGroup
	got := make(chan *provider.WorkItemLease, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := a.FetchWorkItem(ctx, time.Minute, time.Minute, &provider.SessionConfig{OwnerID: "w"}, provider.TagFilter{})
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Error(err)
			}
			if l != nil {
				got <- l
			}
		}()
	}
	waitUntil(t, 5*time.Second, "16 waiting fetchers", func() bool { return a.workQ.len() == 16 })
	calls0 := a.fetchCalls.Load()
	if err := b.EnqueueForWorker(bg0, history.WorkItem{Kind: history.WorkActivityExecute, Instance: "x", ExecutionID: 1, ID: 1}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no fetcher took the item")
	}
	time.Sleep(100 * time.Millisecond) // let stray wake-ups show
	calls := a.fetchCalls.Load() - calls0
	cancel()
	wg.Wait()
	if calls > 2 {
		t.Fatalf("one new item cost %d fetch queries with 16 idle fetchers", calls)
	}
}

// The fetch queries are index seeks in queue order: on a deep queue they
// scan no table (pg_stat_xact_user_tables counts the transaction's scans).
func TestFetchUsesIndexes(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a deep queue")
	}
	s := openTest(t, nil)
	defer s.Close()
	const depth = 20000
	s.testExec(t, `INSERT INTO __S__.orchestrator_queue (instance_id, kind, work_item, visible_at, created_at)
SELECT 'i' || g, 'StartOrchestration', '{"kind":"StartOrchestration","instance":"i' || g || '","name":"Orch"}',
       clock_timestamp() - interval '1 minute', clock_timestamp()
FROM generate_series(1, $1) g`, depth)
	s.testExec(t, `INSERT INTO __S__.worker_queue (instance_id, execution_id, activity_id, tag, work_item, visible_at, created_at)
SELECT 'i' || g, 1, g, CASE WHEN g % 3 = 0 THEN 'gpu' WHEN g % 3 = 1 THEN 'cpu' END,
       '{"kind":"ActivityExecute","instance":"i' || g || '","id":' || g || '}', clock_timestamp(), clock_timestamp()
FROM generate_series(1, $1) g`, depth)
	s.testExec(t, `ANALYZE __S__.orchestrator_queue`)
	s.testExec(t, `ANALYZE __S__.worker_queue`)

	for _, tc := range []struct {
		name, q string
		args    []any
	}{
		{"orchestrator", `SELECT instance_id FROM __S__.fetch_orchestration_item($1, 60000, false, 0, 0, 0, 0, 0, 0)`, nil},
		{"orchestrator with filter", `SELECT instance_id FROM __S__.fetch_orchestration_item($1, 60000, true, 0, 0, 0, 9, 9, 9)`, nil},
		{"untagged", `SELECT id FROM __S__.fetch_work_item($1, 60000, 'owner', 60000, 0, NULL)`, nil},
		{"untagged without sessions", `SELECT id FROM __S__.fetch_work_item($1, 60000, NULL, 0, 0, NULL)`, nil},
		{"tags", `SELECT id FROM __S__.fetch_work_item($1, 60000, 'owner', 60000, 1, ARRAY['gpu', 'cpu'])`, nil},
		{"untagged and tags", `SELECT id FROM __S__.fetch_work_item($1, 60000, 'owner', 60000, 2, ARRAY['gpu'])`, nil},
		{"any", `SELECT id FROM __S__.fetch_work_item($1, 60000, 'owner', 60000, 3, NULL)`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A connection of its own: a pooled one may carry statistics of
			// earlier transactions not flushed yet.
			c := adminConn(t, testDSN(t))
			if _, err := c.Exec(bg0, "SET plan_cache_mode = force_generic_plan"); err != nil { // as the store's connections
				t.Fatal(err)
			}
			err := pgx.BeginFunc(bg0, c, func(tx pgx.Tx) error {
				ctx := bg0
				// Plans are made per connection: warm the function's cache first.
				for i := 0; i < 7; i++ {
					var v any
					if err := tx.QueryRow(ctx, s.sql(tc.q), newToken()).Scan(&v); err != nil {
						return err
					}
				}
				rows, err := tx.Query(ctx, `SELECT relname, seq_scan, seq_tup_read + idx_tup_fetch FROM pg_stat_xact_user_tables
WHERE schemaname = $1 AND relname IN ('orchestrator_queue', 'worker_queue', 'instances')`, s.Schema())
				if err != nil {
					return err
				}
				defer rows.Close()
				for rows.Next() {
					var rel string
					var seq, tuples int64
					if err := rows.Scan(&rel, &seq, &tuples); err != nil {
						return err
					}
					t.Logf("%s: %d rows of %s read by 7 fetches", tc.name, tuples, rel)
					if seq > 0 || tuples > 200 {
						t.Errorf("%s: %d sequential scans of %s and %d rows read at a depth of %d", tc.name, seq, rel, tuples, depth)
					}
				}
				if err := rows.Err(); err != nil {
					return err
				}
				return errors.New("rollback")
			})
			if err != nil && err.Error() != "rollback" {
				t.Fatal(err)
			}
		})
	}
}

func TestCorruptQueueRowsAreDeadLettered(t *testing.T) {
	s := openTest(t, nil)
	defer s.Close()
	createInstance(t, s, "a")
	for _, row := range []struct{ kind, data string }{
		{"ExternalRaised", `{"kind": "ExternalRaised", "instance": `}, // truncated
		{"Mystery", `{"kind": "Mystery", "instance": "a"}`},           // unknown kind
		{"ExternalRaised", `[1, 2, 3]`},                               // not an object
	} {
		s.testExec(t, `INSERT INTO __S__.orchestrator_queue (instance_id, kind, work_item, visible_at, created_at)
VALUES ('a', $1, $2, clock_timestamp(), clock_timestamp())`, row.kind, row.data)
	}
	s.testExec(t, `INSERT INTO __S__.worker_queue (instance_id, execution_id, activity_id, work_item, visible_at, created_at)
VALUES ('a', 1, 2, 'not json', clock_timestamp(), clock_timestamp())`)
	mustEnqueue(t, s, history.WorkItem{Kind: history.WorkExternalRaised, Instance: "a", Name: "good"})
	it, err := s.FetchOrchestrationItem(bg0, time.Minute, 0, nil)
	if err != nil || it == nil {
		t.Fatalf("fetch: %v %v", it, err)
	}
	if len(it.Messages) != 1 || it.Messages[0].Name != "good" {
		t.Fatalf("batch = %+v, want only the good message", it.Messages)
	}
	if err := s.EnqueueForWorker(bg0, history.WorkItem{Kind: history.WorkActivityExecute, Instance: "a", ExecutionID: 1, ID: 3}); err != nil {
		t.Fatal(err)
	}
	l, err := s.FetchWorkItem(bg0, time.Minute, 0, nil, provider.TagFilter{})
	if err != nil || l == nil || l.Item.ID != 3 {
		t.Fatalf("work fetch: %+v %v", l, err)
	}
	dls, err := s.ListDeadLetters(bg0, 0)
	if err != nil || len(dls) != 4 {
		t.Fatalf("dead letters: %d, %v; want 4", len(dls), err)
	}
	for _, d := range dls {
		if d.Raw == "" || d.Reason == "" || d.Instance != "a" {
			t.Fatalf("dead letter %+v: want the raw row, a reason and the instance", d)
		}
	}
	if dls[0].Queue != provider.QueueWorker || !strings.Contains(dls[0].Reason, "undecodable") {
		t.Fatalf("newest dead letter %+v", dls[0])
	}
}

func TestCloseStopsGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, listen := range []bool{true, false} {
		s := openTest(t, &Options{DisableListen: !listen})
		createInstance(t, s, "a")
		// A long poll in progress returns when the store closes.
		errc := make(chan error, 1)
		go func() {
			_, err := s.FetchWorkItem(bg0, time.Minute, time.Hour, nil, provider.TagFilter{})
			errc <- err
		}()
		waitUntil(t, 5*time.Second, "the fetch to wait", func() bool { return s.workQ.len() > 0 })
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errc:
			if !errors.Is(err, provider.ErrClosed) {
				t.Fatalf("waiting fetch returned %v at Close, want ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a waiting fetch did not return at Close")
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	}
}

func TestCallsAfterCloseFail(t *testing.T) {
	s := openTest(t, nil)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := bg0
	item := start("a")
	calls := map[string]func() error{
		"Fetch": func() error { _, err := s.FetchOrchestrationItem(ctx, time.Second, 0, nil); return err },
		"Ack": func() error {
			return s.AckOrchestrationItem(ctx, "t", 1, nil, nil, nil, provider.ExecutionMetadata{}, nil)
		},
		"Abandon":         func() error { return s.AbandonOrchestrationItem(ctx, "t", 0, false) },
		"Renew":           func() error { return s.RenewOrchestrationItemLock(ctx, "t", time.Second) },
		"Read":            func() error { _, err := s.Read(ctx, "a"); return err },
		"ReadWithExec":    func() error { _, err := s.ReadWithExecution(ctx, "a", 1); return err },
		"Append":          func() error { return s.AppendWithExecution(ctx, "a", 1, nil) },
		"EnqueueWorker":   func() error { return s.EnqueueForWorker(ctx, item) },
		"FetchWork":       func() error { _, err := s.FetchWorkItem(ctx, time.Second, 0, nil, provider.TagFilter{}); return err },
		"AckWork":         func() error { return s.AckWorkItem(ctx, "t", nil) },
		"RenewWork":       func() error { return s.RenewWorkItemLock(ctx, "t", time.Second) },
		"AbandonWork":     func() error { return s.AbandonWorkItem(ctx, "t", 0, false) },
		"EnqueueOrch":     func() error { return s.EnqueueForOrchestrator(ctx, item, 0) },
		"CustomStatus":    func() error { _, _, _, err := s.GetCustomStatus(ctx, "a", 0); return err },
		"KV":              func() error { _, _, err := s.GetKVValue(ctx, "a", "k"); return err },
		"KVAll":           func() error { _, err := s.GetKVAllValues(ctx, "a"); return err },
		"List":            func() error { _, err := s.ListInstances(ctx, provider.ListFilter{}); return err },
		"Info":            func() error { _, err := s.GetInstanceInfo(ctx, "a"); return err },
		"Executions":      func() error { _, err := s.ListExecutions(ctx, "a"); return err },
		"ExecInfo":        func() error { _, err := s.GetExecutionInfo(ctx, "a", 1); return err },
		"Metrics":         func() error { _, err := s.GetSystemMetrics(ctx); return err },
		"Depths":          func() error { _, err := s.GetQueueDepths(ctx); return err },
		"Children":        func() error { _, err := s.ListChildren(ctx, "a"); return err },
		"Parent":          func() error { _, err := s.GetParentID(ctx, "a"); return err },
		"Delete":          func() error { _, err := s.DeleteInstances(ctx, []string{"a"}, true); return err },
		"Prune":           func() error { _, err := s.PruneExecutions(ctx, "a", provider.PruneOptions{}); return err },
		"DeadLetters":     func() error { _, err := s.ListDeadLetters(ctx, 1); return err },
		"RenewSession":    func() error { _, err := s.RenewSessionLock(ctx, []string{"o"}, time.Second, time.Second); return err },
		"CleanupSessions": func() error { _, err := s.CleanupOrphanedSessions(ctx, time.Second); return err },
		"Expire":          func() error { _, err := s.ExpireWorkItems(ctx, 1); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, provider.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	ch, stop := s.WatchInstance("a")
	defer stop()
	select {
	case <-ch:
	default:
		t.Error("WatchInstance after Close returned an open channel")
	}
}

func TestBadInputNeverPanics(t *testing.T) {
	s := openTest(t, nil)
	defer s.Close()
	ctx := bg0
	mustErr := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: accepted", what)
		} else if provider.IsRetryable(err) {
			t.Errorf("%s: bad input reported as retryable: %v", what, err)
		}
	}
	mustErr("enqueue without instance", s.EnqueueForOrchestrator(ctx, history.WorkItem{Kind: history.WorkStartOrchestration}, 0))
	mustErr("enqueue unknown kind", s.EnqueueForOrchestrator(ctx, history.WorkItem{Kind: "Nope", Instance: "a"}, 0))
	mustErr("enqueue worker kind on orchestrator", s.EnqueueForOrchestrator(ctx, history.WorkItem{Kind: history.WorkActivityExecute, Instance: "a"}, 0))
	mustErr("enqueue orchestrator kind on worker", s.EnqueueForWorker(ctx, start("a")))
	mustErr("empty token ack", s.AckOrchestrationItem(ctx, "", 1, nil, nil, nil, provider.ExecutionMetadata{}, nil))
	_, err := s.FetchOrchestrationItem(ctx, 0, 0, nil)
	mustErr("zero lock timeout", err)
	_, err = s.FetchWorkItem(ctx, time.Second, 0, &provider.SessionConfig{}, provider.TagFilter{})
	mustErr("session without owner", err)
	_, err = s.FetchWorkItem(ctx, time.Second, 0, nil, provider.TagFilter{Mode: provider.TagOnly, Tags: []string{"1", "2", "3", "4", "5", "6"}})
	mustErr("too many tags", err)
	_, err = s.FetchWorkItem(ctx, time.Second, 0, nil, provider.TagFilter{Mode: 99})
	mustErr("unknown tag mode", err)
	mustErr("append to unknown instance", s.AppendWithExecution(ctx, "nope", 1, []history.Event{startedEvent("nope")}))

	mustEnqueue(t, s, start("a"))
	it, err := s.FetchOrchestrationItem(ctx, time.Minute, 0, nil)
	if err != nil || it == nil {
		t.Fatal(err)
	}
	mustErr("ack with bad status", s.AckOrchestrationItem(ctx, it.LockToken, 1, nil, nil, nil, provider.ExecutionMetadata{Status: "Paused"}, nil))
	mustErr("ack with bad pinned version", s.AckOrchestrationItem(ctx, it.LockToken, 1, []history.Event{startedEvent("a")}, nil, nil,
		provider.ExecutionMetadata{OrchestrationName: "O", PinnedVersion: "one"}, nil))
	mustErr("ack with event id 0", s.AckOrchestrationItem(ctx, it.LockToken, 1, []history.Event{{Kind: history.OrchestrationStarted}}, nil, nil, md, nil))
	mustErr("ack with execution 0", s.AckOrchestrationItem(ctx, it.LockToken, 0, nil, nil, nil, md, nil))
	mustErr("ack of a new instance without name", s.AckOrchestrationItem(ctx, it.LockToken, 1, []history.Event{startedEvent("a")}, nil, nil, provider.ExecutionMetadata{}, nil))
	mustErr("ack with a worker item of the wrong kind", s.AckOrchestrationItem(ctx, it.LockToken, 1, []history.Event{startedEvent("a")},
		[]history.WorkItem{start("b")}, nil, md, nil))
	mustErr("ack with an orchestrator item without instance", s.AckOrchestrationItem(ctx, it.LockToken, 1, []history.Event{startedEvent("a")},
		nil, []history.WorkItem{{Kind: history.WorkExternalRaised}}, md, nil))
	// None of these consumed the lock: the turn still commits.
	if err := s.AckOrchestrationItem(ctx, it.LockToken, 1, []history.Event{startedEvent("a")}, nil, nil, md, nil); err != nil {
		t.Fatalf("good ack after bad ones: %v", err)
	}
	// Ids and names are values, never SQL.
	for _, id := range []string{`a'; DROP TABLE history; --`, `"quoted"`, "line\nbreak", "ünïcödé", strings.Repeat("x", 500)} {
		createInstance(t, s, id)
		if h, err := s.Read(ctx, id); err != nil || len(h) != 1 {
			t.Fatalf("instance %q: %v %v", id, h, err)
		}
	}
}

// A fetch that returns an item after its caller gave up holds nothing.
func TestCancelledFetchHoldsNothing(t *testing.T) {
	s := openTest(t, nil)
	defer s.Close()
	mustEnqueue(t, s, start("a"))
	ctx, cancel := context.WithCancel(bg0)
	cancel()
	if it, err := s.FetchOrchestrationItem(ctx, time.Minute, time.Second, nil); it != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled fetch: %v %v", it, err)
	}
	it, err := s.FetchOrchestrationItem(bg0, time.Minute, 0, nil)
	if err != nil || it == nil || it.AttemptCount != 1 {
		t.Fatalf("fetch after a cancelled one: %+v %v (the cancelled fetch must hold no lock and count no attempt)", it, err)
	}
}

// Notification payloads stay under PostgreSQL's 8000-byte limit however
// many instances a batch of changes names, and carry every count.
func TestPayloadsAreBounded(t *testing.T) {
	s := &Store{id: "me"}
	now := time.Now()
	var cs []change
	for i := range 2000 {
		cs = append(cs, change{orchNow: 1, workNow: 1, orchAt: []time.Time{now.Add(time.Second)},
			instances: []string{strings.Repeat("\u00e9\"", 20) + string(rune('a'+i%26)) + strings.Repeat("x", i%50) + time.Duration(i).String()}})
	}
	ps := s.payloads(cs, now)
	orch, work, insts := 0, 0, 0
	for _, p := range ps {
		if len(p) > 8000 {
			t.Fatalf("payload of %d bytes", len(p))
		}
		var m wakeMsg
		if err := json.Unmarshal([]byte(p), &m); err != nil {
			t.Fatal(err)
		}
		orch, work, insts = orch+m.O, work+m.W, insts+len(m.I)
		if len(m.D) > maxDelayItems {
			t.Fatalf("%d delays in one payload", len(m.D))
		}
	}
	if orch != 2000 || work != 2000 || insts != 2000 || len(ps) < 2 {
		t.Fatalf("%d payloads carry %d orchestrator and %d worker items and %d instances", len(ps), orch, work, insts)
	}
}
