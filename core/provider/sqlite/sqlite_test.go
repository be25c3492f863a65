package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
	"github.com/duroxide/duroxide/core/provider/providertest"
)

const testDeadLetterAfter = 300 * time.Millisecond

// testOptions turn the fallback poll off, so that the conformance suite's
// long-poll tests pass only through precise wake-ups (commits in this
// process, the watcher's schedule of delays and lock expiries).
func testOptions() *Options {
	return &Options{DeadLetterAfter: testDeadLetterAfter, PollInterval: time.Hour}
}

func openFile(t testing.TB, opts *Options) *Store {
	t.Helper()
	s, err := Open("sqlite:"+filepath.Join(t.TempDir(), "store.db"), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func openMemory(t testing.TB, opts *Options) *Store {
	t.Helper()
	s, err := Open("sqlite::memory:", opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// corruptHistory overwrites the first stored event of an execution with
// text that is not JSON.
func corruptHistory(t *testing.T, p provider.Provider, instance string, exec uint64) {
	t.Helper()
	s := p.(*Store)
	err := s.write(context.Background(), func(w *wtx) error {
		n, err := w.execN(`UPDATE history SET event_data = '{"event_id": broken' WHERE instance_id = ? AND execution_id = ?
AND event_id = (SELECT MAX(event_id) FROM history WHERE instance_id = ? AND execution_id = ?)`, instance, exec, instance, exec)
		if err == nil && n != 1 {
			t.Fatalf("corrupted %d rows", n)
		}
		return err
	})
	if err != nil {
		t.Fatalf("corrupt history: %v", err)
	}
}

func TestConformanceFile(t *testing.T) {
	providertest.Run(t, providertest.Factory{
		New:             func(t *testing.T) provider.Provider { return openFile(t, testOptions()) },
		DeadLetterAfter: testDeadLetterAfter,
		CorruptHistory:  corruptHistory,
	})
}

func TestConformanceMemory(t *testing.T) {
	providertest.Run(t, providertest.Factory{
		New:             func(t *testing.T) provider.Provider { return openMemory(t, testOptions()) },
		DeadLetterAfter: testDeadLetterAfter,
		CorruptHistory:  corruptHistory,
	})
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var bg0 = context.Background()

func mustEnqueue(t testing.TB, p provider.Provider, items ...history.WorkItem) {
	t.Helper()
	for _, it := range items {
		if err := p.EnqueueForOrchestrator(bg0, it, 0); err != nil {
			t.Fatalf("enqueue: %v", err)
		}
	}
}

func start(instance string) history.WorkItem {
	return history.WorkItem{Kind: history.WorkStartOrchestration, Instance: instance, Name: "Orch", Version: "1.0.0"}
}

func startedEvent(instance string) history.Event {
	return history.Event{EventID: 1, Kind: history.OrchestrationStarted, InstanceID: instance, ExecutionID: 1, Name: "Orch"}
}

var md = provider.ExecutionMetadata{OrchestrationName: "Orch", OrchestrationVersion: "1.0.0"}

// createInstance runs the first turn of instance.
func createInstance(t testing.TB, p provider.Provider, instance string) {
	t.Helper()
	mustEnqueue(t, p, start(instance))
	it, err := p.FetchOrchestrationItem(bg0, time.Minute, time.Second, nil)
	if err != nil || it == nil || it.Instance != instance {
		t.Fatalf("fetch %s: %v %v", instance, it, err)
	}
	if err := p.AckOrchestrationItem(bg0, it.LockToken, 1, []history.Event{startedEvent(instance)}, nil, nil, md, nil); err != nil {
		t.Fatalf("ack %s: %v", instance, err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	createInstance(t, s, "a")
	mustEnqueue(t, s, history.WorkItem{Kind: history.WorkExternalRaised, Instance: "a", Name: "e"})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open("sqlite:"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h, err := s.Read(bg0, "a")
	if err != nil || len(h) != 1 {
		t.Fatalf("history after reopen: %v, %v", h, err)
	}
	it, err := s.FetchOrchestrationItem(bg0, time.Minute, 0, nil)
	if err != nil || it == nil || len(it.Messages) != 1 || it.Messages[0].Name != "e" {
		t.Fatalf("queued message after reopen: %+v, %v", it, err)
	}
	// Each migration is recorded once, however often the file is opened.
	files, _ := fs.Glob(migrations, "migrations/*.sql")
	var versions int
	if err := s.rdb.QueryRow("SELECT COUNT(*) FROM schema_version").Scan(&versions); err != nil || versions != len(files) {
		t.Fatalf("schema_version rows = %d (%v), want %d", versions, err, len(files))
	}
}

func TestConcurrentOpensOfOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	stores := make([]*Store, 4)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = Open(path, nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	createInstance(t, stores[0], "a")
	h, err := stores[3].Read(bg0, "a")
	if err != nil || len(h) != 1 {
		t.Fatalf("another store reads %v, %v", h, err)
	}
}

// Two stores on one file behave like two processes: a long poll in one is
// woken by an enqueue in the other (PRAGMA data_version), well before the
// fallback poll interval.
func TestCrossStoreWake(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	opts := &Options{PollInterval: time.Hour}
	a, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

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
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan struct{})
			go func() {
				defer close(done)
				time.Sleep(100 * time.Millisecond) // let the fetch start waiting
				tc.write()
			}()
			t0 := time.Now()
			got, err := tc.fetch()
			<-done
			if err != nil || !got {
				t.Fatalf("fetch in the other store: %v, %v", got, err)
			}
			if el := time.Since(t0); el > 2*time.Second {
				t.Fatalf("woken after %v", el)
			}
		})
	}

	// A lock taken in one store and left to expire is noticed by the other.
	mustEnqueue(t, a, start("y"))
	if it, err := a.FetchOrchestrationItem(bg0, 300*time.Millisecond, time.Second, nil); err != nil || it == nil {
		t.Fatalf("fetch: %v %v", it, err)
	}
	t0 := time.Now()
	it, err := b.FetchOrchestrationItem(bg0, time.Minute, 10*time.Second, nil)
	if err != nil || it == nil || it.Instance != "y" {
		t.Fatalf("fetch after the other store's lock expired: %v %v", it, err)
	}
	if el := time.Since(t0); el > 2*time.Second {
		t.Fatalf("expired lock noticed after %v", el)
	}
}

// gate holds the writer until released, so that the requests submitted
// meanwhile form one batch.
func gate(t *testing.T, s *Store) (release func()) {
	t.Helper()
	held := make(chan struct{})
	open := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.write(bg0, func(*wtx) error {
			close(held)
			<-open
			return nil
		})
	}()
	<-held
	return func() {
		close(open)
		if err := <-done; err != nil {
			t.Errorf("gate: %v", err)
		}
	}
}

func TestGroupCommit(t *testing.T) {
	for _, mem := range []bool{false, true} {
		t.Run(map[bool]string{false: "file", true: "memory"}[mem], func(t *testing.T) {
			var s *Store
			if mem {
				s = openMemory(t, nil)
			} else {
				s = openFile(t, nil)
			}
			defer s.Close()
			const n = 200
			for i := range n {
				mustEnqueue(t, s, start(fmt.Sprintf("i%03d", i)))
			}
			items := make([]*provider.OrchestrationItem, 0, n)
			for range n {
				it, err := s.FetchOrchestrationItem(bg0, time.Minute, 0, nil)
				if err != nil || it == nil {
					t.Fatalf("fetch: %v %v", it, err)
				}
				items = append(items, it)
			}

			release := gate(t, s)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i, it := range items {
				wg.Add(1)
				go func() {
					defer wg.Done()
					delta := []history.Event{startedEvent(it.Instance)}
					if i%10 == 0 {
						// A bad ack in the middle of the batch: event 1 twice.
						delta = append(delta, startedEvent(it.Instance))
					}
					errs[i] = s.AckOrchestrationItem(bg0, it.LockToken, 1, delta, nil, nil, md, nil)
				}()
			}
			waitForQueue(t, s, n)
			release()
			wg.Wait()
			// All the acks queued behind the gate share one transaction.
			if b := s.largestBatch.Load(); b < n {
				t.Fatalf("largest batch %d requests, want the %d acks in one", b, n)
			}

			for i, it := range items {
				h, err := s.Read(bg0, it.Instance)
				if err != nil {
					t.Fatal(err)
				}
				if i%10 == 0 {
					if errs[i] == nil || len(h) != 0 {
						t.Fatalf("bad ack %d: err %v, %d events; want an error and nothing written", i, errs[i], len(h))
					}
					if provider.IsRetryable(errs[i]) {
						t.Fatalf("duplicate event id reported as retryable: %v", errs[i])
					}
					continue
				}
				if errs[i] != nil || len(h) != 1 {
					t.Fatalf("ack %d: err %v, %d events", i, errs[i], len(h))
				}
			}
		})
	}
}

func waitForQueue(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(s.reqs) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d requests queued", len(s.reqs), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestGroupCommitUnderLoad(t *testing.T) {
	s := openFile(t, nil)
	defer s.Close()
	const n = 200
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inst := fmt.Sprintf("i%03d", i)
			if errs[i] = s.EnqueueForOrchestrator(bg0, start(inst), 0); errs[i] != nil {
				return
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	commits0, reqs0 := s.commits.Load(), s.requests.Load()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			it, err := s.FetchOrchestrationItem(bg0, time.Minute, 5*time.Second, nil)
			if err != nil || it == nil {
				errs[i] = fmt.Errorf("fetch: %v %v", it, err)
				return
			}
			errs[i] = s.AckOrchestrationItem(bg0, it.LockToken, 1, []history.Event{startedEvent(it.Instance)}, nil, nil, md, nil)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	m, err := s.GetSystemMetrics(bg0)
	if err != nil || m.TotalInstances != n || m.TotalEvents != n {
		t.Fatalf("metrics %+v, %v", m, err)
	}
	t.Logf("%d requests in %d commits", s.requests.Load()-reqs0, s.commits.Load()-commits0)
}

func TestCorruptQueueRowsAreDeadLettered(t *testing.T) {
	for _, mem := range []bool{false, true} {
		t.Run(map[bool]string{false: "file", true: "memory"}[mem], func(t *testing.T) {
			var s *Store
			if mem {
				s = openMemory(t, nil)
			} else {
				s = openFile(t, nil)
			}
			defer s.Close()
			createInstance(t, s, "a")
			now := nowMs()
			err := s.write(bg0, func(w *wtx) error {
				for _, row := range []struct{ kind, data string }{
					{"ExternalRaised", `{"kind": "ExternalRaised", "instance": `}, // truncated
					{"Mystery", `{"kind": "Mystery", "instance": "a"}`},           // unknown kind
					{"ExternalRaised", `[1, 2, 3]`},                               // not an object
				} {
					if _, err := w.exec(`INSERT INTO orchestrator_queue(instance_id, kind, work_item, visible_at, created_at)
VALUES ('a', ?, ?, ?, ?)`, row.kind, row.data, now, now); err != nil {
						return err
					}
				}
				_, err := w.exec(`INSERT INTO worker_queue(instance_id, execution_id, activity_id, work_item, visible_at, created_at)
VALUES ('a', 1, 2, 'not json', ?, ?)`, now, now)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
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
			if dls[0].Queue != queueWorker || !strings.Contains(dls[0].Reason, "undecodable") {
				t.Fatalf("newest dead letter %+v", dls[0])
			}
		})
	}
}

func TestCorruptHistoryGivesHistoryError(t *testing.T) {
	s := openFile(t, nil)
	defer s.Close()
	createInstance(t, s, "a")
	corruptHistory(t, s, "a", 1)
	if _, err := s.Read(bg0, "a"); err == nil {
		t.Fatal("Read of a corrupt history succeeded")
	}
	mustEnqueue(t, s, history.WorkItem{Kind: history.WorkExternalRaised, Instance: "a", Name: "e"})
	it, err := s.FetchOrchestrationItem(bg0, time.Minute, 0, nil)
	if err != nil || it == nil {
		t.Fatalf("fetch: %v %v", it, err)
	}
	if !strings.Contains(it.HistoryError, `"a"`) || it.StoredEvents != 1 || it.History != nil {
		t.Fatalf("item: error %q stored %d history %v", it.HistoryError, it.StoredEvents, it.History)
	}
}

func TestCloseStopsGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, mem := range []bool{false, true} {
		var s *Store
		if mem {
			s = openMemory(t, nil)
		} else {
			s = openFile(t, nil)
		}
		createInstance(t, s, "a")
		// A long poll in progress returns when the store closes.
		errc := make(chan error, 1)
		go func() {
			_, err := s.FetchWorkItem(bg0, time.Minute, time.Hour, nil, provider.TagFilter{})
			errc <- err
		}()
		time.Sleep(50 * time.Millisecond)
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
	s := openMemory(t, nil)
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

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notADB := filepath.Join(dir, "not-a-db")
	if err := os.WriteFile(notADB, []byte(strings.Repeat("this is not a database\n", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dsn := range []string{
		notADB,
		dir,
		"",
		"sqlite:",
		"sqlite:" + filepath.Join(dir, "missing-dir", "x.db"),
		"sqlite:" + filepath.Join(dir, "x.db") + "?cache=shared",
		"file:" + filepath.Join(dir, "x.db"),
	} {
		s, err := Open(dsn, nil)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", dsn)
			continue
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", dsn)) {
			t.Errorf("Open(%q) error %q does not name the DSN", dsn, err)
		}
	}
	if _, err := Open("sqlite::memory:", &Options{Synchronous: "OFF"}); err == nil {
		t.Error("Synchronous OFF accepted")
	}
}

func TestParseDSN(t *testing.T) {
	for _, tc := range []struct {
		dsn  string
		want location
	}{
		{"sqlite::memory:", location{memory: true}},
		{":memory:", location{memory: true}},
		{"sqlite:./x.db", location{path: "./x.db"}},
		{"sqlite:/abs/x.db", location{path: "/abs/x.db"}},
		{"sqlite:///abs/x.db", location{path: "/abs/x.db"}},
		{"sqlite://./x.db?mode=rwc", location{path: "./x.db"}},
		{"x.db", location{path: "x.db"}},
		{" /abs/with space.db ", location{path: "/abs/with space.db"}},
	} {
		got, err := parseDSN(tc.dsn)
		if err != nil || got != tc.want {
			t.Errorf("parseDSN(%q) = %+v, %v; want %+v", tc.dsn, got, err, tc.want)
		}
	}
}

func TestPathWithSpecialCharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a dir?#%", "x.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	createInstance(t, s, "a")
	s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the path given: %v", err)
	}
}

func TestBadInputNeverPanics(t *testing.T) {
	s := openMemory(t, nil)
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
}

// The candidate queries must be index seeks in queue order, never scans or
// sorts of the queue, so that fetches stay cheap with deep queues.
func TestFetchQueriesUseIndexes(t *testing.T) {
	s := openFile(t, nil)
	defer s.Close()
	plan := func(q string, args []any) string {
		rows, err := s.rdb.Query("EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			b.WriteString(detail + "\n")
		}
		return b.String()
	}
	check := func(name, q string, args []any) {
		p := plan(q, args)
		// A union of branches sorts its few rows once, at the top level.
		sorts := strings.Count(p, "TEMP B-TREE")
		if strings.Contains(q, "UNION ALL") {
			sorts--
		}
		if strings.Contains(p, "SCAN q") || sorts > 0 {
			t.Errorf("%s: plan scans or sorts the queue:\n%s", name, p)
		}
	}
	q, a := orchCandidate(1, nil)
	check("orchestrator", q, a)
	q, a = orchCandidate(1, &provider.VersionFilter{})
	check("orchestrator with filter", q, a)
	for _, f := range []provider.TagFilter{
		{},
		{Mode: provider.TagAny},
		{Mode: provider.TagOnly, Tags: []string{"gpu"}},
		{Mode: provider.TagOnly, Tags: []string{"gpu", "cpu", "gpu"}},
		{Mode: provider.TagDefaultAnd, Tags: []string{"gpu", "cpu"}},
	} {
		q, a = workCandidate(1, nil, f)
		check(fmt.Sprintf("worker %+v", f), q, a)
		q, a = workCandidate(1, &provider.SessionConfig{OwnerID: "o"}, f)
		check(fmt.Sprintf("worker %+v with sessions", f), q, a)
	}
}

// Waiting fetchers cost no write transactions, however many there are.
func TestIdleWaitersDoNotWrite(t *testing.T) {
	s := openFile(t, nil)
	defer s.Close()
	createInstance(t, s, "a") // a locked-out instance: visible but unfetchable work
	mustEnqueue(t, s, history.WorkItem{Kind: history.WorkExternalRaised, Instance: "a", Name: "e"})
	it, err := s.FetchOrchestrationItem(bg0, time.Minute, 0, nil)
	if err != nil || it == nil {
		t.Fatal(err)
	}
	mustEnqueue(t, s, history.WorkItem{Kind: history.WorkExternalRaised, Instance: "a", Name: "while-locked"})
	time.Sleep(50 * time.Millisecond) // let the writes' wake-ups settle
	commits0 := s.commits.Load()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if it, err := s.FetchOrchestrationItem(bg0, time.Minute, time.Second, nil); err != nil || it != nil {
				t.Errorf("idle fetch: %v %v", it, err)
			}
		}()
		go func() {
			defer wg.Done()
			if l, err := s.FetchWorkItem(bg0, time.Minute, time.Second, nil, provider.TagFilter{}); err != nil || l != nil {
				t.Errorf("idle work fetch: %v %v", l, err)
			}
		}()
	}
	wg.Wait()
	if c := s.commits.Load() - commits0; c != 0 {
		t.Fatalf("16 idle fetchers caused %d write transactions in a second", c)
	}
}

// plainStore hides the optional capabilities of a Store.
type plainStore struct{ provider.Provider }

// The suite against a store with only the required contract: the tests of
// optional capabilities must skip, every other test must still pass.
func TestConformanceRequiredOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole suite a third time")
	}
	providertest.Run(t, providertest.Factory{
		New: func(t *testing.T) provider.Provider { return plainStore{openMemory(t, testOptions())} },
	})
}
