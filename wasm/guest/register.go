package guest

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// DefaultVersion is the version of an orchestration registered without one.
const DefaultVersion = "1.0.0"

// registry holds the module's orchestrations. It is filled by Register
// calls in init functions, before the host reads the manifest.
var registry = struct {
	fns    map[OrchestrationRef]Func
	order  []OrchestrationRef
	errors []string
}{fns: map[OrchestrationRef]Func{}}

// Register registers fn as version 1.0.0 of the orchestration name. Call it
// from an init function of the module's main package:
//
//	func init() { guest.Register("Greet", Greet) }
func Register(name string, fn Func) { RegisterVersioned(name, DefaultVersion, fn) }

// RegisterVersioned registers fn as a version ("major.minor.patch") of name.
// A module may register several versions of one name; a host loading a
// newer module registers the newer versions next to the ones already
// loaded. A refused registration (an empty name, a nil function, a bad or
// duplicate version) is reported in the manifest and the host refuses to
// load the module with that message.
func RegisterVersioned(name, version string, fn Func) {
	v, err := normalizeVersion(version)
	switch {
	case name == "":
		registry.errors = append(registry.errors, "an orchestration was registered with an empty name")
		return
	case fn == nil:
		registry.errors = append(registry.errors, fmt.Sprintf("orchestration %q: nil function", name))
		return
	case err != nil:
		registry.errors = append(registry.errors, fmt.Sprintf("orchestration %q: %v", name, err))
		return
	}
	ref := OrchestrationRef{Name: name, Version: v}
	if _, dup := registry.fns[ref]; dup {
		registry.errors = append(registry.errors, fmt.Sprintf("orchestration %q version %s is registered twice", name, v))
		return
	}
	registry.fns[ref] = fn
	registry.order = append(registry.order, ref)
}

// normalizeVersion parses "major.minor.patch" (a leading "v" and a
// pre-release or build suffix are ignored) as the host does.
func normalizeVersion(s string) (string, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexAny(t, "-+"); i >= 0 {
		t = t[:i]
	}
	parts := strings.Split(t, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("version %q: want major.minor.patch", s)
	}
	var v [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return "", fmt.Errorf("version %q: %q is not a non-negative number", s, p)
		}
		v[i] = n
	}
	return fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2]), nil
}

// manifest describes the registered orchestrations, sorted by name and version.
func manifest() Manifest {
	m := Manifest{Protocol: ProtocolVersion, SDK: SDKVersion, Orchestrations: append([]OrchestrationRef{}, registry.order...), Errors: registry.errors}
	sort.Slice(m.Orchestrations, func(i, j int) bool {
		a, b := m.Orchestrations[i], m.Orchestrations[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Version < b.Version
	})
	return m
}

// current is the execution this guest instance runs. The host gives every
// execution its own instance and keeps it warm between turns.
var current *driver

// serveActivate decodes one activation and runs it.
func serveActivate(input []byte, h hooks) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("guest SDK panicked: %v", r)
		}
	}()
	var a Activation
	if err := decodeActivation(input, &a); err != nil {
		return err
	}
	if current == nil {
		v, err := normalizeVersion(a.Version)
		if err != nil {
			return fmt.Errorf("activation for orchestration %q: %w", a.Name, err)
		}
		fn := registry.fns[OrchestrationRef{Name: a.Name, Version: v}]
		if fn == nil {
			return fmt.Errorf("this module does not register orchestration %q version %s", a.Name, v)
		}
		current = newDriver(fn, h)
	} else if a.Instance != current.instance || a.ExecutionID != current.exec {
		return fmt.Errorf("this guest instance runs %q execution %d, not %q execution %d", current.instance, current.exec, a.Instance, a.ExecutionID)
	}
	return current.activate(&a)
}
