package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/duroxide/duroxide/core/client"
)

// The commands that send a message to a running instance: raise, enqueue,
// cancel.

func init() {
	register(&command{
		name:    "raise",
		args:    "ID EVENT [--data JSON]",
		summary: "raise an external event on an instance",
		help: `The event waits, buffered, until the orchestration's next wait for EVENT
takes it. --data is JSON, or text taken as a plain string; "@FILE" reads it
from a file, "@-" from standard input. An unknown instance is refused.`,
		setup: func(fs *flag.FlagSet) runFunc {
			data := fs.String("data", "", "the event data (`JSON`, text, @FILE or @-)")
			return func(ctx context.Context, e *env, args []string) error {
				return sendEvent(ctx, e, args, "EVENT", *data, (*client.Client).RaiseEvent, "raised event %q on %s\n")
			}
		},
	})
	register(&command{
		name:    "enqueue",
		args:    "ID QUEUE [--data JSON]",
		summary: "put a message on an instance's event queue",
		help: `The orchestration takes queued messages in order when it dequeues from
QUEUE. --data is JSON, or text taken as a plain string; "@FILE" reads it
from a file, "@-" from standard input. An unknown instance is refused.`,
		setup: func(fs *flag.FlagSet) runFunc {
			data := fs.String("data", "", "the message (`JSON`, text, @FILE or @-)")
			return func(ctx context.Context, e *env, args []string) error {
				return sendEvent(ctx, e, args, "QUEUE", *data, (*client.Client).EnqueueEvent, "queued a message on %q of %s\n")
			}
		},
	})
	register(&command{
		name:    "cancel",
		args:    "ID [--reason TEXT]",
		summary: "cancel a running instance",
		help: `The instance's pending work and sub-orchestrations are cancelled and it ends
Failed with a cancellation error carrying the reason, once a runtime
processes the request. An unknown or ended instance is refused.`,
		setup: func(fs *flag.FlagSet) runFunc {
			reason := fs.String("reason", "cancelled from the duroxide CLI", "why the instance is cancelled")
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
				st, err := requireInstance(ctx, c, id)
				if err != nil {
					return err
				}
				if st.IsTerminal() {
					return fmt.Errorf("instance %q has already ended (%s); nothing to cancel", id, st.State)
				}
				if err := c.CancelInstance(ctx, id, *reason); err != nil {
					return failure("cancel", id, err)
				}
				fmt.Fprintf(e.stdout, "cancellation of %s requested\n", id)
				return nil
			}
		},
	})
}

type sendFunc func(c *client.Client, ctx context.Context, instance, name string, data any) error

func sendEvent(ctx context.Context, e *env, args []string, what, data string, send sendFunc, done string) error {
	a, err := nArgs(args, "ID", what)
	if err != nil {
		return err
	}
	id, name := a[0], a[1]
	payload, err := parsePayload(e, "data", data)
	if err != nil {
		return err
	}
	c, closeStore, err := e.client(false)
	if err != nil {
		return err
	}
	defer closeStore()
	if _, err := requireInstance(ctx, c, id); err != nil {
		return err
	}
	if err := send(c, ctx, id, name, payload); err != nil {
		return failure("send to", id, err)
	}
	fmt.Fprintf(e.stdout, done, name, id)
	return nil
}
