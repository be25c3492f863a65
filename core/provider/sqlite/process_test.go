package sqlite

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/history"
)

// Environment of the child process of TestTwoProcesses.
const (
	childDBEnv    = "DUROXIDE_SQLITE_TEST_CHILD_DB"
	childCountEnv = "DUROXIDE_SQLITE_TEST_CHILD_COUNT"
)

// dispatch fetches and acks instances until total turns were taken by
// everyone (counted by Read), returning how many this store took.
func dispatch(t *testing.T, s *Store, total int, deadline time.Time) int {
	t.Helper()
	n := 0
	for time.Now().Before(deadline) {
		it, err := s.FetchOrchestrationItem(bg0, time.Minute, 100*time.Millisecond, nil)
		if err != nil {
			t.Fatalf("fetch: %v", err)
		}
		if it == nil {
			m, err := s.GetSystemMetrics(bg0)
			if err != nil {
				t.Fatal(err)
			}
			if m.TotalInstances == int64(total) {
				return n
			}
			continue
		}
		if err := s.AckOrchestrationItem(bg0, it.LockToken, 1, []history.Event{startedEvent(it.Instance)}, nil, nil, md, nil); err != nil {
			t.Fatalf("ack %s: %v", it.Instance, err)
		}
		n++
	}
	t.Fatal("dispatch: deadline passed")
	return n
}

// TestTwoProcesses shares one file between this process and a child: the
// child's enqueue wakes a long poll here (through PRAGMA data_version: the
// fallback poll is off), then both dispatch the same instances and each
// turn is taken exactly once. How the turns split is up to SQLite's write
// lock, which is not fair between processes.
func TestTwoProcesses(t *testing.T) {
	if path := os.Getenv(childDBEnv); path != "" {
		total, _ := strconv.Atoi(os.Getenv(childCountEnv))
		s, err := Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		time.Sleep(200 * time.Millisecond) // let the parent start its long poll
		mustEnqueue(t, s, start("wake"))
		// Only the parent takes "wake"; then both dispatch the rest.
		deadline := time.Now().Add(20 * time.Second)
		for {
			h, err := s.Read(bg0, "wake")
			if err != nil {
				t.Fatal(err)
			}
			if len(h) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the parent never took the wake-up instance")
			}
			time.Sleep(5 * time.Millisecond)
		}
		for i := range total - 1 {
			mustEnqueue(t, s, start(fmt.Sprintf("i%03d", i)))
		}
		n := dispatch(t, s, total, time.Now().Add(60*time.Second))
		fmt.Printf("CHILD-TURNS=%d\n", n)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	const total = 200
	path := t.TempDir() + "/shared.db"
	s, err := Open(path, &Options{PollInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestTwoProcesses$", "-test.v")
	cmd.Env = append(os.Environ(), childDBEnv+"="+path, childCountEnv+"="+strconv.Itoa(total))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()

	t0 := time.Now()
	it, err := s.FetchOrchestrationItem(bg0, time.Minute, 20*time.Second, nil)
	if err != nil || it == nil {
		t.Fatalf("long poll for the child's enqueue: %v %v\n%s", it, err, out.String())
	}
	if el := time.Since(t0); el > 3*time.Second {
		t.Fatalf("the child's enqueue woke the long poll after %v", el)
	}
	if err := s.AckOrchestrationItem(bg0, it.LockToken, 1, []history.Event{startedEvent(it.Instance)}, nil, nil, md, nil); err != nil {
		t.Fatal(err)
	}
	mine := 1 + dispatch(t, s, total, time.Now().Add(60*time.Second))
	if err := <-waitErr; err != nil {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	var theirs int
	for _, line := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "CHILD-TURNS="); ok {
			theirs, _ = strconv.Atoi(v)
		}
	}
	if mine+theirs != total {
		t.Fatalf("this process took %d turns and the child %d, want %d in all\n%s", mine, theirs, total, out.String())
	}
	m, err := s.GetSystemMetrics(bg0)
	if err != nil || m.TotalInstances != total || m.TotalEvents != total {
		t.Fatalf("metrics %+v, %v: every instance must have exactly one event", m, err)
	}
	t.Logf("this process took %d turns, the child %d", mine, theirs)
}
