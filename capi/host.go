package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
	"github.com/duroxide/duroxide/core/replay"
	"github.com/duroxide/duroxide/core/runtime"
)

// A hostRuntime is a core runtime whose orchestrations and activities are
// served by the host language. Go never calls into the host: each turn of a
// host orchestration and each host activity becomes an item on the
// runtime's poll queue, and the Go goroutine that needs the answer waits
// until the host calls dx_complete_activation / dx_complete_activity.

// runtimeOptions is the JSON of dx_runtime_new's options. Zero fields take
// the core defaults (runtime.Options documents them).
type runtimeOptions struct {
	OrchestrationConcurrency    int              `json:"orchestration_concurrency"`
	WorkerConcurrency           int              `json:"worker_concurrency"`
	OrchestratorLockTimeoutMs   int64            `json:"orchestrator_lock_timeout_ms"`
	WorkerLockTimeoutMs         int64            `json:"worker_lock_timeout_ms"`
	PollTimeoutMs               int64            `json:"poll_timeout_ms"`
	MaxAttempts                 int              `json:"max_attempts"`
	UnregisteredBackoffMs       int64            `json:"unregistered_backoff_ms"`
	UnregisteredBackoffMaxMs    int64            `json:"unregistered_backoff_max_ms"`
	ActivityCancellationGraceMs int64            `json:"activity_cancellation_grace_ms"`
	InstanceCacheSize           int              `json:"instance_cache_size"`
	WorkerNodeID                string           `json:"worker_node_id"`
	SessionLockTimeoutMs        int64            `json:"session_lock_timeout_ms"`
	WorkerTagFilter             *tagFilterOption `json:"worker_tag_filter"`
	// ActivationTimeoutMs bounds how long a turn waits for the host to
	// answer an activation before it is abandoned and retried. Default 60 s.
	ActivationTimeoutMs int64 `json:"activation_timeout_ms"`
	// LogLevel enables the core's logs on stderr: debug, info, warn, error.
	// Default: none.
	LogLevel string          `json:"log_level"`
	Limits   *history.Limits `json:"limits"`
}

type tagFilterOption struct {
	Mode string   `json:"mode"` // default_only, tags, default_and, any, none
	Tags []string `json:"tags"`
}

func (o *runtimeOptions) toCore() (runtime.Options, error) {
	r := runtime.Options{
		OrchestrationConcurrency:  o.OrchestrationConcurrency,
		WorkerConcurrency:         o.WorkerConcurrency,
		OrchestratorLockTimeout:   ms(o.OrchestratorLockTimeoutMs),
		WorkerLockTimeout:         ms(o.WorkerLockTimeoutMs),
		PollTimeout:               ms(o.PollTimeoutMs),
		MaxAttempts:               o.MaxAttempts,
		UnregisteredBackoff:       ms(o.UnregisteredBackoffMs),
		UnregisteredBackoffMax:    ms(o.UnregisteredBackoffMaxMs),
		ActivityCancellationGrace: ms(o.ActivityCancellationGraceMs),
		InstanceCacheSize:         o.InstanceCacheSize,
		WorkerNodeID:              o.WorkerNodeID,
		SessionLockTimeout:        ms(o.SessionLockTimeoutMs),
	}
	if o.Limits != nil {
		r.Limits = *o.Limits
	}
	if f := o.WorkerTagFilter; f != nil {
		switch strings.ToLower(f.Mode) {
		case "", "default_only":
			r.WorkerTagFilter.Mode = provider.TagDefaultOnly
		case "tags", "only":
			r.WorkerTagFilter.Mode = provider.TagOnly
		case "default_and":
			r.WorkerTagFilter.Mode = provider.TagDefaultAnd
		case "any":
			r.WorkerTagFilter.Mode = provider.TagAny
		case "none":
			r.WorkerTagFilter.Mode = provider.TagNone
		default:
			return r, invalidf("worker_tag_filter mode %q: want default_only, tags, default_and, any or none", f.Mode)
		}
		r.WorkerTagFilter.Tags = f.Tags
	}
	if lvl := strings.ToLower(o.LogLevel); lvl != "" && lvl != "none" && lvl != "off" {
		var l slog.Level
		if err := l.UnmarshalText([]byte(lvl)); err != nil {
			return r, invalidf("log_level %q: want debug, info, warn or error", o.LogLevel)
		}
		r.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
	}
	return r, nil
}

