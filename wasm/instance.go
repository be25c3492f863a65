package wasm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/replay"
)

// The guest ABI, module "duroxide" (see wasm/guest/abi_wasip1.go):
//
//	export duroxide_manifest() i32     the guest writes its Manifest
//	export duroxide_activate() i32     one activation: 0 ok, else 1 and the
//	                                   last output is the error text
//	import input_len() i32, read_input(ptr)     the host's input to the guest
//	import write_output(ptr, len)               the guest's output: the
//	                                            []Command of each job
//	import log(ptr, len)                        one JSON log record
//
// The host sends one job per activation call. A step — one job applied and
// the code run until it waits again — is then exactly one call, with its
// own fuel budget, and the guest does the same work for it whether it runs
// warm or replays the job on a fresh instance: same commands, same fuel
// verdict, same state of the guest's Go runtime.
const (
	abiModule      = "duroxide"
	exportManifest = "duroxide_manifest"
	exportActivate = "duroxide_activate"
	exportInit     = "_initialize"
	exportMemory   = "memory"
)

// Limits on what a guest hands the host in one call.
const (
	maxGuestOutput     = 64 << 20 // bytes of output per activation
	maxLogRecord       = 64 << 10 // bytes of one log record or output line
	stderrTailBytes    = 2 << 10  // stderr kept for error messages
	payloadFuelPerByte = 1000     // extra fuel per payload byte of a job, for decoding it
)

// The logical clock: realtime reads logicalEpoch + now, monotonic reads
// monotonicBase + now, so neither is ever zero. now advances to jobTick×k
// when job k starts and jumps forward when the guest sleeps; it does not
// move while a step runs.
const (
	logicalEpochNs  = 946684800 * 1_000_000_000 // 2000-01-01T00:00:00Z
	monotonicBaseNs = 1_000_000_000
	jobTickNs       = 1_000_000 // 1 ms
)

// trapOutOfFuel is the trap code wasmtime returns when fuel runs out. The
// constant wasmtime-go v39 exports for it (wasmtime.OutOfFuel, 11) is off
// by one against the C API, which reports 12; TestOutOfFuelTrapCode checks
// the real value.
const trapOutOfFuel wasmtime.TrapCode = 12

// instState is a guest instance's host-side state (the store's data). Only
// the goroutine running the instance touches it.
type instState struct {
	mod   *Module
	store *wasmtime.Store
	mem   *wasmtime.Memory
	rng   *rand.ChaCha8
	fuel  uint64

	seed      [32]byte
	now       uint64 // logical clock, ns since its epoch
	jobs      uint64 // jobs started in this instance
	replaying bool

	input     []byte
	chunks    [][]byte // the job's commands, as JSON arrays
	outBytes  int
	lastWrite []byte

	logger     *slog.Logger
	lines      [3][]byte // partial stdout / stderr lines
	stderrTail []byte
	prevErr    string   // the stderr line before the current one
	fatal      []string // a Go runtime's fatal report, from its first line
	fatalDone  bool
	exitCode   *int32
	fault      error // a guest that broke the ABI (bad pointer, oversized output)
	hostPanic  error // a bug on this side; the turn is retried
}

// memory returns the guest's linear memory for this call.
func (st *instState) memory(c *wasmtime.Caller) guestMem {
	if st.mem == nil {
		if ex := c.GetExport(exportMemory); ex != nil {
			st.mem = ex.Memory()
		}
		if st.mem == nil {
			return nil
		}
	}
	return guestMem(st.mem.UnsafeData(c))
}

func (st *instState) clockValue(id int32) uint64 {
	if id == clockRealtime {
		return logicalEpochNs + st.now
	}
	return monotonicBaseNs + st.now
}

// deadline converts a clock subscription to the logical clock's scale.
func (st *instState) deadline(id int32, timeout uint64, abs bool) uint64 {
	if !abs {
		if st.now+timeout < st.now {
			return ^uint64(0)
		}
		return st.now + timeout
	}
	base := uint64(monotonicBaseNs)
	if id == clockRealtime {
		base = logicalEpochNs
	}
	if timeout < base {
		return st.now
	}
	return timeout - base
}

