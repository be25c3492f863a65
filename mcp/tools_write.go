package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/duroxide/duroxide/core/provider"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// StartInput starts an orchestration.
type StartInput struct {
	InstanceID string          `json:"instance_id" jsonschema:"the id of the new instance (choose a unique one, e.g. order-1234)"`
	Name       string          `json:"name" jsonschema:"the orchestration name, as registered by the runtime"`
	Version    string          `json:"version,omitempty" jsonschema:"an exact orchestration version (semver, e.g. 1.0.0); default: the runtime's choice"`
	Input      json.RawMessage `json:"input,omitempty" jsonschema:"the orchestration input: any JSON value (a JSON string is passed as plain text)"`
}

// StartOutput reports a start.
type StartOutput struct {
	InstanceID    string `json:"instance_id"`
	Accepted      bool   `json:"accepted" jsonschema:"true when a new start was queued"`
	AlreadyExists bool   `json:"already_exists,omitempty" jsonschema:"true when the instance already existed, so nothing was started"`
	Message       string `json:"message"`
}

// EventInput raises an event on an instance.
type EventInput struct {
	InstanceID string          `json:"instance_id" jsonschema:"the instance that receives the event"`
	EventName  string          `json:"event_name" jsonschema:"the event name the orchestration waits for"`
	Data       json.RawMessage `json:"data,omitempty" jsonschema:"the event data: any JSON value (a JSON string is passed as plain text)"`
}

// EnqueueInput puts a message on an instance's queue.
type EnqueueInput struct {
	InstanceID string          `json:"instance_id" jsonschema:"the instance that receives the message"`
	Queue      string          `json:"queue" jsonschema:"the queue name the orchestration dequeues from"`
	Data       json.RawMessage `json:"data,omitempty" jsonschema:"the message: any JSON value (a JSON string is passed as plain text)"`
}

// CancelInput cancels an instance.
type CancelInput struct {
	InstanceID string `json:"instance_id" jsonschema:"the instance to cancel"`
	Reason     string `json:"reason,omitempty" jsonschema:"why it is cancelled (recorded in its history and error; at most 4096 bytes)"`
}

// DeleteInput deletes an instance.
type DeleteInput struct {
	InstanceID string `json:"instance_id" jsonschema:"the root instance to delete (its sub-orchestrations are deleted with it)"`
	Force      bool   `json:"force,omitempty" jsonschema:"delete even if it is still running"`
}

// PruneInput prunes old executions.
type PruneInput struct {
	InstanceID      string `json:"instance_id" jsonschema:"the instance whose old executions (from continue-as-new) are deleted"`
	KeepLast        int    `json:"keep_last" jsonschema:"how many of the newest executions to keep (at least 1; the current one is always kept)"`
	CompletedBefore string `json:"completed_before,omitempty" jsonschema:"only prune executions that ended before this time: RFC 3339 or a duration before now (24h)"`
}

// AckOutput reports a message sent to an instance.
type AckOutput struct {
	InstanceID string `json:"instance_id"`
	Accepted   bool   `json:"accepted"`
	Message    string `json:"message"`
}

// DeleteOutput reports a delete.
type DeleteOutput struct {
	InstanceID string                `json:"instance_id"`
	Deleted    provider.DeleteResult `json:"deleted" jsonschema:"what was removed"`
}

// PruneOutput reports a prune.
type PruneOutput struct {
	InstanceID string               `json:"instance_id"`
	Pruned     provider.PruneResult `json:"pruned" jsonschema:"what was removed"`
}

