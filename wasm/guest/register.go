package guest

import (
	"context"
	"fmt"
	"sort"

	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/provider"
	"github.com/duroxide/duroxide/core/replay"
)

// DefaultVersion is the version of an orchestration registered without one.
const DefaultVersion = "1.0.0"

// ProtocolVersion is the turn-protocol version this SDK speaks (docs/protocol.md).
const ProtocolVersion = replay.ProtocolVersion

// SDKVersion identifies this guest SDK in a module's manifest.
const SDKVersion = "duroxide-go-guest/0.2.0"

// Manifest is what a module declares about itself: the orchestrations it
// serves. The host reads it once when it loads the module.
type Manifest struct {
	Protocol       int                `json:"protocol"`
	SDK            string             `json:"sdk"`
	Orchestrations []OrchestrationRef `json:"orchestrations"`
	// Errors lists registrations the SDK refused (a duplicate, an invalid
	// version); a host refuses to load a module that reports any.
	Errors []string `json:"errors,omitempty"`
}

// OrchestrationRef names one orchestration version.
type OrchestrationRef struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

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
	v, err := provider.ParseSemver(version)
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
	ref := OrchestrationRef{Name: name, Version: v.String()}
	if _, dup := registry.fns[ref]; dup {
		registry.errors = append(registry.errors, fmt.Sprintf("orchestration %q version %s is registered twice", name, ref.Version))
		return
	}
	registry.fns[ref] = fn
	registry.order = append(registry.order, ref)
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

// execution is the one execution this guest instance runs: the host gives
// every execution its own instance and keeps it warm between turns.
type execution struct {
	instance string
	id       uint64
	drv      replay.Driver
}

var current *execution

// serveActivate decodes one activation, runs it on the execution's driver
// (created at the first activation) and returns the code's commands. The
// code's log records go to logTo.
func serveActivate(input []byte, logTo func(record []byte)) (cmds []replay.Command, err error) {
	defer func() {
		if r := recover(); r != nil {
			cmds, err = nil, fmt.Errorf("guest SDK panicked: %v", r)
		}
	}()
	a := &replay.Activation{}
	if err := decodeActivation(input, a); err != nil {
		return nil, err
	}
	if current == nil {
		v, err := provider.ParseSemver(a.Version)
		if err != nil {
			return nil, fmt.Errorf("activation for orchestration %q: %w", a.Name, err)
		}
		fn := registry.fns[OrchestrationRef{Name: a.Name, Version: v.String()}]
		if fn == nil {
			return nil, fmt.Errorf("this module does not register orchestration %q version %s", a.Name, v)
		}
		// The driver hands the logger every record, replayed or not, so a
		// job costs the same work either way (see logger.go).
		drv := orchestration.NewDriver(fn, &orchestration.DriverOptions{Logger: newGuestLogger(logTo), LogWhileReplaying: true})
		current = &execution{instance: a.Instance, id: a.ExecutionID, drv: drv}
	} else if a.Instance != current.instance || a.ExecutionID != current.id {
		return nil, fmt.Errorf("this guest instance runs %q execution %d, not %q execution %d", current.instance, current.id, a.Instance, a.ExecutionID)
	}
	return current.drv.Activate(context.Background(), a)
}
