// Command changed redeploys Changing 1.0.0 with different code (it
// schedules B where the first deployment scheduled A): the scenario of a
// nondeterministic change.
package main

import "github.com/duroxide/duroxide/wasm/guest"

func main() {}

func init() { guest.Register("Changing", changing) }

func changing(ctx *guest.Context, _ string) (string, error) {
	if err := ctx.ScheduleActivity("B", "").Await(nil); err != nil {
		return "", err
	}
	return "done", ctx.WaitForEvent("Go").Await(nil)
}