func (s *Server) addWriteTools() {
	sdk.AddTool(s.srv, &sdk.Tool{
		Name:        "start_orchestration",
		InputSchema: inputSchema[StartInput](),
		Annotations: mutating("Start an orchestration", false, true),
		Description: "Start a new orchestration instance with an input. A runtime sharing the store runs it; check progress with get_instance. " +
			"Starting an id that already exists does nothing (already_exists=true).",
	}, handler("start_orchestration", s.start))
	sdk.AddTool(s.srv, &sdk.Tool{
		Name:        "raise_event",
		InputSchema: inputSchema[EventInput](),
		Annotations: mutating("Raise an event", false, false),
		Description: "Raise a named external event with data on a running instance; the orchestration receives it at its next wait for that event name " +
			"(events wait, buffered, until the code asks for them).",
	}, handler("raise_event", s.raise))
	sdk.AddTool(s.srv, &sdk.Tool{
		Name:        "enqueue_event",
		InputSchema: inputSchema[EnqueueInput](),
		Annotations: mutating("Enqueue a message", false, false),
		Description: "Put a message on an instance's named event queue; the orchestration takes messages in order when it dequeues from that queue.",
	}, handler("enqueue_event", s.enqueue))
	sdk.AddTool(s.srv, &sdk.Tool{
		Name:        "cancel_instance",
		InputSchema: inputSchema[CancelInput](),
		Annotations: mutating("Cancel an instance", true, true),
		Description: "Ask a running instance to stop: its pending work and sub-orchestrations are cancelled and it ends Failed with a cancellation error. " +
			"Cancelling an instance that has ended does nothing.",
	}, handler("cancel_instance", s.cancel))
	sdk.AddTool(s.srv, &sdk.Tool{
		Name:        "delete_instance",
		InputSchema: inputSchema[DeleteInput](),
		Annotations: mutating("Delete an instance", true, true),
		Description: "Delete a root instance, its history and all its sub-orchestrations from the store. A running instance is refused unless force=true. " +
			"This cannot be undone.",
	}, handler("delete_instance", s.delete))
	sdk.AddTool(s.srv, &sdk.Tool{
		Name:        "prune_executions",
		InputSchema: inputSchema[PruneInput](),
		Annotations: mutating("Prune old executions", true, true),
		Description: "Delete the old executions of an instance that continued as new, keeping the newest keep_last (the current execution is always kept).",
	}, handler("prune_executions", s.prune))
}

// requireInstance refuses a message for an instance the store does not hold.
func (s *Server) requireInstance(ctx context.Context, id string) error {
	ok, err := s.exists(ctx, id)
	if err != nil {
		return storeError("read", id, err)
	}
	if !ok {
		return fmt.Errorf("instance %q not found (if it was just started, it exists once a runtime has run its first step)", id)
	}
	return nil
}

func (s *Server) start(ctx context.Context, in StartInput) (StartOutput, error) {
	out := StartOutput{InstanceID: in.InstanceID}
	if err := checkID("instance_id", in.InstanceID); err != nil {
		return out, err
	}
	if err := checkID("name", in.Name); err != nil {
		return out, err
	}
	if in.Version != "" {
		if _, err := provider.ParseSemver(in.Version); err != nil {
			return out, fmt.Errorf("version %q: want major.minor.patch, e.g. 1.0.0", short(in.Version))
		}
	}
	input, err := payload("input", in.Input)
	if err != nil {
		return out, err
	}
	ok, err := s.exists(ctx, in.InstanceID)
	if err != nil {
		return out, storeError("start", in.InstanceID, err)
	}
	if ok {
		out.AlreadyExists = true
		out.Message = fmt.Sprintf("instance %q already exists; nothing was started (use get_instance to see it)", in.InstanceID)
		return out, nil
	}
	if err := s.c.StartOrchestrationVersioned(ctx, in.InstanceID, in.Name, in.Version, input); err != nil {
		return out, storeError("start", in.InstanceID, err)
	}
	out.Accepted = true
	out.Message = fmt.Sprintf("start of %q queued as instance %q; a runtime serving %q will run it", in.Name, in.InstanceID, in.Name)
	return out, nil
}

