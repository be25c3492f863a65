package wasm

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/wasm/guest"
)

// exportedNames lists the exported package-level identifiers (functions,
// types, constants, variables) of the non-test Go files in dir.
func exportedNames(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	must(t, err)
	var out []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		must(t, err)
		for _, d := range af.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && d.Name.IsExported() {
					out = append(out, d.Name.Name)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							out = append(out, s.Name.Name)
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								out = append(out, n.Name)
							}
						}
					}
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// The guest SDK is core/orchestration under its own package name: when the
// Go API gains a function, a type or a constant, the guest SDK exports it
// too (or this test lists it as host-only, with the reason).
func TestGuestExportsTheGoAPI(t *testing.T) {
	hostOnly := map[string]string{
		"NewDriver":     "the guest SDK builds the one driver of its execution itself",
		"DriverOptions": "the guest SDK builds the one driver of its execution itself",
		"LogReplaying":  "the guest removes the mark; the host knows which jobs it replays",
	}
	core, g := exportedNames(t, "../core/orchestration"), exportedNames(t, "guest")
	var missing []string
	for _, n := range core {
		if _, ok := hostOnly[n]; !ok && !slices.Contains(g, n) {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		t.Errorf("the guest SDK (wasm/guest) lacks %v of core/orchestration", missing)
	}
}

// The guest's types are core's, not copies: a module runs the driver,
// futures and errors of core/orchestration and the protocol types of
// core/replay and core/history.
func TestGuestTypesAreTheCoreTypes(t *testing.T) {
	pairs := []struct{ guest, core any }{
		{guest.Context{}, orchestration.Context{}},
		{guest.Future{}, orchestration.Future{}},
		{guest.Func(nil), orchestration.Func(nil)},
		{guest.ActivityOptions{}, orchestration.ActivityOptions{}},
		{guest.SubOrchestrationOptions{}, orchestration.SubOrchestrationOptions{}},
		{guest.RetryPolicy{}, orchestration.RetryPolicy{}},
		{guest.Backoff{}, orchestration.Backoff{}},
		{guest.BackoffKind(0), orchestration.BackoffKind(0)},
		{guest.ActivityError{}, orchestration.ActivityError{}},
		{guest.SubOrchestrationError{}, orchestration.SubOrchestrationError{}},
		{guest.CanceledError{}, orchestration.CanceledError{}},
		{guest.ContinueAsNewError{}, orchestration.ContinueAsNewError{}},
		{guest.ErrorDetails{}, history.ErrorDetails{}},
		{guest.Category(""), history.Category("")},
	}
	for _, p := range pairs {
		if g, c := reflect.TypeOf(p.guest), reflect.TypeOf(p.core); g != c {
			t.Errorf("guest type %v is not %v", g, c)
		}
	}
	if guest.ErrTimeout != orchestration.ErrTimeout {
		t.Error("guest.ErrTimeout is not orchestration.ErrTimeout")
	}
}
