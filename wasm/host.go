package wasm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/duroxide/duroxide/core/provider"
	"github.com/duroxide/duroxide/core/replay"
	"github.com/duroxide/duroxide/core/runtime"
)

// Log attribute keys used by the host (the instance keys are the runtime's).
const (
	LogModule   = "wasm_module"
	LogStream   = "stream"
	LogError    = "error"
	LogCached   = "from_cache"
	LogDuration = "duration"
)

// Defaults of Options.
const (
	DefaultFuel           = 1_000_000_000
	DefaultMaxMemoryBytes = 256 << 20
	DefaultMaxInstances   = 256
)

// Options configure a Host. A nil *Options, and every zero field, means the
// default documented on the field.
type Options struct {
	// CacheDir keeps compiled modules between runs, keyed by the module's
	// SHA-256, the wasmtime version and the compilation settings, so a
	// restart deserialises (milliseconds) instead of compiling (seconds).
	// The directory must be trusted: its files are loaded as machine code.
	// Default: <os.UserCacheDir()>/duroxide/wasm, or no cache when there
	// is no user cache directory.
	CacheDir string
	// DisableCache compiles in memory and writes nothing to disk.
	DisableCache bool
	// Fuel bounds the work of one step of guest code: one job applied and
	// the code run until it waits again (decoding the job gets 1000 fuel
	// per payload byte on top). Fuel counts executed WebAssembly
	// instructions, and the guest does the same work for a step whether it
	// runs warm or replays on a fresh instance, so a step gets the same
	// verdict on every replay. A guest that runs out fails its instance
	// with an error naming this limit. Default 1e9 (about 0.3 s of guest
	// code on a 2 GHz core).
	Fuel uint64
	// MaxMemoryBytes bounds each guest instance's linear memory. A guest
	// that needs more fails its instance with an error naming this limit.
	// Default 256 MiB.
	MaxMemoryBytes int64
	// MaxInstances bounds the live guest instances of the host. Beyond it
	// the least recently used idle instance is released; its driver stays
	// in the runtime's instance cache and rebuilds a fresh instance from the
	// jobs it recorded when its instance runs again (a replay inside the
	// host, no store read). Default 256; negative: no bound (and no
	// recorded jobs).
	MaxInstances int
	// Logger receives the host's own messages (modules loaded, cache
	// misses). Guest logs and output go to the logger the runtime hands
	// each driver. Nil discards.
	Logger *slog.Logger
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.CacheDir == "" && !r.DisableCache {
		if dir, err := os.UserCacheDir(); err == nil {
			r.CacheDir = filepath.Join(dir, "duroxide", "wasm")
		} else {
			r.DisableCache = true
		}
	}
	if r.Fuel == 0 {
		r.Fuel = DefaultFuel
	}
	if r.MaxMemoryBytes <= 0 {
		r.MaxMemoryBytes = DefaultMaxMemoryBytes
	}
	if r.MaxInstances == 0 {
		r.MaxInstances = DefaultMaxInstances
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	return r
}

// OrchestrationInfo names one orchestration version a module serves.
type OrchestrationInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Module is the module's name (its file name when loaded from a file).
	Module string `json:"module"`
}

// Host compiles and runs WebAssembly orchestration modules. One host serves
// any number of modules and runtimes; it is safe for concurrent use.
// Close it after the runtimes using it have stopped.
type Host struct {
	opts        Options
	log         *slog.Logger
	engine      *wasmtime.Engine
	fingerprint string
	pool        *instancePool

	mu      sync.RWMutex // guards the fields below; held (read) while instantiating
	closed  bool
	modules []*Module
	index   map[[2]string]*Module // (name, version) → module
}

