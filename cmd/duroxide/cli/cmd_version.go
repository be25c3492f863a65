package cli

import (
	"context"
	"flag"
	"fmt"
	goruntime "runtime"
	"runtime/debug"

	"github.com/duroxide/duroxide/core/runtime"
)

func init() {
	register(&command{
		name:    "version",
		args:    "",
		summary: "print the version of duroxide",
		noStore: true,
		setup: func(fs *flag.FlagSet) runFunc {
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("version takes no arguments, got %q", args)
				}
				mod := ""
				if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
					mod = " module " + bi.Main.Version
				}
				fmt.Fprintf(e.stdout, "duroxide %s%s (%s, %s/%s)\n", runtime.EngineVersion, mod, goruntime.Version(), goruntime.GOOS, goruntime.GOARCH)
				return nil
			}
		},
	})
}
