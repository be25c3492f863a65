package providertest

import (
	"slices"
	"time"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

// complete ends execution exec of instance with status (after delta).
func (e *env) complete(instance string, exec uint64, status string, delta ...history.Event) {
	e.t.Helper()
	e.enqueue(raised(instance, "end"))
	it := e.fetch(instance)
	kind := history.OrchestrationCompleted
	if status == provider.StatusFailed {
		kind = history.OrchestrationFailed
	}
	next := uint64(len(it.History)) + uint64(len(delta)) + 1
	delta = append(delta, event(instance, exec, next, kind))
	e.ack(it, exec, delta, nil, nil, terminal(status, "out-"+instance))
}

// createChild creates instance child with parent as its parent.
func (e *env) createChild(parent, child string) {
	e.t.Helper()
	md := meta()
	md.ParentInstance = parent
	e.create(child, md)
}

var deletionTests = []test{
	{"DeletesATerminalInstance", func(e *env) {
		a := e.admin()
		e.create("a", provider.ExecutionMetadata{})
		e.complete("a", 1, provider.StatusCompleted)
		res, err := a.DeleteInstances(e.ctx, []string{"a"}, false)
		wantNoErr(e.t, "delete", err)
		if res.InstancesDeleted != 1 || res.ExecutionsDeleted != 1 || res.EventsDeleted != 2 {
			e.t.Fatalf("delete result %+v, want 1 instance, 1 execution, 2 events", *res)
		}
		wantHistoryLen(e.t, "history after delete", e.read("a"), 0)
		_, err = a.GetInstanceInfo(e.ctx, "a")
		wantErrIs(e.t, "GetInstanceInfo after delete", err, provider.ErrInstanceNotFound)
	}},
	{"RunningInstanceNeedsForce", func(e *env) {
		a := e.admin()
		e.create("a", provider.ExecutionMetadata{})
		_, err := a.DeleteInstances(e.ctx, []string{"a"}, false)
		wantErrIs(e.t, "delete of a running instance", err, provider.ErrInstanceRunning)
		wantHistoryLen(e.t, "history after refused delete", e.read("a"), 1)
		res, err := a.DeleteInstances(e.ctx, []string{"a"}, true)
		wantNoErr(e.t, "forced delete", err)
		if res.InstancesDeleted != 1 {
			e.t.Fatalf("forced delete removed %d instances", res.InstancesDeleted)
		}
	}},
	{"CascadesToQueuesLocksAndKV", func(e *env) {
		a := e.admin()
		kv := event("a", 1, 2, history.KeyValueSet)
		kv.Key, kv.Value = "k", "v"
		e.create("a", provider.ExecutionMetadata{}, kv)
		e.enqueueWorker(activity("a", 1, 3))
		wantNoErr(e.t, "delayed enqueue", e.p.EnqueueForOrchestrator(e.ctx, raised("a", "later"), time.Hour))
		e.enqueue(raised("a", "now"))
		it := e.fetch("a") // hold the instance lock
		e.enqueue(raised("a", "while-locked"))
		res, err := a.DeleteInstances(e.ctx, []string{"a"}, true)
		wantNoErr(e.t, "forced delete", err)
		if res.QueueMessages < 4 {
			e.t.Fatalf("deleted %d queue messages, want at least 4", res.QueueMessages)
		}
		d, err := a.GetQueueDepths(e.ctx)
		wantNoErr(e.t, "GetQueueDepths", err)
		if d.Orchestrator != 0 || d.Worker != 0 || d.Delayed != 0 {
			e.t.Fatalf("queue depths after delete: %+v", *d)
		}
		if len(e.kvAll("a")) != 0 {
			e.t.Fatal("KV survived the delete")
		}
		// The in-flight turn cannot bring the instance back.
		wantLockLost(e.t, "ack after delete", e.p.AckOrchestrationItem(e.ctx, it.LockToken, 1,
			[]history.Event{scheduled("a", 1, 3)}, nil, nil, meta(), nil))
		_, err = a.GetInstanceInfo(e.ctx, "a")
		wantErrIs(e.t, "GetInstanceInfo", err, provider.ErrInstanceNotFound)
	}},
	{"OrphanCheck", func(e *env) {
		a := e.admin()
		e.create("p", provider.ExecutionMetadata{})
		e.createChild("p", "c")
		e.complete("p", 1, provider.StatusCompleted)
		e.complete("c", 1, provider.StatusCompleted)
		_, err := a.DeleteInstances(e.ctx, []string{"p"}, true)
		wantErrIs(e.t, "delete of a parent without its child", err, provider.ErrOrphanedChild)
		wantHistoryLen(e.t, "parent after refused delete", e.read("p"), 2)
		res, err := a.DeleteInstances(e.ctx, []string{"p", "c"}, false)
		wantNoErr(e.t, "delete of the tree", err)
		if res.InstancesDeleted != 2 {
			e.t.Fatalf("deleted %d instances, want 2", res.InstancesDeleted)
		}
	}},
	{"DeletingAChildAloneIsAllowed", func(e *env) {
		a := e.admin()
		e.create("p", provider.ExecutionMetadata{})
		e.createChild("p", "c")
		e.complete("c", 1, provider.StatusCompleted)
		_, err := a.DeleteInstances(e.ctx, []string{"c"}, false)
		wantNoErr(e.t, "delete of a child", err)
		kids, err := a.ListChildren(e.ctx, "p")
		wantNoErr(e.t, "ListChildren", err)
		if len(kids) != 0 {
			e.t.Fatalf("children after delete = %v", kids)
		}
	}},
	{"ChildrenAndParent", func(e *env) {
		a := e.admin()
		e.create("p", provider.ExecutionMetadata{})
		e.createChild("p", "c1")
		e.createChild("p", "c2")
		e.createChild("c1", "g")
		kids, err := a.ListChildren(e.ctx, "p")
		wantNoErr(e.t, "ListChildren", err)
		slices.Sort(kids)
		if !slices.Equal(kids, []string{"c1", "c2"}) {
			e.t.Fatalf("children of p = %v", kids)
		}
		if parent, err := a.GetParentID(e.ctx, "g"); err != nil || parent != "c1" {
			e.t.Fatalf("parent of g = %q, %v", parent, err)
		}
		if parent, err := a.GetParentID(e.ctx, "p"); err != nil || parent != "" {
			e.t.Fatalf("parent of the root = %q, %v", parent, err)
		}
		_, err = a.GetParentID(e.ctx, "nope")
		wantErrIs(e.t, "GetParentID of an unknown instance", err, provider.ErrInstanceNotFound)
	}},
	{"UnknownAndEmpty", func(e *env) {
		a := e.admin()
		res, err := a.DeleteInstances(e.ctx, nil, false)
		wantNoErr(e.t, "delete of nothing", err)
		if res.InstancesDeleted != 0 {
			e.t.Fatalf("delete of nothing: %+v", *res)
		}
		res, err = a.DeleteInstances(e.ctx, []string{"ghost"}, false)
		if err != nil {
			wantErrIs(e.t, "delete of an unknown instance", err, provider.ErrInstanceNotFound)
		} else if res.InstancesDeleted != 0 {
			e.t.Fatalf("delete of an unknown instance: %+v", *res)
		}
	}},
	{"RecreateAfterDelete", func(e *env) {
		a := e.admin()
		status := "old"
		cs := event("a", 1, 2, history.CustomStatusUpdated)
		cs.CustomStatus = &status
		kv := event("a", 1, 3, history.KeyValueSet)
		kv.Key, kv.Value = "k", "v"
		e.create("a", provider.ExecutionMetadata{}, cs, kv)
		e.continueAsNew("a", 1, 4, provider.ExecutionMetadata{})
		e.enqueueWorker(activity("a", 2, 2))
		stale := e.fetchWork(nil, provider.TagFilter{})
		_, err := a.DeleteInstances(e.ctx, []string{"a"}, true)
		wantNoErr(e.t, "delete", err)
		e.enqueue(startItem("a"))
		it := e.fetch("a")
		if it.ExecutionID != 1 || len(it.History) != 0 || len(it.KVSnapshot) != 0 {
			e.t.Fatalf("recreated instance: exec %d, %d events, %d KV keys", it.ExecutionID, len(it.History), len(it.KVSnapshot))
		}
		e.ack(it, 1, []history.Event{started("a", 1)}, nil, nil, meta())
		if _, _, changed, err := e.p.GetCustomStatus(e.ctx, "a", 0); err != nil || changed {
			e.t.Fatalf("recreated instance has the old custom status (changed=%v err=%v)", changed, err)
		}
		if _, ok := e.kv("a", "k"); ok {
			e.t.Fatal("recreated instance has the old KV")
		}
		wantLockLost(e.t, "ack of a stale activity", e.p.AckWorkItem(e.ctx, stale.LockToken, activityDone("a", 2, 2)))
		e.noFetch(nil)
	}},
}
