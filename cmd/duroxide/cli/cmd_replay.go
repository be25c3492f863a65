package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/replay"
	"github.com/duroxide/duroxide/core/runtime"
)

func init() {
	register(&command{
		name:    "replay",
		args:    "ID [--execution N]" + wasmArgs,
		summary: "re-run the linked code against an instance's recorded history",
		help: `Replays each stored execution of the instance (or only --execution N)
through the orchestration code this program links (or the WebAssembly
modules given with --wasm) and reports, per execution, whether the code
still makes exactly the recorded decisions. Nothing is written to the store.
Exit 1 when any execution is nondeterministic or has no code.`,
		setup: func(fs *flag.FlagSet) runFunc {
			exec := fs.Uint64("execution", 0, "replay only execution `N` (default: every stored execution)")
			wasmDir := wasmFlag(fs)
			return func(ctx context.Context, e *env, args []string) error {
				id, err := oneArg(args, "ID")
				if err != nil {
					return err
				}
				reg, closeCode, err := e.code(ctx, *wasmDir)
				if err != nil {
					return err
				}
				defer closeCode()
				c, done, err := e.client(false)
				if err != nil {
					return err
				}
				defer done()
				execs, err := c.ListExecutions(ctx, id)
				if err != nil {
					return failure("replay of", id, err)
				}
				if len(execs) == 0 {
					return fmt.Errorf("instance %q not found", id)
				}
				// The KV store an execution starts with is what the earlier
				// executions left; it is known when none of them was pruned.
				kv := map[string]string{}
				kvKnown := execs[0] == 1
				bad := 0
				for i, x := range execs {
					if i > 0 && x != execs[i-1]+1 {
						kvKnown = false
					}
					evs, err := c.ReadExecutionHistory(ctx, id, x)
					if err != nil {
						return failure("replay of", id, err)
					}
					snapshot := map[string]string{}
					for k, v := range kv {
						snapshot[k] = v
					}
					applyKVEvents(kv, evs)
					if *exec != 0 && x != *exec {
						continue
					}
					if err := replayExecution(ctx, e, reg, id, x, evs, snapshot, kvKnown); err != nil {
						bad++
					}
				}
				if *exec != 0 && !containsUint(execs, *exec) {
					return fmt.Errorf("instance %q has no execution %d (stored executions: %s)", id, *exec, joinUints(execs))
				}
				if bad > 0 {
					return fmt.Errorf("instance %q: %d execution(s) do not replay", id, bad)
				}
				return nil
			}
		},
	})
}

// replayExecution verifies one execution and prints the verdict.
func replayExecution(ctx context.Context, e *env, reg *runtime.Registry, id string, exec uint64, evs []history.Event,
	kv map[string]string, kvKnown bool) error {
	if len(evs) == 0 {
		fmt.Fprintf(e.stdout, "execution %d: empty history\n", exec)
		return errors.New("empty")
	}
	name, version := evs[0].Name, evs[0].Version
	head := fmt.Sprintf("execution %d (%s %s, %d events)", exec, name, version, len(evs))
	h, err := reg.Handler(name, version)
	if err != nil {
		fmt.Fprintf(e.stdout, "%s: no code: %v; link it into the program (cli.Options.Registry) or pass --wasm DIR\n", head, err)
		return err
	}
	drv, err := h.NewDriver(slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintf(e.stdout, "%s: cannot create a driver: %v\n", head, err)
		return err
	}
	defer drv.Close()
	err = replay.Verify(ctx, id, evs, kv, drv)
	var ne *replay.NondeterminismError
	switch {
	case err == nil:
		note := ""
		if !kvKnown {
			note = " (earlier executions were pruned: KV reads replayed against an empty store)"
		}
		fmt.Fprintf(e.stdout, "%s: replays cleanly%s\n", head, note)
	case errors.As(err, &ne):
		fmt.Fprintf(e.stdout, "%s: NONDETERMINISTIC: %v\n", head, err)
	default:
		fmt.Fprintf(e.stdout, "%s: %v\n", head, err)
	}
	return err
}

func applyKVEvents(kv map[string]string, evs []history.Event) {
	for _, ev := range evs {
		switch ev.Kind {
		case history.KeyValueSet:
			kv[ev.Key] = ev.Value
		case history.KeyValueCleared:
			delete(kv, ev.Key)
		case history.KeyValuesCleared:
			clear(kv)
		}
	}
}

func containsUint(xs []uint64, x uint64) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
