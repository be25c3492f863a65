// Package client starts, signals, inspects and manages orchestration
// instances. A Client talks only to the store: it never needs a runtime in
// the same process, so any process sharing the store (a web handler, a CLI,
// a Python script) can drive instances that runtimes elsewhere execute.
package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

// Errors callers branch on; test with errors.Is. Store conditions
// (provider.ErrInstanceNotFound, provider.ErrInstanceRunning, …) pass through.
var (
	// ErrInvalidInput: an argument was empty, too long or not encodable.
	ErrInvalidInput = errors.New("invalid input")
	// ErrTimeout: a wait ended before its condition held.
	ErrTimeout = errors.New("timed out")
	// ErrManagementNotAvailable: the store does not implement provider.Admin.
	ErrManagementNotAvailable = errors.New("management not available: the store does not implement provider.Admin")
)

// Options configure a Client. A nil *Options uses the defaults.
type Options struct {
	// Limits bound names and payloads (default history.Limits defaults).
	Limits history.Limits
	// PollInterval caps the wait between status polls (default 100 ms).
	// Waits poll from 5 ms, doubling up to it, and wake at once on
	// changes made in this process when the store can notify.
	PollInterval time.Duration
}

// Client drives instances through a store.
type Client struct {
	p       provider.Provider
	limits  history.Limits
	pollMax time.Duration
}

// New returns a client on the store p.
func New(p provider.Provider, opts *Options) *Client {
	c := &Client{p: p, pollMax: 100 * time.Millisecond}
	if opts != nil {
		c.limits = opts.Limits
		if opts.PollInterval > 0 {
			c.pollMax = opts.PollInterval
		}
	}
	c.limits = c.limits.WithDefaults()
	return c
}

// Provider returns the client's store.
func (c *Client) Provider() provider.Provider { return c.p }

func (c *Client) invalid(err error) error {
	return fmt.Errorf("%w: %v", ErrInvalidInput, err)
}

func (c *Client) checkInstance(instance string) error {
	if err := c.limits.CheckName("instance id", instance); err != nil {
		return c.invalid(err)
	}
	return nil
}

func (c *Client) encode(what string, v any) (string, error) {
	s, err := history.EncodePayload(v)
	if err != nil {
		return "", c.invalid(fmt.Errorf("%s: %w", what, err))
	}
	if err := c.limits.CheckPayload(what, s); err != nil {
		return "", c.invalid(err)
	}
	return s, nil
}

// StartOrchestration starts instance as a new run of the orchestration
// name, at the version the runtime's policy picks, with input (encoded with
// the payload codec: a string travels raw, anything else as JSON). It
// returns once the start is stored. Starting an existing instance id does
// nothing: the instance keeps its history and result.
func (c *Client) StartOrchestration(ctx context.Context, instance, name string, input any) error {
	return c.StartOrchestrationVersioned(ctx, instance, name, "", input)
}

// StartOrchestrationVersioned starts an instance at an exact version.
func (c *Client) StartOrchestrationVersioned(ctx context.Context, instance, name, version string, input any) error {
	if err := c.checkInstance(instance); err != nil {
		return err
	}
	if err := c.limits.CheckName("orchestration name", name); err != nil {
		return c.invalid(err)
	}
	if version != "" {
		if _, err := provider.ParseSemver(version); err != nil {
			return c.invalid(err)
		}
	}
	payload, err := c.encode(fmt.Sprintf("input of orchestration %q", name), input)
	if err != nil {
		return err
	}
	item := history.WorkItem{Kind: history.WorkStartOrchestration, Instance: instance, ExecutionID: 1, Name: name, Version: version, Input: payload}
	if err := c.p.EnqueueForOrchestrator(ctx, item, 0); err != nil {
		return fmt.Errorf("start orchestration %q as %q: %w", name, instance, err)
	}
	return nil
}

// RaiseEvent raises the external event name with data on an instance. The
// event waits, buffered, until the code's next WaitForEvent(name) takes it.
func (c *Client) RaiseEvent(ctx context.Context, instance, name string, data any) error {
	return c.sendEvent(ctx, history.WorkExternalRaised, instance, name, data)
}

// EnqueueEvent puts data on the instance's event queue (DequeueEvent).
func (c *Client) EnqueueEvent(ctx context.Context, instance, queue string, data any) error {
	return c.sendEvent(ctx, history.WorkQueueMessage, instance, queue, data)
}

