package mcp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/provider/sqlite"
	"github.com/duroxide/duroxide/core/runtime"
	"github.com/duroxide/duroxide/mcp"
	"github.com/duroxide/duroxide/mcp/mcptest"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// fixtureDir holds the fixture store every test copies.
var fixtureDir string

// envStdioServer makes the test binary an MCP server over stdio on the
// store it names (the stdio transport test runs it as a child process).
const envStdioServer = "DUROXIDE_MCP_TEST_STDIO_STORE"

func TestMain(m *testing.M) {
	if dsn := os.Getenv(envStdioServer); dsn != "" {
		os.Exit(serveStdio(dsn))
	}
	dir, err := os.MkdirTemp("", "duroxide-mcp-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	if _, err := mcptest.Build(ctx, dir); err != nil {
		cancel()
		os.RemoveAll(dir)
		fmt.Fprintln(os.Stderr, "build fixture:", err)
		os.Exit(1)
	}
	cancel()
	fixtureDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func serveStdio(dsn string) int {
	p, err := sqlite.Open(dsn, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer p.Close()
	s := mcp.NewServer(client.New(p, nil), &mcp.Options{AllowWrite: os.Getenv("DUROXIDE_MCP_TEST_WRITE") != ""})
	if err := s.ServeStdio(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// copyStore copies the fixture store into a test directory and returns its DSN.
func copyStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(fixtureDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(fixtureDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return "sqlite:" + filepath.Join(dir, "fixture.db")
}

type fixture struct {
	c  *client.Client
	s  *mcp.Server
	cs *sdk.ClientSession
}

// connect serves a copy of the fixture over in-memory transports.
func connect(t *testing.T, allowWrite bool) *fixture {
	t.Helper()
	ctx := context.Background()
	p, err := sqlite.Open(copyStore(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	f := &fixture{c: client.New(p, nil)}
	f.s = mcp.NewServer(f.c, &mcp.Options{AllowWrite: allowWrite, Version: "test"})
	st, ct := sdk.NewInMemoryTransports()
	ss, err := f.s.SDKServer().Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ss.Close() })
	f.cs, err = sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.cs.Close() })
	return f
}

// call calls a tool that must succeed and decodes its structured output.
func call[Out any](t *testing.T, cs *sdk.ClientSession, name string, args any) Out {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s(%v): %v", name, args, err)
	}
	if res.IsError {
		t.Fatalf("%s(%v): tool error: %s", name, args, text(res))
	}
	var out Out
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: decode %s: %v", name, b, err)
	}
	return out
}

// callErr calls a tool that must answer with a tool error and returns its text.
func callErr(t *testing.T, cs *sdk.ClientSession, name string, args any) string {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s(%v): protocol error %v, want a tool error", name, args, err)
	}
	if !res.IsError {
		t.Fatalf("%s(%v): succeeded with %s, want a tool error", name, args, text(res))
	}
	return text(res)
}

func text(res *sdk.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func toolNames(t *testing.T, cs *sdk.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
		if tool.Description == "" || tool.InputSchema == nil || tool.OutputSchema == nil {
			t.Errorf("tool %s lacks a description or a schema", tool.Name)
		}
	}
	slices.Sort(names)
	return names
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestReadOnlyListsOnlyReadTools(t *testing.T) {
	f := connect(t, false)
	if got, want := toolNames(t, f.cs), sorted(mcp.ReadToolNames); !slices.Equal(got, want) {
		t.Fatalf("tools = %v, want %v", got, want)
	}
	res, err := f.cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range res.Tools {
		if tool.Annotations == nil || !tool.Annotations.ReadOnlyHint {
			t.Errorf("tool %s is not annotated read-only", tool.Name)
		}
	}
	// A mutating tool is refused: it does not exist.
	_, err = f.cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "start_orchestration",
		Arguments: map[string]any{"instance_id": "x", "name": "Chain3"}})
	if err == nil || !strings.Contains(err.Error(), "unknown tool") {
		t.Fatalf("start_orchestration on a read-only server: err = %v, want unknown tool", err)
	}
}

