package cli

import (
	"context"
	"errors"

	"github.com/duroxide/duroxide/core/runtime"
)

// loadWasm registers the orchestrations of the modules in dir.
func loadWasm(ctx context.Context, reg *runtime.Registry, dir string) (func(), error) {
	return nil, errors.New("WebAssembly support is not built yet")
}