func (st *instState) advanceTo(t uint64) {
	if t > st.now {
		st.now = t
	}
}

// beginJob prepares the state for the next job: the logical clock moves to
// at least jobTick×k and the random stream is reseeded for job k, so what
// the guest reads depends only on the job's position in the execution.
func (st *instState) beginJob(replaying bool) {
	st.jobs++
	st.replaying = replaying
	st.advanceTo(st.jobs * jobTickNs)
	st.rng = rand.NewChaCha8(jobSeed(st.seed, st.jobs))
}

// output captures what the guest writes to stdout (1) or stderr (2).
func (st *instState) output(fd int32, b []byte) {
	if fd == 2 {
		st.stderrTail = append(st.stderrTail, b...)
		if over := len(st.stderrTail) - stderrTailBytes; over > 0 {
			st.stderrTail = append(st.stderrTail[:0], st.stderrTail[over:]...)
		}
	}
	buf := append(st.lines[fd], b...)
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		st.logLine(fd, buf[:i])
		buf = buf[i+1:]
	}
	if len(buf) > maxLogRecord {
		st.logLine(fd, buf)
		buf = nil
	}
	st.lines[fd] = append(st.lines[fd][:0], buf...)
}

func (st *instState) logLine(fd int32, line []byte) {
	if fd == 2 {
		st.noteFatal(string(line))
	}
	if st.replaying || st.logger == nil {
		return
	}
	stream, level := "stdout", slog.LevelInfo
	if fd == 2 {
		stream, level = "stderr", slog.LevelWarn
	}
	st.logger.Log(context.Background(), level, string(bytes.TrimRight(line, "\r")), LogStream, stream)
}

// noteFatal keeps the head of a Go runtime's fatal report ("fatal error:"
// or "panic:" and the lines around it): the goroutine dumps after it would
// push it out of the stderr tail.
func (st *instState) noteFatal(line string) {
	prev := st.prevErr
	st.prevErr = line
	switch {
	case len(st.fatal) == 0:
		if strings.HasPrefix(line, "fatal error:") || strings.HasPrefix(line, "panic:") {
			if strings.HasPrefix(prev, "runtime:") {
				st.fatal = append(st.fatal, prev)
			}
			st.fatal = append(st.fatal, line)
		}
	case len(st.fatal) < 4 && !st.fatalDone:
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "goroutine ") || strings.HasPrefix(line, "[") {
			st.fatalDone = true
			return
		}
		st.fatal = append(st.fatal, line)
	}
}

// guestLog re-emits a record of the guest's slog logger (one JSON object).
func (st *instState) guestLog(rec []byte) {
	if st.replaying || st.logger == nil {
		return
	}
	var m map[string]any
	if err := json.Unmarshal(rec, &m); err != nil {
		st.logger.Warn("guest log record is not JSON", LogError, err.Error())
		return
	}
	level := slog.LevelInfo
	if s, ok := m[slog.LevelKey].(string); ok {
		_ = level.UnmarshalText([]byte(s))
	}
	msg, _ := m[slog.MessageKey].(string)
	delete(m, slog.LevelKey)
	delete(m, slog.MessageKey)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	attrs := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		attrs = append(attrs, slog.Any(k, m[k]))
	}
	st.logger.Log(context.Background(), level, msg, attrs...)
}

// abiDef is one host function of the "duroxide" module.
type abiDef struct {
	params, results string
	fn              func(st *instState, c *wasmtime.Caller, a []wasmtime.Val) ([]wasmtime.Val, *wasmtime.Trap)
}