func TestAllowWriteListsEveryTool(t *testing.T) {
	f := connect(t, true)
	want := sorted(append(slices.Clone(mcp.ReadToolNames), mcp.WriteToolNames...))
	if got := toolNames(t, f.cs); !slices.Equal(got, want) {
		t.Fatalf("tools = %v, want %v", got, want)
	}
}

func TestInputSchemasDescribeBounds(t *testing.T) {
	f := connect(t, true)
	res, err := f.cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	schemas := map[string]map[string]any{}
	for _, tool := range res.Tools {
		b, _ := json.Marshal(tool.InputSchema)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		schemas[tool.Name] = m
	}
	prop := func(tool, name string) map[string]any {
		p, _ := schemas[tool]["properties"].(map[string]any)[name].(map[string]any)
		if p == nil {
			t.Fatalf("%s has no property %s", tool, name)
		}
		if p["description"] == nil {
			t.Errorf("%s.%s has no description", tool, name)
		}
		return p
	}
	if got := prop("get_instance", "instance_id")["maxLength"]; got != float64(mcp.MaxIDBytes) {
		t.Errorf("instance_id maxLength = %v", got)
	}
	if got := prop("list_instances", "limit")["maximum"]; got != float64(mcp.MaxListLimit) {
		t.Errorf("list limit maximum = %v", got)
	}
	if got := prop("list_instances", "status")["enum"]; got == nil {
		t.Errorf("status has no enum")
	}
	if p := prop("start_orchestration", "input"); p["type"] != nil {
		t.Errorf("input should accept any JSON value, schema %v", p)
	}
	if req, _ := schemas["get_history"]["required"].([]any); !slices.Equal(req, []any{"instance_id"}) {
		t.Errorf("get_history required = %v", req)
	}
}

func TestListInstances(t *testing.T) {
	f := connect(t, false)
	all := call[mcp.ListInstancesOutput](t, f.cs, "list_instances", map[string]any{})
	if all.Count != 9 || all.NextOffset != 0 { // 7 roots + 2 sub-orchestrations
		t.Fatalf("list all: %d instances, next %d: %+v", all.Count, all.NextOffset, all.Instances)
	}
	ids := func(out mcp.ListInstancesOutput) []string {
		var s []string
		for _, in := range out.Instances {
			s = append(s, in.InstanceID)
		}
		slices.Sort(s)
		return s
	}
	running := call[mcp.ListInstancesOutput](t, f.cs, "list_instances", map[string]any{"status": "Running"})
	if got := ids(running); !slices.Equal(got, []string{mcptest.Queue, mcptest.Sleep, mcptest.Wait}) {
		t.Errorf("running = %v", got)
	}
	roots := call[mcp.ListInstancesOutput](t, f.cs, "list_instances", map[string]any{"roots_only": true, "created_after": "1h"})
	if got := ids(roots); !slices.Equal(got, sorted(mcptest.Instances)) {
		t.Errorf("roots = %v", got)
	}
	chains := call[mcp.ListInstancesOutput](t, f.cs, "list_instances", map[string]any{"name": "Chain3"})
	if chains.Count != 3 {
		t.Errorf("Chain3 instances = %v", ids(chains))
	}
	kids := call[mcp.ListInstancesOutput](t, f.cs, "list_instances", map[string]any{"parent": mcptest.Parent})
	if kids.Count != 2 || kids.Instances[0].Parent != mcptest.Parent {
		t.Errorf("children of parent = %+v", kids.Instances)
	}
	// Paging walks every instance exactly once.
	var seen []string
	offset := 0
	for range 10 {
		pg := call[mcp.ListInstancesOutput](t, f.cs, "list_instances", map[string]any{"limit": 4, "offset": offset})
		seen = append(seen, ids(pg)...)
		if pg.NextOffset == 0 {
			break
		}
		offset = pg.NextOffset
	}
	if slices.Sort(seen); !slices.Equal(seen, ids(all)) {
		t.Errorf("paged = %v, want %v", seen, ids(all))
	}
	none := call[mcp.ListInstancesOutput](t, f.cs, "list_instances", map[string]any{"created_before": "2000-01-01T00:00:00Z"})
	if none.Count != 0 || none.Instances == nil {
		t.Errorf("created before 2000: %+v", none)
	}
}

