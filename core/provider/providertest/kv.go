package providertest

import (
	"maps"
	"strings"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

func kvSet(instance string, exec, id uint64, key, value string, ts int64) history.Event {
	ev := event(instance, exec, id, history.KeyValueSet)
	ev.Key, ev.Value, ev.LastUpdatedAtMs = key, value, ts
	return ev
}

func kvClear(instance string, exec, id uint64, key string) history.Event {
	ev := event(instance, exec, id, history.KeyValueCleared)
	ev.Key = key
	return ev
}

// snapshot fetches the instance (after queueing a message) and acks an
// empty turn, returning the KV snapshot the fetch carried.
func (e *env) snapshot(instance string, exec uint64) map[string]provider.KVEntry {
	e.t.Helper()
	it := e.turn(instance, exec, nil, provider.ExecutionMetadata{}, nil, nil)
	return it.KVSnapshot
}

func snapValues(s map[string]provider.KVEntry) map[string]string {
	m := make(map[string]string, len(s))
	for k, v := range s {
		m[k] = v.Value
	}
	return m
}

func (e *env) wantKV(instance string, want map[string]string) {
	e.t.Helper()
	if got := e.kvAll(instance); !maps.Equal(got, want) {
		e.t.Fatalf("KV of %s = %v, want %v", instance, got, want)
	}
	for k, v := range want {
		if got, ok := e.kv(instance, k); !ok || got != v {
			e.t.Fatalf("GetKVValue(%s, %q) = %q,%v, want %q", instance, k, got, ok, v)
		}
	}
}

var kvTests = []test{
	{"SetGetOverwrite", func(e *env) {
		e.create("a", provider.ExecutionMetadata{}, kvSet("a", 1, 2, "k", "v1", 100))
		e.wantKV("a", map[string]string{"k": "v1"})
		e.turn("a", 1, []history.Event{kvSet("a", 1, 3, "k", "v2", 200)}, provider.ExecutionMetadata{}, nil, nil)
		e.wantKV("a", map[string]string{"k": "v2"})
		if _, ok := e.kv("a", "missing"); ok {
			e.t.Fatal("a missing key was found")
		}
	}},
	{"SnapshotExcludesTheCurrentExecution", func(e *env) {
		e.create("a", provider.ExecutionMetadata{}, kvSet("a", 1, 2, "k", "v", 100))
		if s := e.snapshot("a", 1); len(s) != 0 {
			e.t.Fatalf("snapshot during the execution that set the key = %v, want empty", s)
		}
		e.wantKV("a", map[string]string{"k": "v"})
	}},
	{"MergedAtContinueAsNew", func(e *env) {
		e.create("a", provider.ExecutionMetadata{}, kvSet("a", 1, 2, "k", "v", 1234))
		e.enqueue(raised("a", "can"))
		it := e.fetch("a")
		e.ack(it, 1, []history.Event{event("a", 1, 3, history.OrchestrationContinuedAsNew)}, nil,
			[]history.WorkItem{continueItem("a")}, terminal(provider.StatusContinuedAsNew, "next"))
		it = e.fetch("a")
		if entry, ok := it.KVSnapshot["k"]; !ok || entry.Value != "v" || entry.LastUpdatedAtMs != 1234 {
			e.t.Fatalf("snapshot for the next execution = %+v, want k=v at 1234", it.KVSnapshot)
		}
	}},
	{"MergedAtCompletionAndFailure", func(e *env) {
		for _, status := range []string{provider.StatusCompleted, provider.StatusFailed} {
			inst := "i-" + status
			e.create(inst, provider.ExecutionMetadata{}, kvSet(inst, 1, 2, "k", status, 100))
			e.complete(inst, 1, status)
			if s := snapValues(e.snapshot(inst, 1)); s["k"] != status {
				e.t.Fatalf("%s: snapshot after the terminal ack = %v", status, s)
			}
			e.wantKV(inst, map[string]string{"k": status})
		}
	}},
	{"TombstonesHideSnapshotKeys", func(e *env) {
		e.create("a", provider.ExecutionMetadata{}, kvSet("a", 1, 2, "k1", "v1", 100), kvSet("a", 1, 3, "k2", "v2", 100))
		e.continueAsNew("a", 1, 4, provider.ExecutionMetadata{})
		e.turn("a", 2, []history.Event{kvClear("a", 2, 2, "k1")}, provider.ExecutionMetadata{}, nil, nil)
		if _, ok := e.kv("a", "k1"); ok {
			e.t.Fatal("a cleared key is still readable")
		}
		e.wantKV("a", map[string]string{"k2": "v2"})
		if s := snapValues(e.snapshot("a", 2)); len(s) != 2 {
			e.t.Fatalf("snapshot before the execution ends = %v, want both keys", s)
		}
		e.complete("a", 2, provider.StatusCompleted)
		if s := snapValues(e.snapshot("a", 2)); !maps.Equal(s, map[string]string{"k2": "v2"}) {
			e.t.Fatalf("snapshot after the execution ended = %v, want only k2", s)
		}
	}},
	{"ClearAll", func(e *env) {
		e.create("a", provider.ExecutionMetadata{}, kvSet("a", 1, 2, "k1", "v1", 100))
		e.continueAsNew("a", 1, 3, provider.ExecutionMetadata{})
		e.turn("a", 2, []history.Event{
			kvSet("a", 2, 2, "k2", "v2", 200),
			event("a", 2, 3, history.KeyValuesCleared),
			kvSet("a", 2, 4, "k3", "v3", 300),
		}, provider.ExecutionMetadata{}, nil, nil)
		e.wantKV("a", map[string]string{"k3": "v3"})
		if _, ok := e.kv("a", "k1"); ok {
			e.t.Fatal("k1 survived clear-all")
		}
		e.complete("a", 2, provider.StatusCompleted)
		if s := snapValues(e.snapshot("a", 2)); !maps.Equal(s, map[string]string{"k3": "v3"}) {
			e.t.Fatalf("snapshot after clear-all = %v", s)
		}
	}},
	{"InstancesAreIsolated", func(e *env) {
		e.create("a", provider.ExecutionMetadata{}, kvSet("a", 1, 2, "k", "va", 100))
		e.create("b", provider.ExecutionMetadata{}, kvSet("b", 1, 2, "k", "vb", 100))
		e.wantKV("a", map[string]string{"k": "va"})
		e.wantKV("b", map[string]string{"k": "vb"})
	}},
	{"OddKeysAndValues", func(e *env) {
		large := strings.Repeat("x", 16<<10)
		odd := `ключ 'q' "dq" ; DROP TABLE kv_store; --`
		e.create("a", provider.ExecutionMetadata{},
			kvSet("a", 1, 2, "empty", "", 100), kvSet("a", 1, 3, "large", large, 100), kvSet("a", 1, 4, odd, "ok", 100))
		if v, ok := e.kv("a", "empty"); !ok || v != "" {
			e.t.Fatalf("empty value: %q,%v", v, ok)
		}
		e.wantKV("a", map[string]string{"empty": "", "large": large, odd: "ok"})
		e.complete("a", 1, provider.StatusCompleted)
		if s := snapValues(e.snapshot("a", 1)); s["large"] != large || s[odd] != "ok" {
			e.t.Fatal("odd keys or values did not survive the merge")
		}
	}},
	{"UnknownInstance", func(e *env) {
		if _, ok := e.kv("nope", "k"); ok {
			e.t.Fatal("found a key of an unknown instance")
		}
		if m := e.kvAll("nope"); len(m) != 0 {
			e.t.Fatalf("KV of an unknown instance = %v", m)
		}
	}},
}
