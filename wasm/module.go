package wasm

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/duroxide/duroxide/core/provider"
	"github.com/duroxide/duroxide/core/replay"
	"github.com/duroxide/duroxide/core/runtime"
)

// Module is one compiled WebAssembly module and the orchestrations it
// declares. Every execution of one of them runs in its own guest instance
// of the module, so a module loaded later (a new deployment) never changes
// the code of executions running on this one.
type Module struct {
	host        *Host
	name        string
	path        string
	sha256      string
	compiled    *wasmtime.Module
	linker      *wasmtime.Linker
	fromCache   bool
	compileTime time.Duration
	sdk         string
	orchs       []OrchestrationInfo
}

// ModuleInfo describes a loaded module.
type ModuleInfo struct {
	Name   string `json:"name"`
	Path   string `json:"path,omitempty"`
	SHA256 string `json:"sha256"`
	// SDK is the guest SDK the module was built with.
	SDK            string              `json:"sdk"`
	Orchestrations []OrchestrationInfo `json:"orchestrations"`
	// FromCache tells whether the compiled code came from the cache;
	// CompileTime is how long compiling (or deserialising) took.
	FromCache   bool          `json:"from_cache"`
	CompileTime time.Duration `json:"compile_time_ns"`
}

// Info describes the module.
func (m *Module) Info() ModuleInfo {
	return ModuleInfo{Name: m.name, Path: m.path, SHA256: m.sha256, SDK: m.sdk,
		Orchestrations: append([]OrchestrationInfo(nil), m.orchs...), FromCache: m.fromCache, CompileTime: m.compileTime}
}

// Name returns the module's name (its file name when loaded from a file).
func (m *Module) Name() string { return m.name }

// Orchestrations lists the orchestration versions the module declares.
func (m *Module) Orchestrations() []OrchestrationInfo {
	return append([]OrchestrationInfo(nil), m.orchs...)
}

// manifest is the guest's self-description (guest.Manifest).
type manifest struct {
	Protocol       int    `json:"protocol"`
	SDK            string `json:"sdk"`
	Orchestrations []struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"orchestrations"`
	Errors []string `json:"errors"`
}

// prepare checks the module's shape, links it and reads its manifest.
func (m *Module) prepare() error {
	exports := map[string]*wasmtime.ExternType{}
	for _, ex := range m.compiled.Exports() {
		exports[ex.Name()] = ex.Type()
	}
	for _, need := range []string{exportActivate, exportManifest} {
		if exports[need] == nil || exports[need].FuncType() == nil {
			if exports["_start"] != nil && exports[exportInit] == nil {
				return fmt.Errorf("it was built as a WASI command; build it with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared")
			}
			return fmt.Errorf("it is not a duroxide guest module: it does not export %s (import github.com/duroxide/duroxide/wasm/guest and build with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared)", need)
		}
	}
	mem := exports[exportMemory]
	if mem == nil || mem.MemoryType() == nil {
		return fmt.Errorf("it does not export its memory")
	}
	if min := mem.MemoryType().Minimum() * 65536; min > uint64(m.host.opts.MaxMemoryBytes) {
		return fmt.Errorf("its initial memory (%d bytes) is over the limit MaxMemoryBytes=%d", min, m.host.opts.MaxMemoryBytes)
	}
	lk, err := newLinker(m.host.engine, m.compiled)
	if err != nil {
		return err
	}
	m.linker = lk
	return m.readManifest()
}

func (m *Module) readManifest() error {
	inst, err := m.newInstance(seedFor("duroxide/manifest", 0), m.host.log.With(LogModule, m.name))
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer inst.close()
	status, err := inst.call(inst.manifest, "reading the manifest", 0)
	if err != nil {
		return err
	}
	out := inst.st.lastWrite
	if status != 0 {
		return fmt.Errorf("the manifest failed: %s", out)
	}
	var mf manifest
	if err := json.Unmarshal(out, &mf); err != nil {
		return fmt.Errorf("decode manifest: %w", err)
	}
	if mf.Protocol != replay.ProtocolVersion {
		return fmt.Errorf("the guest speaks protocol %d, this host %d", mf.Protocol, replay.ProtocolVersion)
	}
	if len(mf.Errors) > 0 {
		return fmt.Errorf("the guest refused registrations: %s", strings.Join(mf.Errors, "; "))
	}
	if len(mf.Orchestrations) == 0 {
		return fmt.Errorf("it registers no orchestration (call guest.Register in an init function)")
	}
	m.sdk = mf.SDK
	for _, o := range mf.Orchestrations {
		v, err := provider.ParseSemver(o.Version)
		if err != nil {
			return fmt.Errorf("orchestration %q: %w", o.Name, err)
		}
		m.orchs = append(m.orchs, OrchestrationInfo{Name: o.Name, Version: v.String(), Module: m.name})
	}
	sortInfos(m.orchs)
	return nil
}

// Register registers every orchestration of the module in reg, next to the
// Go orchestrations and other modules' versions already there. On an error
// (for example a version that is already registered) nothing stays
// registered.
func (m *Module) Register(reg *runtime.Registry) error {
	for i, o := range m.orchs {
		if err := reg.RegisterOrchestrationHandler(o.Name, o.Version, &handler{mod: m, orch: o}); err != nil {
			for _, done := range m.orchs[:i] {
				reg.UnregisterOrchestrationVersion(done.Name, done.Version)
			}
			return fmt.Errorf("wasm: module %s: %w", m.name, err)
		}
	}
	return nil
}

// Unregister removes the module's orchestrations from reg. Instances pinned
// to them wait until some runtime serves them again.
func (m *Module) Unregister(reg *runtime.Registry) {
	for _, o := range m.orchs {
		if h, err := reg.Handler(o.Name, o.Version); err == nil {
			if wh, ok := h.(*handler); ok && wh.mod == m {
				reg.UnregisterOrchestrationVersion(o.Name, o.Version)
			}
		}
	}
}

func (m *Module) release() {
	if m.linker != nil {
		m.linker.Close()
		m.linker = nil
	}
	if m.compiled != nil {
		m.compiled.Close()
		m.compiled = nil
	}
}

// handler is the runtime.OrchestrationHandler of one orchestration version.
type handler struct {
	mod  *Module
	orch OrchestrationInfo
}

func (h *handler) NewDriver(logger *slog.Logger) (replay.Driver, error) {
	return h.mod.newDriver(h.orch, logger)
}

func (m *Module) newDriver(orch OrchestrationInfo, logger *slog.Logger) (replay.Driver, error) {
	if m.host.isClosed() {
		return nil, ErrClosed
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &driver{mod: m, orch: orch, base: logger}, nil
}
