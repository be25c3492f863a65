package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/duroxide/duroxide/core/client"
)

func init() {
	register(&command{
		name:    "start",
		args:    "NAME ID [--input JSON] [--version V] [--wait D]",
		summary: "start an orchestration instance",
		help: `Queues the start of orchestration NAME as instance ID; a runtime sharing the
store runs it. An ID that already exists is refused.

--input is JSON ('{"n":1}', '42', '"text"'); text that is not JSON is taken as
a plain string. "@FILE" reads it from a file, "@-" from standard input.
With --wait, waits for the instance to end and prints its output (exit 1 if
it failed or did not end in time).`,
		setup: func(fs *flag.FlagSet) runFunc {
			input := fs.String("input", "", "the orchestration input (`JSON`, text, @FILE or @-)")
			version := fs.String("version", "", "start this exact orchestration `version` (semver; default: the runtime's choice)")
			wait := fs.Duration("wait", 0, "wait up to `D` (30s, 5m) for the instance to end")
			return func(ctx context.Context, e *env, args []string) error {
				a, err := nArgs(args, "NAME", "ID")
				if err != nil {
					return err
				}
				name, id := a[0], a[1]
				payload, err := parsePayload(e, "input", *input)
				if err != nil {
					return err
				}
				if *wait < 0 {
					return usagef("--wait %v: must not be negative", *wait)
				}
				c, done, err := e.client(true)
				if err != nil {
					return err
				}
				defer done()
				st, err := c.GetStatus(ctx, id)
				if err != nil {
					return failure("start", id, err)
				}
				if st.State != client.StateNotFound {
					return fmt.Errorf("instance %q already exists (%s, orchestration %s); choose another ID or delete it first", id, st.State, st.Name)
				}
				if err := c.StartOrchestrationVersioned(ctx, id, name, *version, payload); err != nil {
					return failure("start", id, err)
				}
				if *wait == 0 {
					fmt.Fprintf(e.stdout, "started %s as %s\n", name, id)
					return nil
				}
				return waitAndReport(ctx, e, c, id, *wait)
			}
		},
	})
}

// waitAndReport waits for an instance to end and prints its outcome; a
// failure or a timeout is an error.
func waitAndReport(ctx context.Context, e *env, c *client.Client, id string, wait time.Duration) error {
	st, err := c.WaitForOrchestration(ctx, id, wait)
	if err != nil {
		return failure("wait for", id, err)
	}
	switch st.State {
	case client.StateCompleted:
		fmt.Fprintln(e.stdout, st.Output)
		return nil
	case client.StateFailed:
		return fmt.Errorf("instance %q failed: %s", id, st.ErrorMessage())
	}
	return fmt.Errorf("instance %q is %s", id, st.State)
}
