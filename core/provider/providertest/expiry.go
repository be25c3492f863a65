package providertest

import (
	"strings"
	"time"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

func (e *env) expirer() provider.WorkItemExpirer {
	e.t.Helper()
	x, ok := e.p.(provider.WorkItemExpirer)
	if !ok {
		e.t.Skip("store does not implement provider.WorkItemExpirer")
	}
	return x
}

// expiring is a tagged activity whose pickup deadline is d from now.
func expiring(instance string, id uint64, d time.Duration) history.WorkItem {
	it := taggedActivity(instance, id, "gpu")
	it.ExpiresAtMs = time.Now().Add(d).UnixMilli()
	return it
}

var expiryTests = []test{
	{"UnclaimedItemFailsAfterDeadline", func(e *env) {
		x := e.expirer()
		e.create("a", meta())
		e.enqueueWorker(expiring("a", 2, 0))
		n, err := x.ExpireWorkItems(e.ctx, 10)
		wantNoErr(e.t, "ExpireWorkItems", err)
		if n != 1 {
			e.t.Fatalf("expired %d items, want 1", n)
		}
		e.noFetchWork(nil, anyTag)
		it := e.fetch("a")
		if len(it.Messages) != 1 || it.Messages[0].Kind != history.WorkActivityFailed || it.Messages[0].ID != 2 {
			e.t.Fatalf("want one ActivityFailed for activity 2, got %+v", it.Messages)
		}
		d := it.Messages[0].Error
		if d == nil || d.Kind != history.KindTimeout || !strings.Contains(d.Message, `"gpu"`) {
			e.t.Fatalf("failure %+v should be a timeout naming the tag", d)
		}
	}},
	{"ItemBeforeDeadlineStays", func(e *env) {
		x := e.expirer()
		e.enqueueWorker(expiring("a", 2, time.Hour))
		n, err := x.ExpireWorkItems(e.ctx, 10)
		wantNoErr(e.t, "ExpireWorkItems", err)
		if n != 0 {
			e.t.Fatalf("expired %d items before their deadline", n)
		}
		if l := e.fetchWork(nil, anyTag); l.Item.ExpiresAtMs == 0 {
			e.t.Fatal("the pickup deadline was not kept on the item")
		}
	}},
	{"ClaimedItemNeverExpires", func(e *env) {
		x := e.expirer()
		e.enqueueWorker(expiring("a", 2, 50*time.Millisecond))
		l := e.fetchWork(nil, anyTag)
		wantNoErr(e.t, "abandon", e.p.AbandonWorkItem(e.ctx, l.LockToken, 0, false))
		time.Sleep(100 * time.Millisecond) // past the deadline
		n, err := x.ExpireWorkItems(e.ctx, 10)
		wantNoErr(e.t, "ExpireWorkItems", err)
		if n != 0 {
			e.t.Fatalf("expired an item a worker had taken")
		}
	}},
	{"ItemWithoutDeadlineNeverExpires", func(e *env) {
		x := e.expirer()
		e.enqueueWorker(taggedActivity("a", 2, "gpu"))
		n, err := x.ExpireWorkItems(e.ctx, 10)
		wantNoErr(e.t, "ExpireWorkItems", err)
		if n != 0 {
			e.t.Fatalf("expired an item without a deadline")
		}
	}},
}
