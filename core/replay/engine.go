// Package replay is duroxide's replay engine: a pure function from (an
// execution's history, the new messages of a turn, a driver running the
// orchestration code) to the turn's result — the events to append, the work
// items to send, the execution's status.
//
// The engine owns every rule of deterministic replay; drivers (Go, Python,
// Node, WebAssembly) are thin. It speaks the turn protocol: it sends the
// driver activations of jobs in history order and receives commands back.
// The k-th recorded command of an execution must match the k-th recorded
// event of its history; any difference is nondeterminism, reported with the
// instance, the event, what history holds and what the code did.
//
// The engine has no clock, no I/O and no goroutines of its own: time, GUIDs
// and cross-instance reads come from an Env, and the driver is given to it.
// Its invariant is that jobs reach the driver in exactly the order their
// events stand in history, so a replay from history (a cold driver) and a
// driver kept warm between turns see the same sequence and produce the same
// history.
package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

// MaxActivationRounds bounds the activations of one turn. A turn needs
// another round only when the engine can answer new commands at once
// (buffered events, system calls); code that keeps doing that forever
// fails with a clear error instead of spinning.
const MaxActivationRounds = 100

// ErrNotRegistered is returned by a DriverSource when no handler is
// registered for the orchestration name (or the exact version asked for).
var ErrNotRegistered = errors.New("orchestration not registered")

// Env supplies what the engine may not produce itself.
type Env interface {
	// Now is the time new events are stamped with and timers count from.
	Now() time.Time
	// NewGUID returns a random UUID string.
	NewGUID() string
	// ReadKV reads a key of another instance's KV store.
	ReadKV(ctx context.Context, instance, key string) (value string, found bool, err error)
}

// DriverRequest describes the execution a driver is wanted for.
type DriverRequest struct {
	Instance    string
	ExecutionID uint64
	Name        string
	Version     string
	// Fingerprint identifies the persisted history the engine starts from
	// (see Fingerprint). A driver kept from an earlier turn is warm only if
	// it saw exactly this history.
	Fingerprint string
}

// DriverSource hands the engine drivers and resolves versions.
type DriverSource interface {
	// ResolveVersion picks the version for a new execution of name:
	// requested exactly when not empty, else by the registry's policy.
	ResolveVersion(name, requested string) (string, error)
	// Driver returns a driver for the execution. warm reports that the
	// driver already processed the whole persisted history identified by
	// req.Fingerprint and every command of it; a cold driver is replayed
	// from the start. ErrNotRegistered (wrapped or not) when no handler
	// exists.
	Driver(req DriverRequest) (drv Driver, warm bool, err error)
}

// Input is one turn's input.
type Input struct {
	Instance string
	// ExecutionID is the current execution the store reported (1 for a
	// new instance).
	ExecutionID uint64
	// History is the current execution's persisted history.
	History []history.Event
	// Messages is the locked batch, in queue order.
	Messages []history.WorkItem
	// KVSnapshot is the KV store as of the last execution boundary.
	KVSnapshot map[string]string
	// EngineVersion is recorded on new events and pins new executions.
	EngineVersion string
	Limits        history.Limits
}

// Status is the outcome of a turn.
type Status int

// Turn outcomes.
const (
	// StatusContinue: the execution is still running.
	StatusContinue Status = iota
	// StatusCompleted, StatusFailed, StatusContinuedAsNew: the execution ended.
	StatusCompleted
	StatusFailed
	StatusContinuedAsNew
	// StatusNoOp: nothing to do (the execution already ended, or the
	// messages had no execution to go to); ack to drop the messages.
	StatusNoOp
	// StatusUnregistered: no handler for the orchestration; abandon and
	// retry later (another runtime sharing the store may have it).
	StatusUnregistered
)

// String names the status.
func (s Status) String() string {
	switch s {
	case StatusContinue:
		return "Continue"
	case StatusCompleted:
		return "Completed"
	case StatusFailed:
		return "Failed"
	case StatusContinuedAsNew:
		return "ContinuedAsNew"
	case StatusNoOp:
		return "NoOp"
	case StatusUnregistered:
		return "Unregistered"
	}
	return "Unknown"
}

// IsTerminal reports whether the execution ended in this turn.
func (s Status) IsTerminal() bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusContinuedAsNew
}

// Result is what a turn decided. The caller commits it with one
// AckOrchestrationItem.
type Result struct {
	Status Status
	// ExecutionID the delta belongs to (current+1 when the turn started a
	// continued execution).
	ExecutionID         uint64
	Delta               []history.Event
	WorkerItems         []history.WorkItem
	OrchestratorItems   []history.WorkItem
	CancelledActivities []provider.ActivityRef
	Metadata            provider.ExecutionMetadata
	// Error is the failure when Status is StatusFailed.
	Error *history.ErrorDetails
	// Name and Version of the orchestration (empty for StatusNoOp).
	Name, Version string
	// Driver is the driver the turn used, if any; Warm tells whether it
	// came warm. The caller keeps or closes it.
	Driver Driver
	Warm   bool
	// Fingerprint identifies the history after the delta is committed.
	Fingerprint string
	// Replayed counts the history jobs a cold driver was replayed through.
	Replayed int
	// Dropped lists messages the turn discarded, with the reason.
	Dropped []string
}

// NondeterminismError is the error behind a nondeterminism failure.
type NondeterminismError struct {
	Instance    string
	ExecutionID uint64
	EventID     uint64 // the history event involved, 0 if none
	History     string // what history holds, "" if nothing
	Code        string // what the code did, "" if nothing
	Message     string
}

// Error implements the error interface.
func (e *NondeterminismError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "instance %q execution %d", e.Instance, e.ExecutionID)
	if e.EventID != 0 {
		fmt.Fprintf(&b, " at event %d", e.EventID)
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	if e.History != "" {
		fmt.Fprintf(&b, "; history holds %s", e.History)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, "; the code issued %s", e.Code)
	}
	return b.String()
}

// Fingerprint identifies an execution's history for the instance cache: the
// execution id, its length and the timestamps of its first and last events.
func Fingerprint(executionID uint64, events []history.Event) string {
	if len(events) == 0 {
		return fmt.Sprintf("%d/0", executionID)
	}
	return fmt.Sprintf("%d/%d/%d/%d", executionID, len(events), events[0].TimestampMs, events[len(events)-1].TimestampMs)
}

// origin of an event appended during the turn.
type origin uint8