const (
	stateNew = iota
	stateRunning
	stateStopping
	stateStopped
)

type hostRuntime struct {
	store             *storeEntry
	reg               *runtime.Registry
	opts              runtime.Options
	activationTimeout time.Duration
	cancelGrace       time.Duration
	q                 *pollQueue
	closed            chan struct{} // closed once the runtime has stopped

	mu    sync.Mutex
	state int
	rt    *runtime.Runtime

	nextID  atomic.Uint64
	drivers sync.Map // driver id → *hostDriver
	tasks   sync.Map // task id → *hostTask

	activations  atomic.Int64
	activationNs atomic.Int64
	hostTasks    atomic.Int64
}

func newHostRuntime(s *storeEntry, optsJSON []byte) (*hostRuntime, error) {
	var o runtimeOptions
	if len(optsJSON) > 0 {
		if err := decodeJSON(optsJSON, &o); err != nil {
			return nil, invalidf("runtime options: %v", err)
		}
	}
	co, err := o.toCore()
	if err != nil {
		return nil, err
	}
	if err := s.acquire(); err != nil {
		return nil, err
	}
	h := &hostRuntime{
		store:             s,
		reg:               runtime.NewRegistry(),
		opts:              co,
		activationTimeout: ms(o.ActivationTimeoutMs),
		cancelGrace:       ms(o.ActivityCancellationGraceMs),
		q:                 newPollQueue(),
		closed:            make(chan struct{}),
	}
	if h.activationTimeout <= 0 {
		h.activationTimeout = time.Minute
	}
	if h.cancelGrace <= 0 {
		h.cancelGrace = 10 * time.Second
	}
	return h, nil
}

func (h *hostRuntime) isClosed() bool {
	select {
	case <-h.closed:
		return true
	default:
		return false
	}
}

func (h *hostRuntime) registerOrchestration(name, version string) error {
	if version == "" {
		version = runtime.DefaultVersion
	}
	return h.reg.RegisterOrchestrationHandler(name, version, &hostHandler{h: h, name: name, regVersion: version})
}

func (h *hostRuntime) registerActivity(name string) error {
	return h.reg.RegisterActivity(name, h.activityFunc(name))
}

func (h *hostRuntime) start() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch h.state {
	case stateRunning:
		return errors.New("the runtime is already running")
	case stateStopping, stateStopped:
		return errors.New("the runtime was shut down; create a new one")
	}
	opts := h.opts
	rt, err := runtime.Start(context.Background(), h.store.p, h.reg, &opts)
	if err != nil {
		return err
	}
	h.rt, h.state = rt, stateRunning
	return nil
}

// shutdown stops the core runtime (draining in-flight turns and activities
// for up to timeout, while the host keeps polling), then closes the poll
// queue so the host's pollers end. Idempotent.
func (h *hostRuntime) shutdown(timeout time.Duration) error {
	h.mu.Lock()
	if h.state == stateStopping || h.state == stateStopped {
		h.mu.Unlock()
		<-h.closed
		return nil
	}
	rt := h.rt
	h.state = stateStopping
	h.mu.Unlock()
	var err error
	if rt != nil {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err = rt.Stop(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("shutdown: in-flight work did not finish within %v and was cancelled (it will run again)", timeout)
		}
	}
	h.mu.Lock()
	h.state = stateStopped
	h.mu.Unlock()
	close(h.closed)
	h.q.close()
	h.store.release()
	return err
}

func (h *hostRuntime) push(v any) bool {
	b, err := encodeJSON(v)
	if err != nil {
		// Every item is built from Go values that encode; log and drop.
		h.opts.Logger.Error("capi: cannot encode a poll item", "error", err)
		return false
	}
	return h.q.push(b)
}

// pollItem is one message of dx_poll's array. Type says which fields are set.
type pollItem struct {
	Protocol int    `json:"protocol"`
	Type     string `json:"type"`
	// activation, driver_closed
	DriverID          uint64             `json:"driver_id,omitempty"`
	RegisteredVersion string             `json:"registered_version,omitempty"`
	Activation        *replay.Activation `json:"activation,omitempty"`
	// activity, activity_cancelled
	TaskID uint64        `json:"task_id,omitempty"`
	Name   string        `json:"name,omitempty"`
	Input  *string       `json:"input,omitempty"`
	Info   *activityInfo `json:"info,omitempty"`
}