func TestGetInstance(t *testing.T) {
	f := connect(t, false)
	chain := call[mcp.InstanceDetail](t, f.cs, "get_instance", map[string]any{"instance_id": mcptest.Chain})
	if chain.Status != "Completed" || chain.Output != "axxx" || chain.Name != "Chain3" || chain.Version != "1.0.0" ||
		chain.ExecutionID != 1 || chain.CreatedAt.IsZero() || chain.CompletedAt.IsZero() {
		t.Errorf("chain = %+v", chain)
	}
	fail := call[mcp.InstanceDetail](t, f.cs, "get_instance", map[string]any{"instance_id": mcptest.Fail})
	if fail.Status != "Failed" || !strings.Contains(fail.ErrorMessage, "boom") || fail.Error == nil {
		t.Errorf("fail = %+v", fail)
	}
	wait := call[mcp.InstanceDetail](t, f.cs, "get_instance", map[string]any{"instance_id": mcptest.Wait})
	if wait.Status != "Running" || wait.CustomStatus == nil || *wait.CustomStatus != "waiting for Go" || !wait.CompletedAt.IsZero() {
		t.Errorf("wait = %+v", wait)
	}
	parent := call[mcp.InstanceDetail](t, f.cs, "get_instance", map[string]any{"instance_id": mcptest.Parent})
	if parent.Output != "pxxx,qxxx" || len(parent.Children) != 2 {
		t.Fatalf("parent = %+v", parent)
	}
	child := call[mcp.InstanceDetail](t, f.cs, "get_instance", map[string]any{"instance_id": parent.Children[0]})
	if child.Parent != mcptest.Parent || child.Status != "Completed" {
		t.Errorf("child = %+v", child)
	}
	loop := call[mcp.InstanceDetail](t, f.cs, "get_instance", map[string]any{"instance_id": mcptest.Loop})
	if loop.ExecutionID != 3 || !slices.Equal(loop.Executions, []uint64{1, 2, 3}) || loop.Output != "looped" {
		t.Errorf("loop = %+v", loop)
	}
}

func TestGetHistory(t *testing.T) {
	f := connect(t, false)
	h := call[mcp.HistoryOutput](t, f.cs, "get_history", map[string]any{"instance_id": mcptest.Chain})
	if h.TotalEvents != 8 || len(h.Events) != 8 || h.RawEvents != nil || h.NextOffset != 0 {
		t.Fatalf("history = %+v", h)
	}
	first, done := h.Events[2], h.Events[7]
	if first.Kind != "ActivityCompleted" || first.Name != "Step" || first.SourceEventID != 2 || !strings.Contains(first.Summary, "result=ax") {
		t.Errorf("event 3 = %+v", first)
	}
	if done.Kind != "OrchestrationCompleted" || !strings.Contains(done.Summary, "axxx") {
		t.Errorf("event 8 = %+v", done)
	}
	raw := call[mcp.HistoryOutput](t, f.cs, "get_history", map[string]any{"instance_id": mcptest.Chain, "raw": true, "limit": 3, "offset": 6})
	if len(raw.RawEvents) != 2 || raw.Events != nil || raw.RawEvents[1].Output != "axxx" || raw.Offset != 6 {
		t.Errorf("raw page = %+v", raw)
	}
	pg := call[mcp.HistoryOutput](t, f.cs, "get_history", map[string]any{"instance_id": mcptest.Chain, "limit": 3})
	if len(pg.Events) != 3 || pg.NextOffset != 3 {
		t.Errorf("page = %+v", pg)
	}
	first1 := call[mcp.HistoryOutput](t, f.cs, "get_history", map[string]any{"instance_id": mcptest.Loop, "execution_id": 1})
	last := first1.Events[len(first1.Events)-1]
	if first1.ExecutionID != 1 || last.Kind != "OrchestrationContinuedAsNew" || !slices.Equal(first1.Executions, []uint64{1, 2, 3}) {
		t.Errorf("loop execution 1 = %+v", first1)
	}
	if msg := callErr(t, f.cs, "get_history", map[string]any{"instance_id": mcptest.Loop, "execution_id": 9}); !strings.Contains(msg, "no execution 9") {
		t.Errorf("execution 9: %s", msg)
	}
}