const (
	fromMessage origin = iota // Started, arrivals, completions, cancel requests
	fromEngine                // deliveries, system-call results
	fromCommand               // decisions of the code
)

type engine struct {
	ctx    context.Context
	in     *Input
	env    Env
	src    DriverSource
	limits history.Limits
	now    time.Time

	st        *state
	persisted int // events in st that were committed before this turn
	origins   []origin

	name, version string

	drv       Driver
	warm      bool
	replayed  int
	pending   []Job
	matchIdx  int             // next st.recorded entry a replayed command must match
	dropped   map[uint64]bool // seqs the code dropped during this turn
	rounds    int
	terminal  *Command
	abortErr  *history.ErrorDetails
	res       *Result
	cancelled []provider.ActivityRef
	workers   []history.WorkItem
	orchs     []history.WorkItem
	// forward holds messages that arrived after the code ended the
	// execution; they go to the next execution on continue-as-new.
	forward []history.WorkItem
	// verify makes every decision beyond history an error (see Verify).
	verify             bool
	lastNondeterminism *NondeterminismError
}

// Run executes one turn. The returned error is for conditions that make the
// turn impossible right now (the driver failed, the environment failed); the
// caller abandons the batch and retries. Everything decided about the
// orchestration, including its failures, is in the Result.
func Run(ctx context.Context, in *Input, src DriverSource, env Env) (*Result, error) {
	e := &engine{
		ctx:     ctx,
		in:      in,
		env:     env,
		src:     src,
		limits:  in.Limits.WithDefaults(),
		now:     env.Now(),
		dropped: make(map[uint64]bool),
		res:     &Result{ExecutionID: in.ExecutionID},
	}
	res, err := e.run()
	if err != nil && e.drv != nil {
		e.drv.Close()
		e.drv = nil
	}
	return res, err
}

func (e *engine) run() (*Result, error) {
	in := e.in
	hist := in.History
	exec := in.ExecutionID
	if exec == 0 {
		exec = 1
	}

	// Pick the start message, if any; later ones are duplicates.
	var start *history.WorkItem
	for i := range in.Messages {
		if in.Messages[i].IsStart() {
			start = &in.Messages[i]
			break
		}
	}

	if len(hist) > 0 {
		if err := history.Validate(in.Instance, exec, hist); err != nil {
			// A history that fails validation is not replayed: the
			// execution fails with the validation error, which names the
			// bad event.
			return e.failInvalidHistory(exec, err), nil
		}
		last := hist[len(hist)-1]
		if last.Kind.IsTerminal() {
			if last.Kind == history.OrchestrationContinuedAsNew && start != nil && start.Kind == history.WorkContinueAsNew {
				exec++
				hist = nil
			} else {
				return e.noOp(exec, "execution already ended"), nil
			}
		}
	}
	if len(hist) == 0 && start == nil {
		return e.noOp(exec, "no execution exists and no start message arrived"), nil
	}
	if len(hist) == 0 && e.limits.CheckName("orchestration name", start.Name) != nil {
		return e.noOp(exec, fmt.Sprintf("start message with an invalid orchestration name %q", history.Shorten(start.Name, 80))), nil
	}
	if len(hist) == 0 && start.Kind == history.WorkContinueAsNew && exec == in.ExecutionID && len(in.History) == 0 {
		// A continue-as-new for an instance with no history: stale.
		return e.noOp(exec, "continue-as-new for an instance without history"), nil
	}

	e.res.ExecutionID = exec
	e.st = newState(in.Instance, exec, in.KVSnapshot)
	for _, ev := range hist {
		e.st.apply(ev)
	}
	e.persisted = len(hist)

	if len(hist) == 0 {
		// A new execution: resolve the version and record the start.
		name := start.Name
		version, err := e.src.ResolveVersion(name, start.Version)
		if err != nil {
			if errors.Is(err, ErrNotRegistered) {
				e.res.Status = StatusUnregistered
				e.res.Name, e.res.Version = name, start.Version
				return e.res, nil
			}
			return nil, err
		}
		e.name, e.version = name, version
		started := history.Event{
			Kind:              history.OrchestrationStarted,
			Name:              name,
			Version:           version,
			Input:             start.Input,
			ParentInstance:    start.ParentInstance,
			ParentExecutionID: start.ParentExecutionID,
			ParentID:          start.ParentID,
			CustomStatus:      start.CustomStatus,
			EngineVersion:     in.EngineVersion,
		}
		if err := e.checkStart(start); err != nil {
			e.appendEvent(started, fromMessage)
			return e.finishFailed(err), nil
		}
		e.appendEvent(started, fromMessage)
		e.queueJob(&e.st.events[len(e.st.events)-1])
		for _, cf := range start.CarryForward {
			e.appendEvent(history.Event{Kind: history.QueueEvent, Name: cf.Name, Data: cf.Data}, fromMessage)
		}
	} else {
		e.name, e.version = e.st.started.Name, e.st.started.Version
	}
	e.res.Name, e.res.Version = e.name, e.version

	// Apply the new messages in queue order.
	for i := range in.Messages {
		if e.stopped() {
			e.afterEnd(&in.Messages[i])
			continue
		}
		if err := e.applyMessage(&in.Messages[i], start); err != nil {
			return nil, err
		}
	}
	if !e.stopped() {
		if err := e.pump(); err != nil {
			return nil, err
		}
	}
	return e.finish(), nil
}

// checkStart verifies the limits of a start message.
func (e *engine) checkStart(start *history.WorkItem) *history.ErrorDetails {
	if err := e.limits.CheckName("orchestration name", start.Name); err != nil {
		return limitFailure(err)
	}
	if err := e.limits.CheckPayload(fmt.Sprintf("input of orchestration %q", start.Name), start.Input); err != nil {
		return limitFailure(err)
	}
	return nil
}

func limitFailure(err error) *history.ErrorDetails {
	return history.AppError(history.KindLimitExceeded, err.Error())
}

// appendEvent stamps and appends an event to the turn's delta.
func (e *engine) appendEvent(ev history.Event, o origin) *history.Event {
	ev.EventID = e.st.nextEventID()
	ev.InstanceID = e.in.Instance
	ev.ExecutionID = e.st.exec
	ev.TimestampMs = e.now.UnixMilli()
	if ev.EngineVersion == "" && ev.Kind == history.OrchestrationStarted {
		ev.EngineVersion = e.in.EngineVersion
	}
	e.st.apply(ev)
	e.origins = append(e.origins, o)
	return &e.st.events[len(e.st.events)-1]
}