var abiFuncs = map[string]abiDef{
	"input_len": {"", "i", func(st *instState, _ *wasmtime.Caller, _ []wasmtime.Val) ([]wasmtime.Val, *wasmtime.Trap) {
		return []wasmtime.Val{wasmtime.ValI32(int32(len(st.input)))}, nil
	}},
	"read_input": {"i", "", func(st *instState, c *wasmtime.Caller, a []wasmtime.Val) ([]wasmtime.Val, *wasmtime.Trap) {
		b, ok := st.memory(c).slice(u32(a[0]), uint32(len(st.input)))
		if !ok {
			return nil, st.abiFault("read_input: the buffer lies outside the guest's memory")
		}
		copy(b, st.input)
		return nil, nil
	}},
	"write_output": {"ii", "", func(st *instState, c *wasmtime.Caller, a []wasmtime.Val) ([]wasmtime.Val, *wasmtime.Trap) {
		b, ok := st.memory(c).slice(u32(a[0]), u32(a[1]))
		if !ok {
			return nil, st.abiFault("write_output: the buffer lies outside the guest's memory")
		}
		st.outBytes += len(b)
		if st.outBytes > maxGuestOutput {
			return nil, st.abiFault(fmt.Sprintf("the guest wrote more than %d bytes of output in one activation", maxGuestOutput))
		}
		out := bytes.Clone(b)
		st.lastWrite = out
		st.chunks = append(st.chunks, out)
		return nil, nil
	}},
	"log": {"ii", "", func(st *instState, c *wasmtime.Caller, a []wasmtime.Val) ([]wasmtime.Val, *wasmtime.Trap) {
		n := u32(a[1])
		if n > maxLogRecord {
			n = maxLogRecord
		}
		b, ok := st.memory(c).slice(u32(a[0]), n)
		if !ok {
			return nil, st.abiFault("log: the record lies outside the guest's memory")
		}
		st.guestLog(b)
		return nil, nil
	}},
}

func (st *instState) abiFault(msg string) *wasmtime.Trap {
	st.fault = errors.New(msg)
	return wasmtime.NewTrap(msg)
}

// hostFunc adapts a host function for the linker: it finds the store's
// state and keeps any panic on this side of the C boundary.
func hostFunc(name string, results int, fn func(st *instState, c *wasmtime.Caller, a []wasmtime.Val) ([]wasmtime.Val, *wasmtime.Trap)) func(*wasmtime.Caller, []wasmtime.Val) ([]wasmtime.Val, *wasmtime.Trap) {
	return func(c *wasmtime.Caller, a []wasmtime.Val) (out []wasmtime.Val, trap *wasmtime.Trap) {
		st, _ := c.Data().(*instState)
		defer func() {
			if r := recover(); r != nil {
				msg := fmt.Sprintf("host function %s panicked: %v", name, r)
				if st != nil {
					st.hostPanic = errors.New(msg)
				}
				out, trap = nil, wasmtime.NewTrap(msg)
			}
		}()
		if st == nil {
			return nil, wasmtime.NewTrap(name + ": no instance state")
		}
		out, trap = fn(st, c, a)
		if trap == nil && len(out) != results {
			panic(fmt.Sprintf("%d results, want %d", len(out), results))
		}
		return out, trap
	}
}

func wasiHostFunc(name string, def wasiDef) func(*wasmtime.Caller, []wasmtime.Val) ([]wasmtime.Val, *wasmtime.Trap) {
	return hostFunc(wasiModule+"."+name, len(def.results), func(st *instState, c *wasmtime.Caller, a []wasmtime.Val) ([]wasmtime.Val, *wasmtime.Trap) {
		errno, trap := def.fn(st, c, a)
		if trap != nil || def.results == "" {
			return nil, trap
		}
		return []wasmtime.Val{wasmtime.ValI32(errno)}, nil
	})
}

// signature renders a function type in the letters of wasiDef.
func signature(ft *wasmtime.FuncType) (params, results string) {
	letter := func(vt *wasmtime.ValType) string {
		switch vt.Kind() {
		case wasmtime.KindI32:
			return "i"
		case wasmtime.KindI64:
			return "I"
		case wasmtime.KindF32:
			return "f"
		case wasmtime.KindF64:
			return "F"
		}
		return "?"
	}
	var p, r strings.Builder
	for _, vt := range ft.Params() {
		p.WriteString(letter(vt))
	}
	for _, vt := range ft.Results() {
		r.WriteString(letter(vt))
	}
	return p.String(), r.String()
}

