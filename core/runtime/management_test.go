package runtime_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/provider"
)

// TestClientManagement exercises the client's management calls over real
// instances: listing with filters, info, tree, delete rules, bulk delete
// and prune.
func TestClientManagement(t *testing.T) {
	e := newEnv(t)
	must(t, e.reg.RegisterOrchestration("Leaf", func(_ *orchestration.Context, in string) (string, error) { return in, nil }))
	must(t, e.reg.RegisterOrchestration("Tree", func(ctx *orchestration.Context, in string) (string, error) {
		a := ctx.ScheduleSubOrchestrationWithID("Leaf", in+"-a", "a")
		b := ctx.ScheduleSubOrchestrationWithID("Leaf", in+"-b", "b")
		if err := ctx.All(a, b).Await(nil); err != nil {
			return "", err
		}
		return "tree", nil
	}))
	must(t, e.reg.RegisterOrchestration("Waits", func(ctx *orchestration.Context, _ string) (string, error) {
		return "", ctx.WaitForEvent("never").Await(nil)
	}))
	must(t, e.reg.RegisterOrchestration("Loops", orchestration.Typed(func(ctx *orchestration.Context, in int) (int, error) {
		if in < 3 {
			return 0, ctx.ContinueAsNew(in + 1)
		}
		return in, nil
	})))
	e.start()
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	e.completed("t1", "Tree", "t1", "tree")
	e.completed("t2", "Tree", "t2", "tree")
	e.completed("loop", "Loops", 0, "3")
	must(t, e.c.StartOrchestration(ctx, "waiting", "Waits", ""))
	waitFor(t, "the waiting instance", func() bool { return historyHas(e, "waiting", "ExternalSubscribed") })

	// Listing with filters.
	ids := func(f provider.ListFilter) []string {
		infos, err := e.c.ListInstances(ctx, f)
		must(t, err)
		var out []string
		for _, i := range infos {
			out = append(out, i.InstanceID)
		}
		slices.Sort(out)
		return out
	}
	if got := ids(provider.ListFilter{Status: provider.StatusRunning}); !slices.Equal(got, []string{"waiting"}) {
		t.Fatalf("running: %v", got)
	}
	if got := ids(provider.ListFilter{Name: "Tree"}); !slices.Equal(got, []string{"t1", "t2"}) {
		t.Fatalf("by name: %v", got)
	}
	if got := ids(provider.ListFilter{Parent: "t1"}); !slices.Equal(got, []string{"t1-a", "t1-b"}) {
		t.Fatalf("children of t1: %v", got)
	}
	if got := ids(provider.ListFilter{CreatedAfter: before, RootsOnly: true}); len(got) != 4 {
		t.Fatalf("roots created in this test: %v", got)
	}
	if got := ids(provider.ListFilter{CreatedBefore: before}); len(got) != 0 {
		t.Fatalf("created before the test: %v", got)
	}
	if page, err := e.c.ListInstances(ctx, provider.ListFilter{Limit: 2, Offset: 1}); err != nil || len(page) != 2 {
		t.Fatalf("page: %d %v", len(page), err)
	}
	if _, err := e.c.ListInstances(ctx, provider.ListFilter{Status: "Sleeping"}); !errors.Is(err, client.ErrInvalidInput) {
		t.Fatalf("bad status filter: %v", err)
	}

	// Info, executions, tree.
	info, err := e.c.GetInstanceInfo(ctx, "t1-a")
	must(t, err)
	if info.ParentInstance != "t1" || info.Status != provider.StatusCompleted || info.Name != "Leaf" {
		t.Fatalf("child info: %+v", info)
	}
	execs, err := e.c.ListExecutions(ctx, "loop")
	must(t, err)
	if len(execs) != 4 {
		t.Fatalf("loop executions %v", execs)
	}
	tree, err := e.c.GetInstanceTree(ctx, "t1")
	must(t, err)
	if len(tree.AllIDs) != 3 || tree.AllIDs[0] != "t1" {
		t.Fatalf("tree: %+v", tree)
	}
	m, err := e.c.GetSystemMetrics(ctx)
	must(t, err)
	if m.TotalInstances != 8 || m.RunningInstances != 1 {
		t.Fatalf("metrics: %+v", m)
	}

	// Delete rules.
	if _, err := e.c.DeleteInstance(ctx, "t1-a", false); !errors.Is(err, provider.ErrIsSubOrchestration) {
		t.Fatalf("deleting a child: %v", err)
	}
	if _, err := e.c.DeleteInstance(ctx, "waiting", false); !errors.Is(err, provider.ErrInstanceRunning) {
		t.Fatalf("deleting a running instance: %v", err)
	}
	if _, err := e.c.DeleteInstance(ctx, "nope", false); !errors.Is(err, provider.ErrInstanceNotFound) {
		t.Fatalf("deleting an unknown instance: %v", err)
	}
	res, err := e.c.DeleteInstance(ctx, "t1", false)
	must(t, err)
	if res.InstancesDeleted != 3 {
		t.Fatalf("cascade deleted %d instances, want 3", res.InstancesDeleted)
	}
	if st, _ := e.c.GetStatus(ctx, "t1-b"); st.State != client.StateNotFound {
		t.Fatalf("child survived its root's deletion: %s", st.State)
	}
	if _, err := e.c.DeleteInstance(ctx, "waiting", true); err != nil {
		t.Fatalf("forced delete: %v", err)
	}

	// Prune keeps the current execution.
	pr, err := e.c.PruneExecutions(ctx, "loop", provider.PruneOptions{KeepLast: 1})
	must(t, err)
	if pr.ExecutionsDeleted != 3 {
		t.Fatalf("pruned %d executions, want 3", pr.ExecutionsDeleted)
	}
	if st, _ := e.c.GetStatus(ctx, "loop"); st.State != client.StateCompleted || st.Output != "3" {
		t.Fatalf("pruning changed the status: %+v", st)
	}
	bulk, err := e.c.PruneExecutionsBulk(ctx, provider.ListFilter{}, provider.PruneOptions{KeepLast: 1})
	must(t, err)
	if bulk.ExecutionsDeleted != 0 || bulk.InstancesProcessed == 0 {
		t.Fatalf("bulk prune after prune: %+v", bulk)
	}

	// Bulk delete removes ended roots with their children.
	del, err := e.c.DeleteInstanceBulk(ctx, provider.ListFilter{Name: "Tree"})
	must(t, err)
	if del.InstancesDeleted != 3 {
		t.Fatalf("bulk delete removed %d instances, want t2 and its 2 children", del.InstancesDeleted)
	}
	if left := ids(provider.ListFilter{}); !slices.Equal(left, []string{"loop"}) {
		t.Fatalf("left after deletes: %v", left)
	}
}