// queueJob adds the job an appended event delivers.
func (e *engine) queueJob(ev *history.Event) {
	if j, ok := e.st.jobFor(ev, false); ok {
		e.pending = append(e.pending, j)
	}
}

// applyMessage turns one queue message into history (and a job).
func (e *engine) applyMessage(m *history.WorkItem, start *history.WorkItem) error {
	st := e.st
	drop := func(format string, args ...any) {
		e.res.Dropped = append(e.res.Dropped, fmt.Sprintf("%s for id %d: ", m.Kind, m.ID)+fmt.Sprintf(format, args...))
	}
	switch m.Kind {
	case history.WorkStartOrchestration, history.WorkContinueAsNew:
		if m != start {
			drop("duplicate start of an existing execution ignored")
		}
		return nil
	case history.WorkActivityCompleted, history.WorkActivityFailed, history.WorkTimerFired,
		history.WorkSubOrchCompleted, history.WorkSubOrchFailed:
		if m.ExecutionID != 0 && m.ExecutionID != st.exec {
			drop("belongs to execution %d, the current one is %d", m.ExecutionID, st.exec)
			return nil
		}
		sc := st.byEvent[m.ID]
		var want history.Kind
		var ev history.Event
		switch m.Kind {
		case history.WorkActivityCompleted:
			want, ev = history.ActivityScheduled, history.Event{Kind: history.ActivityCompleted, Result: m.Result}
		case history.WorkActivityFailed:
			want, ev = history.ActivityScheduled, history.Event{Kind: history.ActivityFailed, Error: m.Error}
		case history.WorkTimerFired:
			want, ev = history.TimerCreated, history.Event{Kind: history.TimerFired, FireAtMs: m.FireAtMs}
		case history.WorkSubOrchCompleted:
			want, ev = history.SubOrchestrationScheduled, history.Event{Kind: history.SubOrchestrationCompleted, Result: m.Result}
		default:
			want, ev = history.SubOrchestrationScheduled, history.Event{Kind: history.SubOrchestrationFailed, Error: m.Error}
		}
		if sc == nil {
			drop("no schedule event with that id")
			return nil
		}
		if sc.kind != want {
			drop("event %d is a %s, not a %s", m.ID, sc.kind, want)
			return nil
		}
		if sc.done {
			drop("already completed (duplicate delivery)")
			return nil
		}
		if ev.Kind == history.ActivityFailed || ev.Kind == history.SubOrchestrationFailed {
			if ev.Error == nil {
				ev.Error = history.AppError(history.KindActivityFailed, "failed without details")
			}
		}
		ev.SourceEventID = m.ID
		added := e.appendEvent(ev, fromMessage)
		if ev.Error != nil && !ev.Error.IsApplication() {
			// Poison, infrastructure and configuration failures of an
			// activity or child are not for the code to handle: the
			// execution fails with the same details.
			e.abortErr = ev.Error
			return nil
		}
		e.queueJob(added)
		return nil
	case history.WorkExternalRaised, history.WorkQueueMessage:
		kind := history.ExternalEvent
		if m.Kind == history.WorkQueueMessage {
			kind = history.QueueEvent
		}
		if err := e.limits.CheckName("event name", m.Name); err != nil {
			drop("%v", err)
			return nil
		}
		if err := e.limits.CheckPayload(fmt.Sprintf("data of event %q", m.Name), m.Data); err != nil {
			drop("%v", err)
			return nil
		}
		// Whether a subscription can take the event depends on what the
		// code did with the jobs before it in this batch: run them first.
		if e.hasNewJobs() {
			if err := e.pump(); err != nil {
				return err
			}
			if e.stopped() {
				e.afterEnd(m)
				return nil
			}
		}
		e.appendEvent(history.Event{Kind: kind, Name: m.Name, Data: m.Data}, fromMessage)
		e.deliver(arrivalKey{kind, m.Name})
		return nil
	case history.WorkCancelInstance:
		if st.cancelRequested {
			drop("cancellation already requested")
			return nil
		}
		reason := m.Reason
		ev := e.appendEvent(history.Event{Kind: history.OrchestrationCancelRequested, Reason: reason}, fromMessage)
		e.queueJob(ev)
		return nil
	}
	drop("not a message an orchestration accepts")
	return nil
}

// afterEnd handles a message that arrives in the batch after the code ended
// the execution: events, queue messages and cancellations move on to the
// next execution when the code continued as new; anything else is dropped.
func (e *engine) afterEnd(m *history.WorkItem) {
	switch m.Kind {
	case history.WorkExternalRaised, history.WorkQueueMessage, history.WorkCancelInstance:
		e.forward = append(e.forward, *m)
		return
	}
	e.res.Dropped = append(e.res.Dropped, fmt.Sprintf("%s: the execution ended earlier in this turn", m.Kind))
}

// hasNewJobs reports whether jobs from new messages wait to be sent.
func (e *engine) hasNewJobs() bool {
	for _, j := range e.pending {
		if !j.Replaying {
			return true
		}
	}
	return false
}

// deliver binds buffered arrivals of key k to active subscriptions, FIFO,
// recording each decision and queueing its job.
func (e *engine) deliver(k arrivalKey) {
	for len(e.st.arrivals[k]) > 0 {
		sc := e.st.firstActiveSubscription(k)
		if sc == nil {
			return
		}
		arrival := e.st.arrivals[k][0]
		ev := e.appendEvent(history.Event{Kind: history.EventDelivered, SourceEventID: sc.eventID, ArrivalID: arrival}, fromEngine)
		e.queueJob(ev)
	}
}

// deliverAll runs deliver for every key with buffered arrivals.
func (e *engine) deliverAll() {
	if len(e.st.arrivals) == 0 {
		return
	}
	keys := make([]arrivalKey, 0, len(e.st.arrivals))
	for k := range e.st.arrivals {
		keys = append(keys, k)
	}
	// Deterministic order: by the id of each key's oldest arrival.
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && e.st.arrivals[keys[j]][0] < e.st.arrivals[keys[j-1]][0]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	for _, k := range keys {
		e.deliver(k)
	}
}

