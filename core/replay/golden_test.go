package replay_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/replay"
)

var update = flag.Bool("update", false, "rewrite the golden histories in testdata/")

// goldenFile is one recorded execution and the code to replay it with.
type goldenFile struct {
	// ReplayWith names the orchestration code (goldenOrchestrations) the
	// history is replayed with; for bad-* files it differs from the code
	// that wrote the history.
	ReplayWith string          `json:"replay_with"`
	Instance   string          `json:"instance"`
	Events     []history.Event `json:"events"`
}

// goldenOrchestrations is the code the golden histories were written by,
// plus changed versions the bad-* histories are replayed with.
var goldenOrchestrations = map[string]orchestration.Func{
	"HelloWorld": func(ctx *orchestration.Context, input string) (string, error) {
		var a, b string
		if err := ctx.ScheduleActivity("Hello", "Go").Await(&a); err != nil {
			return "", err
		}
		err := ctx.ScheduleActivity("Hello", input).Await(&b)
		return b, err
	},
	"HelloWorld/renamed-activity": func(ctx *orchestration.Context, input string) (string, error) {
		var a, b string
		if err := ctx.ScheduleActivity("Goodbye", "Go").Await(&a); err != nil {
			return "", err
		}
		err := ctx.ScheduleActivity("Hello", input).Await(&b)
		return b, err
	},
	"HelloWorld/changed-input": func(ctx *orchestration.Context, input string) (string, error) {
		var a, b string
		if err := ctx.ScheduleActivity("Hello", "Rust").Await(&a); err != nil {
			return "", err
		}
		err := ctx.ScheduleActivity("Hello", input).Await(&b)
		return b, err
	},
	"HelloWorld/extra-timer": func(ctx *orchestration.Context, input string) (string, error) {
		if err := ctx.CreateTimer(time.Second).Await(nil); err != nil {
			return "", err
		}
		var b string
		err := ctx.ScheduleActivity("Hello", input).Await(&b)
		return b, err
	},
	"HelloWorld/returns-early": func(ctx *orchestration.Context, input string) (string, error) {
		var a string
		err := ctx.ScheduleActivity("Hello", "Go").Await(&a)
		return a, err
	},
	"Timeout": func(ctx *orchestration.Context, _ string) (string, error) {
		idx, err := ctx.Select(ctx.ScheduleActivity("LongOp", ""), ctx.CreateTimer(100*time.Millisecond))
		if err != nil {
			return "", err
		}
		if idx == 1 {
			return "timeout", nil
		}
		return "op", nil
	},
	"Timeout/no-race": func(ctx *orchestration.Context, _ string) (string, error) {
		ctx.ScheduleActivity("LongOp", "")
		if err := ctx.CreateTimer(100 * time.Millisecond).Await(nil); err != nil {
			return "", err
		}
		return "timeout", nil
	},
	"Events": func(ctx *orchestration.Context, _ string) (string, error) {
		var a, b string
		if err := ctx.WaitForEvent("A").Await(&a); err != nil {
			return "", err
		}
		if err := ctx.DequeueEvent("q").Await(&b); err != nil {
			return "", err
		}
		ctx.SetCustomStatus("got " + a)
		ctx.SetKVValue("last", b)
		return a + b, nil
	},
	"Events/kv-changed": func(ctx *orchestration.Context, _ string) (string, error) {
		var a, b string
		if err := ctx.WaitForEvent("A").Await(&a); err != nil {
			return "", err
		}
		if err := ctx.DequeueEvent("q").Await(&b); err != nil {
			return "", err
		}
		ctx.SetCustomStatus("got " + a)
		ctx.SetKVValue("last", b+"!")
		return a + b, nil
	},
	"Counter": func(ctx *orchestration.Context, in string) (string, error) {
		n, _ := strconv.Atoi(in)
		if n < 2 {
			if _, err := ctx.NewGUID(); err != nil {
				return "", err
			}
			return "", ctx.ContinueAsNew(strconv.Itoa(n + 1))
		}
		return "final:" + in, nil
	},
	"Parent": func(ctx *orchestration.Context, in string) (string, error) {
		var out string
		err := ctx.ScheduleSubOrchestration("Child", in).Await(&out)
		return "parent:" + out, err
	},
	"Parent/child-renamed": func(ctx *orchestration.Context, in string) (string, error) {
		var out string
		err := ctx.ScheduleSubOrchestration("OtherChild", in).Await(&out)
		return "parent:" + out, err
	},
	"Child": func(ctx *orchestration.Context, in string) (string, error) {
		return strings.ToUpper(in), nil
	},
}

