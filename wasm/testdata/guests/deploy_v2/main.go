// Command deploy_v2 is the second deployment of the versioning test: Order
// and Versioned at 2.0.0.
package main

import "github.com/duroxide/duroxide/wasm/guest"

func main() {}

func init() {
	guest.RegisterVersioned("Versioned", "2.0.0", func(*guest.Context, string) (string, error) { return "v2", nil })
	guest.RegisterVersioned("Order", "2.0.0", order)
}

// order at 2.0.0 stamps at once, without waiting for an event.
func order(ctx *guest.Context, in string) (string, error) {
	var out string
	err := ctx.ScheduleActivity("Stamp", "v2:"+in).Await(&out)
	return out, err
}
