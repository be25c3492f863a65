package orchestration

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/replay"
)

// Func is an orchestration: it receives its context and its input payload
// and returns its output payload. Use Typed to write one with typed input
// and output.
type Func func(ctx *Context, input string) (string, error)

// Typed adapts a function with typed input and output to a Func, using the
// payload codec (a string travels raw, anything else as JSON).
func Typed[In, Out any](fn func(ctx *Context, input In) (Out, error)) Func {
	return func(ctx *Context, input string) (string, error) {
		var in In
		if err := history.DecodePayload(input, &in); err != nil {
			return "", fmt.Errorf("decode orchestration input: %w", err)
		}
		out, err := fn(ctx, in)
		if err != nil {
			return "", err
		}
		s, err := history.EncodePayload(out)
		if err != nil {
			return "", fmt.Errorf("encode orchestration output: %w", err)
		}
		return s, nil
	}
}

// DriverOptions configure a Go driver. The zero value is valid.
type DriverOptions struct {
	// Logger receives the orchestration's logs (Context.Logger) while it is
	// not replaying. Nil discards them.
	Logger *slog.Logger
	// LogWhileReplaying hands the logger the records made while replaying
	// too, marked with the attribute replaying=true, for a host that must do
	// the same work whether it replays or not (a metered WebAssembly guest)
	// and drops those records itself.
	LogWhileReplaying bool
}

// LogReplaying is the attribute key marking a record made while replaying
// (see DriverOptions.LogWhileReplaying).
const LogReplaying = "replaying"

// NewDriver returns the replay.Driver that runs fn for one execution.
func NewDriver(fn Func, opts *DriverOptions) replay.Driver {
	d := &driver{fn: fn, futures: make(map[uint64]*Future)}
	var base *slog.Logger
	keep := false
	if opts != nil {
		base, keep = opts.Logger, opts.LogWhileReplaying
	}
	d.ctx = &Context{d: d}
	d.logger = newReplaySafeLogger(base, d, keep)
	return d
}

// killSignal unwinds a coroutine whose driver is closing or whose future was
// dropped. It is recovered by the coroutine's own frame.
type killSignal struct{}

// coroutine is one thread of orchestration code. Exactly one coroutine (or
// the driver) runs at a time; control passes over channels, so the order in
// which code runs is a function of the jobs alone.
type coroutine struct {
	d         *driver
	fn        func(*Context) (string, error)
	resume    chan struct{}
	yield     chan struct{}
	started   bool
	done      bool
	killed    bool
	waitingOn *Future
	future    *Future // resolved with the coroutine's result
	main      bool
	owned     []*Future
}

type driver struct {
	fn      Func
	ctx     *Context
	logger  *slog.Logger
	coros   []*coroutine
	current *coroutine
	futures map[uint64]*Future
	cmds    []replay.Command
	nextSeq uint64

	instance string
	exec     uint64
	name     string
	version  string
	input    string
	parent   string

	replaying       bool
	started         bool
	done            bool // the main coroutine returned; no more commands
	closed          bool
	cancelRequested bool
	cancelReason    string
	can             *ContinueAsNewError
	customStatus    *string
	kv              map[string]string
}

// Activate applies the jobs one at a time, running the code until it blocks
// after each, and returns the commands issued.
func (d *driver) Activate(_ context.Context, a *replay.Activation) ([]replay.Command, error) {
	if d.closed {
		return nil, errors.New("driver is closed")
	}
	if a.Protocol != replay.ProtocolVersion {
		return nil, fmt.Errorf("activation protocol %d, this driver speaks %d", a.Protocol, replay.ProtocolVersion)
	}
	d.instance, d.exec, d.name, d.version = a.Instance, a.ExecutionID, a.Name, a.Version
	d.cmds = nil
	for i := range a.Jobs {
		j := &a.Jobs[i]
		d.replaying = j.Replaying
		d.apply(j)
		d.run()
	}
	d.replaying = false
	cmds := d.cmds
	d.cmds = nil
	return cmds, nil
}

