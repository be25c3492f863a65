package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/duroxide/duroxide/core/provider"
	"github.com/duroxide/duroxide/mcp"
)

// The read-only inspection commands beside list, status and history: tree,
// metrics, kv, dead-letters.

func init() {
	register(&command{
		name:    "tree",
		args:    "ID [--json]",
		summary: "show an instance and its sub-orchestrations",
		setup: func(fs *flag.FlagSet) runFunc {
			asJSON := fs.Bool("json", false, "print JSON (the MCP tool get_instance_tree's object)")
			return func(ctx context.Context, e *env, args []string) error {
				id, err := oneArg(args, "ID")
				if err != nil {
					return err
				}
				c, done, err := e.client(false)
				if err != nil {
					return err
				}
				defer done()
				t, err := mcp.Tree(ctx, c, id)
				if err != nil {
					return failure("tree of", id, err)
				}
				if *asJSON {
					return printJSON(e.stdout, t)
				}
				byID := make(map[string]*mcp.TreeNode, len(t.Nodes))
				for i := range t.Nodes {
					byID[t.Nodes[i].InstanceID] = &t.Nodes[i]
				}
				tw := table(e.stdout)
				var walk func(id, prefix, branch string)
				walk = func(id, prefix, branch string) {
					n := byID[id]
					fmt.Fprintf(tw, "%s%s\t%s\t%s\n", branch, id, n.Name, n.Status)
					for i, k := range n.Children {
						if i == len(n.Children)-1 {
							walk(k, prefix+"    ", prefix+"└── ")
						} else {
							walk(k, prefix+"│   ", prefix+"├── ")
						}
					}
				}
				walk(t.RootID, "", "")
				return tw.Flush()
			}
		},
	})
	register(&command{
		name:    "metrics",
		args:    "[--json]",
		summary: "show store-wide counts and queue depths",
		setup: func(fs *flag.FlagSet) runFunc {
			asJSON := fs.Bool("json", false, "print JSON (the MCP tool get_metrics' object)")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("metrics takes no arguments, got %q", args)
				}
				c, done, err := e.client(false)
				if err != nil {
					return err
				}
				defer done()
				m, err := c.GetSystemMetrics(ctx)
				if err != nil {
					return failure("metrics", "", err)
				}
				q, err := c.GetQueueDepths(ctx)
				if err != nil {
					return failure("queue depths", "", err)
				}
				if *asJSON {
					return printJSON(e.stdout, mcp.MetricsOutput{Metrics: *m, QueueDepths: *q})
				}
				printMetrics(e.stdout, m, q)
				return nil
			}
		},
	})
	register(&command{
		name:    "kv",
		args:    "ID [KEY] [--json]",
		summary: "show an instance's key-value store",
		setup: func(fs *flag.FlagSet) runFunc {
			asJSON := fs.Bool("json", false, "print JSON")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) == 0 || len(args) > 2 {
					return usagef("want ID and optionally KEY, got %q", args)
				}
				id := args[0]
				c, done, err := e.client(false)
				if err != nil {
					return err
				}
				defer done()
				if _, err := requireInstance(ctx, c, id); err != nil {
					return err
				}
				if len(args) == 2 {
					v, ok, err := c.GetKVValue(ctx, id, args[1])
					if err != nil {
						return failure("read KV of", id, err)
					}
					if !ok {
						return fmt.Errorf("instance %q has no key %q", id, args[1])
					}
					if *asJSON {
						return printJSON(e.stdout, map[string]string{args[1]: v})
					}
					fmt.Fprintln(e.stdout, v)
					return nil
				}
				kv, err := c.GetKVAllValues(ctx, id)
				if err != nil {
					return failure("read KV of", id, err)
				}
				if *asJSON {
					if kv == nil {
						kv = map[string]string{}
					}
					return printJSON(e.stdout, kv)
				}
				tw := table(e.stdout)
				fmt.Fprintln(tw, "KEY\tVALUE")
				for _, k := range slices.Sorted(maps.Keys(kv)) {
					fmt.Fprintf(tw, "%s\t%s\n", k, oneLine(kv[k], 100))
				}
				return tw.Flush()
			}
		},
	})
	register(&command{
		name:    "dead-letters",
		args:    "[--limit N] [--json]",
		summary: "list messages the store set aside (unknown instances, undecodable rows)",
		setup: func(fs *flag.FlagSet) runFunc {
			limit := fs.Int("limit", 100, "show at most `N` messages")
			asJSON := fs.Bool("json", false, "print JSON")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("dead-letters takes no arguments, got %q", args)
				}
				if *limit < 1 {
					return usagef("--limit %d: give 1 or more", *limit)
				}
				c, done, err := e.client(false)
				if err != nil {
					return err
				}
				defer done()
				dl, err := c.ListDeadLetters(ctx, *limit)
				if err != nil {
					return failure("dead letters", "", err)
				}
				if *asJSON {
					if dl == nil {
						dl = []provider.DeadLetter{}
					}
					return printJSON(e.stdout, dl)
				}
				if len(dl) == 0 {
					fmt.Fprintln(e.stderr, "no dead letters")
					return nil
				}
				tw := table(e.stdout)
				fmt.Fprintln(tw, "ID\tINSTANCE\tQUEUE\tKIND\tCREATED\tREASON")
				for _, d := range dl {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Instance, d.Queue, d.Item.Kind, fmtTime(d.CreatedAt), oneLine(d.Reason, 80))
				}
				return tw.Flush()
			}
		},
	})
}

func printMetrics(w io.Writer, m *provider.SystemMetrics, q *provider.QueueDepths) {
	tw := table(w)
	rows := []struct {
		k string
		v int64
	}{
		{"instances", m.TotalInstances},
		{"  running", m.RunningInstances},
		{"  completed", m.CompletedInstances},
		{"  failed", m.FailedInstances},
		{"  continued as new", m.ContinuedAsNewCount},
		{"executions", m.TotalExecutions},
		{"history events", m.TotalEvents},
		{"dead letters", m.DeadLetters},
		{"orchestrator queue", q.Orchestrator},
		{"  delayed (timers)", q.Delayed},
		{"worker queue", q.Worker},
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\n", r.k, r.v)
	}
	tw.Flush()
}