func TestGetInstanceTree(t *testing.T) {
	f := connect(t, false)
	tree := call[mcp.TreeOutput](t, f.cs, "get_instance_tree", map[string]any{"instance_id": mcptest.Parent})
	if tree.Count != 3 || tree.Nodes[0].InstanceID != mcptest.Parent || tree.Nodes[0].Depth != 0 || len(tree.Nodes[0].Children) != 2 {
		t.Fatalf("tree = %+v", tree)
	}
	for _, n := range tree.Nodes[1:] {
		if n.Depth != 1 || n.Parent != mcptest.Parent || n.Name != "Chain3" || n.Status != "Completed" {
			t.Errorf("child node = %+v", n)
		}
	}
	leaf := call[mcp.TreeOutput](t, f.cs, "get_instance_tree", map[string]any{"instance_id": mcptest.Chain})
	if leaf.Count != 1 {
		t.Errorf("leaf tree = %+v", leaf)
	}
}

func TestGetMetrics(t *testing.T) {
	f := connect(t, false)
	m := call[mcp.MetricsOutput](t, f.cs, "get_metrics", map[string]any{})
	if m.Metrics.TotalInstances != 9 || m.Metrics.RunningInstances != 3 || m.Metrics.FailedInstances != 1 ||
		m.Metrics.TotalExecutions != 11 || m.QueueDepths.Delayed != 1 {
		t.Errorf("metrics = %+v", m)
	}
}

