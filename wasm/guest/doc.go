// Package guest is the Go SDK for duroxide orchestrations that run as
// WebAssembly modules. Its API mirrors core/orchestration — Context,
// Future, Await, All, Race, Select, Go, timers, events, queues,
// sub-orchestrations, continue-as-new, custom status, KV, GUIDs, the time
// and a replay-safe logger — so code moves between the two with few edits.
//
// A module is a main package that registers its orchestrations in init
// functions and is built with the standard toolchain:
//
//	package main
//
//	import "github.com/duroxide/duroxide/wasm/guest"
//
//	func main() {}
//
//	func init() { guest.Register("Greet", Greet) }
//
//	func Greet(ctx *guest.Context, name string) (string, error) {
//		var greeting string
//		err := ctx.ScheduleActivity("Hello", name).Await(&greeting)
//		return greeting, err
//	}
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o greet.wasm .
//
// Activities are not part of a module: they stay in the host languages and
// run in any process sharing the store.
//
// Inside the sandbox, code cannot be nondeterministic by accident:
// time.Now reads a logical clock (2000-01-01 plus a millisecond per job;
// time.Sleep moves it without waiting), math/rand and crypto/rand are
// seeded from the instance id, the environment and arguments are empty and
// there are no files or sockets. Use Context.UtcNow and Context.NewGUID for
// real, recorded values. Go's goroutines work, but orchestration code should
// use Context.Go, whose coroutines take turns deterministically.
//
// The package is self-contained (the standard library only), with its own
// copies of the protocol types; the host's tests keep them in sync. It
// compiles on any platform so tools and tests can use it; the exports the
// host calls exist only in wasip1 builds.
package guest