func (c *Client) sendEvent(ctx context.Context, kind history.WorkItemKind, instance, name string, data any) error {
	if err := c.checkInstance(instance); err != nil {
		return err
	}
	if err := c.limits.CheckName("event name", name); err != nil {
		return c.invalid(err)
	}
	payload, err := c.encode(fmt.Sprintf("data of event %q", name), data)
	if err != nil {
		return err
	}
	item := history.WorkItem{Kind: kind, Instance: instance, Name: name, Data: payload}
	if err := c.p.EnqueueForOrchestrator(ctx, item, 0); err != nil {
		return fmt.Errorf("send event %q to %q: %w", name, instance, err)
	}
	return nil
}

// CancelInstance asks an instance to stop. Its pending work is cancelled,
// its children are cancelled, and it ends Failed with a cancellation error
// carrying reason. Cancelling an ended instance does nothing.
func (c *Client) CancelInstance(ctx context.Context, instance, reason string) error {
	if err := c.checkInstance(instance); err != nil {
		return err
	}
	if err := c.limits.CheckPayload("cancel reason", reason); err != nil {
		return c.invalid(err)
	}
	item := history.WorkItem{Kind: history.WorkCancelInstance, Instance: instance, Reason: reason}
	if err := c.p.EnqueueForOrchestrator(ctx, item, 0); err != nil {
		return fmt.Errorf("cancel %q: %w", instance, err)
	}
	return nil
}

// State is an instance's runtime state as the client reports it.
type State string

// Instance states.
const (
	StateRunning   State = "Running"
	StateCompleted State = "Completed"
	StateFailed    State = "Failed"
	StateNotFound  State = "NotFound"
)

// Status is an instance's status.
type Status struct {
	Instance string `json:"instance"`
	State    State  `json:"status"`
	// Output is the orchestration's output when Completed.
	Output string `json:"output,omitempty"`
	// Error describes the failure when Failed.
	Error *history.ErrorDetails `json:"error,omitempty"`
	// CustomStatus is the last value the orchestration set, nil if none.
	CustomStatus *string `json:"custom_status,omitempty"`
	// CustomStatusVersion counts custom status changes.
	CustomStatusVersion uint64 `json:"custom_status_version,omitempty"`
	Name                string `json:"name,omitempty"`
	Version             string `json:"version,omitempty"`
	ExecutionID         uint64 `json:"execution_id,omitempty"`
}

// IsTerminal reports whether the instance has ended.
func (s *Status) IsTerminal() bool { return s.State == StateCompleted || s.State == StateFailed }

// DecodeOutput decodes a Completed instance's output into out.
func (s *Status) DecodeOutput(out any) error { return history.DecodePayload(s.Output, out) }

// ErrorMessage is the failure's display message ("" unless Failed).
func (s *Status) ErrorMessage() string { return s.Error.DisplayMessage() }

// GetStatus reads an instance's status from its latest execution.
func (c *Client) GetStatus(ctx context.Context, instance string) (*Status, error) {
	if err := c.checkInstance(instance); err != nil {
		return nil, err
	}
	evs, err := c.p.Read(ctx, instance)
	if err != nil {
		return nil, fmt.Errorf("status of %q: %w", instance, err)
	}
	st := &Status{Instance: instance, State: StateNotFound}
	if len(evs) == 0 {
		return st, nil
	}
	first, last := evs[0], evs[len(evs)-1]
	st.Name, st.Version, st.ExecutionID = first.Name, first.Version, first.ExecutionID
	switch last.Kind {
	case history.OrchestrationCompleted:
		st.State, st.Output = StateCompleted, last.Output
	case history.OrchestrationFailed:
		st.State, st.Error = StateFailed, last.Error
		if st.Error == nil {
			st.Error = history.AppError(history.KindOrchestrationFailed, "failed without details")
		}
	default:
		st.State = StateRunning
	}
	cs, ver, changed, err := c.p.GetCustomStatus(ctx, instance, 0)
	if err != nil {
		return nil, fmt.Errorf("custom status of %q: %w", instance, err)
	}
	if changed {
		st.CustomStatus, st.CustomStatusVersion = cs, ver
	}
	return st, nil
}

