package providertest

import (
	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

var poisonTests = []test{
	{"AttemptsStartAtOne", func(e *env) {
		e.enqueue(startItem("a"))
		if it := e.fetch("a"); it.AttemptCount != 1 {
			e.t.Fatalf("orchestration attempt = %d, want 1", it.AttemptCount)
		}
		e.enqueueWorker(activity("a", 1, 1))
		if l := e.fetchWork(nil, provider.TagFilter{}); l.AttemptCount != 1 {
			e.t.Fatalf("work item attempt = %d, want 1", l.AttemptCount)
		}
	}},
	{"AttemptsGrowOnRefetch", func(e *env) {
		e.enqueue(startItem("a"))
		for want := 1; want <= 3; want++ {
			it := e.fetch("a")
			if it.AttemptCount != want {
				e.t.Fatalf("attempt = %d, want %d", it.AttemptCount, want)
			}
			wantNoErr(e.t, "abandon", e.p.AbandonOrchestrationItem(e.ctx, it.LockToken, 0, false))
		}
		e.enqueueWorker(activity("a", 1, 1))
		for want := 1; want <= 3; want++ {
			l := e.fetchWork(nil, provider.TagFilter{})
			if l.AttemptCount != want {
				e.t.Fatalf("work attempt = %d, want %d", l.AttemptCount, want)
			}
			wantNoErr(e.t, "abandon work", e.p.AbandonWorkItem(e.ctx, l.LockToken, 0, false))
		}
	}},
	{"IgnoreAttemptGivesItBack", func(e *env) {
		e.enqueue(startItem("a"))
		for range 3 {
			it := e.fetch("a")
			if it.AttemptCount != 1 {
				e.t.Fatalf("attempt = %d after abandons that ignore the attempt, want 1", it.AttemptCount)
			}
			wantNoErr(e.t, "abandon", e.p.AbandonOrchestrationItem(e.ctx, it.LockToken, 0, true))
		}
		e.enqueueWorker(activity("a", 1, 1))
		for range 3 {
			l := e.fetchWork(nil, provider.TagFilter{})
			if l.AttemptCount != 1 {
				e.t.Fatalf("work attempt = %d after abandons that ignore the attempt, want 1", l.AttemptCount)
			}
			wantNoErr(e.t, "abandon work", e.p.AbandonWorkItem(e.ctx, l.LockToken, 0, true))
		}
	}},
	{"BatchReportsTheHighestAttempt", func(e *env) {
		e.create("a", provider.ExecutionMetadata{})
		e.enqueue(raised("a", "old"))
		for range 2 {
			it := e.fetch("a")
			wantNoErr(e.t, "abandon", e.p.AbandonOrchestrationItem(e.ctx, it.LockToken, 0, false))
		}
		e.enqueue(raised("a", "new"))
		it := e.fetch("a")
		if len(it.Messages) != 2 || it.AttemptCount != 3 {
			e.t.Fatalf("batch of %d with attempt %d, want 2 messages and attempt 3", len(it.Messages), it.AttemptCount)
		}
	}},
	{"WorkerAttemptsArePerItem", func(e *env) {
		e.enqueueWorker(activity("a", 1, 1))
		l := e.fetchWork(nil, provider.TagFilter{})
		wantNoErr(e.t, "abandon", e.p.AbandonWorkItem(e.ctx, l.LockToken, e.f.LockTimeout*10, false))
		e.enqueueWorker(activity("a", 1, 2))
		if l2 := e.fetchWork(nil, provider.TagFilter{}); l2.Item.ID != 2 || l2.AttemptCount != 1 {
			e.t.Fatalf("second item: id %d attempt %d, want 2 and 1", l2.Item.ID, l2.AttemptCount)
		}
	}},
	{"CorruptHistoryIsReportedNotFatal", func(e *env) {
		e.create("a", provider.ExecutionMetadata{}, scheduled("a", 1, 2))
		e.corrupt("a", 1)
		e.enqueue(raised("a", "e1"))
		it := e.fetch("a")
		if it.HistoryError == "" || len(it.History) != 0 || it.StoredEvents != 2 || it.AttemptCount != 1 {
			e.t.Fatalf("corrupt history: error %q, %d events, %d stored, attempt %d; want an error, 0, 2, 1",
				it.HistoryError, len(it.History), it.StoredEvents, it.AttemptCount)
		}
		wantNoErr(e.t, "abandon", e.p.AbandonOrchestrationItem(e.ctx, it.LockToken, 0, false))
		it = e.fetch("a")
		if it.AttemptCount != 2 || it.HistoryError == "" {
			e.t.Fatalf("refetch: attempt %d error %q, want 2 and an error", it.AttemptCount, it.HistoryError)
		}
		// The runtime ends such an instance with a failure at a sentinel id;
		// the append must not need to read the old rows.
		failed := event("a", 1, 99999, history.OrchestrationFailed)
		failed.Error = history.Poison(history.KindPoisonHistory, "a", 2, 10, "undecodable")
		e.ack(it, 1, []history.Event{failed}, nil, nil, terminal(provider.StatusFailed, "poison"))
		if a, ok := e.p.(provider.Admin); ok {
			info, err := a.GetInstanceInfo(e.ctx, "a")
			wantNoErr(e.t, "GetInstanceInfo", err)
			if info.Status != provider.StatusFailed {
				e.t.Fatalf("status = %q, want Failed", info.Status)
			}
		}
	}},
}
