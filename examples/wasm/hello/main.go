// Command hello is a WebAssembly orchestration module: the hello example of
// duroxide, written with the guest SDK and run in the wasm sandbox. Its
// activity ("Hello") stays a Go function in a host process.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o build/wasm/hello.wasm ./examples/wasm/hello
//
// (`make wasm` builds every example module.) Run it with the host example:
//
//	go run ./examples/wasm/host --wasm build/wasm --run HelloWasm --input World
package main

import (
	"time"

	"github.com/duroxide/duroxide/wasm/guest"
)

// main is empty: a module is a library the host calls into.
func main() {}

func init() {
	guest.Register("HelloWasm", HelloWasm)
}

// HelloWasm greets twice, pausing on a durable timer in between.
func HelloWasm(ctx *guest.Context, name string) (string, error) {
	var first, second string
	if err := ctx.ScheduleActivity("Hello", "Wasm").Await(&first); err != nil {
		return "", err
	}
	ctx.Logger().Info("first greeting", "greeting", first)
	ctx.SetCustomStatus("resting")
	if err := ctx.CreateTimer(100 * time.Millisecond).Await(nil); err != nil {
		return "", err
	}
	if err := ctx.ScheduleActivity("Hello", name).Await(&second); err != nil {
		return "", err
	}
	return second, nil
}