// newLinker defines exactly the imports the module declares, each checked
// against the signature the sandbox implements.
func newLinker(engine *wasmtime.Engine, m *wasmtime.Module) (*wasmtime.Linker, error) {
	lk := wasmtime.NewLinker(engine)
	defined := map[string]bool{}
	var problems []string
	for _, im := range m.Imports() {
		name := ""
		if im.Name() != nil {
			name = *im.Name()
		}
		key := im.Module() + "." + name
		if defined[key] {
			continue
		}
		ft := im.Type().FuncType()
		if ft == nil {
			problems = append(problems, fmt.Sprintf("%s is not a function", key))
			continue
		}
		params, results := signature(ft)
		var want [2]string
		var fn func(*wasmtime.Caller, []wasmtime.Val) ([]wasmtime.Val, *wasmtime.Trap)
		switch im.Module() {
		case wasiModule:
			def, ok := wasiFuncs[name]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s is not a WASI preview 1 function", key))
				continue
			}
			want, fn = [2]string{def.params, def.results}, wasiHostFunc(name, def)
		case abiModule:
			def, ok := abiFuncs[name]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s is not part of the duroxide guest ABI (a newer guest SDK?)", key))
				continue
			}
			want, fn = [2]string{def.params, def.results}, hostFunc(key, len(def.results), def.fn)
		default:
			problems = append(problems, fmt.Sprintf("%s: the sandbox provides only %s and %s", key, wasiModule, abiModule))
			continue
		}
		if params != want[0] || results != want[1] {
			problems = append(problems, fmt.Sprintf("%s has signature (%s)->(%s), want (%s)->(%s)", key, params, results, want[0], want[1]))
			continue
		}
		if err := lk.FuncNew(im.Module(), name, ft, fn); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", key, err))
			continue
		}
		defined[key] = true
	}
	if len(problems) > 0 {
		lk.Close()
		return nil, fmt.Errorf("unsupported imports: %s", strings.Join(problems, "; "))
	}
	return lk, nil
}

// seedFor derives the guest's random seed from its execution.
func seedFor(instance string, execution uint64) [32]byte {
	h := sha256.New()
	h.Write([]byte("duroxide/wasm/random/v1\x00"))
	h.Write([]byte(instance))
	var b [9]byte
	binary.LittleEndian.PutUint64(b[1:], execution)
	h.Write(b[:])
	var seed [32]byte
	copy(seed[:], h.Sum(nil))
	return seed
}

// jobSeed is the random seed of job k of an instance.
func jobSeed(seed [32]byte, k uint64) [32]byte {
	var b [40]byte
	copy(b[:], seed[:])
	binary.LittleEndian.PutUint64(b[32:], k)
	return sha256.Sum256(b[:])
}

// guestFault is a deterministic failure of the guest: it trapped, ran out
// of fuel or memory, or exited. Replaying the same history reaches the same
// fault, so the execution fails instead of being retried.
type guestFault struct {
	Kind    string // history.KindLimitExceeded or history.KindPanicked
	Message string
}

func (f *guestFault) Error() string { return f.Message }

// instance is one live guest instance running one execution.
type instance struct {
	st       *instState
	store    *wasmtime.Store
	activate *wasmtime.Func
	manifest *wasmtime.Func
}

