package postgres

import (
	"context"
	crand "crypto/rand"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/runtime"
)

// privateServer is a PostgreSQL server of the test's own (made by
// scripts/pg-start.sh on a free port and a directory of its own), so that
// the test can stop and restart it without disturbing other tests.
type privateServer struct {
	env []string
	dsn string
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startPrivateServer(t *testing.T) *privateServer {
	t.Helper()
	testDSN(t) // skips (or fails in CI) without a server: then the programs may be missing too
	port := freePort(t)
	p := &privateServer{env: append(os.Environ(),
		fmt.Sprintf("DUROXIDE_PG_PORT=%d", port),
		fmt.Sprintf("DUROXIDE_PG_HOME=/tmp/duroxide-pgtest-%d-%s", port, strings.ToLower(crand.Text()[:6])),
		"DUROXIDE_PG_DSN_FILE="+filepath.Join(t.TempDir(), "pg.dsn"),
	)}
	out, err := p.script("pg-start.sh")
	if err != nil {
		msg := fmt.Sprintf("cannot start a private PostgreSQL server: %v\n%s", err, out)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		if out, err := p.script("pg-stop.sh", "--purge"); err != nil {
			t.Errorf("stop the private server: %v\n%s", err, out)
		}
	})
	lines := strings.Split(strings.TrimSpace(out), "\n")
	p.dsn = lines[len(lines)-1]
	return p
}

// script runs one of the repository's scripts with the server's
// environment; stdout is the DSN, stderr the progress.
func (p *privateServer) script(name string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(repoRoot(), "scripts", name), args...)
	cmd.Env = p.env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return stderr.String() + string(out), err
	}
	return string(out), nil
}

// TestDatabaseRestart restarts the server (pg_ctl stop -m fast, which
// closes every connection, then start) while orchestrations are in flight:
// the store replaces its broken connections, its LISTEN connection comes
// back, and every instance completes exactly once.
func TestDatabaseRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and restarts a PostgreSQL server; skipped with -short")
	}
	srv := startPrivateServer(t)
	store, err := Open(bg0, srv.dsn, &Options{Schema: "dx_restart", PollInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	listener0 := store.ListenerPID()

	reg := runtime.NewRegistry()
	must(t, reg.RegisterActivity("Slow", func(ctx *activity.Context, in string) (string, error) {
		select {
		case <-time.After(time.Duration(20+rand.IntN(100)) * time.Millisecond):
		case <-ctx.Done():
			return "", ctx.Err()
		}
		return in + "+", nil
	}))
	must(t, reg.RegisterOrchestration("Restarted", func(ctx *orchestration.Context, in string) (string, error) {
		s := in
		for i := 0; i < 3; i++ {
			if i == 1 {
				if err := ctx.CreateTimer(150 * time.Millisecond).Await(nil); err != nil {
					return "", err
				}
			}
			if err := ctx.ScheduleActivity("Slow", s).Await(&s); err != nil {
				return "", err
			}
		}
		return s, nil
	}))
	rt, err := runtime.Start(bg0, store, reg, &runtime.Options{
		OrchestratorLockTimeout: 2 * time.Second, WorkerLockTimeout: 2 * time.Second, PollTimeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(bg0, 10*time.Second)
		defer cancel()
		_ = rt.Stop(ctx)
	}()
	c := client.New(store, nil)

	const before, after = 40, 10
	for i := 0; i < before; i++ {
		must(t, c.StartOrchestration(bg0, fmt.Sprintf("r-%02d", i), "Restarted", fmt.Sprintf("in%02d", i)))
	}
	completed := func(n int) int {
		done := 0
		for i := 0; i < n; i++ {
			st, err := c.GetStatus(bg0, fmt.Sprintf("r-%02d", i))
			if err == nil && st.IsTerminal() {
				done++
			}
		}
		return done
	}
	waitUntil(t, 60*time.Second, "the first orchestrations to complete", func() bool { return completed(before) >= 5 })
	inFlight := before - completed(before)

	if out, err := srv.script("pg-stop.sh"); err != nil {
		t.Fatalf("stop: %v\n%s", err, out)
	}
	time.Sleep(time.Second) // the store's calls fail meanwhile
	if out, err := srv.script("pg-start.sh"); err != nil {
		t.Fatalf("restart: %v\n%s", err, out)
	}
	t.Logf("restarted the server with %d of %d orchestrations in flight", inFlight, before)

	// New work after the restart, too.
	for i := before; i < before+after; i++ {
		id := fmt.Sprintf("r-%02d", i)
		waitUntil(t, 30*time.Second, "a start after the restart", func() bool {
			return c.StartOrchestration(bg0, id, "Restarted", fmt.Sprintf("in%02d", i)) == nil
		})
	}
	waitUntil(t, 90*time.Second, "every orchestration to complete after the restart", func() bool {
		return completed(before+after) == before+after
	})
	for i := 0; i < before+after; i++ {
		id := fmt.Sprintf("r-%02d", i)
		st, err := c.GetStatus(bg0, id)
		must(t, err)
		if want := fmt.Sprintf("in%02d+++", i); st.State != client.StateCompleted || st.Output != want {
			t.Fatalf("%s ended %s %q (%s), want Completed %q", id, st.State, st.Output, st.ErrorMessage(), want)
		}
		h, err := c.ReadHistory(bg0, id)
		must(t, err)
		n := 0
		for _, ev := range h {
			if ev.Kind == history.OrchestrationCompleted {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%s has %d completion events", id, n)
		}
	}
	waitUntil(t, 10*time.Second, "the LISTEN connection to come back", func() bool {
		pid := store.ListenerPID()
		return pid != 0 && pid != listener0
	})
	m := rt.Metrics()
	t.Logf("all %d orchestrations completed; runtime metrics: %+v", before+after, m)
}