// ensureDriver obtains the driver; a cold one gets the persisted history's
// jobs ahead of the pending ones.
func (e *engine) ensureDriver() error {
	if e.drv != nil {
		return nil
	}
	drv, warm, err := e.src.Driver(DriverRequest{
		Instance:    e.in.Instance,
		ExecutionID: e.st.exec,
		Name:        e.name,
		Version:     e.version,
		Fingerprint: Fingerprint(e.st.exec, e.st.events[:e.persisted]),
	})
	if err != nil {
		if errors.Is(err, ErrNotRegistered) {
			return errUnregistered
		}
		return err
	}
	e.drv, e.warm = drv, warm
	e.res.Driver, e.res.Warm = drv, warm
	if warm {
		e.matchIdx = e.persistedRecorded()
		return nil
	}
	var replay []Job
	for i := 0; i < e.persisted; i++ {
		if j, ok := e.st.jobFor(&e.st.events[i], true); ok {
			replay = append(replay, j)
		}
	}
	if len(replay) > 0 && replay[0].Kind == JobStart {
		replay[0].KV = e.in.KVSnapshot
	}
	e.replayed = len(replay)
	e.res.Replayed = len(replay)
	e.pending = append(replay, e.pending...)
	return nil
}

var errUnregistered = errors.New("unregistered")

// persistedRecorded counts recorded events in the persisted history.
func (e *engine) persistedRecorded() int {
	n := 0
	for _, idx := range e.st.recorded {
		if idx < e.persisted {
			n++
		}
	}
	return n
}

// pump sends pending jobs to the driver until the code is quiescent: no
// jobs left, the execution ended, or the turn aborted.
func (e *engine) pump() error {
	for len(e.pending) > 0 && !e.stopped() {
		if err := e.ensureDriver(); err != nil {
			if err == errUnregistered {
				e.res.Status = StatusUnregistered
				return nil
			}
			return err
		}
		e.rounds++
		if e.rounds > MaxActivationRounds {
			e.abortErr = history.AppError(history.KindLimitExceeded,
				fmt.Sprintf("the code needed more than %d activation rounds in one turn (it keeps issuing commands the engine answers at once)", MaxActivationRounds))
			return nil
		}
		for i := range e.pending {
			if e.pending[i].Kind == JobStart && e.pending[i].KV == nil && !e.pending[i].Replaying {
				e.pending[i].KV = e.in.KVSnapshot
			}
		}
		act := &Activation{
			Protocol:    ProtocolVersion,
			Instance:    e.in.Instance,
			ExecutionID: e.st.exec,
			Name:        e.name,
			Version:     e.version,
			Jobs:        e.pending,
		}
		e.pending = nil
		cmds, err := e.drv.Activate(e.ctx, act)
		if err != nil {
			return fmt.Errorf("activate instance %q: %w", e.in.Instance, err)
		}
		if err := e.applyCommands(cmds); err != nil {
			return err
		}
		if !e.stopped() {
			e.deliverAll()
		}
	}
	return nil
}

// stopped reports whether the turn's outcome is settled: the code ended
// the execution, the turn aborted, or there is no handler.
func (e *engine) stopped() bool {
	return e.st.terminal || e.terminal != nil || e.abortErr != nil || e.res.Status == StatusUnregistered
}

func (e *engine) nondeterminism(eventID uint64, hist, code, msg string) {
	ne := &NondeterminismError{Instance: e.in.Instance, ExecutionID: e.st.exec, EventID: eventID, History: hist, Code: code, Message: msg}
	e.lastNondeterminism = ne
	d := history.Nondeterminism(ne.Error())
	if eventID != 0 {
		d.Resource = fmt.Sprintf("event %d", eventID)
	}
	e.abortErr = d
}

// applyCommands matches replayed commands against history and turns new
// ones into events and work items.
func (e *engine) applyCommands(cmds []Command) error {
	for i := range cmds {
		c := &cmds[i]
		if e.terminal != nil || e.abortErr != nil {
			return nil
		}
		if c.Kind.IsTerminal() {
			if e.matchIdx < len(e.st.recorded) && !e.verify {
				idx := e.st.recorded[e.matchIdx]
				ev := &e.st.events[idx]
				e.nondeterminism(ev.EventID, ev.Summary(), describeCommand(c),
					"the code ended the execution, but history holds a decision it did not make again")
				return nil
			}
			e.terminal = c
			return nil
		}
		if c.Kind == CmdDropFuture {
			e.dropFuture(c)
			continue
		}
		rk := c.Kind.recordedKind()
		if rk == "" {
			e.abortErr = history.AppError(history.KindOrchestrationFailed, fmt.Sprintf("driver protocol error: unknown command kind %q", c.Kind))
			return nil
		}
		if c.Kind.CreatesFuture() && e.matchIdx >= len(e.st.recorded) {
			if want := uint64(len(e.st.bySeq)) + 1; c.Seq != want {
				e.abortErr = history.AppError(history.KindOrchestrationFailed,
					fmt.Sprintf("driver protocol error: command %s has seq %d, want %d", c.Kind, c.Seq, want))
				return nil
			}
		}
		if e.matchIdx < len(e.st.recorded) {
			idx := e.st.recorded[e.matchIdx]
			ev := &e.st.events[idx]
			if why := matches(c, ev, e.st); why != "" {
				e.nondeterminism(ev.EventID, ev.Summary(), describeCommand(c), why)
				return nil
			}
			e.matchIdx++
			continue
		}
		if e.verify {
			e.nondeterminism(0, "", describeCommand(c), "the replayed code made a decision history does not hold")
			return nil
		}
		if err := e.newCommand(c); err != nil {
			return err
		}
		// A command recorded now is matched by definition.
		e.matchIdx = len(e.st.recorded)
	}
	return nil
}

