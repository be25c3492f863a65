// Package guest is the Go SDK for duroxide orchestrations that run as
// WebAssembly modules. Its API is core/orchestration's — Context, Future,
// Await, All, Race, Select, Go, timers, events, queues, sub-orchestrations,
// continue-as-new, custom status, KV, GUIDs, the time and a replay-safe
// logger, under the same names (type aliases) — and a module runs the same
// driver as a native Go worker, so code moves between the two with only
// its import and package qualifier changed.
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
// What the package adds to core/orchestration is the module's side of the
// host's ABI: Register and RegisterVersioned, the manifest, one driver per
// guest instance (orchestration.NewDriver), a hand-written JSON codec for
// the turn protocol's types (core/replay), and the logger that hands
// records to the host. Like the core packages it uses, it needs only the
// standard library. It compiles on any platform so tools and tests can use
// it; the exports the host calls exist only in wasip1 builds.
package guest
