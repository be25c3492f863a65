package wasm

// Benchmarks for the figures of the WebAssembly host:
//
//	go test -run '^$' -bench . -benchtime 2s ./wasm/
//
// compile time, a warm turn (one job on a warm instance) against the same
// turn of the native Go driver, a fresh-instance turn (instantiate, start
// the guest's Go runtime, replay the history, run the new job) and the
// memory a warm instance holds.

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/provider/sqlite"
	"github.com/duroxide/duroxide/core/replay"
	"github.com/duroxide/duroxide/core/runtime"
)

// goChain is the Go twin of the guest's Chain orchestration.
func goChain(ctx *orchestration.Context, in string) (string, error) {
	n, _ := strconv.Atoi(in)
	s := ""
	for i := 0; i < n; i++ {
		if err := ctx.ScheduleActivity("Append", s).Await(&s); err != nil {
			return "", err
		}
	}
	return s, nil
}

func activation(jobs ...replay.Job) *replay.Activation {
	return &replay.Activation{Protocol: replay.ProtocolVersion, Instance: "bench", ExecutionID: 1, Name: "Chain", Version: "1.0.0", Jobs: jobs}
}

// chainHistory is the jobs of a Chain execution after n activities.
func chainHistory(n int, replaying bool) []replay.Job {
	jobs := []replay.Job{{Kind: replay.JobStart, Input: "1000000000", Replaying: replaying}}
	s := ""
	for i := 1; i <= n; i++ {
		s += "x"
		jobs = append(jobs, replay.Job{Kind: replay.JobActivity, Seq: uint64(i), Result: s, Replaying: replaying})
	}
	return jobs
}

func benchHost(b *testing.B) *Host {
	h := newTestHost(b, nil)
	if _, err := h.LoadFile(context.Background(), guestPath("scenarios")); err != nil {
		b.Fatal(err)
	}
	return h
}

// benchTurns runs one activity-result job per Activate on a warm driver.
func benchTurns(b *testing.B, drv replay.Driver) {
	ctx := context.Background()
	if _, err := drv.Activate(ctx, activation(replay.Job{Kind: replay.JobStart, Input: "1000000000"})); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		cmds, err := drv.Activate(ctx, activation(replay.Job{Kind: replay.JobActivity, Seq: uint64(i), Result: "r"}))
		if err != nil || len(cmds) != 1 || cmds[0].Seq != uint64(i+1) {
			b.Fatalf("turn %d: %v %+v", i, err, cmds)
		}
	}
}

func BenchmarkWarmTurn(b *testing.B) {
	b.Run("wasm", func(b *testing.B) {
		drv, err := benchHost(b).NewDriver("Chain", "", nil)
		if err != nil {
			b.Fatal(err)
		}
		defer drv.Close()
		benchTurns(b, drv)
	})
	b.Run("go", func(b *testing.B) {
		drv := orchestration.NewDriver(goChain, nil)
		defer drv.Close()
		benchTurns(b, drv)
	})
}

// BenchmarkFreshTurn: a driver the runtime's cache did not have — a new
// guest instance replays n history jobs, then runs one new job.
func BenchmarkFreshTurn(b *testing.B) {
	h := benchHost(b)
	for _, n := range []int{0, 10, 100} {
		b.Run(fmt.Sprintf("history=%d/wasm", n), func(b *testing.B) {
			jobs := chainHistory(n, true)
			jobs = append(jobs, replay.Job{Kind: replay.JobActivity, Seq: uint64(n + 1), Result: "new"})
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				drv, err := h.NewDriver("Chain", "", nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := drv.Activate(context.Background(), activation(jobs...)); err != nil {
					b.Fatal(err)
				}
				drv.Close()
			}
		})
		b.Run(fmt.Sprintf("history=%d/go", n), func(b *testing.B) {
			jobs := chainHistory(n, true)
			jobs = append(jobs, replay.Job{Kind: replay.JobActivity, Seq: uint64(n + 1), Result: "new"})
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				drv := orchestration.NewDriver(goChain, nil)
				if _, err := drv.Activate(context.Background(), activation(jobs...)); err != nil {
					b.Fatal(err)
				}
				drv.Close()
			}
		})
	}
}