// matches compares a replayed command with the history event at its
// position; it returns why they differ, or "".
func matches(c *Command, ev *history.Event, st *state) string {
	rk := c.Kind.recordedKind()
	if rk != ev.Kind {
		return fmt.Sprintf("the code issued %s where history holds %s", c.Kind, ev.Kind)
	}
	if c.Kind.CreatesFuture() {
		if sc := st.byEvent[ev.EventID]; sc != nil && sc.seq != c.Seq {
			return fmt.Sprintf("command seq %d does not match the event's seq %d", c.Seq, sc.seq)
		}
	}
	diff := func(field, h, code string) string {
		if h != code {
			return fmt.Sprintf("%s differs (%q in history, %q from the code)", field, history.Shorten(h, 80), history.Shorten(code, 80))
		}
		return ""
	}
	var checks [][3]string
	switch c.Kind {
	case CmdScheduleActivity:
		checks = [][3]string{{"activity name", ev.Name, c.Name}, {"activity input", ev.Input, c.Input}, {"session", ev.SessionID, c.SessionID}, {"tag", ev.Tag, c.Tag}}
	case CmdWaitEvent, CmdDequeueEvent:
		checks = [][3]string{{"name", ev.Name, c.Name}}
	case CmdScheduleSubOrchestration:
		checks = [][3]string{{"orchestration name", ev.Name, c.Name}, {"input", ev.Input, c.Input}}
		if c.Instance != "" {
			checks = append(checks, [3]string{"child instance", ev.Instance, c.Instance})
		}
	case CmdStartOrchestration:
		checks = [][3]string{{"orchestration name", ev.Name, c.Name}, {"input", ev.Input, c.Input}}
		if c.Instance != "" {
			checks = append(checks, [3]string{"instance", ev.Instance, c.Instance})
		}
	case CmdSystemCall:
		checks = [][3]string{{"system call", ev.Op, c.Op}, {"arguments", ev.Input, c.Input}}
	case CmdSetKV:
		checks = [][3]string{{"key", ev.Key, c.Key}, {"value", ev.Value, c.Value}}
	case CmdClearKV:
		checks = [][3]string{{"key", ev.Key, c.Key}}
	}
	for _, ch := range checks {
		if d := diff(ch[0], ch[1], ch[2]); d != "" {
			return d
		}
	}
	return ""
}

// describeCommand is a short description of a command for error messages.
func describeCommand(c *Command) string {
	var b strings.Builder
	b.WriteString(string(c.Kind))
	add := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, " %s=%s", k, history.Shorten(v, 60))
		}
	}
	add("name", c.Name)
	add("instance", c.Instance)
	add("op", c.Op)
	add("input", c.Input)
	add("session", c.SessionID)
	add("tag", c.Tag)
	add("key", c.Key)
	add("value", c.Value)
	if c.Seq != 0 {
		fmt.Fprintf(&b, " seq=%d", c.Seq)
	}
	return b.String()
}

// newCommand records a command that history does not hold yet.
func (e *engine) newCommand(c *Command) error {
	st := e.st
	fail := func(err error) {
		e.abortErr = limitFailure(err)
	}
	switch c.Kind {
	case CmdScheduleActivity:
		if err := e.limits.CheckName("activity name", c.Name); err != nil {
			fail(err)
			return nil
		}
		if err := e.limits.CheckPayload(fmt.Sprintf("input of activity %q", c.Name), c.Input); err != nil {
			fail(err)
			return nil
		}
		if err := e.limits.CheckTag(fmt.Sprintf("tag of activity %q", c.Name), c.Tag); err != nil {
			fail(err)
			return nil
		}
		if err := e.limits.CheckTag(fmt.Sprintf("session id of activity %q", c.Name), c.SessionID); err != nil {
			fail(err)
			return nil
		}
		ev := e.appendEvent(history.Event{Kind: history.ActivityScheduled, Name: c.Name, Input: c.Input, SessionID: c.SessionID, Tag: c.Tag}, fromCommand)
		item := history.WorkItem{
			Kind: history.WorkActivityExecute, Instance: e.in.Instance, ExecutionID: st.exec, ID: ev.EventID,
			Name: c.Name, Input: c.Input, SessionID: c.SessionID, Tag: c.Tag,
			OrchestrationName: e.name, OrchestrationVersion: e.version,
		}
		if c.PickupTimeoutMs > 0 {
			item.ExpiresAtMs = e.now.UnixMilli() + c.PickupTimeoutMs
		}
		e.workers = append(e.workers, item)
	case CmdCreateTimer:
		delay := c.DelayMs
		if delay < 0 {
			delay = 0
		}
		fireAt := e.now.UnixMilli() + delay
		ev := e.appendEvent(history.Event{Kind: history.TimerCreated, FireAtMs: fireAt}, fromCommand)
		e.orchs = append(e.orchs, history.WorkItem{Kind: history.WorkTimerFired, Instance: e.in.Instance, ExecutionID: st.exec, ID: ev.EventID, FireAtMs: fireAt})
	case CmdWaitEvent, CmdDequeueEvent:
		if err := e.limits.CheckName("event name", c.Name); err != nil {
			fail(err)
			return nil
		}
		kind := history.ExternalSubscribed
		if c.Kind == CmdDequeueEvent {
			kind = history.QueueSubscribed
		}
		e.appendEvent(history.Event{Kind: kind, Name: c.Name}, fromCommand)
	case CmdScheduleSubOrchestration, CmdStartOrchestration:
		if err := e.limits.CheckName("orchestration name", c.Name); err != nil {
			fail(err)
			return nil
		}
		if err := e.limits.CheckPayload(fmt.Sprintf("input of orchestration %q", c.Name), c.Input); err != nil {
			fail(err)
			return nil
		}
		if c.Instance != "" {
			if err := e.limits.CheckName("instance id", c.Instance); err != nil {
				fail(err)
				return nil
			}
		}
		kind := history.SubOrchestrationScheduled
		if c.Kind == CmdStartOrchestration {
			kind = history.OrchestrationChained
		}
		id := st.nextEventID()
		child := c.Instance
		if child == "" {
			if kind == history.SubOrchestrationScheduled {
				child = fmt.Sprintf("%s::sub::%d", e.in.Instance, id)
			} else {
				child = fmt.Sprintf("%s::detached::%d", e.in.Instance, id)
			}
		}
		if child == e.in.Instance {
			e.abortErr = history.AppError(history.KindOrchestrationFailed, fmt.Sprintf("orchestration %q cannot start itself (instance %q) as a child", c.Name, child))
			return nil
		}
		ev := e.appendEvent(history.Event{Kind: kind, Name: c.Name, Version: c.Version, Instance: child, Input: c.Input}, fromCommand)
		item := history.WorkItem{Kind: history.WorkStartOrchestration, Instance: child, ExecutionID: 1, Name: c.Name, Version: c.Version, Input: c.Input}
		if kind == history.SubOrchestrationScheduled {
			item.ParentInstance, item.ParentExecutionID, item.ParentID = e.in.Instance, st.exec, ev.EventID
		}
		e.orchs = append(e.orchs, item)
	case CmdSystemCall:
		ev := history.Event{Kind: history.SystemCall, Op: c.Op, Input: c.Input}
		switch c.Op {
		case OpNewGUID:
			ev.Value = e.env.NewGUID()
		case OpUtcNow:
			ev.Value = strconv.FormatInt(e.now.UnixMilli(), 10)
		case OpGetKV:
			var args struct {
				Instance string `json:"instance"`
				Key      string `json:"key"`
			}
			if err := json.Unmarshal([]byte(c.Input), &args); err != nil || args.Instance == "" || args.Key == "" {
				ev.Error = history.AppError(history.KindOrchestrationFailed, fmt.Sprintf("get_kv needs {\"instance\":…,\"key\":…}, got %q", history.Shorten(c.Input, 80)))
				break
			}
			v, found, err := e.env.ReadKV(e.ctx, args.Instance, args.Key)
			if err != nil {
				return fmt.Errorf("read KV %q of instance %q: %w", args.Key, args.Instance, err)
			}
			if found {
				b, _ := json.Marshal(v)
				ev.Value = string(b)
			} else {
				ev.Value = "null"
			}
		default:
			ev.Error = history.AppError(history.KindOrchestrationFailed, fmt.Sprintf("unknown system call %q", c.Op))
		}
		added := e.appendEvent(ev, fromCommand)
		e.queueJob(added)
	case CmdSetCustomStatus:
		if c.Status != nil && len(*c.Status) > e.limits.MaxCustomStatusBytes {
			fail(&history.LimitError{Limit: "MaxCustomStatusBytes", What: "custom status", Size: len(*c.Status), Max: e.limits.MaxCustomStatusBytes})
			return nil
		}
		e.appendEvent(history.Event{Kind: history.CustomStatusUpdated, CustomStatus: c.Status}, fromCommand)
	case CmdSetKV:
		if c.Key == "" {
			fail(&history.LimitError{Limit: "MaxKVKeyBytes", What: "KV key"})
			return nil
		}
		if len(c.Key) > e.limits.MaxKVKeyBytes {
			fail(&history.LimitError{Limit: "MaxKVKeyBytes", What: "KV key", Size: len(c.Key), Max: e.limits.MaxKVKeyBytes})
			return nil
		}
		if len(c.Value) > e.limits.MaxKVValueBytes {
			fail(&history.LimitError{Limit: "MaxKVValueBytes", What: fmt.Sprintf("value of KV key %q", c.Key), Size: len(c.Value), Max: e.limits.MaxKVValueBytes})
			return nil
		}
		if _, exists := st.kv[c.Key]; !exists && len(st.kv) >= e.limits.MaxKVKeys {
			e.abortErr = history.AppError(history.KindLimitExceeded, fmt.Sprintf("setting KV key %q would make %d keys, over the limit MaxKVKeys=%d", c.Key, len(st.kv)+1, e.limits.MaxKVKeys))
			return nil
		}
		e.appendEvent(history.Event{Kind: history.KeyValueSet, Key: c.Key, Value: c.Value, LastUpdatedAtMs: e.now.UnixMilli()}, fromCommand)
	case CmdClearKV:
		e.appendEvent(history.Event{Kind: history.KeyValueCleared, Key: c.Key}, fromCommand)
	case CmdClearAllKV:
		e.appendEvent(history.Event{Kind: history.KeyValuesCleared}, fromCommand)
	}
	return nil
}

