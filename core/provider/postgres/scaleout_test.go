package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/history"
)

// TestScaleOut: three runtime processes share one schema; 500
// orchestrations with activities and a timer are started; one process is
// killed with SIGKILL halfway. Every orchestration completes exactly once
// with the right result, and the surviving processes share the work.
func TestScaleOut(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three runtime processes; skipped with -short")
	}
	const n = 500
	dsn := testDSN(t)
	s := openTest(t, nil) // migrates the schema once, before the children open it
	defer s.Close()
	c := client.New(s, nil)
	children := startChildren(t, 3, dsn, s.Schema(), 2*time.Second)
	pids := map[string]int{}
	for i, ch := range children {
		pids[strconv.Itoa(ch.pid)] = i
	}

	ctx := context.Background()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		must(t, c.StartOrchestration(ctx, fmt.Sprintf("so-%03d", i), "ScaleOut", fmt.Sprintf("in%03d", i)))
	}
	countDone := func() (int, map[string]bool) {
		infos, err := s.ListInstances(ctx, providerListAll(n))
		must(t, err)
		done, pending := 0, map[string]bool{}
		for _, in := range infos {
			if in.Status == "Completed" || in.Status == "Failed" {
				done++
			} else {
				pending[in.InstanceID] = true
			}
		}
		for i := 0; i < n; i++ { // not created yet: pending too
			id := fmt.Sprintf("so-%03d", i)
			if !containsInstance(infos, id) {
				pending[id] = true
			}
		}
		return done, pending
	}
	var pendingAtKill map[string]bool
	waitUntil(t, 90*time.Second, "half of the orchestrations to complete", func() bool {
		done, pending := countDone()
		pendingAtKill = pending
		return done >= n/2
	})
	victim := children[1]
	victim.kill()
	killedAt := time.Since(t0)
	t.Logf("killed process %d after %v, %d orchestrations still pending", victim.pid, killedAt.Round(time.Millisecond), len(pendingAtKill))

	ranBy := make([]int, len(children))     // activities per process
	afterKill := make([]int, len(children)) // the last activity of instances pending at the kill
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("so-%03d", i)
		st, err := c.WaitForOrchestration(ctx, id, 90*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		val, ps, ok := strings.Cut(st.Output, "#")
		if st.State != client.StateCompleted || !ok || val != fmt.Sprintf("in%03d+++", i) {
			t.Fatalf("%s ended %s %q (%s), want Completed in%03d+++#<pids>", id, st.State, st.Output, st.ErrorMessage(), i)
		}
		steps := strings.Split(ps, ",")
		if len(steps) != 3 {
			t.Fatalf("%s: activity pids %q", id, ps)
		}
		for k, p := range steps {
			idx, known := pids[p]
			if !known {
				t.Fatalf("%s: activity %d ran in process %s, not one of the runtimes %v", id, k, p, pids)
			}
			ranBy[idx]++
			if k == 2 && pendingAtKill[id] {
				afterKill[idx]++
			}
		}
		// Exactly once: one execution, one completion, at the end.
		execs, err := c.ListExecutions(ctx, id)
		must(t, err)
		h, err := c.ReadHistory(ctx, id)
		must(t, err)
		completions := 0
		for _, ev := range h {
			if ev.Kind == history.OrchestrationCompleted {
				completions++
			}
		}
		if len(execs) != 1 || completions != 1 || h[len(h)-1].Kind != history.OrchestrationCompleted {
			t.Fatalf("%s: executions %v, %d completion events, last event %s: want one of each, at the end",
				id, execs, completions, h[len(h)-1].Kind)
		}
	}
	total := time.Since(t0)
	t.Logf("%d orchestrations in %v; activities per process %v; last activities of the %d instances pending at the kill: %v",
		n, total.Round(time.Millisecond), ranBy, len(pendingAtKill), afterKill)
	for i, ch := range children {
		if ranBy[i] == 0 {
			t.Errorf("process %d ran no activity", ch.pid)
		}
		if ch != victim && afterKill[i] == 0 {
			t.Errorf("surviving process %d ran no activity after the kill: the work was not spread", ch.pid)
		}
	}
	idx := pids[strconv.Itoa(victim.pid)]
	if afterKill[idx] > 0 {
		// A Step of the victim may have completed just before the kill.
		t.Logf("the killed process had run %d final steps before it died", afterKill[idx])
	}
	for _, ch := range children {
		ch.stop()
	}
}