func TestInvalidInputsAreToolErrors(t *testing.T) {
	f := connect(t, true)
	long := strings.Repeat("x", mcp.MaxIDBytes+1)
	big := strings.Repeat("y", mcp.MaxPayloadBytes+1)
	cases := []struct {
		tool string
		args map[string]any
		want string
	}{
		{"get_instance", map[string]any{}, "instance_id"},
		{"get_instance", map[string]any{"instance_id": ""}, "instance_id"},
		{"get_instance", map[string]any{"instance_id": long}, "instance_id"},
		{"get_instance", map[string]any{"instance_id": "a\x00b"}, "control characters"},
		{"get_instance", map[string]any{"instance_id": "nope"}, `instance "nope" not found`},
		{"get_instance", map[string]any{"instance_id": "x", "extra": 1}, "extra"},
		{"get_instance", map[string]any{"instance_id": 42}, "instance_id"},
		{"get_history", map[string]any{"instance_id": "nope"}, `instance "nope" not found`},
		{"get_history", map[string]any{"instance_id": mcptest.Chain, "limit": mcp.MaxHistoryLimit + 1}, "limit"},
		{"get_history", map[string]any{"instance_id": mcptest.Chain, "raw": true, "limit": mcp.MaxRawHistoryLimit + 1}, "limit"},
		{"get_history", map[string]any{"instance_id": mcptest.Chain, "offset": -1}, "offset"},
		{"get_instance_tree", map[string]any{"instance_id": "nope"}, `instance "nope" not found`},
		{"list_instances", map[string]any{"status": "Sleeping"}, "status"},
		{"list_instances", map[string]any{"limit": 1000}, "limit"},
		{"list_instances", map[string]any{"created_after": "yesterday"}, "created_after"},
		{"start_orchestration", map[string]any{"instance_id": "n", "name": "Chain3", "input": big}, "limit"},
		{"start_orchestration", map[string]any{"instance_id": "n", "name": "Chain3", "version": "one"}, "version"},
		{"start_orchestration", map[string]any{"instance_id": "n", "name": ""}, "name"},
		{"raise_event", map[string]any{"instance_id": "nope", "event_name": "Go"}, `instance "nope" not found`},
		{"raise_event", map[string]any{"instance_id": mcptest.Wait, "event_name": long}, "event_name"},
		{"enqueue_event", map[string]any{"instance_id": mcptest.Queue, "queue": "inbox", "data": big}, "limit"},
		{"cancel_instance", map[string]any{"instance_id": mcptest.Wait, "reason": strings.Repeat("r", mcp.MaxReasonBytes+1)}, "reason"},
		{"cancel_instance", map[string]any{"instance_id": "nope"}, `instance "nope" not found`},
		{"delete_instance", map[string]any{"instance_id": mcptest.Wait}, "still running"},
		{"delete_instance", map[string]any{"instance_id": "nope"}, `instance "nope" not found`},
		{"prune_executions", map[string]any{"instance_id": mcptest.Loop, "keep_last": 0}, "keep_last"},
		{"prune_executions", map[string]any{"instance_id": "nope", "keep_last": 1}, `instance "nope" not found`},
	}
	for _, tc := range cases {
		t.Run(tc.tool, func(t *testing.T) {
			msg := callErr(t, f.cs, tc.tool, tc.args)
			if !strings.Contains(msg, tc.want) {
				t.Errorf("%s(%.80v): %q, want it to mention %q", tc.tool, tc.args, msg, tc.want)
			}
		})
	}
	// The store is untouched by the refused calls.
	m := call[mcp.MetricsOutput](t, f.cs, "get_metrics", map[string]any{})
	if m.Metrics.TotalInstances != 9 || m.QueueDepths.Orchestrator != 0 {
		t.Errorf("after refused calls: %+v", m)
	}
}

