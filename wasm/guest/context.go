package guest

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"time"
)

// Context is the orchestration's handle on the engine. It is valid only
// inside the orchestration's own code.
type Context struct{ d *driver }

// InstanceID returns the instance being run.
func (c *Context) InstanceID() string { return c.d.instance }

// ExecutionID returns the execution (1, then +1 per continue-as-new).
func (c *Context) ExecutionID() uint64 { return c.d.exec }

// Name returns the orchestration's registered name.
func (c *Context) Name() string { return c.d.name }

// Version returns the orchestration version this execution runs.
func (c *Context) Version() string { return c.d.version }

// ParentInstance returns the parent's instance id for a sub-orchestration, "" otherwise.
func (c *Context) ParentInstance() string { return c.d.parent }

// IsReplaying reports whether the code is re-running decisions already
// recorded in history. Logger is already guarded by it.
func (c *Context) IsReplaying() bool { return c.d.replaying }

// IsCancelRequested reports whether the instance is being cancelled. Once
// it is, every pending future fails with a *CanceledError; the code may
// record custom status, KV values or start a detached orchestration to
// compensate, and the instance then ends as cancelled.
func (c *Context) IsCancelRequested() bool { return c.d.cancelRequested }

// Logger returns the orchestration's logger; the host drops its records
// while the code is replaying, so each is logged once per decision.
// Records reach the host's logger with the instance's identity attached.
func (c *Context) Logger() *slog.Logger { return c.d.logger }

// ActivityOptions route and retry an activity.
type ActivityOptions struct {
	// SessionID pins the activity to the worker that owns the session.
	SessionID string
	// Tag routes the activity to workers serving that tag.
	Tag string
	// PickupTimeout, when positive, fails the activity with a timeout error
	// if no worker takes it within that time — for a tag no running worker
	// may serve. Once a worker has taken it, it runs to completion.
	PickupTimeout time.Duration
	// Retry, when set, retries failed attempts (see RetryPolicy).
	Retry *RetryPolicy
}

// ScheduleActivity schedules the activity name with input (encoded with the
// payload codec; a string travels as is). Activities run in the host
// languages (Go, Python, Node) on any runtime sharing the store.
func (c *Context) ScheduleActivity(name string, input any) *Future {
	return c.ScheduleActivityWithOptions(name, input, ActivityOptions{})
}

// ScheduleActivityOnSession schedules an activity on a session: every
// activity of one session runs on the worker that holds it.
func (c *Context) ScheduleActivityOnSession(name string, input any, sessionID string) *Future {
	return c.ScheduleActivityWithOptions(name, input, ActivityOptions{SessionID: sessionID})
}

// ScheduleActivityWithRetry schedules an activity and retries failed
// attempts per policy. Every attempt is recorded in history.
func (c *Context) ScheduleActivityWithRetry(name string, input any, policy RetryPolicy) *Future {
	return c.ScheduleActivityWithOptions(name, input, ActivityOptions{Retry: &policy})
}

// ScheduleActivityWithOptions schedules an activity with routing and retry options.
func (c *Context) ScheduleActivityWithOptions(name string, input any, opts ActivityOptions) *Future {
	payload, err := EncodePayload(input)
	if err != nil {
		return c.failed(kindActivity, name, fmt.Errorf("activity %q: %w", name, err))
	}
	if opts.Retry != nil {
		return c.retryActivity(name, payload, opts)
	}
	return c.scheduleActivityRaw(name, payload, opts)
}

func (c *Context) scheduleActivityRaw(name, payload string, opts ActivityOptions) *Future {
	f := c.d.newFuture(kindActivity, name)
	c.d.emit(Command{Kind: CmdScheduleActivity, Name: name, Input: payload, SessionID: opts.SessionID, Tag: opts.Tag,
		PickupTimeoutMs: opts.PickupTimeout.Milliseconds()}, f)
	return f
}

// failed returns a future that is already resolved with err.
func (c *Context) failed(kind futureKind, name string, err error) *Future {
	f := c.d.newFuture(kind, name)
	f.resolve("", err)
	return f
}

// CreateTimer returns a future resolved after d. The timer is durable: it
// fires even if the process restarts meanwhile.
func (c *Context) CreateTimer(d time.Duration) *Future {
	f := c.d.newFuture(kindTimer, "")
	ms := d.Milliseconds()
	if d > 0 && time.Duration(ms)*time.Millisecond < d {
		ms++
	}
	c.d.emit(Command{Kind: CmdCreateTimer, DelayMs: ms}, f)
	return f
}

