// Command capi is duroxide's C ABI: built with
//
//	go build -buildmode=c-shared -o libduroxide.so ./capi
//
// it gives libduroxide.so and its header (renamed duroxide.h by `make
// capi`). The Python package loads it with ctypes; the Node addon links
// it. The functions and their ownership rules are documented in exports.go,
// whose comments cgo copies into the header.
//
// Design (DESIGN.md §5): handles are opaque integers into a Go-side table;
// every export recovers panics and returns a status code with the error
// text in an out-parameter; messages are UTF-8 JSON encoded with
// github.com/ugorji/go/codec; and the host pulls work — Go never calls into
// the host. A host orchestration is registered in the core registry as a
// handler whose driver turns each activation into a poll item and waits
// for dx_complete_activation: one round trip per activation, normally one
// per turn. A host activity is an activity.Func that turns each execution
// into a poll item and waits for dx_complete_activity.
package main

func main() {}
