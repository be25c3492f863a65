package postgres

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
	"github.com/duroxide/duroxide/core/provider/providertest"
)

// The tests need a PostgreSQL server: DUROXIDE_PG_DSN, or the DSN that
// `make pg-start` (scripts/pg-start.sh) writes to build/pg.dsn. Without one
// they skip, except in CI (CI=true), where they fail.

const dsnEnv = "DUROXIDE_PG_DSN"

var bg0 = context.Background()

// repoRoot is the directory holding go.mod.
func repoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

// lookupDSN returns the test server's DSN, or the reason there is none.
func lookupDSN() (string, string) {
	if v := strings.TrimSpace(os.Getenv(dsnEnv)); v != "" {
		return v, ""
	}
	path := filepath.Join(repoRoot(), "build", "pg.dsn")
	if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) != "" {
		return strings.TrimSpace(string(b)), ""
	}
	return "", fmt.Sprintf("no PostgreSQL server for the tests: %s is not set and %s does not exist; run `make pg-start` (scripts/pg-start.sh installs and starts a local server and writes the DSN there)", dsnEnv, path)
}

// testDSN returns the test server's DSN; without one it skips the test, or
// fails it in CI.
func testDSN(t testing.TB) string {
	t.Helper()
	dsn, why := lookupDSN()
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	return dsn
}

// newSchema returns a fresh schema name that is dropped when the test ends.
func newSchema(t testing.TB, dsn string) string {
	t.Helper()
	name := "dxt_" + strings.ToLower(rand.Text()[:10])
	t.Cleanup(func() { dropSchema(t, dsn, name) })
	return name
}

func dropSchema(t testing.TB, dsn, name string) {
	ctx, cancel := context.WithTimeout(bg0, 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Errorf("drop schema %s: %v", name, err)
		return
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
		t.Errorf("drop schema %s: %v", name, err)
	}
}

const testDeadLetterAfter = 300 * time.Millisecond

// testOptions turn the fallback poll off, so that the conformance suite's
// long-poll tests pass only through precise wake-ups.
func testOptions() *Options {
	return &Options{DeadLetterAfter: testDeadLetterAfter, PollInterval: time.Hour}
}

// openTest opens a store on a fresh schema; the caller closes it.
func openTest(t testing.TB, opts *Options) *Store {
	t.Helper()
	dsn := testDSN(t)
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.Schema == "" {
		o.Schema = newSchema(t, dsn)
	}
	s, err := Open(bg0, dsn, &o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// exec runs SQL (with the schema placeholder __S__) on the store's pool.
func (s *Store) testExec(t testing.TB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	err := s.with(bg0, func(ctx context.Context, c *pgx.Conn) error {
		tag, err := c.Exec(ctx, s.sql(q), args...)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		t.Fatalf("exec %q: %v", q, err)
	}
	return n
}

// corruptHistory overwrites the last stored event of an execution with
// text that is not JSON.
func corruptHistory(t *testing.T, p provider.Provider, instance string, exec uint64) {
	t.Helper()
	s := p.(*Store)
	n := s.testExec(t, `UPDATE __S__.history SET event_data = '{"event_id": broken'
WHERE instance_id = $1 AND execution_id = $2
  AND event_id = (SELECT MAX(event_id) FROM __S__.history WHERE instance_id = $1 AND execution_id = $2)`, instance, int64(exec))
	if n != 1 {
		t.Fatalf("corrupted %d rows", n)
	}
}

// factory is the conformance suite's view of the store. Every call is a
// network round trip to a server that, in CI, shares two cores with every
// other package's tests: the short locks and the short-poll bound get
// margins for that (the semantics checked are the same).
func factory(opts func() *Options) providertest.Factory {
	return providertest.Factory{
		New:                func(t *testing.T) provider.Provider { return openTest(t, opts()) },
		LockTimeout:        600 * time.Millisecond,
		ShortPollThreshold: 300 * time.Millisecond,
		DeadLetterAfter:    testDeadLetterAfter,
		CorruptHistory:     corruptHistory,
	}
}

func TestConformance(t *testing.T) {
	providertest.Run(t, factory(testOptions))
}

// With LISTEN off, the store still wakes its own fetchers on its own
// writes and at the times it knows of: the suite passes too.
func TestConformanceWithoutListen(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole suite a second time")
	}
	providertest.Run(t, factory(func() *Options {
		o := testOptions()
		o.DisableListen = true
		return o
	}))
}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	goleak.VerifyTestMain(m)
}

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

// waitUntil polls cond until it holds or d passes.
func waitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	delay := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(delay)
		delay = min(2*delay, 50*time.Millisecond)
	}
}

func providerListAll(n int) provider.ListFilter { return provider.ListFilter{Limit: n + 100} }

func containsInstance(infos []provider.InstanceInfo, id string) bool {
	for _, in := range infos {
		if in.InstanceID == id {
			return true
		}
	}
	return false
}