// goldenRuns produce the good histories.
var goldenRuns = map[string]func(s *sim){
	"hello": func(s *sim) {
		s.acts["Hello"] = act(hello)
		s.start("hello-1", "HelloWorld", "World")
		s.run(1000)
	},
	"timeout-race": func(s *sim) {
		s.acts["LongOp"] = slowAct(2*time.Second, func(string) (string, error) { return "late", nil })
		s.start("timeout-1", "Timeout", "")
		s.run(1000)
	},
	"events": func(s *sim) {
		s.start("events-1", "Events", "")
		s.enqueueEvent("events-1", "q", "queued")
		s.run(100)
		s.raise("events-1", "A", "raised")
		s.run(100)
	},
	"continue-as-new": func(s *sim) {
		s.start("counter-1", "Counter", "0")
		s.run(1000)
	},
	"sub-orchestration": func(s *sim) {
		s.start("parent-1", "Parent", "hi")
		s.run(1000)
	},
}

// badVariants replay a good history with changed code; each must be
// reported as nondeterministic.
var badVariants = map[string]struct{ golden, with string }{
	"bad-renamed-activity": {"hello", "HelloWorld/renamed-activity"},
	"bad-changed-input":    {"hello", "HelloWorld/changed-input"},
	"bad-extra-timer":      {"hello", "HelloWorld/extra-timer"},
	"bad-returns-early":    {"hello", "HelloWorld/returns-early"},
	"bad-race-removed":     {"timeout-race", "Timeout/no-race"},
	"bad-kv-changed":       {"events", "Events/kv-changed"},
	"bad-child-renamed":    {"sub-orchestration", "Parent/child-renamed"},
}

func writeGolden(t *testing.T) {
	dir := "testdata"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range old {
		os.Remove(f)
	}
	recorded := map[string][]goldenFile{}
	for name, run := range goldenRuns {
		s := newSim(t, false)
		for n, fn := range goldenOrchestrations {
			if !strings.Contains(n, "/") {
				s.orchs[n] = fn
			}
		}
		run(s)
		instances := keys(s.execs)
		sort.Strings(instances)
		for _, inst := range instances {
			for _, evs := range s.execs[inst] {
				recorded[name] = append(recorded[name], goldenFile{ReplayWith: evs[0].Name, Instance: inst, Events: evs})
			}
		}
	}
	save := func(file string, gs []goldenFile) {
		b, err := json.MarshalIndent(gs, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, file+".json"), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, gs := range recorded {
		save(name, gs)
	}
	for name, v := range badVariants {
		var gs []goldenFile
		for _, g := range recorded[v.golden] {
			if g.ReplayWith == strings.SplitN(v.with, "/", 2)[0] {
				g.ReplayWith = v.with
				gs = append(gs, g)
			}
		}
		save(name, gs)
	}
}

func TestGoldenHistories(t *testing.T) {
	if *update {
		writeGolden(t)
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden histories in testdata/ (run go test -run TestGoldenHistories -update): %v", err)
	}
	bad := 0
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var gs []goldenFile
			if err := json.Unmarshal(b, &gs); err != nil {
				t.Fatalf("decode %s: %v", f, err)
			}
			if len(gs) == 0 {
				t.Fatalf("%s holds no executions", f)
			}
			for _, g := range gs {
				fn := goldenOrchestrations[g.ReplayWith]
				if fn == nil {
					t.Fatalf("%s: no code named %q", f, g.ReplayWith)
				}
				drv := orchestration.NewDriver(fn, nil)
				err := replay.Verify(context.Background(), g.Instance, g.Events, nil, drv)
				drv.Close()
				if strings.HasPrefix(name, "bad-") {
					var ne *replay.NondeterminismError
					if !errors.As(err, &ne) {
						t.Fatalf("%s (%s): want a nondeterminism error, got %v", g.Instance, g.ReplayWith, err)
					}
					t.Logf("%s: %v", g.Instance, err)
				} else if err != nil {
					t.Fatalf("%s execution %d: %v", g.Instance, g.Events[0].ExecutionID, err)
				}
			}
		})
		if strings.HasPrefix(name, "bad-") {
			bad++
		}
	}
	if bad == 0 {
		t.Fatalf("no bad-* histories found")
	}
}