func TestWriteTools(t *testing.T) {
	f := connect(t, true)
	st := call[mcp.StartOutput](t, f.cs, "start_orchestration", map[string]any{"instance_id": "new-1", "name": "Chain3", "input": "n"})
	if !st.Accepted || st.AlreadyExists {
		t.Errorf("start = %+v", st)
	}
	again := call[mcp.StartOutput](t, f.cs, "start_orchestration", map[string]any{"instance_id": mcptest.Chain, "name": "Chain3"})
	if again.Accepted || !again.AlreadyExists {
		t.Errorf("start existing = %+v", again)
	}
	call[mcp.AckOutput](t, f.cs, "raise_event", map[string]any{"instance_id": mcptest.Wait, "event_name": "Go", "data": "yes"})
	call[mcp.AckOutput](t, f.cs, "enqueue_event", map[string]any{"instance_id": mcptest.Queue, "queue": "inbox", "data": map[string]any{"n": 1}})
	call[mcp.AckOutput](t, f.cs, "cancel_instance", map[string]any{"instance_id": mcptest.Sleep, "reason": "no time"})
	del := call[mcp.DeleteOutput](t, f.cs, "delete_instance", map[string]any{"instance_id": mcptest.Parent})
	if del.Deleted.InstancesDeleted != 3 {
		t.Errorf("delete parent = %+v", del)
	}
	pr := call[mcp.PruneOutput](t, f.cs, "prune_executions", map[string]any{"instance_id": mcptest.Loop, "keep_last": 1})
	if pr.Pruned.ExecutionsDeleted != 2 {
		t.Errorf("prune = %+v", pr)
	}

	// A runtime sharing the store carries the messages out.
	ctx := context.Background()
	rt, err := runtime.Start(ctx, f.c.Provider(), mcptest.Registry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Stop(ctx)
	want := map[string]string{"new-1": "Completed nxxx", mcptest.Wait: "Completed got yes", mcptest.Queue: `Completed took {"n":1}`, mcptest.Sleep: "Failed canceled: no time"}
	for id, w := range want {
		s, err := f.c.WaitForOrchestration(ctx, id, 30*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if got := fmt.Sprintf("%s %s%s", s.State, s.Output, s.ErrorMessage()); got != w {
			t.Errorf("%s = %q, want %q", id, got, w)
		}
	}
	if d := callErr(t, f.cs, "get_instance", map[string]any{"instance_id": mcptest.Parent}); !strings.Contains(d, "not found") {
		t.Errorf("deleted parent: %s", d)
	}
	if l := call[mcp.InstanceDetail](t, f.cs, "get_instance", map[string]any{"instance_id": mcptest.Loop}); !slices.Equal(l.Executions, []uint64{3}) {
		t.Errorf("pruned loop executions = %v", l.Executions)
	}
}

func TestResources(t *testing.T) {
	f := connect(t, false)
	ctx := context.Background()
	rs, err := f.cs.ListResources(ctx, nil)
	if err != nil || len(rs.Resources) != 1 || rs.Resources[0].URI != mcp.InstancesURI {
		t.Fatalf("resources = %+v, %v", rs, err)
	}
	ts, err := f.cs.ListResourceTemplates(ctx, nil)
	if err != nil || len(ts.ResourceTemplates) != 2 {
		t.Fatalf("templates = %+v, %v", ts, err)
	}
	read := func(uri string) string {
		t.Helper()
		res, err := f.cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: uri})
		if err != nil {
			t.Fatalf("read %s: %v", uri, err)
		}
		if len(res.Contents) != 1 || res.Contents[0].MIMEType != "application/json" {
			t.Fatalf("read %s: %+v", uri, res.Contents)
		}
		return res.Contents[0].Text
	}
	var inst mcp.InstanceDetail
	if err := json.Unmarshal([]byte(read(mcp.InstanceURI(mcptest.Chain))), &inst); err != nil || inst.Output != "axxx" {
		t.Errorf("instance resource: %+v, %v", inst, err)
	}
	var hist mcp.HistoryOutput
	if err := json.Unmarshal([]byte(read(mcp.HistoryURI(mcptest.Chain))), &hist); err != nil || len(hist.Events) != 8 {
		t.Errorf("history resource: %+v, %v", hist, err)
	}
	var list mcp.ListInstancesOutput
	if err := json.Unmarshal([]byte(read(mcp.InstancesURI)), &list); err != nil || list.Count != 9 {
		t.Errorf("instances resource: %+v, %v", list, err)
	}
	// Ids with reserved characters (sub-orchestrations: "parent-1::sub::2").
	tree := call[mcp.TreeOutput](t, f.cs, "get_instance_tree", map[string]any{"instance_id": mcptest.Parent})
	child := tree.Nodes[1].InstanceID
	if err := json.Unmarshal([]byte(read(mcp.InstanceURI(child))), &inst); err != nil || inst.InstanceID != child {
		t.Errorf("child resource: %+v, %v", inst, err)
	}
	for _, uri := range []string{mcp.InstanceURI("nope"), "duroxide://instances/a/b", "duroxide://other"} {
		if _, err := f.cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: uri}); err == nil {
			t.Errorf("read %s: no error", uri)
		}
	}
}

func TestStdioTransport(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envStdioServer+"="+copyStore(t))
	cmd.Stderr = os.Stderr
	ctx := context.Background()
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, &sdk.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if got := toolNames(t, cs); !slices.Equal(got, sorted(mcp.ReadToolNames)) {
		t.Errorf("tools over stdio = %v", got)
	}
	d := call[mcp.InstanceDetail](t, cs, "get_instance", map[string]any{"instance_id": mcptest.Chain})
	if d.Output != "axxx" {
		t.Errorf("get_instance over stdio = %+v", d)
	}
	if msg := callErr(t, cs, "get_instance", map[string]any{"instance_id": "nope"}); !strings.Contains(msg, "not found") {
		t.Errorf("unknown instance over stdio: %s", msg)
	}
}

