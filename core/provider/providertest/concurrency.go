package providertest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

// hammer runs n goroutines of fn and waits for them.
func hammer(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

var concurrencyTests = []test{
	{"AcksOfOneTokenHaveOneWinner", func(e *env) {
		e.enqueue(startItem("a"))
		it := e.fetch("a")
		var wins atomic.Int32
		hammer(16, func(i int) {
			err := e.p.AckOrchestrationItem(e.ctx, it.LockToken, 1, []history.Event{started("a", 1)},
				[]history.WorkItem{activity("a", 1, uint64(100+i))}, nil, meta(), nil)
			if err == nil {
				wins.Add(1)
			}
		})
		if wins.Load() != 1 {
			e.t.Fatalf("%d acks of one token succeeded, want 1", wins.Load())
		}
		wantHistoryLen(e.t, "history", e.read("a"), 1)
		if ids := e.drainWork(); len(ids) != 1 {
			e.t.Fatalf("worker items = %v, want the winner's only", ids)
		}
	}},
	{"FetchersRaceForOneInstance", func(e *env) {
		e.create("a", provider.ExecutionMetadata{})
		e.enqueue(raised("a", "e1"), raised("a", "e2"))
		var got atomic.Int32
		hammer(16, func(int) {
			it, err := e.p.FetchOrchestrationItem(e.ctx, longLock, 0, nil)
			if err != nil {
				e.t.Errorf("fetch: %v", err)
			}
			if it != nil {
				got.Add(1)
			}
		})
		if got.Load() != 1 {
			e.t.Fatalf("%d fetchers got the instance, want 1", got.Load())
		}
	}},
	{"WorkersProcessEachItemOnce", func(e *env) {
		const items, workers = 200, 8
		for id := uint64(1); id <= items; id++ {
			e.enqueueWorker(activity("a", 1, id))
		}
		var mu sync.Mutex
		seen := make(map[uint64]int)
		var done atomic.Int32
		deadline := time.Now().Add(30 * time.Second)
		hammer(workers, func(int) {
			for done.Load() < items && time.Now().Before(deadline) {
				l, err := e.p.FetchWorkItem(e.ctx, longLock, 50*time.Millisecond, nil, provider.TagFilter{})
				if err != nil {
					e.t.Errorf("fetch: %v", err)
					return
				}
				if l == nil {
					continue
				}
				mu.Lock()
				seen[l.Item.ID]++
				mu.Unlock()
				if err := e.p.AckWorkItem(e.ctx, l.LockToken, nil); err != nil {
					e.t.Errorf("ack %d: %v", l.Item.ID, err)
					return
				}
				done.Add(1)
			}
		})
		if len(seen) != items {
			e.t.Fatalf("processed %d distinct items, want %d", len(seen), items)
		}
		for id, n := range seen {
			if n != 1 {
				e.t.Fatalf("item %d processed %d times", id, n)
			}
		}
	}},
	{"DispatchersProcessEachInstanceOnce", func(e *env) {
		const instances, dispatchers = 100, 8
		for i := range instances {
			e.enqueue(startItem(fmt.Sprintf("i%03d", i)))
		}
		var mu sync.Mutex
		seen := make(map[string]int)
		var done atomic.Int32
		deadline := time.Now().Add(30 * time.Second)
		hammer(dispatchers, func(int) {
			for done.Load() < instances && time.Now().Before(deadline) {
				it, err := e.p.FetchOrchestrationItem(e.ctx, longLock, 50*time.Millisecond, nil)
				if err != nil {
					e.t.Errorf("fetch: %v", err)
					return
				}
				if it == nil {
					continue
				}
				mu.Lock()
				seen[it.Instance]++
				mu.Unlock()
				err = e.p.AckOrchestrationItem(e.ctx, it.LockToken, 1, []history.Event{started(it.Instance, 1)},
					nil, nil, meta(), nil)
				if err != nil {
					e.t.Errorf("ack %s: %v", it.Instance, err)
					return
				}
				done.Add(1)
			}
		})
		if len(seen) != instances {
			e.t.Fatalf("processed %d distinct instances, want %d", len(seen), instances)
		}
		for inst, n := range seen {
			if n != 1 {
				e.t.Fatalf("instance %s processed %d times", inst, n)
			}
			wantHistoryLen(e.t, inst, e.read(inst), 1)
		}
	}},
	{"ParallelTurnsOfManyInstances", func(e *env) {
		const instances = 20
		for i := range instances {
			e.create(fmt.Sprintf("i%02d", i), provider.ExecutionMetadata{})
		}
		// Every goroutine drives one instance through 5 turns, each turn
		// scheduling an activity that a worker runs.
		hammer(instances, func(i int) {
			inst := fmt.Sprintf("i%02d", i)
			next := uint64(2)
			for range 5 {
				if err := e.p.EnqueueForOrchestrator(e.ctx, raised(inst, "go"), 0); err != nil {
					e.t.Errorf("enqueue: %v", err)
					return
				}
				var it *provider.OrchestrationItem
				for it == nil {
					var err error
					// Fetches may return other instances: put them back.
					it, err = e.p.FetchOrchestrationItem(e.ctx, longLock, 50*time.Millisecond, nil)
					if err != nil {
						e.t.Errorf("fetch: %v", err)
						return
					}
					if it != nil && it.Instance != inst {
						_ = e.p.AbandonOrchestrationItem(e.ctx, it.LockToken, 0, true)
						it = nil
					}
				}
				err := e.p.AckOrchestrationItem(e.ctx, it.LockToken, 1, []history.Event{scheduled(inst, 1, next)},
					[]history.WorkItem{activity(inst, 1, next)}, nil, provider.ExecutionMetadata{}, nil)
				if err != nil {
					e.t.Errorf("ack %s: %v", inst, err)
					return
				}
				next++
			}
		})
		var total int
		for i := range instances {
			total += len(e.read(fmt.Sprintf("i%02d", i)))
		}
		if total != instances*6 {
			e.t.Fatalf("%d events in all, want %d", total, instances*6)
		}
		if ids := e.drainWork(); len(ids) != instances*5 {
			e.t.Fatalf("%d activities queued, want %d", len(ids), instances*5)
		}
	}},
}
