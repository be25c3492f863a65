package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/provider"
	"github.com/duroxide/duroxide/core/runtime"
)

// Names the benchmark registers; its instances are "<prefix>-<n>".
const (
	benchOrchestration = "BenchChain3"
	benchActivity      = "BenchStep"
)

// benchResult is what bench measured.
type benchResult struct {
	Store          string  `json:"store"`
	Orchestrations int     `json:"orchestrations"`
	Starters       int     `json:"starters"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	OrchPerSecond  float64 `json:"orchestrations_per_second"`
	ActPerSecond   float64 `json:"activities_per_second"`
	P50Ms          float64 `json:"p50_ms"`
	P99Ms          float64 `json:"p99_ms"`
	MaxMs          float64 `json:"max_ms"`
}

func init() {
	register(&command{
		name:    "bench",
		args:    "[--starters N] [--count N] [--json]",
		summary: "measure orchestrations/s and latency with a 3-activity chain",
		help: `Runs a runtime in this process on the store and drives COUNT orchestrations
of a 3-activity chain (each activity appends to a string) from STARTERS
concurrent starters, each starting an instance and waiting for its result
before the next. Prints orchestrations/s, activities/s and the p50/p99
start-to-completion latency.

Without --store (and $DUROXIDE_STORE), a temporary SQLite file is used and
removed. On a given store the instances (` + benchOrchestration + `, ids "PREFIX-N") are
left behind: use a scratch store. A store with running instances of other
orchestrations is refused unless --force, since the benchmark's runtime would
pick up their work too.`,
		noStore: true,
		setup: func(fs *flag.FlagSet) runFunc {
			var dsn string
			fs.StringVar(&dsn, "store", "", "the store `DSN` to measure: sqlite:PATH, ... (default $"+envStore+", else a temporary SQLite file)")
			starters := fs.Int("starters", 16, "`N` concurrent starters")
			count := fs.Int("count", 2000, "`N` orchestrations in all")
			orchConc := fs.Int("orchestration-concurrency", 0, "the runtime's concurrent turns (default: the runtime's default)")
			workerConc := fs.Int("worker-concurrency", 0, "the runtime's concurrent activities (default: the runtime's default)")
			prefix := fs.String("prefix", "", "instance id `PREFIX` (default bench-<time>)")
			force := fs.Bool("force", false, "run even if the store holds running instances of other orchestrations")
			asJSON := fs.Bool("json", false, "print the figures as JSON")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("bench takes no arguments, got %q", args)
				}
				if *starters < 1 || *starters > 4096 {
					return usagef("--starters %d: give 1 to 4096", *starters)
				}
				if *count < 1 {
					return usagef("--count %d: give 1 or more", *count)
				}
				if dsn == "" {
					dsn = e.store
				}
				if dsn == "" {
					dir, err := os.MkdirTemp("", "duroxide-bench-")
					if err != nil {
						return err
					}
					defer os.RemoveAll(dir)
					dsn = "sqlite:" + filepath.Join(dir, "bench.db")
				}
				p, err := openStore(dsn, true)
				if err != nil {
					return err
				}
				defer p.Close()
				if !*force {
					if err := checkBenchStore(ctx, client.New(p, nil)); err != nil {
						return err
					}
				}
				if *prefix == "" {
					*prefix = fmt.Sprintf("bench-%d", time.Now().UnixNano())
				}
				res, err := runBench(ctx, p, *starters, *count, *prefix, &runtime.Options{
					OrchestrationConcurrency: *orchConc, WorkerConcurrency: *workerConc,
				})
				if err != nil {
					return err
				}
				res.Store = dsn
				if *asJSON {
					return printJSON(e.stdout, res)
				}
				tw := table(e.stdout)
				fmt.Fprintf(tw, "workload\t3-activity chain, %d orchestrations, %d starters\n", res.Orchestrations, res.Starters)
				fmt.Fprintf(tw, "store\t%s\n", res.Store)
				fmt.Fprintf(tw, "elapsed\t%.2fs\n", res.ElapsedSeconds)
				fmt.Fprintf(tw, "throughput\t%.1f orchestrations/s (%.1f activities/s)\n", res.OrchPerSecond, res.ActPerSecond)
				fmt.Fprintf(tw, "latency\tp50 %.1f ms, p99 %.1f ms, max %.1f ms\n", res.P50Ms, res.P99Ms, res.MaxMs)
				return tw.Flush()
			}
		},
	})
}

// checkBenchStore refuses a store with running instances the benchmark did
// not start.
func checkBenchStore(ctx context.Context, c *client.Client) error {
	running, err := c.ListInstances(ctx, provider.ListFilter{Status: provider.StatusRunning, Limit: 100})
	if err != nil {
		return failure("check the store", "", err)
	}
	for _, in := range running {
		if in.Name != benchOrchestration {
			return fmt.Errorf("the store holds running instances of other orchestrations (%q is %s); the benchmark's runtime would run their work too: use a scratch store, or --force", in.InstanceID, in.Name)
		}
	}
	return nil
}

// runBench is the workload of core/runtime's BenchmarkChain3.
func runBench(ctx context.Context, p provider.Provider, starters, count int, prefix string, opts *runtime.Options) (*benchResult, error) {
	reg := runtime.NewRegistry()
	if err := reg.RegisterActivity(benchActivity, func(_ *activity.Context, in string) (string, error) { return in + "x", nil }); err != nil {
		return nil, err
	}
	if err := reg.RegisterOrchestration(benchOrchestration, func(ctx *orchestration.Context, in string) (string, error) {
		s := in
		for range 3 {
			if err := ctx.ScheduleActivity(benchActivity, s).Await(&s); err != nil {
				return "", err
			}
		}
		return s, nil
	}); err != nil {
		return nil, err
	}
	rt, err := runtime.Start(ctx, p, reg, opts)
	if err != nil {
		return nil, fmt.Errorf("start the runtime: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = rt.Stop(sctx)
	}()
	c := rt.Client()

	var next atomic.Int64
	lat := make([]time.Duration, count)
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	start := time.Now()
	for range starters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for failed.Load() == nil && ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(count) {
					return
				}
				id := fmt.Sprintf("%s-%d", prefix, i)
				t0 := time.Now()
				if err := c.StartOrchestration(ctx, id, benchOrchestration, "a"); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
				st, err := c.WaitForOrchestration(ctx, id, 5*time.Minute)
				if err == nil && (st.State != client.StateCompleted || st.Output != "axxx") {
					err = fmt.Errorf("instance %q ended %s with %q (error %q), want Completed with \"axxx\"", id, st.State, st.Output, st.ErrorMessage())
				}
				if err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bench interrupted: %w", err)
	}
	if errp := failed.Load(); errp != nil {
		return nil, fmt.Errorf("bench: %w", *errp)
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	secs := elapsed.Seconds()
	if secs <= 0 {
		return nil, errors.New("bench: no time elapsed")
	}
	return &benchResult{
		Orchestrations: count, Starters: starters, ElapsedSeconds: secs,
		OrchPerSecond: float64(count) / secs, ActPerSecond: float64(3*count) / secs,
		P50Ms: ms(lat[len(lat)/2]), P99Ms: ms(lat[len(lat)*99/100]), MaxMs: ms(lat[len(lat)-1]),
	}, nil
}