// dropFuture cancels the work behind a future the code abandoned.
func (e *engine) dropFuture(c *Command) {
	if c.Seq == 0 || c.Seq > uint64(len(e.st.bySeq)) {
		e.abortErr = history.AppError(history.KindOrchestrationFailed, fmt.Sprintf("driver protocol error: drop of unknown future seq %d", c.Seq))
		return
	}
	e.dropped[c.Seq] = true
	sc := e.st.bySeq[c.Seq-1]
	if sc.done || sc.cancelled {
		return
	}
	e.cancelSchedule(sc, history.ReasonDroppedFuture)
}

// cancelSchedule records the cancellation of an open schedule and its side
// effect: lock-stealing an activity, cancelling a child, closing a wait.
func (e *engine) cancelSchedule(sc *sched, reason string) {
	switch sc.kind {
	case history.ActivityScheduled:
		e.appendEvent(history.Event{Kind: history.ActivityCancelRequested, SourceEventID: sc.eventID, Reason: reason}, fromCommand)
		e.cancelled = append(e.cancelled, provider.ActivityRef{Instance: e.in.Instance, ExecutionID: e.st.exec, ActivityID: sc.eventID})
	case history.SubOrchestrationScheduled:
		ev := e.st.events[sc.idx]
		e.appendEvent(history.Event{Kind: history.SubOrchestrationCancelRequested, SourceEventID: sc.eventID, Reason: reason}, fromCommand)
		childReason := "parent dropped sub-orchestration future"
		switch {
		case reason == history.ReasonTerminalPrefix+"cancelled":
			childReason = history.ReasonParentCanceled
		case strings.HasPrefix(reason, history.ReasonTerminalPrefix):
			childReason = "parent ended: " + strings.TrimPrefix(reason, history.ReasonTerminalPrefix)
		}
		e.orchs = append(e.orchs, history.WorkItem{Kind: history.WorkCancelInstance, Instance: ev.Instance, Reason: childReason})
	case history.ExternalSubscribed:
		e.appendEvent(history.Event{Kind: history.ExternalSubscribedCancelled, SourceEventID: sc.eventID, Reason: reason}, fromCommand)
	case history.QueueSubscribed:
		e.appendEvent(history.Event{Kind: history.QueueSubscriptionCancelled, SourceEventID: sc.eventID, Reason: reason}, fromCommand)
	default:
		// Timers and system calls have nothing to cancel.
		sc.cancelled = true
	}
}

