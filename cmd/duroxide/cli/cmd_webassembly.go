package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/duroxide/duroxide/core/runtime"
	"github.com/duroxide/duroxide/wasm"
)

// loadWasm registers the orchestrations of the modules in dir and returns
// the function that releases them (after the runtime using them stopped).
func loadWasm(ctx context.Context, reg *runtime.Registry, dir string) (func(), error) {
	h, err := wasm.LoadDir(ctx, reg, dir, nil)
	if err != nil {
		return nil, fmt.Errorf("load WebAssembly modules from %s: %w", dir, err)
	}
	return func() { _ = h.Close() }, nil
}

func init() {
	register(&command{
		name:    "wasm",
		args:    "inspect MODULE.wasm... [--json]",
		summary: "list the orchestrations a WebAssembly module declares",
		help: `"wasm inspect" compiles each module (or takes it from the compile cache)
and prints its orchestrations (name and version), the guest SDK it was built
with, its SHA-256 and how long compiling took.`,
		noStore: true,
		setup: func(fs *flag.FlagSet) runFunc {
			asJSON := fs.Bool("json", false, "print JSON")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) < 2 || args[0] != "inspect" {
					return usagef("want: wasm inspect MODULE.wasm...")
				}
				var infos []*wasm.ModuleInfo
				var errs []error
				for _, path := range args[1:] {
					info, err := wasm.Inspect(path, nil)
					if err != nil {
						errs = append(errs, fmt.Errorf("%s: %w", path, err))
						continue
					}
					infos = append(infos, info)
				}
				if *asJSON {
					if err := printJSON(e.stdout, infos); err != nil {
						return err
					}
				} else {
					for _, info := range infos {
						src := "compiled"
						if info.FromCache {
							src = "from cache"
						}
						fmt.Fprintf(e.stdout, "%s  (sdk %s, sha256 %s…, %s in %v)\n", info.Path, info.SDK, info.SHA256[:12], src, info.CompileTime.Round(1e6))
						tw := table(e.stdout)
						fmt.Fprintln(tw, "  ORCHESTRATION\tVERSION")
						for _, o := range info.Orchestrations {
							fmt.Fprintf(tw, "  %s\t%s\n", o.Name, o.Version)
						}
						tw.Flush()
					}
				}
				if err := errors.Join(errs...); err != nil {
					return errors.New(strings.ReplaceAll(err.Error(), "\n", "; "))
				}
				return nil
			}
		},
	})
}