// newInstance instantiates the module and runs the guest's initialisation.
// A guest that fails while initialising returns a *guestFault.
func (m *Module) newInstance(seed [32]byte, logger *slog.Logger) (*instance, error) {
	o := &m.host.opts
	// Output of the guest's initialisation is per instance, not per
	// decision: it is treated as replayed (kept only for error messages).
	st := &instState{mod: m, seed: seed, rng: rand.NewChaCha8(seed), fuel: o.Fuel, logger: logger, replaying: true}
	store := wasmtime.NewStoreWithData(m.host.engine, st)
	st.store = store
	store.Limiter(o.MaxMemoryBytes, -1, -1, -1, -1)
	if err := store.SetFuel(o.Fuel); err != nil {
		store.Close()
		return nil, fmt.Errorf("set fuel: %w", err)
	}
	inst, err := m.linker.Instantiate(store, m.compiled)
	if err != nil {
		f := st.classify(err, "instantiating the module")
		store.Close()
		if f != nil {
			return nil, f
		}
		return nil, fmt.Errorf("instantiate module %s: %w", m.name, err)
	}
	if ex := inst.GetExport(store, exportMemory); ex != nil {
		st.mem = ex.Memory()
	}
	i := &instance{st: st, store: store, activate: inst.GetFunc(store, exportActivate), manifest: inst.GetFunc(store, exportManifest)}
	if i.activate == nil || i.manifest == nil {
		i.close()
		return nil, fmt.Errorf("module %s does not export %s and %s", m.name, exportActivate, exportManifest)
	}
	if init := inst.GetFunc(store, exportInit); init != nil {
		if _, err := i.call(init, "initialising the guest (package init functions)", 0); err != nil {
			i.close()
			return nil, err
		}
	}
	return i, nil
}

func (i *instance) close() {
	if i.store != nil {
		i.store.Close()
		i.store = nil
	}
}

