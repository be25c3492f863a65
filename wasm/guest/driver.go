package guest

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
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
		if err := DecodePayload(input, &in); err != nil {
			return "", fmt.Errorf("decode orchestration input: %w", err)
		}
		out, err := fn(ctx, in)
		if err != nil {
			return "", err
		}
		s, err := EncodePayload(out)
		if err != nil {
			return "", fmt.Errorf("encode orchestration output: %w", err)
		}
		return s, nil
	}
}

// hooks connect a driver to its host: it receives each job's commands as
// soon as the code is blocked again, and the code's log records.
type hooks interface {
	emit(cmds []Command) error
	log(record []byte)
}

// killSignal unwinds a coroutine whose driver is closing or whose future was
// dropped. It is recovered by the coroutine's own frame.
type killSignal struct{}

// coroutine is one thread of orchestration code. Exactly one coroutine (or
// the driver) runs at a time; control passes over channels, so the order in
// which code runs is a function of the jobs alone. Inside the guest the Go
// scheduler runs on one thread and every hand-off is synchronous.
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

// driver runs one execution of one orchestration. A guest instance holds
// exactly one; the host keeps the instance warm between turns.
type driver struct {
	fn      Func
	ctx     *Context
	logger  *slog.Logger
	coros   []*coroutine
	current *coroutine
	futures map[uint64]*Future
	cmds    []Command
	nextSeq uint64
	h       hooks

	instance string
	exec     uint64
	name     string
	version  string
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

func newDriver(fn Func, h hooks) *driver {
	d := &driver{fn: fn, futures: make(map[uint64]*Future), h: h, kv: map[string]string{}}
	d.ctx = &Context{d: d}
	d.logger = newReplaySafeLogger(d)
	return d
}

// activate applies the jobs one at a time, running the code until it blocks
// after each, and hands each job's commands to the host.
func (d *driver) activate(a *Activation) error {
	if d.closed {
		return errors.New("driver is closed")
	}
	if a.Protocol != ProtocolVersion {
		return fmt.Errorf("activation protocol %d, this guest SDK speaks %d", a.Protocol, ProtocolVersion)
	}
	d.instance, d.exec, d.name, d.version = a.Instance, a.ExecutionID, a.Name, a.Version
	for i := range a.Jobs {
		j := &a.Jobs[i]
		d.replaying = j.Replaying
		d.apply(j)
		d.run()
		if len(d.cmds) > 0 {
			cmds := d.cmds
			d.cmds = nil
			if err := d.h.emit(cmds); err != nil {
				return err
			}
		}
	}
	d.replaying = false
	return nil
}

func (d *driver) apply(j *Job) {
	if d.done && j.Kind != JobStart {
		return
	}
	switch j.Kind {
	case JobStart:
		if d.started {
			return
		}
		d.started = true
		d.parent = j.ParentInstance
		if j.CustomStatus != nil {
			cs := *j.CustomStatus
			d.customStatus = &cs
		}
		for k, v := range j.KV {
			d.kv[k] = v
		}
		input := j.Input
		co := d.newCoroutine(func(ctx *Context) (string, error) { return d.fn(ctx, input) })
		co.main = true
	case JobActivity, JobSubOrchestration, JobSystemCall, JobTimer, JobEvent:
		f := d.futures[j.Seq]
		if f == nil || f.ready {
			return
		}
		// A resolved future never takes another job: forget it, so a long
		// execution does not keep every future it ever made.
		delete(d.futures, j.Seq)
		switch j.Kind {
		case JobActivity:
			if j.Error != nil {
				f.resolve("", &ActivityError{Name: f.name, Details: j.Error})
			} else {
				f.resolve(j.Result, nil)
			}
		case JobSubOrchestration:
			if j.Error != nil {
				f.resolve("", &SubOrchestrationError{Name: f.name, Details: j.Error})
			} else {
				f.resolve(j.Result, nil)
			}
		case JobSystemCall:
			if j.Error != nil {
				f.resolve("", j.Error)
			} else {
				f.resolve(j.Result, nil)
			}
		case JobTimer:
			f.resolve("", nil)
		case JobEvent:
			f.resolve(j.Data, nil)
		}
	case JobCancel:
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
	var c Command
	var can *ContinueAsNewError
	switch {
	case panicked:
		c = Command{Kind: CmdFail, Error: &ErrorDetails{Category: CategoryApplication, Kind: KindPanicked, Message: firstLine(panicMsg)}}
	case d.can != nil:
		c = Command{Kind: CmdContinueAsNew, Input: d.can.Input, Version: d.can.Version}
	case errors.As(err, &can):
		c = Command{Kind: CmdContinueAsNew, Input: can.Input, Version: can.Version}
	case err != nil:
		c = Command{Kind: CmdFail, Error: errorDetails(err)}
	default:
		c = Command{Kind: CmdComplete, Output: out}
	}
	d.cmds = append(d.cmds, c)
	d.done = true
}

// errorDetails records an error returned by orchestration code. An
// activity's or child's error returned as is keeps its original type name.
func errorDetails(err error) *ErrorDetails {
	d := &ErrorDetails{Category: CategoryApplication, Kind: KindOrchestrationFailed, Message: err.Error(), Type: fmt.Sprintf("%T", err)}
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
		panic("guest: Await called outside orchestration code")
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
func (d *driver) emit(c Command, f *Future) {
	if d.done || d.closed {
		if f != nil && !f.ready {
			f.ready = true
			f.err = &CanceledError{Reason: "the orchestration already ended"}
		}
		return
	}
	if c.Kind.createsFuture() {
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

// drop cancels a future: its command's work (through drop_future), a
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
		if f.seq != 0 && !d.done {
			d.cmds = append(d.cmds, Command{Kind: CmdDropFuture, Seq: f.seq})
		}
		delete(d.futures, f.seq)
	}
	f.resolve("", &CanceledError{Reason: reason})
}

// close stops every coroutine and releases the driver.
func (d *driver) close() {
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
