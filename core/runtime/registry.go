package runtime

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/provider"
	"github.com/duroxide/duroxide/core/replay"
)

// DefaultVersion is the version of an orchestration registered without one.
const DefaultVersion = "1.0.0"

// OrchestrationHandler makes drivers for one orchestration version. Go
// orchestrations are wrapped by RegisterOrchestration; the C ABI and the
// WebAssembly host provide their own handlers.
type OrchestrationHandler interface {
	NewDriver(logger *slog.Logger) (replay.Driver, error)
}

// goHandler runs a Go orchestration function.
type goHandler struct{ fn orchestration.Func }

func (h goHandler) NewDriver(logger *slog.Logger) (replay.Driver, error) {
	return orchestration.NewDriver(h.fn, &orchestration.DriverOptions{Logger: logger}), nil
}

// VersionPolicy chooses the version of a new execution when the start does
// not name one.
type VersionPolicy struct {
	// Exact, when set, pins new executions to that version; empty means the
	// latest registered version.
	Exact string
}

type orchVersion struct {
	v       provider.Semver
	text    string
	handler OrchestrationHandler
}

type orchEntry struct {
	versions []orchVersion // ascending
	policy   VersionPolicy
}

// Registry holds the orchestrations and activities a runtime serves. It is
// safe for concurrent use, and may change while the runtime runs (new
// versions appear, a module is loaded).
type Registry struct {
	mu             sync.RWMutex
	orchestrations map[string]*orchEntry
	activities     map[string]activity.Func
	limits         history.Limits
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{orchestrations: map[string]*orchEntry{}, activities: map[string]activity.Func{}}
}

// ErrDuplicate is returned when a name (and version) is registered twice.
var ErrDuplicate = errors.New("already registered")

// RegisterOrchestration registers fn as version 1.0.0 of name.
func (r *Registry) RegisterOrchestration(name string, fn orchestration.Func) error {
	return r.RegisterOrchestrationVersioned(name, DefaultVersion, fn)
}

// RegisterOrchestrationVersioned registers fn as a version of name. Versions
// are semver; an instance started on one version keeps replaying on it.
func (r *Registry) RegisterOrchestrationVersioned(name, version string, fn orchestration.Func) error {
	if fn == nil {
		return fmt.Errorf("register orchestration %q: nil function", name)
	}
	return r.RegisterOrchestrationHandler(name, version, goHandler{fn})
}

// RegisterOrchestrationHandler registers a handler (for drivers other than
// Go functions) as a version of name.
func (r *Registry) RegisterOrchestrationHandler(name, version string, h OrchestrationHandler) error {
	if err := r.limits.CheckName("orchestration name", name); err != nil {
		return fmt.Errorf("register orchestration: %w", err)
	}
	if h == nil {
		return fmt.Errorf("register orchestration %q: nil handler", name)
	}
	v, err := provider.ParseSemver(version)
	if err != nil {
		return fmt.Errorf("register orchestration %q: %w", name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.orchestrations[name]
	if e == nil {
		e = &orchEntry{}
		r.orchestrations[name] = e
	}
	for _, ov := range e.versions {
		if ov.v == v {
			return fmt.Errorf("register orchestration %q version %s: %w", name, v, ErrDuplicate)
		}
	}
	e.versions = append(e.versions, orchVersion{v: v, text: v.String(), handler: h})
	sort.Slice(e.versions, func(i, j int) bool { return e.versions[i].v.Compare(e.versions[j].v) < 0 })
	return nil
}

// UnregisterOrchestrationVersion removes one version of name. Instances
// pinned to it wait (and eventually fail) until a runtime serves it again.
func (r *Registry) UnregisterOrchestrationVersion(name, version string) bool {
	v, err := provider.ParseSemver(version)
	if err != nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.orchestrations[name]
	if e == nil {
		return false
	}
	for i, ov := range e.versions {
		if ov.v == v {
			e.versions = slices.Delete(e.versions, i, i+1)
			if len(e.versions) == 0 {
				delete(r.orchestrations, name)
			}
			return true
		}
	}
	return false
}

// SetVersionPolicy sets how new executions of name choose a version.
func (r *Registry) SetVersionPolicy(name string, p VersionPolicy) error {
	if p.Exact != "" {
		v, err := provider.ParseSemver(p.Exact)
		if err != nil {
			return fmt.Errorf("version policy of %q: %w", name, err)
		}
		p.Exact = v.String()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.orchestrations[name]
	if e == nil {
		e = &orchEntry{}
		r.orchestrations[name] = e
	}
	e.policy = p
	return nil
}

// RegisterActivity registers an activity.
func (r *Registry) RegisterActivity(name string, fn activity.Func) error {
	if err := r.limits.CheckName("activity name", name); err != nil {
		return fmt.Errorf("register activity: %w", err)
	}
	if fn == nil {
		return fmt.Errorf("register activity %q: nil function", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.activities[name]; ok {
		return fmt.Errorf("register activity %q: %w", name, ErrDuplicate)
	}
	r.activities[name] = fn
	return nil
}

// UnregisterActivity removes an activity.
func (r *Registry) UnregisterActivity(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.activities[name]
	delete(r.activities, name)
	return ok
}

// Activity returns the activity registered as name.
func (r *Registry) Activity(name string) (activity.Func, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	fn, ok := r.activities[name]
	return fn, ok
}

// ResolveVersion returns the version a new execution of name runs:
// requested exactly if given, else the policy's.
func (r *Registry) ResolveVersion(name, requested string) (string, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e := r.orchestrations[name]
	if e == nil || len(e.versions) == 0 {
		return "", fmt.Errorf("%w: orchestration %q", replay.ErrNotRegistered, name)
	}
	want := requested
	if want == "" {
		want = e.policy.Exact
	}
	if want == "" {
		return e.versions[len(e.versions)-1].text, nil
	}
	if _, ok := e.find(want); !ok {
		return "", fmt.Errorf("%w: orchestration %q version %s", replay.ErrNotRegistered, name, want)
	}
	v, _ := provider.ParseSemver(want)
	return v.String(), nil
}

// Handler returns the handler of an exact version.
func (r *Registry) Handler(name, version string) (OrchestrationHandler, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e := r.orchestrations[name]
	if e == nil {
		return nil, fmt.Errorf("%w: orchestration %q", replay.ErrNotRegistered, name)
	}
	ov, ok := e.find(version)
	if !ok {
		return nil, fmt.Errorf("%w: orchestration %q version %s", replay.ErrNotRegistered, name, version)
	}
	return ov.handler, nil
}

func (e *orchEntry) find(version string) (orchVersion, bool) {
	v, err := provider.ParseSemver(version)
	if err != nil {
		return orchVersion{}, false
	}
	for _, ov := range e.versions {
		if ov.v == v {
			return ov, true
		}
	}
	return orchVersion{}, false
}

// OrchestrationNames lists registered orchestration names, sorted.
func (r *Registry) OrchestrationNames() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var names []string
	for n, e := range r.orchestrations {
		if len(e.versions) > 0 {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// OrchestrationVersions lists the registered versions of name, ascending.
func (r *Registry) OrchestrationVersions(name string) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	if e := r.orchestrations[name]; e != nil {
		for _, ov := range e.versions {
			out = append(out, ov.text)
		}
	}
	return out
}

// ActivityNames lists registered activity names, sorted.
func (r *Registry) ActivityNames() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.activities))
	for n := range r.activities {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