func (s *Server) raise(ctx context.Context, in EventInput) (AckOutput, error) {
	return s.sendEvent(ctx, in.InstanceID, "event_name", in.EventName, in.Data, s.c.RaiseEvent,
		"raise event on", fmt.Sprintf("event %q raised on %q", in.EventName, in.InstanceID))
}

func (s *Server) enqueue(ctx context.Context, in EnqueueInput) (AckOutput, error) {
	return s.sendEvent(ctx, in.InstanceID, "queue", in.Queue, in.Data, s.c.EnqueueEvent,
		"enqueue on", fmt.Sprintf("message put on queue %q of %q", in.Queue, in.InstanceID))
}

// sendEvent checks an event's instance, name and data, then hands it to
// send (RaiseEvent or EnqueueEvent) for an existing instance.
func (s *Server) sendEvent(ctx context.Context, instance, nameField, name string, rawData json.RawMessage,
	send func(context.Context, string, string, any) error, what, done string) (AckOutput, error) {
	out := AckOutput{InstanceID: instance}
	if err := checkID("instance_id", instance); err != nil {
		return out, err
	}
	if err := checkID(nameField, name); err != nil {
		return out, err
	}
	data, err := payload("data", rawData)
	if err != nil {
		return out, err
	}
	if err := s.requireInstance(ctx, instance); err != nil {
		return out, err
	}
	if err := send(ctx, instance, name, data); err != nil {
		return out, storeError(what, instance, err)
	}
	out.Accepted, out.Message = true, done
	return out, nil
}

func (s *Server) cancel(ctx context.Context, in CancelInput) (AckOutput, error) {
	out := AckOutput{InstanceID: in.InstanceID}
	if err := checkID("instance_id", in.InstanceID); err != nil {
		return out, err
	}
	if len(in.Reason) > MaxReasonBytes {
		return out, fmt.Errorf("reason is %d bytes long; the limit is %d bytes", len(in.Reason), MaxReasonBytes)
	}
	if err := s.requireInstance(ctx, in.InstanceID); err != nil {
		return out, err
	}
	reason := in.Reason
	if reason == "" {
		reason = "cancelled through MCP"
	}
	if err := s.c.CancelInstance(ctx, in.InstanceID, reason); err != nil {
		return out, storeError("cancel", in.InstanceID, err)
	}
	out.Accepted, out.Message = true, fmt.Sprintf("cancellation of %q requested (reason %q); it ends once a runtime processes it", in.InstanceID, reason)
	return out, nil
}

func (s *Server) delete(ctx context.Context, in DeleteInput) (DeleteOutput, error) {
	out := DeleteOutput{InstanceID: in.InstanceID}
	if err := checkID("instance_id", in.InstanceID); err != nil {
		return out, err
	}
	res, err := s.c.DeleteInstance(ctx, in.InstanceID, in.Force)
	if err != nil {
		return out, storeError("delete", in.InstanceID, err)
	}
	out.Deleted = *res
	return out, nil
}

func (s *Server) prune(ctx context.Context, in PruneInput) (PruneOutput, error) {
	out := PruneOutput{InstanceID: in.InstanceID}
	if err := checkID("instance_id", in.InstanceID); err != nil {
		return out, err
	}
	if in.KeepLast < 1 || in.KeepLast > 1_000_000 {
		return out, fmt.Errorf("keep_last %d is out of range: give 1 or more (the current execution is always kept)", in.KeepLast)
	}
	before, err := parseTime("completed_before", in.CompletedBefore, time.Now())
	if err != nil {
		return out, err
	}
	if _, err := s.c.GetInstanceInfo(ctx, in.InstanceID); err != nil {
		return out, storeError("prune", in.InstanceID, err)
	}
	res, err := s.c.PruneExecutions(ctx, in.InstanceID, provider.PruneOptions{KeepLast: in.KeepLast, CompletedBefore: before})
	if err != nil {
		return out, storeError("prune", in.InstanceID, err)
	}
	out.Pruned = *res
	return out, nil
}
