package providertest

import (
	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

func semver(maj, mnr, pat int) provider.Semver {
	return provider.Semver{Major: maj, Minor: mnr, Patch: pat}
}

func vrange(lo, hi provider.Semver) *provider.VersionFilter {
	return &provider.VersionFilter{Min: lo, Max: hi}
}

// createPinned creates instances with their first execution pinned to
// version ("" = not pinned), then queues a message for each, in order.
func (e *env) createPinned(version string, instances ...string) {
	e.t.Helper()
	md := meta()
	md.PinnedVersion = version
	for _, inst := range instances {
		e.create(inst, md)
	}
	for _, inst := range instances {
		e.enqueue(raised(inst, "x"))
	}
}

var versionFilterTests = []test{
	{"NoFilterServesEverything", func(e *env) {
		e.createPinned("9.9.9", "a")
		e.fetch("a")
	}},
	{"CompatibleAndIncompatible", func(e *env) {
		e.createPinned("1.2.3", "a")
		e.noFetch(vrange(semver(2, 0, 0), semver(3, 0, 0)))
		e.noFetch(vrange(semver(0, 0, 0), semver(1, 2, 2)))
		if it := e.fetchWithin("a", longLock, vrange(semver(1, 0, 0), semver(1, 9, 9)), 0); it.Instance != "a" {
			e.t.Fatalf("fetched %q", it.Instance)
		}
	}},
	{"BoundsAreInclusive", func(e *env) {
		e.createPinned("1.2.3", "a", "b")
		e.fetchWithin("a", longLock, vrange(semver(1, 2, 3), semver(1, 2, 3)), 0)
		e.fetchWithin("b", longLock, vrange(semver(1, 2, 3), semver(2, 0, 0)), 0)
	}},
	{"SkipsIncompatibleWithoutLockingIt", func(e *env) {
		md := meta()
		md.PinnedVersion = "9.0.0"
		e.create("new", md)
		md.PinnedVersion = "1.0.0"
		e.create("old", md)
		e.enqueue(raised("new", "x"), raised("old", "x")) // new's message is first
		e.fetchWithin("old", longLock, vrange(semver(1, 0, 0), semver(2, 0, 0)), 0)
		e.fetch("new") // not locked by the filtered fetch
	}},
	{"UnpinnedAlwaysPasses", func(e *env) {
		e.createPinned("", "a")
		e.fetchWithin("a", longLock, vrange(semver(5, 0, 0), semver(6, 0, 0)), 0)
	}},
	{"NewInstancePasses", func(e *env) {
		e.enqueue(startItem("a"))
		e.fetchWithin("a", longLock, vrange(semver(5, 0, 0), semver(6, 0, 0)), 0)
	}},
	{"EachExecutionHasItsOwnPin", func(e *env) {
		e.createPinned("1.0.0", "a")
		it := e.fetch("a")
		e.ack(it, 1, []history.Event{event("a", 1, 2, history.OrchestrationContinuedAsNew)}, nil,
			[]history.WorkItem{continueItem("a")}, terminal(provider.StatusContinuedAsNew, "next"))
		it = e.fetch("a")
		md := meta()
		md.PinnedVersion = "2.0.0"
		e.ack(it, 2, []history.Event{started("a", 2)}, nil, nil, md)
		e.enqueue(raised("a", "y"))
		e.noFetch(vrange(semver(1, 0, 0), semver(1, 0, 0)))
		e.fetchWithin("a", longLock, vrange(semver(2, 0, 0), semver(2, 0, 0)), 0)
		if a, ok := e.p.(provider.Admin); ok {
			for exec, want := range map[uint64]string{1: "1.0.0", 2: "2.0.0"} {
				info, err := a.GetExecutionInfo(e.ctx, "a", exec)
				wantNoErr(e.t, "GetExecutionInfo", err)
				if info.PinnedVersion != want {
					e.t.Fatalf("execution %d pinned %q, want %q", exec, info.PinnedVersion, want)
				}
			}
		}
	}},
	{"FilterAppliesBeforeHistoryIsRead", func(e *env) {
		e.createPinned("9.0.0", "a")
		e.corrupt("a", 1)
		e.noFetch(vrange(semver(1, 0, 0), semver(2, 0, 0)))
		it := e.fetch("a")
		if it.HistoryError == "" {
			e.t.Fatal("corrupt history fetched without HistoryError")
		}
	}},
}