// call runs an export with a fresh fuel budget; it returns the guest's
// status, a *guestFault, or an error for the host's own problems.
func (i *instance) call(fn *wasmtime.Func, what string, extraFuel uint64) (int32, error) {
	st := i.st
	st.chunks, st.lastWrite, st.outBytes = nil, nil, 0
	if err := i.store.SetFuel(st.fuel + extraFuel); err != nil {
		return 0, fmt.Errorf("set fuel: %w", err)
	}
	res, err := fn.Call(i.store)
	if err != nil {
		if f := st.classify(err, what); f != nil {
			return 0, f
		}
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	if res == nil && len(fn.Type(i.store).Results()) == 0 {
		return 0, nil
	}
	status, ok := res.(int32)
	if !ok {
		return 0, fmt.Errorf("%s: the export returned %T, want i32", what, res)
	}
	return status, nil
}

// runActivation runs an activation one job at a time. The first skip jobs
// rebuild the instance from the driver's journal: their commands are
// already in history and are discarded. faulted reports that the guest
// failed deterministically: the commands then end with the fail command,
// and the instance must not run again.
func (i *instance) runActivation(a *replay.Activation, skip int) (cmds []replay.Command, faulted bool, err error) {
	st := i.st
	one := replay.Activation{Protocol: a.Protocol, Instance: a.Instance, ExecutionID: a.ExecutionID, Name: a.Name, Version: a.Version}
	defer func() { st.input = nil }()
	for k := range a.Jobs {
		j := a.Jobs[k]
		one.Jobs = []replay.Job{j}
		input, err := json.Marshal(&one)
		if err != nil {
			return nil, false, fmt.Errorf("encode activation: %w", err)
		}
		st.input = input
		st.beginJob(j.Replaying)
		status, err := i.call(i.activate, "running the orchestration", jobFuel(&j))
		var fault *guestFault
		if errors.As(err, &fault) {
			// The commands of the jobs before the fault stand (the engine
			// matches them against history); the execution then fails.
			return append(cmds, failCommand(fault)), true, nil
		}
		if err != nil {
			return nil, false, err
		}
		if status != 0 {
			return nil, false, fmt.Errorf("module %s refused the activation: %s", i.st.mod.name, history.Shorten(string(st.lastWrite), 500))
		}
		if k < skip {
			continue
		}
		out, err := decodeChunks(st.chunks)
		if err != nil {
			return nil, false, err
		}
		cmds = append(cmds, out...)
	}
	return cmds, false, nil
}

// jobFuel is the extra fuel a job gets for decoding it: proportional to
// its payloads, and the same whether it is replayed or not.
func jobFuel(j *replay.Job) uint64 {
	n := len(j.Input) + len(j.Result) + len(j.Data) + len(j.Name) + len(j.Reason) + len(j.ParentInstance)
	if j.Error != nil {
		n += len(j.Error.Message) + len(j.Error.Type) + len(j.Error.Reason) + len(j.Error.Resource) + 64
	}
	if j.CustomStatus != nil {
		n += len(*j.CustomStatus)
	}
	for k, v := range j.KV {
		n += len(k) + len(v) + 8
	}
	return uint64(n) * payloadFuelPerByte
}

func decodeChunks(chunks [][]byte) ([]replay.Command, error) {
	var out []replay.Command
	for _, c := range chunks {
		var cmds []replay.Command
		if err := json.Unmarshal(c, &cmds); err != nil {
			return nil, fmt.Errorf("decode the guest's commands %q: %w", history.Shorten(string(c), 200), err)
		}
		out = append(out, cmds...)
	}
	return out, nil
}

// classify turns an error from guest code into a *guestFault when it is
// deterministic (returned as such), or nil when it is not the guest's.
func (st *instState) classify(err error, what string) *guestFault {
	if st.hostPanic != nil {
		return nil
	}
	var trap *wasmtime.Trap
	isTrap := errors.As(err, &trap)
	stderr := strings.TrimSpace(string(st.stderrTail))
	orch := st.mod.name
	switch {
	case st.fault != nil:
		return &guestFault{Kind: history.KindPanicked, Message: fmt.Sprintf("module %s broke the guest ABI while %s: %v", orch, what, st.fault)}
	case isTrap && trap.Code() != nil && *trap.Code() == trapOutOfFuel, strings.Contains(err.Error(), "all fuel consumed"):
		return &guestFault{Kind: history.KindLimitExceeded, Message: fmt.Sprintf(
			"module %s ran out of fuel while %s: one step (a job applied and the code run until it waits again) used more than the limit Fuel=%d; is there an endless loop?",
			orch, what, st.fuel)}
	}
	// A Go guest whose runtime gives up (out of memory, deadlock, a fatal
	// error) prints the reason to stderr and aborts or exits.
	fatal := strings.Join(st.fatal, " | ")
	switch {
	case (st.exitCode != nil || fatal != "") && strings.Contains(fatal, "out of memory"):
		return &guestFault{Kind: history.KindLimitExceeded, Message: fmt.Sprintf(
			"module %s exceeded the memory limit MaxMemoryBytes=%d while %s: %s",
			orch, st.mod.host.opts.MaxMemoryBytes, what, fatal)}
	case st.exitCode != nil:
		msg := fmt.Sprintf("module %s exited with code %d while %s", orch, *st.exitCode, what)
		if fatal != "" {
			msg += ": " + fatal
		} else if stderr != "" {
			msg += ": " + lastLines(stderr, 4)
		}
		return &guestFault{Kind: history.KindPanicked, Message: msg}
	case fatal != "":
		return &guestFault{Kind: history.KindPanicked, Message: fmt.Sprintf("module %s aborted while %s: %s", orch, what, fatal)}
	case isTrap:
		msg := strings.TrimSpace(trap.Message())
		if j := strings.LastIndex(msg, "wasm trap: "); j >= 0 {
			msg = msg[j+len("wasm trap: "):]
		}
		if j := strings.IndexByte(msg, '\n'); j >= 0 {
			msg = msg[:j]
		}
		if st.mem != nil && uint64(st.mem.DataSize(st.store)) >= uint64(st.mod.host.opts.MaxMemoryBytes) {
			msg += fmt.Sprintf(" (its memory is at the limit MaxMemoryBytes=%d)", st.mod.host.opts.MaxMemoryBytes)
		}
		return &guestFault{Kind: history.KindPanicked, Message: fmt.Sprintf("module %s trapped while %s: %s", orch, what, msg)}
	}
	return nil
}

// lastLines keeps the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
