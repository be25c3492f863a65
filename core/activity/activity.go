// Package activity is the API activities see. An activity is where an
// orchestration's side effects happen: calls to other services, file and
// database work, anything non-deterministic. It runs at least once (again
// after a crash or a lost lock), so it should be idempotent.
//
// An activity receives a *Context, which is a real context.Context: it is
// cancelled when the activity is cancelled (its orchestration ended, or
// dropped the activity's future, or the worker lost its lock) and when the
// runtime shuts down. Long activities should watch ctx.Done().
package activity

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/history"
)

// Func is an activity: input payload in, output payload out.
type Func func(ctx *Context, input string) (string, error)

// Typed adapts a function with typed input and output to a Func, using the
// payload codec (a string travels raw, anything else as JSON).
func Typed[In, Out any](fn func(ctx *Context, input In) (Out, error)) Func {
	return func(ctx *Context, input string) (string, error) {
		var in In
		if err := history.DecodePayload(input, &in); err != nil {
			return "", fmt.Errorf("decode activity input: %w", err)
		}
		out, err := fn(ctx, in)
		if err != nil {
			return "", err
		}
		s, err := history.EncodePayload(out)
		if err != nil {
			return "", fmt.Errorf("encode activity output: %w", err)
		}
		return s, nil
	}
}

// Info describes the activity being run.
type Info struct {
	InstanceID           string
	ExecutionID          uint64
	OrchestrationName    string
	OrchestrationVersion string
	ActivityName         string
	// ActivityID is the id of the activity's schedule event.
	ActivityID uint64
	// Attempt counts deliveries of this work item (1 on the first).
	Attempt   int
	SessionID string
	Tag       string
	WorkerID  string
}

// Context is an activity's context.
type Context struct {
	context.Context
	info   Info
	client *client.Client
	logger *slog.Logger
}

// NewContext builds an activity context. The runtime calls it; tests of an
// activity may too.
func NewContext(ctx context.Context, info Info, c *client.Client, logger *slog.Logger) *Context {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("instance_id", info.InstanceID, "execution_id", info.ExecutionID,
		"activity", info.ActivityName, "activity_id", info.ActivityID)
	return &Context{Context: ctx, info: info, client: c, logger: logger}
}

// Info returns the activity's metadata.
func (c *Context) Info() Info { return c.info }

// InstanceID returns the orchestration instance that scheduled the activity.
func (c *Context) InstanceID() string { return c.info.InstanceID }

// ExecutionID returns the execution that scheduled the activity.
func (c *Context) ExecutionID() uint64 { return c.info.ExecutionID }

// Name returns the activity's name.
func (c *Context) Name() string { return c.info.ActivityName }

// Attempt returns how many times this work item was delivered (1 on the first).
func (c *Context) Attempt() int { return c.info.Attempt }

// SessionID returns the activity's session ("" when none).
func (c *Context) SessionID() string { return c.info.SessionID }

// Tag returns the activity's tag ("" when untagged).
func (c *Context) Tag() string { return c.info.Tag }

// IsCancelled reports whether the activity was cancelled.
func (c *Context) IsCancelled() bool { return c.Err() != nil }

// Client returns a client on the runtime's store, so an activity can start,
// signal or prune orchestrations.
func (c *Context) Client() *client.Client { return c.client }

// Logger returns a logger tagged with the activity's identity.
func (c *Context) Logger() *slog.Logger { return c.logger }
