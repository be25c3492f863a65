// Package wasm hosts WebAssembly orchestrations: modules built from Go with
// the guest SDK (package wasm/guest) and the standard toolchain
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o orders.wasm ./orders
//
// run inside wasmtime, next to Go orchestrations, on the same runtime and
// store. A module declares its orchestrations (name and version) in a
// manifest; the host registers each as a runtime.OrchestrationHandler whose
// drivers speak the turn protocol (docs/protocol.md) with the guest in JSON,
// through guest memory.
//
// # Why a sandbox
//
// Replay only works if orchestration code is deterministic. In Go that is
// a rule the author must follow; in the sandbox it is a property: the guest
// gets no real clock (a logical one), no OS randomness (a stream seeded
// from the instance id), no files, no network and no environment, because
// the host implements WASI itself (wasi.go) instead of linking wasmtime's,
// which hands out the real ones. Activities — where side effects belong —
// stay in the host languages and may run in any process sharing the store.
//
// # Lifecycle
//
// Each module is compiled once; the compiled code is cached on disk
// (Options.CacheDir), so a restart deserialises it in milliseconds. Every
// execution gets its own guest instance, created at its first activation
// and kept warm between turns while the runtime's instance cache keeps its
// driver; on a miss the runtime replays the history into a fresh instance.
// The host sends one job per call into the guest, so a warm instance and a
// fresh replay do exactly the same guest work for a job: the same commands,
// the same fuel verdict, even the same math/rand values.
//
// # Limits
//
// Fuel (Options.Fuel, deterministic) bounds each step, a memory cap
// (Options.MaxMemoryBytes) each instance, and Options.MaxInstances the live
// instances of a host. A guest that loops, exhausts its memory, traps or
// whose Go runtime aborts fails its own instance with an error naming the
// cause; the runtime keeps serving the others. Problems on the host's side
// (a closed host) are returned as errors, so the turn is retried.
//
// # Versioning by deployment
//
// Loading a newer module registers its versions next to the older ones.
// An execution stays on the version it started with — and so on the module
// that declared it — while new starts and version-less continue-as-new
// take the newest.
//
// See docs/wasm.md for the guide, the CLI commands and the figures.
package wasm
