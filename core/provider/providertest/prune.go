package providertest

import (
	"slices"
	"time"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

// chain creates instance with n executions: 1..n-1 continued as new (two
// events each), n running.
func (e *env) chain(instance string, n int) {
	e.t.Helper()
	e.create(instance, provider.ExecutionMetadata{})
	for exec := uint64(1); exec < uint64(n); exec++ {
		e.continueAsNew(instance, exec, 2, provider.ExecutionMetadata{})
	}
}

func (e *env) executions(a provider.Admin, instance string) []uint64 {
	e.t.Helper()
	ids, err := a.ListExecutions(e.ctx, instance)
	wantNoErr(e.t, "ListExecutions", err)
	return ids
}

var pruneTests = []test{
	{"KeepLast", func(e *env) {
		a := e.admin()
		e.chain("a", 4)
		res, err := a.PruneExecutions(e.ctx, "a", provider.PruneOptions{KeepLast: 2})
		wantNoErr(e.t, "prune", err)
		if res.ExecutionsDeleted != 2 || res.EventsDeleted != 4 || res.InstancesProcessed != 1 {
			e.t.Fatalf("prune result %+v, want 2 executions and 4 events of 1 instance", *res)
		}
		if ids := e.executions(a, "a"); !slices.Equal(ids, []uint64{3, 4}) {
			e.t.Fatalf("executions after prune = %v, want [3 4]", ids)
		}
		wantHistoryLen(e.t, "pruned execution", e.readExec("a", 1), 0)
		wantHistoryLen(e.t, "kept execution", e.readExec("a", 3), 2)
	}},
	{"KeepLastZeroOrOneKeepsOnlyCurrent", func(e *env) {
		a := e.admin()
		e.chain("a", 3)
		e.chain("b", 3)
		_, err := a.PruneExecutions(e.ctx, "a", provider.PruneOptions{KeepLast: 0})
		wantNoErr(e.t, "prune a", err)
		_, err = a.PruneExecutions(e.ctx, "b", provider.PruneOptions{KeepLast: 1})
		wantNoErr(e.t, "prune b", err)
		for _, inst := range []string{"a", "b"} {
			if ids := e.executions(a, inst); !slices.Equal(ids, []uint64{3}) {
				e.t.Fatalf("%s: executions after prune = %v, want [3]", inst, ids)
			}
		}
		wantHistoryLen(e.t, "current history", e.read("a"), 1)
	}},
	{"NeverTheCurrentExecution", func(e *env) {
		a := e.admin()
		e.chain("a", 2)
		e.complete("a", 2, provider.StatusCompleted)
		_, err := a.PruneExecutions(e.ctx, "a", provider.PruneOptions{})
		wantNoErr(e.t, "prune", err)
		if ids := e.executions(a, "a"); !slices.Equal(ids, []uint64{2}) {
			e.t.Fatalf("executions after prune = %v, want [2]", ids)
		}
		info, err := a.GetInstanceInfo(e.ctx, "a")
		wantNoErr(e.t, "GetInstanceInfo", err)
		if info.Status != provider.StatusCompleted || info.CurrentExecutionID != 2 {
			e.t.Fatalf("instance after prune: %+v", *info)
		}
	}},
	{"NeverARunningExecution", func(e *env) {
		a := e.admin()
		e.create("a", provider.ExecutionMetadata{})
		// Execution 2 starts while execution 1 never ended.
		e.turn("a", 2, []history.Event{started("a", 2)}, meta(), nil, nil)
		e.continueAsNew("a", 2, 2, provider.ExecutionMetadata{})
		_, err := a.PruneExecutions(e.ctx, "a", provider.PruneOptions{})
		wantNoErr(e.t, "prune", err)
		if ids := e.executions(a, "a"); !slices.Equal(ids, []uint64{1, 3}) {
			e.t.Fatalf("executions after prune = %v, want [1 3] (1 is still running)", ids)
		}
	}},
	{"CompletedBefore", func(e *env) {
		a := e.admin()
		e.create("a", provider.ExecutionMetadata{})
		e.continueAsNew("a", 1, 2, provider.ExecutionMetadata{})
		time.Sleep(5 * time.Millisecond) // completion times are compared; let the clock move
		cutoff := time.Now()
		time.Sleep(5 * time.Millisecond)
		e.continueAsNew("a", 2, 2, provider.ExecutionMetadata{})
		res, err := a.PruneExecutions(e.ctx, "a", provider.PruneOptions{CompletedBefore: cutoff})
		wantNoErr(e.t, "prune", err)
		if res.ExecutionsDeleted != 1 {
			e.t.Fatalf("pruned %d executions, want 1", res.ExecutionsDeleted)
		}
		if ids := e.executions(a, "a"); !slices.Equal(ids, []uint64{2, 3}) {
			e.t.Fatalf("executions after prune = %v, want [2 3]", ids)
		}
	}},
	{"LeavesKVAlone", func(e *env) {
		a := e.admin()
		kv := event("a", 1, 2, history.KeyValueSet)
		kv.Key, kv.Value = "k", "v1"
		e.create("a", provider.ExecutionMetadata{}, kv)
		e.continueAsNew("a", 1, 3, provider.ExecutionMetadata{})
		kv2 := event("a", 2, 2, history.KeyValueSet)
		kv2.Key, kv2.Value = "k2", "v2"
		e.turn("a", 2, []history.Event{kv2}, provider.ExecutionMetadata{}, nil, nil)
		_, err := a.PruneExecutions(e.ctx, "a", provider.PruneOptions{})
		wantNoErr(e.t, "prune", err)
		if got := e.kvAll("a"); len(got) != 2 || got["k"] != "v1" || got["k2"] != "v2" {
			e.t.Fatalf("KV after prune = %v", got)
		}
		e.enqueue(raised("a", "x"))
		if it := e.fetch("a"); it.KVSnapshot["k"].Value != "v1" {
			e.t.Fatalf("snapshot after prune = %v", it.KVSnapshot)
		}
	}},
	{"UnknownInstance", func(e *env) {
		a := e.admin()
		res, err := a.PruneExecutions(e.ctx, "nope", provider.PruneOptions{})
		if err != nil {
			wantErrIs(e.t, "prune of an unknown instance", err, provider.ErrInstanceNotFound)
		} else if res.ExecutionsDeleted != 0 {
			e.t.Fatalf("prune of an unknown instance: %+v", *res)
		}
	}},
}
