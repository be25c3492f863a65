package sqlite

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

// BenchmarkAckOrchestrationItem measures turn commits on a file store: each
// op acks one locked instance (history event, worker item, timer). With one
// committer every ack is its own transaction (one fsync); with 16, group
// commit lets one transaction carry many acks.
//
//	go test ./core/provider/sqlite -run '^$' -bench AckOrchestrationItem -benchtime 2000x
func BenchmarkAckOrchestrationItem(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		for _, committers := range []int{1, 16} {
			b.Run(fmt.Sprintf("sync=%s/committers=%d", sync, committers), func(b *testing.B) {
				benchAcks(b, &Options{Synchronous: sync}, committers)
			})
		}
	}
}

func benchAcks(b *testing.B, opts *Options, committers int) {
	s := openFile(b, opts)
	defer s.Close()
	items := lockedItems(b, s, b.N)
	commits0, reqs0 := s.commits.Load(), s.requests.Load()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range committers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(items)) {
					return
				}
				it := items[i]
				timer := history.WorkItem{Kind: history.WorkTimerFired, Instance: it.Instance, ExecutionID: 1, ID: 3,
					FireAtMs: time.Now().Add(time.Hour).UnixMilli()}
				err := s.AckOrchestrationItem(bg0, it.LockToken, 1,
					[]history.Event{startedEvent(it.Instance), {EventID: 2, Kind: history.ActivityScheduled, Name: "A"},
						{EventID: 3, Kind: history.TimerCreated, FireAtMs: timer.FireAtMs}},
					[]history.WorkItem{{Kind: history.WorkActivityExecute, Instance: it.Instance, ExecutionID: 1, ID: 2, Name: "A"}},
					[]history.WorkItem{timer}, md, nil)
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "acks/s")
	if c := s.commits.Load() - commits0; c > 0 {
		b.ReportMetric(float64(s.requests.Load()-reqs0)/float64(c), "acks/commit")
	}
}

// lockedItems enqueues n starts and fetches them, returning n locked items.
func lockedItems(b *testing.B, s *Store, n int) []*provider.OrchestrationItem {
	b.Helper()
	err := s.write(bg0, func(w *wtx) error {
		for i := range n {
			r, err := encodeOrchItem(start(fmt.Sprintf("i%07d", i)))
			if err != nil {
				return err
			}
			if err := w.insertOrchItem(r, w.now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	items := make([]*provider.OrchestrationItem, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				it, err := s.FetchOrchestrationItem(bg0, time.Hour, time.Second, nil)
				if err != nil || it == nil {
					b.Errorf("fetch: %v %v", it, err)
					return
				}
				items[i] = it
			}
		}()
	}
	wg.Wait()
	return items
}
