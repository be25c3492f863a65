// Command deploy_v1 is the first deployment of the versioning test: Order
// and Versioned at 1.0.0.
package main

import (
	"strconv"

	"github.com/duroxide/duroxide/wasm/guest"
)

func main() {}

func init() {
	guest.RegisterVersioned("Versioned", "1.0.0", func(*guest.Context, string) (string, error) { return "v1", nil })
	guest.RegisterVersioned("Order", "1.0.0", order)
}

// order waits for "Ship", then continues as new (the next execution runs
// the newest deployed version) or ends.
func order(ctx *guest.Context, in string) (string, error) {
	var cmd string
	if err := ctx.WaitForEvent("Ship").Await(&cmd); err != nil {
		return "", err
	}
	var out string
	if err := ctx.ScheduleActivity("Stamp", "v1:"+in).Await(&out); err != nil {
		return "", err
	}
	if cmd == "again" {
		n, _ := strconv.Atoi(in)
		return "", ctx.ContinueAsNew(strconv.Itoa(n + 1))
	}
	return out, nil
}
