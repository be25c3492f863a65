package providertest

import (
	"slices"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

func ref(instance string, exec, id uint64) provider.ActivityRef {
	return provider.ActivityRef{Instance: instance, ExecutionID: exec, ActivityID: id}
}

// drainWork fetches and acks every worker item, returning their ids.
func (e *env) drainWork() []uint64 {
	e.t.Helper()
	var ids []uint64
	for {
		l := e.tryFetchWork(longLock, &provider.SessionConfig{OwnerID: "drain", LockTimeout: longLock}, anyTag)
		if l == nil {
			slices.Sort(ids)
			return ids
		}
		ids = append(ids, l.Item.ID)
		wantNoErr(e.t, "ack work", e.p.AckWorkItem(e.ctx, l.LockToken, nil))
	}
}

var cancellationTests = []test{
	{"AckWorkItemWithoutCompletion", func(e *env) {
		e.create("a", provider.ExecutionMetadata{})
		e.enqueueWorker(activity("a", 1, 2))
		l := e.fetchWork(nil, provider.TagFilter{})
		wantNoErr(e.t, "ack", e.p.AckWorkItem(e.ctx, l.LockToken, nil))
		e.noFetchWork(nil, anyTag)
		e.noFetch(nil)
	}},
	{"AckWorkItemEnqueuesCompletion", func(e *env) {
		e.create("a", provider.ExecutionMetadata{})
		e.enqueueWorker(activity("a", 1, 2))
		l := e.fetchWork(nil, provider.TagFilter{})
		wantNoErr(e.t, "ack", e.p.AckWorkItem(e.ctx, l.LockToken, activityDone("a", 1, 2)))
		it := e.fetch("a")
		if len(it.Messages) != 1 || it.Messages[0].Kind != history.WorkActivityCompleted || it.Messages[0].Result != "ok" {
			e.t.Fatalf("messages = %v", messageNames(it))
		}
	}},
	{"CancelledActivitiesDeletedByAck", func(e *env) {
		e.enqueue(startItem("a"))
		it := e.fetch("a")
		e.ack(it, 1, []history.Event{started("a", 1), scheduled("a", 1, 2), scheduled("a", 1, 3), scheduled("a", 1, 4)},
			[]history.WorkItem{activity("a", 1, 2), activity("a", 1, 3), activity("a", 1, 4)}, nil, meta())
		e.turn("a", 1, nil, provider.ExecutionMetadata{}, nil, nil, ref("a", 1, 2), ref("a", 1, 4))
		if ids := e.drainWork(); !slices.Equal(ids, []uint64{3}) {
			e.t.Fatalf("activities left = %v, want [3]", ids)
		}
	}},
	{"CancellingNothingIsANoOp", func(e *env) {
		e.create("a", provider.ExecutionMetadata{})
		e.enqueueWorker(activity("a", 1, 2))
		e.turn("a", 1, nil, provider.ExecutionMetadata{}, nil, nil, ref("a", 1, 9), ref("other", 1, 2))
		if ids := e.drainWork(); !slices.Equal(ids, []uint64{2}) {
			e.t.Fatalf("activities left = %v, want [2]", ids)
		}
	}},
	{"ScheduleAndCancelInOneAck", func(e *env) {
		e.create("a", provider.ExecutionMetadata{})
		e.turn("a", 1, []history.Event{scheduled("a", 1, 2), event("a", 1, 3, history.ActivityCancelRequested)},
			provider.ExecutionMetadata{}, []history.WorkItem{activity("a", 1, 2)}, nil, ref("a", 1, 2))
		if ids := e.drainWork(); len(ids) != 0 {
			e.t.Fatalf("activities left = %v; the cancellation must apply after the inserts", ids)
		}
	}},
	{"CancellationMatchesTheExecution", func(e *env) {
		e.create("a", provider.ExecutionMetadata{})
		e.enqueueWorker(activity("a", 1, 2))
		e.turn("a", 1, nil, provider.ExecutionMetadata{}, nil, nil, ref("a", 2, 2))
		if ids := e.drainWork(); !slices.Equal(ids, []uint64{2}) {
			e.t.Fatalf("activities left = %v; cancelling execution 2's activity removed execution 1's", ids)
		}
	}},
	{"ForceDeletedInstanceStaysDeleted", func(e *env) {
		a := e.admin()
		e.create("a", provider.ExecutionMetadata{})
		e.enqueueWorker(activity("a", 1, 2))
		l := e.fetchWork(nil, provider.TagFilter{})
		_, err := a.DeleteInstances(e.ctx, []string{"a"}, true)
		wantNoErr(e.t, "force delete", err)
		wantLockLost(e.t, "ack of an orphaned activity", e.p.AckWorkItem(e.ctx, l.LockToken, activityDone("a", 1, 2)))
		e.noFetch(nil)
		_, err = a.GetInstanceInfo(e.ctx, "a")
		wantErrIs(e.t, "GetInstanceInfo", err, provider.ErrInstanceNotFound)
	}},
}