// finish decides the turn's outcome after the code went quiet.
func (e *engine) finish() *Result {
	if e.res.Status == StatusUnregistered {
		if e.drv != nil {
			e.drv.Close()
			e.drv = nil
			e.res.Driver = nil
		}
		return e.res
	}
	// Checks that need the code to have run through the whole history.
	if e.abortErr == nil && e.drv != nil && e.terminal == nil && e.matchIdx < len(e.st.recorded) {
		idx := e.st.recorded[e.matchIdx]
		if idx < e.persisted {
			ev := &e.st.events[idx]
			e.nondeterminism(ev.EventID, ev.Summary(), "",
				"history holds a decision the replayed code did not make")
		}
	}
	if e.abortErr == nil && e.drv != nil && !e.warm {
		for i := 0; i < e.persisted; i++ {
			ev := &e.st.events[i]
			if ev.Kind.Class() != history.ClassBreadcrumb || ev.Reason != history.ReasonDroppedFuture {
				continue
			}
			sc := e.st.byEvent[ev.SourceEventID]
			if sc != nil && sc.seq != 0 && !e.dropped[sc.seq] {
				src := e.st.events[sc.idx]
				e.nondeterminism(ev.EventID, fmt.Sprintf("%s (the code dropped %s)", ev.Kind, src.Summary()), "",
					"history records a future the code dropped, but the replayed code did not drop it")
				break
			}
		}
	}
	if e.abortErr != nil {
		return e.abort(e.abortErr)
	}
	if e.st.cancelRequested {
		return e.finishFailed(history.Cancelled(e.st.cancelReason))
	}
	if len(e.st.events) > e.limits.MaxHistoryEvents {
		return e.finishFailed(history.AppError(history.KindLimitExceeded,
			fmt.Sprintf("execution has %d history events, over the limit MaxHistoryEvents=%d; use continue-as-new for long-running instances", len(e.st.events), e.limits.MaxHistoryEvents)))
	}
	if e.terminal == nil {
		e.res.Status = StatusContinue
		return e.seal()
	}
	c := e.terminal
	switch c.Kind {
	case CmdComplete:
		if err := e.limits.CheckPayload(fmt.Sprintf("output of orchestration %q", e.name), c.Output); err != nil {
			return e.finishFailed(limitFailure(err))
		}
		e.closeOpen(history.ReasonTerminalPrefix + "completed")
		e.appendEvent(history.Event{Kind: history.OrchestrationCompleted, Output: c.Output}, fromCommand)
		e.res.Status = StatusCompleted
		e.res.Metadata.Status = provider.StatusCompleted
		e.res.Metadata.Output = c.Output
		e.notifyParent(&history.WorkItem{Kind: history.WorkSubOrchCompleted, Result: c.Output})
	case CmdFail:
		d := c.Error
		if d == nil {
			d = history.AppError(history.KindOrchestrationFailed, "orchestration failed without details")
		}
		if d.Category == "" {
			cp := *d
			cp.Category = history.CategoryApplication
			if cp.Kind == "" {
				cp.Kind = history.KindOrchestrationFailed
			}
			d = &cp
		}
		return e.finishFailed(d)
	case CmdContinueAsNew:
		if err := e.limits.CheckPayload(fmt.Sprintf("continue-as-new input of orchestration %q", e.name), c.Input); err != nil {
			return e.finishFailed(limitFailure(err))
		}
		version := c.Version
		e.closeOpen(history.ReasonTerminalPrefix + "continued_as_new")
		// Undelivered queue messages move to the next execution.
		var carry []history.QueuedEvent
		var ids []uint64
		for k, list := range e.st.arrivals {
			if k.kind == history.QueueEvent {
				ids = append(ids, list...)
			}
		}
		sortIDs(ids)
		for _, id := range ids {
			a := e.st.event(id)
			carry = append(carry, history.QueuedEvent{Name: a.Name, Data: a.Data})
		}
		e.appendEvent(history.Event{Kind: history.OrchestrationContinuedAsNew, Input: c.Input, Version: version}, fromCommand)
		started := e.st.started
		e.orchs = append(e.orchs, history.WorkItem{
			Kind: history.WorkContinueAsNew, Instance: e.in.Instance, ExecutionID: e.st.exec + 1,
			Name: e.name, Version: version, Input: c.Input, CarryForward: carry, CustomStatus: e.st.customStatus,
			ParentInstance: started.ParentInstance, ParentExecutionID: started.ParentExecutionID, ParentID: started.ParentID,
		})
		e.orchs = append(e.orchs, e.forward...)
		e.forward = nil
		e.res.Status = StatusContinuedAsNew
		e.res.Metadata.Status = provider.StatusContinuedAsNew
		e.res.Metadata.Output = c.Input
	}
	return e.seal()
}

func sortIDs(ids []uint64) {
	for i := 1; i < len(ids); i++ {
		for j := i; j > 0 && ids[j] < ids[j-1]; j-- {
			ids[j], ids[j-1] = ids[j-1], ids[j]
		}
	}
}

// closeOpen cancels every schedule still open when the execution ends.
func (e *engine) closeOpen(reason string) {
	for _, sc := range e.st.bySeq {
		if !sc.done && !sc.cancelled {
			e.cancelSchedule(sc, reason)
		}
	}
}

// notifyParent sends a child's outcome to its parent.
func (e *engine) notifyParent(item *history.WorkItem) {
	s := e.st.started
	if s == nil || s.ParentInstance == "" {
		return
	}
	item.Instance = s.ParentInstance
	item.ExecutionID = s.ParentExecutionID
	item.ID = s.ParentID
	item.Child = e.in.Instance
	e.orchs = append(e.orchs, *item)
}

func (e *engine) dropForwarded() {
	for _, m := range e.forward {
		e.res.Dropped = append(e.res.Dropped, fmt.Sprintf("%s: the execution ended earlier in this turn", m.Kind))
	}
	e.forward = nil
}

// finishFailed ends the execution as failed with d.
func (e *engine) finishFailed(d *history.ErrorDetails) *Result {
	reason := history.ReasonTerminalPrefix + "failed"
	if d.Kind == history.KindCancelled && d.Category == history.CategoryApplication {
		reason = history.ReasonTerminalPrefix + "cancelled"
	}
	e.closeOpen(reason)
	e.appendEvent(history.Event{Kind: history.OrchestrationFailed, Error: d}, fromCommand)
	e.res.Status = StatusFailed
	e.res.Error = d
	e.res.Metadata.Status = provider.StatusFailed
	e.res.Metadata.Output = d.DisplayMessage()
	e.notifyParent(&history.WorkItem{Kind: history.WorkSubOrchFailed, Error: d})
	return e.seal()
}