func (d *driver) apply(j *replay.Job) {
	if d.done && j.Kind != replay.JobStart {
		return
	}
	switch j.Kind {
	case replay.JobStart:
		if d.started {
			return
		}
		d.started = true
		d.input = j.Input
		d.parent = j.ParentInstance
		if j.CustomStatus != nil {
			cs := *j.CustomStatus
			d.customStatus = &cs
		}
		d.kv = make(map[string]string, len(j.KV))
		for k, v := range j.KV {
			d.kv[k] = v
		}
		input := j.Input
		co := d.newCoroutine(func(ctx *Context) (string, error) { return d.fn(ctx, input) })
		co.main = true
	case replay.JobActivity, replay.JobSubOrchestration, replay.JobSystemCall, replay.JobTimer, replay.JobEvent:
		f := d.futures[j.Seq]
		if f == nil || f.ready {
			return
		}
		// A resolved future needs no entry: a late duplicate finds none and
		// is ignored, and a long execution does not keep them all.
		delete(d.futures, j.Seq)
		switch j.Kind {
		case replay.JobActivity:
			if j.Error != nil {
				f.resolve("", &ActivityError{Name: f.name, Details: j.Error})
			} else {
				f.resolve(j.Result, nil)
			}
		case replay.JobSubOrchestration:
			if j.Error != nil {
				f.resolve("", &SubOrchestrationError{Name: f.name, Details: j.Error})
			} else {
				f.resolve(j.Result, nil)
			}
		case replay.JobSystemCall:
			if j.Error != nil {
				f.resolve("", j.Error)
			} else {
				f.resolve(j.Result, nil)
			}
		case replay.JobTimer:
			f.resolve("", nil)
		case replay.JobEvent:
			f.resolve(j.Data, nil)
		}
	case replay.JobCancel:
		if d.cancelRequested {
			return
		}
		d.cancelRequested = true
		d.cancelReason = j.Reason
		// Every pending future fails with the cancellation so the code
		// can notice it and compensate before the instance ends.
		for seq := uint64(1); seq <= d.nextSeq; seq++ {
			if f := d.futures[seq]; f != nil && !f.ready {
				delete(d.futures, seq)
				f.resolve("", &CanceledError{Reason: j.Reason})
			}
		}
	}
}

// run lets runnable coroutines proceed, in creation order, until every
// coroutine is blocked or finished.
func (d *driver) run() {
	for {
		progressed := false
		for i := 0; i < len(d.coros); i++ {
			co := d.coros[i]
			if co.done {
				continue
			}
			if co.started && !co.killed && (co.waitingOn == nil || !co.waitingOn.ready) {
				continue
			}
			d.step(co)
			progressed = true
		}
		if !progressed {
			break
		}
		d.pruneCoroutines()
	}
}

func (d *driver) pruneCoroutines() {
	live := d.coros[:0]
	for _, co := range d.coros {
		if !co.done {
			live = append(live, co)
		}
	}
	for i := len(live); i < len(d.coros); i++ {
		d.coros[i] = nil
	}
	d.coros = live
}

// step hands control to co until it blocks or finishes.
func (d *driver) step(co *coroutine) {
	prev := d.current
	d.current = co
	if !co.started {
		co.started = true
		go co.body()
	}
	co.resume <- struct{}{}
	<-co.yield
	d.current = prev
}

func (d *driver) newCoroutine(fn func(*Context) (string, error)) *coroutine {
	co := &coroutine{d: d, fn: fn, resume: make(chan struct{}), yield: make(chan struct{})}
	d.coros = append(d.coros, co)
	return co
}

func (co *coroutine) body() {
	d := co.d
	<-co.resume
	var out string
	var err error
	panicked := false
	var panicMsg string
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(killSignal); ok {
					return
				}
				panicked = true
				panicMsg = fmt.Sprintf("%v\n%s", r, debug.Stack())
			}
		}()
		if co.killed {
			return
		}
		out, err = co.fn(d.ctx)
	}()
	co.done = true
	co.waitingOn = nil
	switch {
	case co.killed:
		if co.future != nil && !co.future.ready {
			co.future.resolve("", &CanceledError{Reason: "coroutine cancelled"})
		}
	case co.main:
		d.finishMain(out, err, panicked, panicMsg)
	default:
		if co.future != nil {
			if panicked {
				co.future.resolve("", fmt.Errorf("coroutine panicked: %s", firstLine(panicMsg)))
			} else {
				co.future.resolve(out, err)
			}
		}
	}
	co.yield <- struct{}{}
}

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}