// Poll item types.
const (
	itemActivation        = "activation"
	itemDriverClosed      = "driver_closed"
	itemActivity          = "activity"
	itemActivityCancelled = "activity_cancelled"
	itemClientResult      = "client_result"
)

// ---------------------------------------------------------------------
// Orchestrations.

type hostHandler struct {
	h          *hostRuntime
	name       string
	regVersion string
}

func (hh *hostHandler) NewDriver(*slog.Logger) (replay.Driver, error) {
	h := hh.h
	if h.isClosed() {
		return nil, errors.New("the host runtime is shut down")
	}
	d := &hostDriver{h: h, id: h.nextID.Add(1), regVersion: hh.regVersion}
	h.drivers.Store(d.id, d)
	return d, nil
}

// hostDriver forwards activations to the host: one poll item and one
// dx_complete_activation per activation.
type hostDriver struct {
	h          *hostRuntime
	id         uint64
	regVersion string

	mu      sync.Mutex
	pending chan activationReply // set while an activation waits
	closed  bool
}

type activationReply struct {
	cmds []replay.Command
	err  error
}

// activationResult is the JSON the host completes an activation with.
type activationResult struct {
	Protocol int              `json:"protocol"`
	Commands []replay.Command `json:"commands"`
	// Error, when set, means the host could not run the code at all; the
	// turn is abandoned and retried.
	Error string `json:"error"`
}

func (d *hostDriver) Activate(ctx context.Context, a *replay.Activation) ([]replay.Command, error) {
	h := d.h
	reply := make(chan activationReply, 1)
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, errors.New("driver is closed")
	}
	d.pending = reply
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		if d.pending == reply {
			d.pending = nil
		}
		d.mu.Unlock()
	}()
	t0 := time.Now()
	if !h.push(&pollItem{Protocol: replay.ProtocolVersion, Type: itemActivation, DriverID: d.id, RegisteredVersion: d.regVersion, Activation: a}) {
		return nil, errors.New("the host runtime is shut down")
	}
	timer := time.NewTimer(h.activationTimeout)
	defer timer.Stop()
	select {
	case r := <-reply:
		h.activations.Add(1)
		h.activationNs.Add(int64(time.Since(t0)))
		return r.cmds, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-h.closed:
		return nil, errors.New("the host runtime is shut down")
	case <-timer.C:
		return nil, fmt.Errorf("the host did not answer the activation of %q within %v (is it polling?)", a.Instance, h.activationTimeout)
	}
}

func (d *hostDriver) Close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	d.mu.Unlock()
	d.h.drivers.Delete(d.id)
	d.h.push(&pollItem{Protocol: replay.ProtocolVersion, Type: itemDriverClosed, DriverID: d.id})
}

func (h *hostRuntime) completeActivation(driverID uint64, data []byte) error {
	v, ok := h.drivers.Load(driverID)
	if !ok {
		return notFoundf("driver %d is closed or unknown", driverID)
	}
	d := v.(*hostDriver)
	var res activationResult
	decErr := decodeJSON(data, &res)
	if decErr == nil && res.Protocol != 0 && res.Protocol != replay.ProtocolVersion {
		decErr = fmt.Errorf("activation result protocol %d, this library speaks %d", res.Protocol, replay.ProtocolVersion)
	}
	d.mu.Lock()
	reply := d.pending
	d.pending = nil
	d.mu.Unlock()
	if reply == nil {
		return notFoundf("driver %d has no activation waiting (it timed out or was already completed)", driverID)
	}
	var r activationReply
	switch {
	case decErr != nil:
		r.err = fmt.Errorf("bad activation result from the host: %w", decErr)
	case res.Error != "":
		r.err = fmt.Errorf("host driver failed: %s", res.Error)
	default:
		r.cmds = res.Commands
	}
	reply <- r
	if decErr != nil {
		return invalidf("activation result: %v", decErr)
	}
	return nil
}

// ---------------------------------------------------------------------
// Activities.

type activityInfo struct {
	InstanceID           string `json:"instance_id"`
	ExecutionID          uint64 `json:"execution_id"`
	OrchestrationName    string `json:"orchestration_name"`
	OrchestrationVersion string `json:"orchestration_version"`
	ActivityName         string `json:"activity_name"`
	ActivityID           uint64 `json:"activity_id"`
	Attempt              int    `json:"attempt"`
	SessionID            string `json:"session_id,omitempty"`
	Tag                  string `json:"tag,omitempty"`
	WorkerID             string `json:"worker_id"`
}