// bearer adds an Authorization header to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

func httpSession(ctx context.Context, endpoint, token string) (*sdk.ClientSession, error) {
	hc := &http.Client{Timeout: 30 * time.Second}
	if token != "" {
		hc.Transport = bearer{token, http.DefaultTransport}
	}
	tr := &sdk.StreamableClientTransport{Endpoint: endpoint, HTTPClient: hc, MaxRetries: -1}
	return sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, tr, nil)
}

func TestHTTPRequiresToken(t *testing.T) {
	p, err := sqlite.Open(copyStore(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const token = "0123456789abcdef-test-token"
	s := mcp.NewServer(client.New(p, nil), nil)
	ts := httptest.NewServer(s.HTTPHandler(token))
	defer ts.Close()
	endpoint := ts.URL + mcp.HTTPPath
	ctx := context.Background()

	for _, tok := range []string{"", "wrong-token-wrong-token"} {
		if cs, err := httpSession(ctx, endpoint, tok); err == nil {
			cs.Close()
			t.Errorf("token %q: connected, want refused", tok)
		}
	}
	resp, err := http.Post(endpoint, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("no token: %d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}

	cs, err := httpSession(ctx, endpoint, token)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if got := toolNames(t, cs); !slices.Equal(got, sorted(mcp.ReadToolNames)) {
		t.Errorf("tools over HTTP = %v", got)
	}
	list := call[mcp.ListInstancesOutput](t, cs, "list_instances", map[string]any{"status": "Failed"})
	if list.Count != 1 || list.Instances[0].InstanceID != mcptest.Fail {
		t.Errorf("list over HTTP = %+v", list)
	}
}

func TestServeHTTPLoopbackNoAuth(t *testing.T) {
	p, err := sqlite.Open(copyStore(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s := mcp.NewServer(client.New(p, nil), &mcp.Options{AllowWrite: true})
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- s.ServeHTTP(ctx, mcp.HTTPOptions{Addr: "127.0.0.1:0", NoAuth: true, Ready: func(a net.Addr) { addr <- a.String() }})
	}()
	var endpoint string
	select {
	case a := <-addr:
		endpoint = "http://" + a + mcp.HTTPPath
	case err := <-done:
		t.Fatal(err)
	}
	cs, err := httpSession(ctx, endpoint, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(toolNames(t, cs)); got != len(mcp.ReadToolNames)+len(mcp.WriteToolNames) {
		t.Errorf("%d tools with allow-write", got)
	}
	d := call[mcp.InstanceDetail](t, cs, "get_instance", map[string]any{"instance_id": mcptest.Wait})
	if d.Status != "Running" {
		t.Errorf("get_instance over HTTP = %+v", d)
	}
	cs.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ServeHTTP after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeHTTP did not return after cancel")
	}
}

func TestCheckHTTPConfig(t *testing.T) {
	const tok = "0123456789abcdef"
	cases := []struct {
		addr, token string
		noAuth      bool
		want        string // "" = accepted
	}{
		{"127.0.0.1:8765", tok, false, ""},
		{"localhost:0", "", true, ""},
		{"[::1]:8765", "", true, ""},
		{"0.0.0.0:8765", tok, false, ""},
		{"127.0.0.1:8765", "", false, "needs a bearer token"},
		{"0.0.0.0:8765", "", false, "non-loopback"},
		{":8765", "", false, "non-loopback"},
		{"10.1.2.3:8765", "", true, "only allowed on a loopback"},
		{":8765", "", true, "only allowed on a loopback"},
		{"127.0.0.1:8765", tok, true, "choose one"},
		{"127.0.0.1:8765", "short", false, "at least"},
		{"127.0.0.1", tok, false, "host:port"},
	}
	for _, tc := range cases {
		err := mcp.CheckHTTPConfig(tc.addr, tc.token, tc.noAuth)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: err %v, want %q", tc, err, tc.want)
		}
	}
}