// finishMain turns the orchestration function's return into the terminal command.
func (d *driver) finishMain(out string, err error, panicked bool, panicMsg string) {
	if d.done {
		return
	}
	var c replay.Command
	var can *ContinueAsNewError
	switch {
	case panicked:
		c = replay.Command{Kind: replay.CmdFail, Error: &history.ErrorDetails{
			Category: history.CategoryApplication, Kind: history.KindPanicked, Message: firstLine(panicMsg),
		}}
	case d.can != nil:
		c = replay.Command{Kind: replay.CmdContinueAsNew, Input: d.can.Input, Version: d.can.Version}
	case errors.As(err, &can):
		c = replay.Command{Kind: replay.CmdContinueAsNew, Input: can.Input, Version: can.Version}
	case err != nil:
		c = replay.Command{Kind: replay.CmdFail, Error: errorDetails(err)}
	default:
		c = replay.Command{Kind: replay.CmdComplete, Output: out}
	}
	d.cmds = append(d.cmds, c)
	d.done = true
}

// errorDetails records an error returned by orchestration code. An
// activity's or child's error returned as is keeps its original type name.
func errorDetails(err error) *history.ErrorDetails {
	d := &history.ErrorDetails{Category: history.CategoryApplication, Kind: history.KindOrchestrationFailed, Message: err.Error(), Type: fmt.Sprintf("%T", err)}
	var ae *ActivityError
	var se *SubOrchestrationError
	switch {
	case errors.As(err, &ae) && ae.Details != nil && ae.Details.Type != "":
		d.Type = ae.Details.Type
	case errors.As(err, &se) && se.Details != nil && se.Details.Type != "":
		d.Type = se.Details.Type
	}
	return d
}

// await blocks the current coroutine until f is resolved.
func (d *driver) await(f *Future) {
	co := d.current
	if co == nil {
		panic("orchestration: Await called outside orchestration code")
	}
	for !f.ready {
		if co.killed {
			panic(killSignal{})
		}
		co.waitingOn = f
		co.yield <- struct{}{}
		<-co.resume
		co.waitingOn = nil
	}
	if co.killed {
		panic(killSignal{})
	}
}

// emit records a command; commands that create futures get the next seq.
func (d *driver) emit(c replay.Command, f *Future) {
	if d.done || d.closed {
		if f != nil && !f.ready {
			f.ready = true
			f.err = &CanceledError{Reason: "the orchestration already ended"}
		}
		return
	}
	if c.Kind.CreatesFuture() {
		d.nextSeq++
		c.Seq = d.nextSeq
		f.seq = c.Seq
		d.futures[c.Seq] = f
	}
	d.cmds = append(d.cmds, c)
}

func (d *driver) newFuture(kind futureKind, name string) *Future {
	f := &Future{d: d, kind: kind, name: name, winner: -1, owner: d.current}
	if d.current != nil && !d.current.main {
		d.current.owned = append(d.current.owned, f)
	}
	return f
}

// drop cancels a future: its command's work (through CmdDropFuture), a
// composite's branches, a coroutine and what it was waiting for.
func (d *driver) drop(f *Future, reason string) {
	if f.ready || f.dropped {
		return
	}
	f.dropped = true
	switch f.kind {
	case kindAll, kindRace:
		for _, c := range f.children {
			d.drop(c, reason)
		}
	case kindCoroutine:
		if co := f.co; co != nil && !co.done {
			co.killed = true
			for _, o := range co.owned {
				d.drop(o, reason)
			}
		}
	default:
		if f.seq != 0 {
			delete(d.futures, f.seq)
			if !d.done {
				d.cmds = append(d.cmds, replay.Command{Kind: replay.CmdDropFuture, Seq: f.seq})
			}
		}
	}
	f.resolve("", &CanceledError{Reason: reason})
}

// Close stops every coroutine and releases the driver.
func (d *driver) Close() {
	if d.closed {
		return
	}
	d.closed = true
	d.done = true
	for _, co := range d.coros {
		if co.done {
			continue
		}
		co.killed = true
		if !co.started {
			co.done = true
			continue
		}
		d.current = co
		co.resume <- struct{}{}
		<-co.yield
		d.current = nil
	}
	d.coros = nil
}
