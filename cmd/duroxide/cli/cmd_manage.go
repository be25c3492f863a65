package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/duroxide/duroxide/core/provider"
)

// The commands that remove data: delete, prune.

func init() {
	register(&command{
		name:    "delete",
		args:    "ID [--force]",
		summary: "delete an instance, its history and its sub-orchestrations",
		help: `Only a root instance can be deleted (its sub-orchestrations go with it). A
running instance is refused unless --force.`,
		setup: func(fs *flag.FlagSet) runFunc {
			force := fs.Bool("force", false, "delete even if the instance is still running")
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
				res, err := c.DeleteInstance(ctx, id, *force)
				if err != nil {
					return failure("delete", id, err)
				}
				fmt.Fprintf(e.stdout, "deleted %s: %s, %s, %s, %s\n", id, plural(int(res.InstancesDeleted), "instance"),
					plural(int(res.ExecutionsDeleted), "execution"), plural(int(res.EventsDeleted), "event"),
					plural(int(res.QueueMessages), "queued message"))
				return nil
			}
		},
	})
	register(&command{
		name:    "prune",
		args:    "ID --keep-last N [--completed-before T]",
		summary: "delete the old executions of an instance that continued as new",
		help:    `The current execution (and a running one) is always kept.`,
		setup: func(fs *flag.FlagSet) runFunc {
			keep := fs.Int("keep-last", -1, "keep the newest `N` executions (required; 1 keeps only the current one)")
			before := fs.String("completed-before", "", "only prune executions that ended before `T` (24h, 2025-01-02, RFC 3339)")
			return func(ctx context.Context, e *env, args []string) error {
				id, err := oneArg(args, "ID")
				if err != nil {
					return err
				}
				if *keep == -1 {
					return usagef("missing --keep-last N")
				}
				if *keep < 1 {
					return usagef("--keep-last %d: give 1 or more (the current execution is always kept)", *keep)
				}
				opts := provider.PruneOptions{KeepLast: *keep}
				if opts.CompletedBefore, err = parseWhen("completed-before", *before, time.Now()); err != nil {
					return err
				}
				c, done, err := e.client(false)
				if err != nil {
					return err
				}
				defer done()
				if _, err := c.GetInstanceInfo(ctx, id); err != nil {
					return failure("prune", id, err)
				}
				res, err := c.PruneExecutions(ctx, id, opts)
				if err != nil {
					return failure("prune", id, err)
				}
				fmt.Fprintf(e.stdout, "pruned %s: %s, %s\n", id, plural(int(res.ExecutionsDeleted), "execution"), plural(int(res.EventsDeleted), "event"))
				return nil
			}
		},
	})
}
