package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/duroxide/duroxide/core/provider"
)

func init() {
	register(&command{
		name:    "list",
		args:    "[--status S] [--name N] [--since T] [--limit N] [--json]",
		summary: "list instances, newest first",
		help: `Filters combine. --status is Running, Completed, Failed or ContinuedAsNew
(any case). --since and --until take a duration before now (90m, 24h), a date
(2025-01-02) or an RFC 3339 time.`,
		setup: func(fs *flag.FlagSet) runFunc {
			status := fs.String("status", "", "only instances in this `state`: Running, Completed, Failed or ContinuedAsNew")
			name := fs.String("name", "", "only instances of this orchestration `name`")
			since := fs.String("since", "", "only instances created after `T` (24h, 2025-01-02, RFC 3339)")
			until := fs.String("until", "", "only instances created before `T`")
			parent := fs.String("parent", "", "only the sub-orchestrations of this `instance`")
			roots := fs.Bool("roots", false, "only top-level instances (no sub-orchestrations)")
			limit := fs.Int("limit", 100, "show at most `N` instances")
			offset := fs.Int("offset", 0, "skip the first `N` matching instances")
			asJSON := fs.Bool("json", false, "print JSON instead of a table")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("list takes no arguments, got %q", args)
				}
				f := provider.ListFilter{Name: *name, Parent: *parent, RootsOnly: *roots, Limit: *limit, Offset: *offset}
				var err error
				if f.Status, err = parseStatus(*status); err != nil {
					return err
				}
				if *limit < 1 || *limit > 100000 {
					return usagef("--limit %d: give 1 to 100000", *limit)
				}
				if *offset < 0 {
					return usagef("--offset %d: must not be negative", *offset)
				}
				now := time.Now()
				if f.CreatedAfter, err = parseWhen("since", *since, now); err != nil {
					return err
				}
				if f.CreatedBefore, err = parseWhen("until", *until, now); err != nil {
					return err
				}
				c, done, err := e.client(false)
				if err != nil {
					return err
				}
				defer done()
				infos, err := c.ListInstances(ctx, f)
				if err != nil {
					return failure("list instances", "", err)
				}
				if *asJSON {
					if infos == nil {
						infos = []provider.InstanceInfo{}
					}
					return printJSON(e.stdout, infos)
				}
				if len(infos) == 0 {
					fmt.Fprintln(e.stderr, "no instances match")
					return nil
				}
				tw := table(e.stdout)
				fmt.Fprintln(tw, "INSTANCE\tNAME\tVERSION\tSTATUS\tEXEC\tCREATED\tUPDATED")
				for _, in := range infos {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", in.InstanceID, in.Name, in.Version, in.Status,
						in.CurrentExecutionID, fmtTime(in.CreatedAt), fmtTime(in.UpdatedAt))
				}
				return tw.Flush()
			}
		},
	})
}

// parseStatus normalises a --status value.
func parseStatus(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	for _, v := range []string{provider.StatusRunning, provider.StatusCompleted, provider.StatusFailed, provider.StatusContinuedAsNew} {
		if strings.EqualFold(s, v) {
			return v, nil
		}
	}
	return "", usagef("--status %q: give Running, Completed, Failed or ContinuedAsNew", s)
}