// WaitForEvent returns a future resolved with the data of the next external
// event called name. Events are buffered: one raised before the wait is kept
// until a wait takes it, first raised first taken.
func (c *Context) WaitForEvent(name string) *Future {
	f := c.d.newFuture(kindEvent, name)
	c.d.emit(Command{Kind: CmdWaitEvent, Name: name}, f)
	return f
}

// DequeueEvent returns a future resolved with the next message of the event
// queue. Unconsumed messages carry over continue-as-new.
func (c *Context) DequeueEvent(queue string) *Future {
	f := c.d.newFuture(kindEvent, queue)
	c.d.emit(Command{Kind: CmdDequeueEvent, Name: queue}, f)
	return f
}

// SubOrchestrationOptions choose a child's instance id and version.
type SubOrchestrationOptions struct {
	// InstanceID is the child's id; empty generates "<parent>::sub::<event id>".
	InstanceID string
	// Version is the child's exact version; empty uses the registry's policy.
	Version string
}

// ScheduleSubOrchestration starts a child orchestration and returns a future
// resolved with its output. The child may be a WebAssembly orchestration or
// one written in any host language.
func (c *Context) ScheduleSubOrchestration(name string, input any) *Future {
	return c.ScheduleSubOrchestrationWithOptions(name, input, SubOrchestrationOptions{})
}

// ScheduleSubOrchestrationWithID starts a child with an explicit instance id.
func (c *Context) ScheduleSubOrchestrationWithID(name, instanceID string, input any) *Future {
	return c.ScheduleSubOrchestrationWithOptions(name, input, SubOrchestrationOptions{InstanceID: instanceID})
}

// ScheduleSubOrchestrationVersioned starts a child at an exact version.
func (c *Context) ScheduleSubOrchestrationVersioned(name, version string, input any) *Future {
	return c.ScheduleSubOrchestrationWithOptions(name, input, SubOrchestrationOptions{Version: version})
}

// ScheduleSubOrchestrationWithOptions starts a child orchestration.
func (c *Context) ScheduleSubOrchestrationWithOptions(name string, input any, opts SubOrchestrationOptions) *Future {
	payload, err := EncodePayload(input)
	if err != nil {
		return c.failed(kindSubOrchestration, name, fmt.Errorf("sub-orchestration %q: %w", name, err))
	}
	f := c.d.newFuture(kindSubOrchestration, name)
	c.d.emit(Command{Kind: CmdScheduleSubOrchestration, Name: name, Version: opts.Version, Instance: opts.InstanceID, Input: payload}, f)
	return f
}

// StartOrchestration starts an independent orchestration (fire and forget).
func (c *Context) StartOrchestration(name, instanceID string, input any) error {
	return c.StartOrchestrationVersioned(name, "", instanceID, input)
}

// StartOrchestrationVersioned starts an independent orchestration at an
// exact version ("" uses the registry's policy).
func (c *Context) StartOrchestrationVersioned(name, version, instanceID string, input any) error {
	payload, err := EncodePayload(input)
	if err != nil {
		return fmt.Errorf("start orchestration %q: %w", name, err)
	}
	c.d.emit(Command{Kind: CmdStartOrchestration, Name: name, Version: version, Instance: instanceID, Input: payload}, nil)
	return nil
}

// ContinueAsNew ends this execution and starts the next one with input.
// Return the error it gives from the orchestration function:
//
//	return "", ctx.ContinueAsNew(next)
func (c *Context) ContinueAsNew(input any) error {
	return c.ContinueAsNewVersioned("", input)
}

// ContinueAsNewVersioned is ContinueAsNew to an exact version ("" uses the
// registry's policy, normally the newest loaded module): the way a
// long-running instance moves to a newly deployed module.
func (c *Context) ContinueAsNewVersioned(version string, input any) error {
	payload, err := EncodePayload(input)
	if err != nil {
		return fmt.Errorf("continue as new: %w", err)
	}
	can := &ContinueAsNewError{Input: payload, Version: version}
	c.d.can = can
	return can
}

// All returns a future resolved when every future is resolved. Its error is
// the first branch error in argument order; Await can decode every branch's
// value into a slice.
func (c *Context) All(fs ...*Future) *Future {
	f := c.d.newFuture(kindAll, "")
	f.children = fs
	for _, ch := range fs {
		ch.parents = append(ch.parents, f)
	}
	if len(fs) == 0 {
		f.resolve("", nil)
		return f
	}
	f.childResolved(nil)
	return f
}