// NewHost returns a host with no modules. A cache directory that cannot be
// created disables the cache (with a warning) rather than failing.
func NewHost(opts *Options) (*Host, error) {
	o := opts.withDefaults()
	if !o.DisableCache {
		if err := os.MkdirAll(o.CacheDir, 0o700); err != nil {
			// Compiling every time is slow, not wrong.
			o.Logger.Warn("wasm compile cache unavailable; modules are compiled at every load", "dir", o.CacheDir, LogError, err)
			o.DisableCache = true
		}
	}
	cfg := wasmtime.NewConfig()
	cfg.SetConsumeFuel(true)
	cfg.SetCraneliftOptLevel(wasmtime.OptLevelSpeed)
	h := &Host{
		opts:        o,
		log:         o.Logger,
		engine:      wasmtime.NewEngineWithConfig(cfg),
		fingerprint: engineFingerprint(),
		pool:        newInstancePool(o.MaxInstances),
		index:       map[[2]string]*Module{},
	}
	return h, nil
}

// ErrClosed is returned for work asked of a closed host.
var ErrClosed = errors.New("wasm: host is closed")

// LoadFile compiles (or takes from the cache) the module at path and reads
// its manifest. The module's orchestrations join the host's; register them
// in a runtime with Module.Register.
func (h *Host) LoadFile(ctx context.Context, path string) (*Module, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("wasm: read module: %w", err)
	}
	return h.load(ctx, filepath.Base(path), path, b)
}

// firstErrorLines keeps the message of a wasmtime error and drops the
// native stack trace it carries.
func firstErrorLines(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "\nStack backtrace:"); i >= 0 {
		msg = msg[:i]
	}
	msg = strings.Join(strings.Fields(msg), " ")
	return msg
}

// LoadBytes is LoadFile for a module held in memory; name identifies it in
// logs and errors.
func (h *Host) LoadBytes(ctx context.Context, name string, wasm []byte) (*Module, error) {
	return h.load(ctx, name, "", wasm)
}

func (h *Host) load(ctx context.Context, name, path string, b []byte) (*Module, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if h.isClosed() {
		return nil, ErrClosed
	}
	if len(b) < 8 || string(b[:4]) != "\x00asm" {
		return nil, fmt.Errorf("wasm: compile module %s: not a WebAssembly module (it does not start with the \\0asm header)", name)
	}
	sum := sha256.Sum256(b)
	start := time.Now()
	compiled, cached, err := h.compile(b, sum)
	if err != nil {
		return nil, fmt.Errorf("wasm: compile module %s: %s", name, firstErrorLines(err))
	}
	m := &Module{host: h, name: name, path: path, sha256: hex.EncodeToString(sum[:]), compiled: compiled, fromCache: cached, compileTime: time.Since(start)}
	if err := m.prepare(); err != nil {
		compiled.Close()
		return nil, fmt.Errorf("wasm: module %s: %w", name, err)
	}
	h.log.Info("wasm module loaded", LogModule, name, LogCached, cached, LogDuration, m.compileTime, "orchestrations", len(m.orchs))

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		m.release()
		return nil, ErrClosed
	}
	for _, o := range m.orchs {
		if other := h.index[[2]string{o.Name, o.Version}]; other != nil {
			m.release()
			return nil, fmt.Errorf("wasm: module %s declares orchestration %q version %s, which module %s already provides", name, o.Name, o.Version, other.name)
		}
	}
	for _, o := range m.orchs {
		h.index[[2]string{o.Name, o.Version}] = m
	}
	h.modules = append(h.modules, m)
	return m, nil
}

