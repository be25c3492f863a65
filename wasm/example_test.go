package wasm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/duroxide/duroxide/core/runtime"
)

// Load a directory of modules (two deployments of the same orchestrations)
// and register them in a runtime's registry, next to Go orchestrations.
func ExampleLoadDir() {
	dir, _ := os.MkdirTemp("", "modules-")
	defer os.RemoveAll(dir)
	for _, m := range []string{"deploy_v1", "deploy_v2"} {
		b, _ := os.ReadFile(guestPath(m))
		_ = os.WriteFile(filepath.Join(dir, m+".wasm"), b, 0o644)
	}

	reg := runtime.NewRegistry()
	host, err := LoadDir(context.Background(), reg, dir, &Options{CacheDir: testCacheDir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer host.Close() // after the runtime using reg has stopped

	for _, o := range host.Orchestrations() {
		fmt.Println(o.Name, o.Version, o.Module)
	}
	fmt.Println(reg.OrchestrationVersions("Order"))
	// Output:
	// Order 1.0.0 deploy_v1.wasm
	// Order 2.0.0 deploy_v2.wasm
	// Versioned 1.0.0 deploy_v1.wasm
	// Versioned 2.0.0 deploy_v2.wasm
	// [1.0.0 2.0.0]
}

// Inspect what a module declares, as `duroxide wasm inspect` does.
func ExampleInspect() {
	info, err := Inspect(guestPath("deploy_v1"), &Options{CacheDir: testCacheDir})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range info.Orchestrations {
		fmt.Println(o.Name, o.Version)
	}
	// Output:
	// Order 1.0.0
	// Versioned 1.0.0
}