// Race returns a future resolved by the first of fs to resolve, in history
// order — the same winner on every replay. The losers are cancelled.
// Winner tells which branch won; Await yields the winner's value and error.
func (c *Context) Race(fs ...*Future) *Future {
	f := c.d.newFuture(kindRace, "")
	f.children = fs
	for _, ch := range fs {
		ch.parents = append(ch.parents, f)
	}
	for _, ch := range fs {
		if ch.ready {
			f.childResolved(ch)
			break
		}
	}
	return f
}

// Select races fs, waits for the winner and returns its index and error.
func (c *Context) Select(fs ...*Future) (int, error) {
	r := c.Race(fs...)
	err := r.Await(nil)
	return r.Winner(), err
}

// Go runs fn as a coroutine of this orchestration and returns a future
// resolved with its result (encoded with the payload codec). Coroutines take
// turns deterministically; cancelling the future (for example when it loses
// a Race) cancels the coroutine and everything it is waiting for.
func (c *Context) Go(fn func(ctx *Context) (any, error)) *Future {
	f := c.d.newFuture(kindCoroutine, "")
	co := c.d.newCoroutine(func(ctx *Context) (string, error) {
		v, err := fn(ctx)
		if err != nil {
			return "", err
		}
		return EncodePayload(v)
	})
	co.future = f
	f.co = co
	return f
}

func (c *Context) systemCall(op, args string) *Future {
	f := c.d.newFuture(kindSystemCall, op)
	c.d.emit(Command{Kind: CmdSystemCall, Op: op, Input: args}, f)
	return f
}

// NewGUID returns a random UUID, recorded in history so replays see the same one.
func (c *Context) NewGUID() (string, error) {
	var g string
	err := c.systemCall(OpNewGUID, "").Await(&g)
	return g, err
}

// UtcNow returns the current time, recorded in history so replays see the
// same one. (time.Now inside a guest is a logical clock, not the time.)
func (c *Context) UtcNow() (time.Time, error) {
	var s string
	if err := c.systemCall(OpUtcNow, "").Await(&s); err != nil {
		return time.Time{}, err
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("utc_now returned %q: %w", s, err)
	}
	return time.UnixMilli(ms).UTC(), nil
}

// GetKVValueFromInstance reads a key of another instance's KV store. The
// value read is recorded in history, so replays see the same one.
func (c *Context) GetKVValueFromInstance(instance, key string) (string, bool, error) {
	args, _ := json.Marshal(map[string]string{"instance": instance, "key": key})
	var raw json.RawMessage
	if err := c.systemCall(OpGetKV, string(args)).Await(&raw); err != nil {
		return "", false, err
	}
	var v *string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", false, fmt.Errorf("get_kv returned %q: %w", raw, err)
	}
	if v == nil {
		return "", false, nil
	}
	return *v, true, nil
}

// SetCustomStatus publishes a status string clients can read while the
// instance runs (and after). It is carried over continue-as-new.
func (c *Context) SetCustomStatus(status string) {
	s := status
	c.d.customStatus = &s
	c.d.emit(Command{Kind: CmdSetCustomStatus, Status: &s}, nil)
}

// ResetCustomStatus clears the custom status.
func (c *Context) ResetCustomStatus() {
	c.d.customStatus = nil
	c.d.emit(Command{Kind: CmdSetCustomStatus}, nil)
}

// GetCustomStatus returns the custom status as this code last set it (or as
// carried over a continue-as-new).
func (c *Context) GetCustomStatus() (string, bool) {
	if c.d.customStatus == nil {
		return "", false
	}
	return *c.d.customStatus, true
}

// SetKVValue sets a key of this instance's KV store. Clients and other
// orchestrations can read it, also after the instance ends.
func (c *Context) SetKVValue(key, value string) {
	c.d.kv[key] = value
	c.d.emit(Command{Kind: CmdSetKV, Key: key, Value: value}, nil)
}

// GetKVValue reads a key of this instance's KV store.
func (c *Context) GetKVValue(key string) (string, bool) {
	v, ok := c.d.kv[key]
	return v, ok
}

// GetKVAllValues returns a copy of this instance's KV store.
func (c *Context) GetKVAllValues() map[string]string { return maps.Clone(c.d.kv) }

// GetKVAllKeys returns the keys of this instance's KV store, sorted.
func (c *Context) GetKVAllKeys() []string { return slices.Sorted(maps.Keys(c.d.kv)) }

// ClearKVValue removes a key.
func (c *Context) ClearKVValue(key string) {
	delete(c.d.kv, key)
	c.d.emit(Command{Kind: CmdClearKV, Key: key}, nil)
}

// ClearAllKVValues removes every key.
func (c *Context) ClearAllKVValues() {
	clear(c.d.kv)
	c.d.emit(Command{Kind: CmdClearAllKV}, nil)
}