// abort fails the execution after a nondeterminism or protocol error: the
// decisions of this turn are discarded (they came from code that no longer
// matches its history), the messages it consumed are kept for the record.
func (e *engine) abort(d *history.ErrorDetails) *Result {
	old := e.st
	kept := make([]history.Event, 0, len(old.events))
	kept = append(kept, old.events[:e.persisted]...)
	remap := make(map[uint64]uint64)
	for i := e.persisted; i < len(old.events); i++ {
		if e.origins[i-e.persisted] != fromMessage {
			continue
		}
		ev := old.events[i]
		nid := uint64(len(kept)) + 1
		remap[ev.EventID] = nid
		ev.EventID = nid
		kept = append(kept, ev)
	}
	e.st = newState(e.in.Instance, old.exec, e.in.KVSnapshot)
	e.origins = e.origins[:0]
	for i, ev := range kept {
		e.st.apply(ev)
		if i >= e.persisted {
			e.origins = append(e.origins, fromMessage)
		}
	}
	e.workers, e.orchs, e.cancelled = nil, nil, nil
	e.terminal = nil
	if e.drv != nil {
		e.drv.Close()
		e.drv = nil
		e.res.Driver = nil
	}
	return e.finishFailed(d)
}

// failInvalidHistory fails an execution whose stored history is malformed.
func (e *engine) failInvalidHistory(exec uint64, verr error) *Result {
	d := &history.ErrorDetails{Category: history.CategoryConfiguration, Kind: history.KindInvalidHistory, Message: verr.Error()}
	var ve *history.ValidationError
	if errors.As(verr, &ve) && ve.EventID != 0 {
		d.Resource = fmt.Sprintf("event %d", ve.EventID)
	}
	n := len(e.in.History)
	ev := history.Event{
		EventID: uint64(n) + 1, InstanceID: e.in.Instance, ExecutionID: exec, TimestampMs: e.now.UnixMilli(),
		Kind: history.OrchestrationFailed, Error: d,
	}
	r := &Result{Status: StatusFailed, ExecutionID: exec, Delta: []history.Event{ev}, Error: d}
	if n > 0 && e.in.History[0].Kind == history.OrchestrationStarted {
		s := e.in.History[0]
		r.Name, r.Version = s.Name, s.Version
		if s.ParentInstance != "" {
			r.OrchestratorItems = append(r.OrchestratorItems, history.WorkItem{Kind: history.WorkSubOrchFailed, Instance: s.ParentInstance, ExecutionID: s.ParentExecutionID, ID: s.ParentID, Error: d, Child: e.in.Instance})
		}
	}
	r.Metadata = provider.ExecutionMetadata{Status: provider.StatusFailed, Output: d.DisplayMessage(), OrchestrationName: r.Name, OrchestrationVersion: r.Version}
	return r
}

func (e *engine) noOp(exec uint64, why string) *Result {
	r := &Result{Status: StatusNoOp, ExecutionID: exec}
	for _, m := range e.in.Messages {
		r.Dropped = append(r.Dropped, fmt.Sprintf("%s: %s", m.Kind, why))
	}
	return r
}

// seal fills the result from the engine's state.
func (e *engine) seal() *Result {
	e.dropForwarded()
	r := e.res
	r.ExecutionID = e.st.exec
	r.Delta = append([]history.Event(nil), e.st.events[e.persisted:]...)
	r.WorkerItems = e.workers
	r.OrchestratorItems = e.orchs
	r.CancelledActivities = e.cancelled
	r.Name, r.Version = e.name, e.version
	r.Metadata.OrchestrationName = e.name
	r.Metadata.OrchestrationVersion = e.version
	if s := e.st.started; s != nil {
		r.Metadata.ParentInstance = s.ParentInstance
	}
	if e.persisted == 0 {
		r.Metadata.PinnedVersion = e.in.EngineVersion
	}
	r.Fingerprint = Fingerprint(e.st.exec, e.st.events)
	if r.Status.IsTerminal() && e.drv != nil {
		e.drv.Close()
		e.drv = nil
		r.Driver = nil
	}
	return r
}

// Fail builds the result that ends an instance with d without running its
// code: for poison messages and orchestrations that stayed unregistered.
// When the instance has no history yet, its start is recorded first so the
// failure has an execution to belong to.
func Fail(in *Input, d *history.ErrorDetails, env Env) *Result {
	e := &engine{in: in, env: env, limits: in.Limits.WithDefaults(), now: env.Now(), res: &Result{ExecutionID: in.ExecutionID}, dropped: map[uint64]bool{}}
	exec := in.ExecutionID
	if exec == 0 {
		exec = 1
	}
	hist := in.History
	var start *history.WorkItem
	for i := range in.Messages {
		if in.Messages[i].IsStart() {
			start = &in.Messages[i]
			break
		}
	}
	if len(hist) > 0 && hist[len(hist)-1].Kind.IsTerminal() {
		if hist[len(hist)-1].Kind == history.OrchestrationContinuedAsNew && start != nil && start.Kind == history.WorkContinueAsNew {
			exec++
			hist = nil
		} else {
			return e.noOp(exec, "execution already ended")
		}
	}
	if len(hist) == 0 && (start == nil || e.limits.CheckName("orchestration name", start.Name) != nil) {
		return e.noOp(exec, "no execution exists and no valid start message arrived")
	}
	e.st = newState(in.Instance, exec, in.KVSnapshot)
	for _, ev := range hist {
		e.st.apply(ev)
	}
	e.persisted = len(hist)
	if len(hist) == 0 {
		e.name, e.version = start.Name, start.Version
		e.appendEvent(history.Event{
			Kind: history.OrchestrationStarted, Name: start.Name, Version: start.Version, Input: start.Input,
			ParentInstance: start.ParentInstance, ParentExecutionID: start.ParentExecutionID, ParentID: start.ParentID,
			CustomStatus: start.CustomStatus, EngineVersion: in.EngineVersion,
		}, fromMessage)
	} else {
		e.name, e.version = e.st.started.Name, e.st.started.Version
	}
	return e.finishFailed(d)
}

// FailCorrupt builds the result that ends an execution whose stored history
// cannot be decoded: one failure event after the storedEvents rows.
func FailCorrupt(instance string, executionID uint64, storedEvents int, d *history.ErrorDetails, now time.Time) *Result {
	ev := history.Event{
		EventID: uint64(storedEvents) + 1, InstanceID: instance, ExecutionID: executionID, TimestampMs: now.UnixMilli(),
		Kind: history.OrchestrationFailed, Error: d,
	}
	return &Result{
		Status: StatusFailed, ExecutionID: executionID, Delta: []history.Event{ev}, Error: d,
		Metadata: provider.ExecutionMetadata{Status: provider.StatusFailed, Output: d.DisplayMessage()},
	}
}
