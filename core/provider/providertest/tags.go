package providertest

import (
	"slices"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

// fetchAllTags fetches (and acks) every item the filter serves, returning
// their tags ("" for untagged), sorted.
func (e *env) fetchAllTags(f provider.TagFilter) []string {
	e.t.Helper()
	var tags []string
	for {
		l := e.tryFetchWork(longLock, nil, f)
		if l == nil {
			slices.Sort(tags)
			return tags
		}
		tags = append(tags, l.Item.Tag)
		wantNoErr(e.t, "ack", e.p.AckWorkItem(e.ctx, l.LockToken, nil))
	}
}

func (e *env) enqueueTagged() {
	e.t.Helper()
	e.enqueueWorker(activity("a", 1, 1), taggedActivity("a", 2, "gpu"), taggedActivity("a", 3, "cpu"))
}

var tagTests = []test{
	{"DefaultOnly", func(e *env) {
		e.enqueueTagged()
		if got := e.fetchAllTags(provider.TagFilter{}); !slices.Equal(got, []string{""}) {
			e.t.Fatalf("default filter served %q", got)
		}
	}},
	{"TagsOnly", func(e *env) {
		e.enqueueTagged()
		if got := e.fetchAllTags(provider.TagFilter{Mode: provider.TagOnly, Tags: []string{"gpu"}}); !slices.Equal(got, []string{"gpu"}) {
			e.t.Fatalf("TagOnly(gpu) served %q", got)
		}
	}},
	{"MultipleTags", func(e *env) {
		e.enqueueTagged()
		if got := e.fetchAllTags(provider.TagFilter{Mode: provider.TagOnly, Tags: []string{"cpu", "gpu"}}); !slices.Equal(got, []string{"cpu", "gpu"}) {
			e.t.Fatalf("TagOnly(cpu, gpu) served %q", got)
		}
	}},
	{"DefaultAnd", func(e *env) {
		e.enqueueTagged()
		if got := e.fetchAllTags(provider.TagFilter{Mode: provider.TagDefaultAnd, Tags: []string{"gpu"}}); !slices.Equal(got, []string{"", "gpu"}) {
			e.t.Fatalf("DefaultAnd(gpu) served %q", got)
		}
	}},
	{"Any", func(e *env) {
		e.enqueueTagged()
		if got := e.fetchAllTags(anyTag); !slices.Equal(got, []string{"", "cpu", "gpu"}) {
			e.t.Fatalf("Any served %q", got)
		}
	}},
	{"None", func(e *env) {
		e.enqueueTagged()
		if got := e.fetchAllTags(provider.TagFilter{Mode: provider.TagNone}); len(got) != 0 {
			e.t.Fatalf("None served %q", got)
		}
		if got := e.fetchAllTags(anyTag); len(got) != 3 {
			e.t.Fatalf("items after a None fetch: %q", got)
		}
	}},
	{"TagSurvivesAckAndAbandon", func(e *env) {
		e.enqueue(startItem("a"))
		it := e.fetch("a")
		w := taggedActivity("a", 2, "gpu")
		w.SessionID = ""
		e.ack(it, 1, []history.Event{started("a", 1), scheduled("a", 1, 2)}, []history.WorkItem{w}, nil, meta())
		e.noFetchWork(nil, provider.TagFilter{})
		gpu := provider.TagFilter{Mode: provider.TagOnly, Tags: []string{"gpu"}}
		l := e.fetchWork(nil, gpu)
		if l.Item.Tag != "gpu" {
			e.t.Fatalf("tag after the ack = %q", l.Item.Tag)
		}
		wantNoErr(e.t, "abandon", e.p.AbandonWorkItem(e.ctx, l.LockToken, 0, false))
		e.noFetchWork(nil, provider.TagFilter{})
		if l := e.fetchWork(nil, gpu); l.Item.Tag != "gpu" {
			e.t.Fatalf("tag after abandon = %q", l.Item.Tag)
		}
	}},
}
