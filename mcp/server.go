// Package mcp serves a duroxide store over the Model Context Protocol, so an
// LLM client (Claude Desktop, an IDE agent, the MCP Inspector, a script using
// an MCP SDK) can inspect orchestration instances and, when allowed, control
// them.
//
// # Why it is built this way
//
// The server talks only to a core/client.Client: it never runs
// orchestrations, so it can sit beside any runtime that shares the store.
//
// Tools are typed Go handlers (the go-sdk's AddTool): their input and output
// JSON schemas are generated from the Go types below, and every field
// carries a description written for a model. The SDK validates arguments
// against the schema; the handlers validate again what a schema cannot say
// (id sizes, payload sizes, page bounds, times) and answer every problem as a
// tool error (IsError) with a sentence that names the argument, never as a
// crash: a panic inside a handler is recovered into a tool error too.
//
// The server is read-only by default. The mutating tools (start, raise,
// enqueue, cancel, delete, prune) are not registered at all unless
// Options.AllowWrite is set, so a client cannot even see them: a model cannot
// talk its way into a write the operator did not allow.
//
// Over HTTP (ServeHTTP) the streamable transport sits behind a bearer-token
// check; running without a token is allowed only on a loopback address and
// only when asked for explicitly (see CheckHTTPConfig).
package mcp

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/duroxide/duroxide/core/client"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// Options configure a Server. A nil *Options means every default.
type Options struct {
	// AllowWrite registers the mutating tools (start_orchestration,
	// raise_event, enqueue_event, cancel_instance, delete_instance,
	// prune_executions). Default false: read-only.
	AllowWrite bool
	// Version is the version the server reports to clients. Default "dev".
	Version string
	// Logger receives the SDK's logs. Nil discards them.
	Logger *slog.Logger
}

// Implementation name reported to clients.
const serverName = "duroxide"

// Input bounds, checked by every tool.
const (
	// MaxIDBytes bounds instance ids, orchestration, event and queue names.
	MaxIDBytes = 256
	// MaxPayloadBytes bounds an input or event payload (its JSON text).
	MaxPayloadBytes = 1 << 20
	// MaxReasonBytes bounds a cancellation reason.
	MaxReasonBytes = 4 << 10
	// DefaultListLimit and MaxListLimit bound list_instances pages.
	DefaultListLimit = 50
	MaxListLimit     = 200
	// DefaultHistoryLimit and MaxHistoryLimit bound get_history pages.
	DefaultHistoryLimit = 100
	MaxHistoryLimit     = 500
	// MaxRawHistoryLimit bounds get_history pages of raw events, which carry
	// whole payloads.
	MaxRawHistoryLimit = 100
	// MaxOffset bounds paging offsets.
	MaxOffset = 1_000_000
	// MaxOutputBytes is how much of an instance's output get_instance
	// returns; longer outputs are cut and marked.
	MaxOutputBytes = 64 << 10
)

const instructions = `This server exposes a duroxide store: durable orchestrations (workflows) whose every step is recorded as an append-only history.

- An instance is one run of an orchestration, identified by its instance_id. Its status is Running, Completed (with an output), Failed (with an error) or ContinuedAsNew. An instance may restart itself ("continue as new"), which starts a new execution (execution_id 1, 2, ...) of the same instance.
- Start with list_instances (filter by status or name), then get_instance for one instance, get_history for what it did step by step, and get_instance_tree for its sub-orchestrations. get_metrics gives store-wide counts and queue depths.
- Payloads (inputs, outputs, event data) are text, usually JSON.
- Tools that change state are only present when the operator started the server with --allow-write.`

// Server is an MCP server over one duroxide client.
type Server struct {
	c    *client.Client
	opts Options
	srv  *sdk.Server
}

// NewServer returns an MCP server whose tools and resources use c.
func NewServer(c *client.Client, opts *Options) *Server {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{c: c, opts: o}
	s.srv = sdk.NewServer(&sdk.Implementation{Name: serverName, Title: "duroxide orchestrations", Version: o.Version},
		&sdk.ServerOptions{Instructions: instructions, Logger: o.Logger})
	s.addReadTools()
	if o.AllowWrite {
		s.addWriteTools()
	}
	s.addResources()
	return s
}

// SDKServer returns the underlying go-sdk server (to connect it to any
// transport).
func (s *Server) SDKServer() *sdk.Server { return s.srv }

// AllowWrite reports whether the mutating tools are registered.
func (s *Server) AllowWrite() bool { return s.opts.AllowWrite }

// ServeStdio serves one client over standard input and output until the
// client disconnects or ctx ends.
func (s *Server) ServeStdio(ctx context.Context) error {
	return s.srv.Run(ctx, &sdk.StdioTransport{})
}

// ReadToolNames and WriteToolNames list the tools, for documentation and
// tests.
var (
	ReadToolNames  = []string{"list_instances", "get_instance", "get_history", "get_instance_tree", "get_metrics"}
	WriteToolNames = []string{"start_orchestration", "raise_event", "enqueue_event", "cancel_instance", "delete_instance", "prune_executions"}
)

// handler wraps a typed tool handler: a panic becomes a tool error, never a
// crash of the server.
func handler[In, Out any](name string, h func(ctx context.Context, in In) (Out, error)) sdk.ToolHandlerFor[In, Out] {
	return func(ctx context.Context, _ *sdk.CallToolRequest, in In) (res *sdk.CallToolResult, out Out, err error) {
		defer func() {
			if r := recover(); r != nil {
				var zero Out
				res, out, err = nil, zero, fmt.Errorf("%s: internal error: %v", name, r)
			}
		}()
		out, err = h(ctx, in)
		return nil, out, err
	}
}

func boolPtr(b bool) *bool { return &b }

func readOnly(title string) *sdk.ToolAnnotations {
	return &sdk.ToolAnnotations{Title: title, ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: boolPtr(false)}
}

func mutating(title string, destructive, idempotent bool) *sdk.ToolAnnotations {
	return &sdk.ToolAnnotations{Title: title, DestructiveHint: boolPtr(destructive), IdempotentHint: idempotent, OpenWorldHint: boolPtr(false)}
}