// LoadDir loads every *.wasm file of dir (in name order) into the host and
// registers their orchestrations in reg. A module that fails to load or to
// register stops the load with an error naming it; what this call
// registered before is unregistered again.
func (h *Host) LoadDir(ctx context.Context, reg *runtime.Registry, dir string) ([]*Module, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.wasm"))
	if err != nil {
		return nil, fmt.Errorf("wasm: list modules: %w", err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("wasm: no .wasm modules in %s", dir)
	}
	sort.Strings(paths)
	var loaded []*Module
	undo := func() {
		for _, m := range loaded {
			m.Unregister(reg)
		}
	}
	for _, p := range paths {
		m, err := h.LoadFile(ctx, p)
		if err != nil {
			undo()
			return nil, err
		}
		if err := m.Register(reg); err != nil {
			undo()
			return nil, err
		}
		loaded = append(loaded, m)
	}
	return loaded, nil
}

// LoadDir creates a host with opts, loads every *.wasm module of dir and
// registers their orchestrations in reg, next to any Go orchestrations
// already there. It is what `duroxide run --wasm dir/` does. Close the
// returned host after the runtime stops.
func LoadDir(ctx context.Context, reg *runtime.Registry, dir string, opts *Options) (*Host, error) {
	h, err := NewHost(opts)
	if err != nil {
		return nil, err
	}
	if _, err := h.LoadDir(ctx, reg, dir); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// Inspect loads the module at path (compiling it, or taking it from the
// cache) and returns what it declares: `duroxide wasm inspect module.wasm`.
func Inspect(path string, opts *Options) (*ModuleInfo, error) {
	h, err := NewHost(opts)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	m, err := h.LoadFile(context.Background(), path)
	if err != nil {
		return nil, err
	}
	info := m.Info()
	return &info, nil
}

// Modules lists the loaded modules in load order.
func (h *Host) Modules() []*Module {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return append([]*Module(nil), h.modules...)
}

// Orchestrations lists every orchestration version of the loaded modules,
// sorted by name and version.
func (h *Host) Orchestrations() []OrchestrationInfo {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []OrchestrationInfo
	for _, m := range h.modules {
		out = append(out, m.orchs...)
	}
	sortInfos(out)
	return out
}

// Module returns the module serving an orchestration version; version ""
// means the newest loaded version of name.
func (h *Host) Module(name, version string) (*Module, OrchestrationInfo, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if version != "" {
		v, err := provider.ParseSemver(version)
		if err != nil {
			return nil, OrchestrationInfo{}, fmt.Errorf("wasm: %w", err)
		}
		if m := h.index[[2]string{name, v.String()}]; m != nil {
			return m, OrchestrationInfo{Name: name, Version: v.String(), Module: m.name}, nil
		}
		return nil, OrchestrationInfo{}, fmt.Errorf("wasm: %w: orchestration %q version %s is in no loaded module", replay.ErrNotRegistered, name, v)
	}
	var best *Module
	var bestV provider.Semver
	for k, m := range h.index {
		if k[0] != name {
			continue
		}
		v, _ := provider.ParseSemver(k[1])
		if best == nil || v.Compare(bestV) > 0 {
			best, bestV = m, v
		}
	}
	if best == nil {
		return nil, OrchestrationInfo{}, fmt.Errorf("wasm: %w: orchestration %q is in no loaded module", replay.ErrNotRegistered, name)
	}
	return best, OrchestrationInfo{Name: name, Version: bestV.String(), Module: best.name}, nil
}

// NewDriver returns a fresh driver for one execution of an orchestration
// version of the loaded modules (version "" means the newest). It is what
// `duroxide replay ID --wasm DIR` hands replay.Verify. logger receives the
// guest's logs; nil discards them.
func (h *Host) NewDriver(name, version string, logger *slog.Logger) (replay.Driver, error) {
	m, info, err := h.Module(name, version)
	if err != nil {
		return nil, err
	}
	return m.newDriver(info, logger)
}

// Close releases the host: idle guest instances are closed and no new
// instance can start. Drivers still held by a runtime keep working until
// they are closed, so stop the runtimes first. Close is idempotent.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	mods := h.modules
	h.mu.Unlock()
	h.pool.closeIdle()
	// Modules stay valid for live instances: wasmtime counts references.
	for _, m := range mods {
		m.release()
	}
	return nil
}

func (h *Host) isClosed() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.closed
}

func sortInfos(s []OrchestrationInfo) {
	sort.Slice(s, func(i, j int) bool {
		if s[i].Name != s[j].Name {
			return s[i].Name < s[j].Name
		}
		a, _ := provider.ParseSemver(s[i].Version)
		b, _ := provider.ParseSemver(s[j].Version)
		return a.Compare(b) < 0
	})
}