// poll calls check until it reports done. Between calls it waits for an
// in-process change of the instance (when the store can notify) or for an
// interval that grows from 5 ms to the client's PollInterval. It returns
// ErrTimeout when timeout passes first.
func (c *Client) poll(ctx context.Context, instance string, timeout time.Duration, check func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	delay := 5 * time.Millisecond
	notifier, _ := c.p.(provider.Notifier)
	for {
		var changed <-chan struct{}
		stop := func() {}
		if notifier != nil {
			changed, stop = notifier.WatchInstance(instance)
		}
		done, err := check()
		if err != nil || done {
			stop()
			return err
		}
		wait := min(delay, time.Until(deadline))
		if wait <= 0 {
			stop()
			return ErrTimeout
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-changed:
		case <-t.C:
			delay = min(delay*2, c.pollMax)
		}
		t.Stop()
		stop()
		if err != nil {
			return err
		}
	}
}

// WaitForOrchestration waits until the instance has ended (Completed or
// Failed) and returns its status; ErrTimeout when timeout passes first.
func (c *Client) WaitForOrchestration(ctx context.Context, instance string, timeout time.Duration) (*Status, error) {
	var st *Status
	err := c.poll(ctx, instance, timeout, func() (bool, error) {
		var err error
		st, err = c.GetStatus(ctx, instance)
		return err == nil && st.IsTerminal(), err
	})
	if errors.Is(err, ErrTimeout) {
		return st, fmt.Errorf("wait for %q: %w after %v (status %s)", instance, ErrTimeout, timeout, st.State)
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// WaitForStatusChange waits until the instance's custom status version
// exceeds lastSeenVersion, or the instance ends, and returns its status.
func (c *Client) WaitForStatusChange(ctx context.Context, instance string, lastSeenVersion uint64, timeout time.Duration) (*Status, error) {
	if err := c.checkInstance(instance); err != nil {
		return nil, err
	}
	var st *Status
	err := c.poll(ctx, instance, timeout, func() (bool, error) {
		_, _, changed, err := c.p.GetCustomStatus(ctx, instance, lastSeenVersion)
		if err != nil {
			return false, fmt.Errorf("custom status of %q: %w", instance, err)
		}
		st, err = c.GetStatus(ctx, instance)
		return err == nil && (changed || st.IsTerminal()), err
	})
	if errors.Is(err, ErrTimeout) {
		return st, fmt.Errorf("wait for a status change of %q: %w after %v", instance, ErrTimeout, timeout)
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// ReadHistory returns the latest execution's history.
func (c *Client) ReadHistory(ctx context.Context, instance string) ([]history.Event, error) {
	if err := c.checkInstance(instance); err != nil {
		return nil, err
	}
	evs, err := c.p.Read(ctx, instance)
	if err != nil {
		return nil, fmt.Errorf("read history of %q: %w", instance, err)
	}
	return evs, nil
}

// ReadExecutionHistory returns one execution's history.
func (c *Client) ReadExecutionHistory(ctx context.Context, instance string, executionID uint64) ([]history.Event, error) {
	if err := c.checkInstance(instance); err != nil {
		return nil, err
	}
	evs, err := c.p.ReadWithExecution(ctx, instance, executionID)
	if err != nil {
		return nil, fmt.Errorf("read history of %q execution %d: %w", instance, executionID, err)
	}
	return evs, nil
}

// GetKVValue reads a key of an instance's KV store (this execution's
// changes included). found is false for a missing key or instance.
func (c *Client) GetKVValue(ctx context.Context, instance, key string) (value string, found bool, err error) {
	if err := c.checkInstance(instance); err != nil {
		return "", false, err
	}
	v, ok, err := c.p.GetKVValue(ctx, instance, key)
	if err != nil {
		return "", false, fmt.Errorf("read KV %q of %q: %w", key, instance, err)
	}
	return v, ok, nil
}

// GetKVAllValues reads every key of an instance's KV store.
func (c *Client) GetKVAllValues(ctx context.Context, instance string) (map[string]string, error) {
	if err := c.checkInstance(instance); err != nil {
		return nil, err
	}
	m, err := c.p.GetKVAllValues(ctx, instance)
	if err != nil {
		return nil, fmt.Errorf("read KV of %q: %w", instance, err)
	}
	return m, nil
}

// WaitForKVValue waits until the key exists and returns its value.
func (c *Client) WaitForKVValue(ctx context.Context, instance, key string, timeout time.Duration) (string, error) {
	var v string
	err := c.poll(ctx, instance, timeout, func() (bool, error) {
		var ok bool
		var err error
		v, ok, err = c.GetKVValue(ctx, instance, key)
		return ok, err
	})
	if errors.Is(err, ErrTimeout) {
		return "", fmt.Errorf("wait for KV %q of %q: %w after %v", key, instance, ErrTimeout, timeout)
	}
	return v, err
}
