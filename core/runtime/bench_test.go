package runtime_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/provider/sqlite"
	"github.com/duroxide/duroxide/core/runtime"
)

// BenchmarkChain3 measures end-to-end 3-activity-chain orchestrations on a
// SQLite file store: each starter starts an instance and waits for its
// result, then starts the next. It reports orchestrations per second and
// the p50/p99 start-to-completion latency.
//
//	go test -run '^$' -bench Chain3 -benchtime 2000x ./core/runtime/
func BenchmarkChain3(b *testing.B) {
	for _, starters := range []int{1, 16} {
		b.Run(fmt.Sprintf("starters=%d", starters), func(b *testing.B) {
			benchChain3(b, starters)
		})
	}
}

func benchChain3(b *testing.B, starters int) {
	store, err := sqlite.Open("sqlite:"+filepath.Join(b.TempDir(), "bench.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	reg := runtime.NewRegistry()
	_ = reg.RegisterActivity("Step", func(_ *activity.Context, in string) (string, error) { return in + "x", nil })
	_ = reg.RegisterOrchestration("Chain3", func(ctx *orchestration.Context, in string) (string, error) {
		s := in
		for i := 0; i < 3; i++ {
			if err := ctx.ScheduleActivity("Step", s).Await(&s); err != nil {
				return "", err
			}
		}
		return s, nil
	})
	ctx := context.Background()
	rt, err := runtime.Start(ctx, store, reg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Stop(ctx)
	c := rt.Client()

	var next atomic.Int64
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	var failed atomic.Value
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < starters; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				id := fmt.Sprintf("chain-%d", i)
				t0 := time.Now()
				if err := c.StartOrchestration(ctx, id, "Chain3", "a"); err != nil {
					failed.Store(err)
					return
				}
				st, err := c.WaitForOrchestration(ctx, id, time.Minute)
				if err != nil || st.State != client.StateCompleted || st.Output != "axxx" {
					failed.Store(fmt.Errorf("%s: %v %v", id, st, err))
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "orch/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}