// BenchmarkCompile compiles the scenarios module (about 4 MB of Go
// guest), and loads it from the compile cache.
func BenchmarkCompile(b *testing.B) {
	wasm, err := os.ReadFile(guestPath("scenarios"))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("compile", func(b *testing.B) {
		h := newTestHost(b, &Options{DisableCache: true})
		for i := 0; i < b.N; i++ {
			m, err := wasmtime.NewModule(h.engine, wasm)
			if err != nil {
				b.Fatal(err)
			}
			m.Close()
		}
	})
	b.Run("load-from-cache", func(b *testing.B) {
		h := newTestHost(b, nil)
		if _, err := h.LoadBytes(context.Background(), "warmup", wasm); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			h2 := newTestHost(b, nil)
			if _, err := h2.LoadBytes(context.Background(), "scenarios", wasm); err != nil {
				b.Fatal(err)
			}
			h2.Close()
		}
	})
}

// rss reads the process's resident set size.
func rss(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	b.Skip("no VmRSS")
	return 0
}

// BenchmarkWarmInstanceMemory keeps 100 warm instances (each after 10
// turns of Chain) and reports the resident memory and the guest linear
// memory per instance.
func BenchmarkWarmInstanceMemory(b *testing.B) {
	h := benchHost(b)
	const n = 100
	for i := 0; i < b.N; i++ {
		before := rss(b)
		drivers := make([]replay.Driver, 0, n)
		var linear int64
		for k := 0; k < n; k++ {
			drv, err := h.NewDriver("Chain", "", nil)
			if err != nil {
				b.Fatal(err)
			}
			a := activation(chainHistory(10, false)...)
			a.Instance = fmt.Sprintf("mem-%d", k)
			if _, err := drv.Activate(context.Background(), a); err != nil {
				b.Fatal(err)
			}
			d := drv.(*driver)
			linear += int64(d.inst.st.mem.DataSize(d.inst.store))
			drivers = append(drivers, drv)
		}
		after := rss(b)
		b.ReportMetric(float64(after-before)/n, "rss-bytes/instance")
		b.ReportMetric(float64(linear)/n, "linear-bytes/instance")
		for _, d := range drivers {
			d.Close()
		}
	}
}

// BenchmarkEndToEndTurn runs Chain(20) on a runtime with the SQLite file
// store — every turn a commit — for the wasm guest and the Go twin; the
// figure is the time per orchestration turn, activities included.
func BenchmarkEndToEndTurn(b *testing.B) {
	for _, kind := range []string{"wasm", "go"} {
		b.Run(kind, func(b *testing.B) {
			path := b.TempDir() + "/bench.db"
			store, err := sqlite.Open("sqlite:"+path, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			reg := runtime.NewRegistry()
			if err := reg.RegisterActivity("Append", func(_ *activity.Context, s string) (string, error) { return s + "x", nil }); err != nil {
				b.Fatal(err)
			}
			if kind == "wasm" {
				m, err := newTestHost(b, nil).LoadFile(context.Background(), guestPath("scenarios"))
				if err != nil {
					b.Fatal(err)
				}
				if err := m.Register(reg); err != nil {
					b.Fatal(err)
				}
			} else if err := reg.RegisterOrchestration("Chain", goChain); err != nil {
				b.Fatal(err)
			}
			rt, err := runtime.Start(context.Background(), store, reg, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer rt.Stop(context.Background())
			c := rt.Client()
			const steps = 20
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				id := fmt.Sprintf("chain-%d", i)
				if err := c.StartOrchestration(context.Background(), id, "Chain", strconv.Itoa(steps)); err != nil {
					b.Fatal(err)
				}
				st, err := c.WaitForOrchestration(context.Background(), id, time.Minute)
				if err != nil || st.Output != strings.Repeat("x", steps) {
					b.Fatalf("%v %+v", err, st)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(steps+1)), "ns/turn")
		})
	}
}
