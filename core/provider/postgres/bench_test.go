package postgres

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/history"
)

// BenchmarkChain3 measures end-to-end 3-activity-chain orchestrations per
// second on PostgreSQL with 1 and 3 runtime processes (children of the
// benchmark, sharing one schema with default runtime options); the
// benchmark process only starts instances and waits for their results,
// with 64 in flight. It reports orchestrations per second and the p50/p99
// start-to-completion latency.
//
//	make pg-start
//	go test ./core/provider/postgres -run '^$' -bench Chain3 -benchtime 2000x
func BenchmarkChain3(b *testing.B) {
	for _, procs := range []int{1, 3} {
		b.Run(fmt.Sprintf("procs=%d", procs), func(b *testing.B) {
			benchChain3(b, procs, 64)
		})
	}
}

func benchChain3(b *testing.B, procs, inFlight int) {
	dsn := testDSN(b)
	s := openTest(b, nil)
	defer s.Close()
	children := startChildren(b, procs, dsn, s.Schema(), 5*time.Second)
	defer func() {
		for _, c := range children {
			c.stop()
		}
	}()
	c := client.New(s, nil)

	var next atomic.Int64
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	var failed atomic.Value
	b.ResetTimer()
	t0 := time.Now()
	for w := 0; w < inFlight; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				id := fmt.Sprintf("chain-%d", i)
				start := time.Now()
				if err := c.StartOrchestration(bg0, id, "Chain3", "a"); err != nil {
					failed.Store(err)
					return
				}
				st, err := c.WaitForOrchestration(bg0, id, 2*time.Minute)
				if err != nil || st.State != client.StateCompleted || st.Output != "a+++" {
					failed.Store(fmt.Errorf("%s: %v %v", id, st, err))
					return
				}
				lat[i] = time.Since(start)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "orch/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkPickupLatency measures how long an idle dispatcher takes to
// pick up new work that another store (another process, as far as
// wake-ups go) enqueues: from the enqueue's commit to the waiting fetch's
// return. With LISTEN/NOTIFY, and with polling only (DisableListen) at
// two poll intervals.
//
//	go test ./core/provider/postgres -run '^$' -bench PickupLatency -benchtime 40x
func BenchmarkPickupLatency(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"notify", Options{PollInterval: time.Hour}},
		{"poll=100ms", Options{DisableListen: true, PollInterval: 100 * time.Millisecond}},
		{"poll=1s", Options{DisableListen: true, PollInterval: time.Second}},
	} {
		b.Run(tc.name, func(b *testing.B) { benchPickup(b, tc.opts) })
	}
}

func benchPickup(b *testing.B, opts Options) {
	waiter := openTest(b, &opts)
	defer waiter.Close()
	writer, err := Open(bg0, testDSN(b), &Options{Schema: waiter.Schema()})
	if err != nil {
		b.Fatal(err)
	}
	defer writer.Close()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		type result struct {
			at  time.Time
			err error
			tok string
		}
		done := make(chan result, 1)
		go func() {
			it, err := waiter.FetchOrchestrationItem(bg0, time.Minute, 30*time.Second, nil)
			r := result{at: time.Now(), err: err}
			if it != nil {
				r.tok = it.LockToken
			} else if err == nil {
				r.err = fmt.Errorf("no item")
			}
			done <- r
		}()
		for waiter.orchQ.len() == 0 {
			time.Sleep(100 * time.Microsecond)
		}
		// Enqueue at a random moment of the waiter's poll cycle.
		time.Sleep(time.Duration(rand.Int64N(int64(min(opts.PollInterval, time.Second)))))
		id := fmt.Sprintf("p-%d", i)
		if err := writer.EnqueueForOrchestrator(bg0, start(id), 0); err != nil {
			b.Fatal(err)
		}
		enqueued := time.Now()
		r := <-done
		if r.err != nil {
			b.Fatal(r.err)
		}
		lat = append(lat, r.at.Sub(enqueued))
		if err := waiter.AckOrchestrationItem(bg0, r.tok, 1, []history.Event{startedEvent(id)}, nil, nil, md, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	b.ReportMetric(float64(sum.Microseconds())/float64(len(lat))/1000, "mean-ms")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}
