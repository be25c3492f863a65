package cli

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/mcp"
)

func init() {
	register(&command{
		name:    "history",
		args:    "ID [--execution N] [--json] [--wall]",
		summary: "show an instance's history as a timeline",
		help: `One line per event: the time since the execution started (--wall: the
wall-clock time), the event id, its kind, the name involved and a short
payload; a completion points at the event it answers with "→ #N".
--json prints the stored events whole.`,
		setup: func(fs *flag.FlagSet) runFunc {
			execution := fs.Uint64("execution", 0, "the execution `N` to show (default: the latest)")
			asJSON := fs.Bool("json", false, "print the raw events as JSON")
			wall := fs.Bool("wall", false, "show wall-clock times instead of times relative to the start")
			width := fs.Int("width", 60, "cut payloads to `N` bytes")
			return func(ctx context.Context, e *env, args []string) error {
				id, err := oneArg(args, "ID")
				if err != nil {
					return err
				}
				if *width < 8 {
					return usagef("--width %d: give at least 8", *width)
				}
				c, done, err := e.client(false)
				if err != nil {
					return err
				}
				defer done()
				evs, _, err := readHistory(ctx, c, id, *execution)
				if err != nil {
					return err
				}
				if *asJSON {
					return printJSON(e.stdout, evs)
				}
				return printTimeline(e, evs, *wall, *width)
			}
		},
	})
}

// readHistory reads one execution (0: the latest) of an instance.
func readHistory(ctx context.Context, c *client.Client, id string, execution uint64) ([]history.Event, uint64, error) {
	execs, err := c.ListExecutions(ctx, id)
	if err != nil {
		return nil, 0, failure("history of", id, err)
	}
	if len(execs) == 0 {
		return nil, 0, fmt.Errorf("instance %q not found", id)
	}
	if execution == 0 {
		execution = execs[len(execs)-1]
	} else if !slices.Contains(execs, execution) {
		return nil, 0, fmt.Errorf("instance %q has no execution %d (stored executions: %s)", id, execution, joinUints(execs))
	}
	evs, err := c.ReadExecutionHistory(ctx, id, execution)
	if err != nil {
		return nil, 0, failure("history of", id, err)
	}
	return evs, execution, nil
}

func joinUints(xs []uint64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}

func printTimeline(e *env, evs []history.Event, wall bool, width int) error {
	if len(evs) == 0 {
		return nil
	}
	sums := mcp.Summarize(evs) // names completions after the events they answer
	first := evs[0]
	fmt.Fprintf(e.stdout, "%s  execution %d  %s  started %s\n", first.InstanceID, first.ExecutionID,
		plural(len(evs), "event"), time.UnixMilli(first.TimestampMs).Local().Format(timeLayout+".000"))
	tw := table(e.stdout)
	fmt.Fprintln(tw, "TIME\tID\tEVENT\tNAME\tDETAILS")
	start := time.UnixMilli(first.TimestampMs)
	for i := range evs {
		ev := &evs[i]
		at := time.UnixMilli(ev.TimestampMs)
		when := fmt.Sprintf("+%.3fs", at.Sub(start).Seconds())
		if wall {
			when = at.Local().Format(timeLayout + ".000")
		}
		row(tw, when, fmt.Sprintf("#%d", ev.EventID), string(ev.Kind), oneLine(sums[i].Name, 40), eventDetails(ev, start, width))
	}
	return tw.Flush()
}

// eventDetails is the DETAILS column: the link to the answered event, then
// the event's payloads, each cut to width bytes.
func eventDetails(ev *history.Event, start time.Time, width int) string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+oneLine(v, width))
		}
	}
	if ev.SourceEventID != 0 {
		parts = append(parts, fmt.Sprintf("→ #%d", ev.SourceEventID))
	}
	if ev.ArrivalID != 0 {
		parts = append(parts, fmt.Sprintf("takes #%d", ev.ArrivalID))
	}
	add("version", ev.Version)
	add("instance", ev.Instance)
	add("parent", ev.ParentInstance)
	add("op", ev.Op)
	add("session", ev.SessionID)
	add("tag", ev.Tag)
	add("key", ev.Key)
	add("input", ev.Input)
	add("value", ev.Value)
	add("data", ev.Data)
	add("result", ev.Result)
	add("output", ev.Output)
	if ev.Error != nil {
		add("error", ev.Error.DisplayMessage())
	}
	add("reason", ev.Reason)
	if ev.FireAtMs != 0 && ev.Kind == history.TimerCreated {
		parts = append(parts, fmt.Sprintf("fires at +%.3fs", time.UnixMilli(ev.FireAtMs).Sub(start).Seconds()))
	}
	if ev.Kind == history.CustomStatusUpdated {
		if ev.CustomStatus == nil {
			parts = append(parts, "status=<reset>")
		} else {
			add("status", *ev.CustomStatus)
		}
	}
	return strings.Join(parts, "  ")
}
