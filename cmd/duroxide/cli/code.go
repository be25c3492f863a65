package cli

import (
	"context"
	"errors"
	"flag"

	"github.com/duroxide/duroxide/core/runtime"
)

// wasmArgs is the synopsis of the --wasm flag.
const wasmArgs = " [--wasm DIR]"

// wasmFlag declares --wasm on a command that runs orchestration code.
func wasmFlag(fs *flag.FlagSet) *string {
	return fs.String("wasm", "", "load the WebAssembly orchestration modules (*.wasm) in `DIR`")
}

// code returns the orchestration code available to the command: the
// program's linked registry and the modules of wasmDir. The returned
// function releases the modules.
func (e *env) code(ctx context.Context, wasmDir string) (*runtime.Registry, func(), error) {
	reg := e.reg
	if reg == nil {
		reg = runtime.NewRegistry()
	}
	closeFn := func() {}
	if wasmDir != "" {
		c, err := loadWasm(ctx, reg, wasmDir)
		if err != nil {
			return nil, nil, err
		}
		closeFn = c
	}
	if e.reg == nil && wasmDir == "" {
		return nil, nil, errors.New("no orchestration code: this duroxide binary links none; pass --wasm DIR, or build a program that embeds the CLI with cli.Main(args, &cli.Options{Registry: reg})")
	}
	return reg, closeFn, nil
}