type hostTask struct {
	done chan taskResult // buffered 1
}

type taskResult struct {
	out string
	err error
}

// activityError is the JSON a host fails an activity with.
type activityError struct {
	Message string `json:"message"`
	Type    string `json:"error_type"`
}

func (h *hostRuntime) activityFunc(name string) activity.Func {
	return func(actx *activity.Context, input string) (string, error) {
		id := h.nextID.Add(1)
		t := &hostTask{done: make(chan taskResult, 1)}
		h.tasks.Store(id, t)
		defer h.tasks.Delete(id)
		inf := actx.Info()
		in := input
		if !h.push(&pollItem{Protocol: replay.ProtocolVersion, Type: itemActivity, TaskID: id, Name: name, Input: &in, Info: &activityInfo{
			InstanceID: inf.InstanceID, ExecutionID: inf.ExecutionID, OrchestrationName: inf.OrchestrationName,
			OrchestrationVersion: inf.OrchestrationVersion, ActivityName: inf.ActivityName, ActivityID: inf.ActivityID,
			Attempt: inf.Attempt, SessionID: inf.SessionID, Tag: inf.Tag, WorkerID: inf.WorkerID,
		}}) {
			return "", errors.New("the host runtime is shut down")
		}
		h.hostTasks.Add(1)
		select {
		case r := <-t.done:
			return r.out, r.err
		case <-h.closed:
			return "", errors.New("the host runtime is shut down")
		case <-actx.Done():
		}
		// Cancelled: tell the host (its ctx.is_cancelled() turns true) and
		// give the code its grace period to finish.
		h.push(&pollItem{Protocol: replay.ProtocolVersion, Type: itemActivityCancelled, TaskID: id})
		timer := time.NewTimer(h.cancelGrace)
		defer timer.Stop()
		select {
		case r := <-t.done:
			return r.out, r.err
		case <-h.closed:
		case <-timer.C:
		}
		return "", fmt.Errorf("activity %q cancelled: %w", name, context.Cause(actx))
	}
}

func (h *hostRuntime) completeActivity(taskID uint64, ok bool, data []byte) error {
	v, found := h.tasks.Load(taskID)
	if !found {
		return notFoundf("activity task %d is not pending (it was cancelled, timed out or already completed)", taskID)
	}
	t := v.(*hostTask)
	var r taskResult
	var retErr error
	if ok {
		r.out = string(data)
	} else {
		var ae activityError
		if len(data) > 0 && data[0] == '{' {
			if err := decodeJSON(data, &ae); err != nil {
				ae.Message = string(data)
			}
		} else {
			ae.Message = string(data)
		}
		if ae.Message == "" {
			ae.Message = "activity failed"
			if ae.Type != "" {
				ae.Message = ae.Type
			}
		}
		r.err = &history.ErrorDetails{Category: history.CategoryApplication, Kind: history.KindActivityFailed, Message: ae.Message, Type: ae.Type}
	}
	select {
	case t.done <- r:
	default:
		retErr = notFoundf("activity task %d was already completed", taskID)
	}
	return retErr
}

// hostMetrics is dx_runtime_metrics' JSON: the core counters plus the host
// round-trip figures.
type hostMetrics struct {
	runtime.Metrics
	HostActivations    int64 `json:"host_activations"`
	HostActivationNs   int64 `json:"host_activation_ns_total"`
	HostActivityTasks  int64 `json:"host_activity_tasks"`
	CachedInstances    int   `json:"cached_instances"`
	HostDriversOpen    int   `json:"host_drivers_open"`
	HostActivitiesOpen int   `json:"host_activities_open"`
}

func (h *hostRuntime) metrics() hostMetrics {
	var m hostMetrics
	h.mu.Lock()
	rt := h.rt
	h.mu.Unlock()
	if rt != nil {
		m.Metrics = rt.Metrics()
		m.CachedInstances = rt.CachedInstances()
	}
	m.HostActivations = h.activations.Load()
	m.HostActivationNs = h.activationNs.Load()
	m.HostActivityTasks = h.hostTasks.Load()
	h.drivers.Range(func(any, any) bool { m.HostDriversOpen++; return true })
	h.tasks.Range(func(any, any) bool { m.HostActivitiesOpen++; return true })
	return m
}
