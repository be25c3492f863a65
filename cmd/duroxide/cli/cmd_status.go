package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/duroxide/duroxide/mcp"
)

func init() {
	register(&command{
		name:    "status",
		args:    "ID [--json]",
		summary: "show an instance: status, output or error, custom status, times",
		help:    `--json prints the same object as the MCP tool get_instance.`,
		setup: func(fs *flag.FlagSet) runFunc {
			asJSON := fs.Bool("json", false, "print JSON")
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
				d, err := mcp.Describe(ctx, c, id)
				if err != nil {
					return failure("status of", id, err)
				}
				if *asJSON {
					return printJSON(e.stdout, d)
				}
				tw := table(e.stdout)
				row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
				row("Instance", d.InstanceID)
				name := d.Name
				if d.Version != "" {
					name += " (version " + d.Version + ")"
				}
				row("Orchestration", name)
				row("Status", d.Status)
				execs := make([]string, len(d.Executions))
				for i, x := range d.Executions {
					execs[i] = fmt.Sprint(x)
				}
				row("Execution", fmt.Sprintf("%d (stored: %s)", d.ExecutionID, strings.Join(execs, ", ")))
				row("Created", fmtTime(d.CreatedAt))
				row("Updated", fmtTime(d.UpdatedAt))
				if !d.CompletedAt.IsZero() {
					row("Completed", fmtTime(d.CompletedAt))
				}
				if d.Parent != "" {
					row("Parent", d.Parent)
				}
				if len(d.Children) > 0 {
					row("Children", strings.Join(d.Children, ", "))
				}
				if d.CustomStatus != nil {
					row("Custom status", oneLine(*d.CustomStatus, 200))
				}
				if d.Output != "" {
					row("Output", oneLine(d.Output, 500))
				}
				if d.Error != nil {
					row("Error", d.ErrorMessage)
					kind := string(d.Error.Category)
					if d.Error.Kind != "" {
						kind += "/" + d.Error.Kind
					}
					row("Error kind", kind)
				}
				return tw.Flush()
			}
		},
	})
}
