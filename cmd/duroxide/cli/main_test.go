package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
	"github.com/duroxide/duroxide/core/provider/sqlite"
	"github.com/duroxide/duroxide/core/runtime"
	"github.com/duroxide/duroxide/mcp"
	"github.com/duroxide/duroxide/mcp/mcptest"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// envBeCLI makes the test binary run the CLI's main (the tests that need a
// real process run it so).
const envBeCLI = "DUROXIDE_CLI_TEST_MAIN"

// fixtureDir holds the fixture store (mcptest.Build) every test copies.
var fixtureDir string

func TestMain(m *testing.M) {
	if os.Getenv(envBeCLI) != "" {
		os.Exit(Main(os.Args[1:], nil))
	}
	dir, err := os.MkdirTemp("", "duroxide-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	_, err = mcptest.Build(ctx, dir)
	cancel()
	if err != nil {
		os.RemoveAll(dir)
		fmt.Fprintln(os.Stderr, "build fixture:", err)
		os.Exit(1)
	}
	fixtureDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fixture returns the DSN of the shared fixture store (read-only tests).
func fixture() string { return "sqlite:" + filepath.Join(fixtureDir, "fixture.db") }

// copyStore copies the fixture store for a test that changes it.
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

type result struct {
	out, err string
	code     int
}

// cli runs the CLI in this process with an environment holding only env.
func cli(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	return cliCtx(context.Background(), env, nil, args...)
}

func cliCtx(ctx context.Context, env map[string]string, stderr *syncBuffer, args ...string) result {
	var out bytes.Buffer
	errw := stderr
	if errw == nil {
		errw = &syncBuffer{}
	}
	code := run(ctx, args, strings.NewReader(""), &out, errw, func(k string) string { return env[k] }, nil)
	return result{out.String(), errw.String(), code}
}

// on runs the CLI against a store given with --store.
func on(t *testing.T, dsn string, args ...string) result {
	t.Helper()
	return cli(t, nil, append(args, "--store", dsn)...)
}

func expect(t *testing.T, r result, code int, where string, substrings ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.out, r.err)
	}
	text := r.out
	if where == "stderr" {
		text = r.err
	}
	for _, s := range substrings {
		if !strings.Contains(text, s) {
			t.Errorf("%s lacks %q:\n%s", where, s, text)
		}
	}
}

// syncBuffer is a goroutine-safe buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestUsage(t *testing.T) {
	expect(t, cli(t, nil), exitUsage, "stderr", "Usage: duroxide", "Commands:", "history", "Exit codes")
	expect(t, cli(t, nil, "--help"), exitOK, "stdout", "Usage: duroxide", "mcp")
	expect(t, cli(t, nil, "help"), exitOK, "stdout", "Commands:")
	expect(t, cli(t, nil, "help", "prune"), exitOK, "stdout", "Usage: duroxide prune ID --keep-last N", "--keep-last N")
	expect(t, cli(t, nil, "help", "nope"), exitUsage, "stderr", `unknown command "nope"`)
	expect(t, cli(t, nil, "frobnicate"), exitUsage, "stderr", `unknown command "frobnicate"`, "Commands:")
	expect(t, cli(t, nil, "stat"), exitUsage, "stderr", `did you mean "status"?`)
	expect(t, cli(t, nil, "--bogus", "list"), exitUsage, "stderr", "bogus")
	expect(t, cli(t, nil, "list", "--bogus"), exitUsage, "stderr", "flag provided but not defined: -bogus", "Usage: duroxide list")
}

func TestEveryCommandHasHelp(t *testing.T) {
	want := []string{"bench", "cancel", "dead-letters", "delete", "enqueue", "history", "kv", "list", "mcp", "metrics",
		"prune", "raise", "replay", "run", "start", "status", "tree", "version", "wasm"}
	var got []string
	for name := range commands {
		got = append(got, name)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("commands = %v, want %v", got, want)
	}
	for _, name := range got {
		for _, flag := range []string{"--help", "-h"} {
			r := cli(t, nil, name, flag)
			expect(t, r, exitOK, "stdout", "Usage: duroxide "+name, "--help")
			if commands[name].noStore && name != "bench" && strings.Contains(r.out, "--store") {
				t.Errorf("%s --help mentions --store", name)
			}
		}
	}
}

func TestStoreSelection(t *testing.T) {
	expect(t, cli(t, nil, "list"), exitUsage, "stderr", "no store given", envStore, "Usage: duroxide list")
	expect(t, cli(t, map[string]string{envStore: fixture()}, "list"), exitOK, "stdout", mcptest.Chain)
	expect(t, cli(t, nil, "--store", fixture(), "status", mcptest.Chain), exitOK, "stdout", "axxx")
	// A bare file path is a SQLite store.
	path := strings.TrimPrefix(fixture(), "sqlite:")
	expect(t, cli(t, nil, "status", mcptest.Chain, "--store", path), exitOK, "stdout", "Completed")

	missing := filepath.Join(t.TempDir(), "typo.db")
	expect(t, on(t, "sqlite:"+missing, "list"), exitFailed, "stderr", "does not exist")
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a read command created %s", missing)
	}
	expect(t, on(t, "postgres://u@127.0.0.1:1/db", "list"), exitFailed, "stderr", "cannot connect to the PostgreSQL server at 127.0.0.1:1")
	expect(t, on(t, "mysql://localhost/db", "list"), exitUsage, "stderr", `unknown store scheme "mysql"`)
}

func TestList(t *testing.T) {
	r := on(t, fixture(), "list")
	expect(t, r, exitOK, "stdout", "INSTANCE", "STATUS", mcptest.Chain, "Chain3", "Completed", mcptest.Wait, "Running")
	if n := strings.Count(r.out, "\n"); n != 10 { // header + 9 instances
		t.Errorf("%d lines:\n%s", n, r.out)
	}
	ids := func(args ...string) []string {
		t.Helper()
		r := on(t, fixture(), append([]string{"list", "--json"}, args...)...)
		expect(t, r, exitOK, "stdout")
		var infos []provider.InstanceInfo
		if err := json.Unmarshal([]byte(r.out), &infos); err != nil {
			t.Fatalf("%v: %s", err, r.out)
		}
		var s []string
		for _, in := range infos {
			s = append(s, in.InstanceID)
		}
		slices.Sort(s)
		return s
	}
	if got := ids("--status", "running"); !slices.Equal(got, []string{mcptest.Queue, mcptest.Sleep, mcptest.Wait}) {
		t.Errorf("running = %v", got)
	}
	if got := ids("--name", "Chain3"); len(got) != 3 {
		t.Errorf("Chain3 = %v", got)
	}
	if got := ids("--roots", "--since", "1h"); len(got) != 7 {
		t.Errorf("roots = %v", got)
	}
	if got := ids("--until", "2000-01-01"); len(got) != 0 {
		t.Errorf("before 2000 = %v", got)
	}
	if got := ids("--limit", "2", "--offset", "8"); len(got) != 1 {
		t.Errorf("page = %v", got)
	}
	expect(t, on(t, fixture(), "list", "--status", "Failed", "--name", "Chain3"), exitOK, "stderr", "no instances match")
	expect(t, on(t, fixture(), "list", "--status", "sleeping"), exitUsage, "stderr", `--status "sleeping"`)
	expect(t, on(t, fixture(), "list", "--since", "yesterday"), exitUsage, "stderr", `--since "yesterday"`)
	expect(t, on(t, fixture(), "list", "--limit", "0"), exitUsage, "stderr", "--limit 0")
	expect(t, on(t, fixture(), "list", "extra"), exitUsage, "stderr", "takes no arguments")
}

func TestStatus(t *testing.T) {
	expect(t, on(t, fixture(), "status", mcptest.Chain), exitOK, "stdout",
		"Instance:", mcptest.Chain, "Chain3 (version 1.0.0)", "Completed", "Output:", "axxx", "Completed:")
	expect(t, on(t, fixture(), "status", mcptest.Fail), exitOK, "stdout", "Failed", "Error:", "boom", "application/")
	expect(t, on(t, fixture(), "status", mcptest.Wait), exitOK, "stdout", "Running", "Custom status:", "waiting for Go")
	expect(t, on(t, fixture(), "status", mcptest.Loop), exitOK, "stdout", "3 (stored: 1, 2, 3)", "looped")
	expect(t, on(t, fixture(), "status", mcptest.Parent), exitOK, "stdout", "Children:", mcptest.Parent+"::sub::")

	r := on(t, fixture(), "status", mcptest.Fail, "--json")
	expect(t, r, exitOK, "stdout")
	var d mcp.InstanceDetail
	if err := json.Unmarshal([]byte(r.out), &d); err != nil || d.Status != "Failed" || d.Error == nil {
		t.Errorf("status --json: %+v, %v", d, err)
	}

	expect(t, on(t, fixture(), "status", "nope"), exitFailed, "stderr", `instance "nope" not found`)
	expect(t, on(t, fixture(), "status"), exitUsage, "stderr", "missing ID", "Usage: duroxide status")
	expect(t, on(t, fixture(), "status", "a", "b"), exitUsage, "stderr", "too many arguments")
	expect(t, on(t, fixture(), "status", strings.Repeat("x", 300)), exitUsage, "stderr", "MaxNameBytes")
	// "--" ends the flags: an id may start with a dash.
	expect(t, cli(t, nil, "status", "--store", fixture(), "--", "-odd"), exitFailed, "stderr", `instance "-odd" not found`)
}

func TestHistory(t *testing.T) {
	r := on(t, fixture(), "history", mcptest.Chain)
	expect(t, r, exitOK, "stdout", mcptest.Chain+"  execution 1  8 events", "TIME", "EVENT", "+0.", "#1", "OrchestrationStarted",
		"input=a", "ActivityScheduled", "Step", "→ #2", "result=ax", "OrchestrationCompleted", "output=axxx")
	// The completion line names the activity it answers and links to it.
	if !regexp.MustCompile(`(?m)^\+\S+\s+#3\s+ActivityCompleted\s+Step\s+→ #2\s+result=ax$`).MatchString(r.out) {
		t.Errorf("no completion line for #3:\n%s", r.out)
	}
	expect(t, on(t, fixture(), "history", mcptest.Chain, "--wall"), exitOK, "stdout", time.Now().Format("2006-01-02"))

	r = on(t, fixture(), "history", "--json", mcptest.Chain)
	expect(t, r, exitOK, "stdout")
	var evs []history.Event
	if err := json.Unmarshal([]byte(r.out), &evs); err != nil || len(evs) != 8 || evs[7].Output != "axxx" {
		t.Errorf("history --json: %d events, %v", len(evs), err)
	}
	expect(t, on(t, fixture(), "history", mcptest.Loop, "--execution", "1"), exitOK, "stdout", "execution 1", "OrchestrationContinuedAsNew", "input=2")
	expect(t, on(t, fixture(), "history", mcptest.Loop), exitOK, "stdout", "execution 3", "output=looped")
	expect(t, on(t, fixture(), "history", mcptest.Sleep), exitOK, "stdout", "TimerCreated", "fires at +3600.")
	expect(t, on(t, fixture(), "history", mcptest.Wait), exitOK, "stdout", "CustomStatusUpdated", "status=waiting for Go", "ExternalSubscribed", "Go")
	expect(t, on(t, fixture(), "history", mcptest.Loop, "--execution", "9"), exitFailed, "stderr", `instance "loop-1" has no execution 9 (stored executions: 1, 2, 3)`)
	expect(t, on(t, fixture(), "history", "nope"), exitFailed, "stderr", `instance "nope" not found`)
	expect(t, on(t, fixture(), "history", mcptest.Chain, "--execution", "x"), exitUsage, "stderr", "invalid value")
}

func TestTreeMetricsKVDeadLetters(t *testing.T) {
	r := on(t, fixture(), "tree", mcptest.Parent)
	expect(t, r, exitOK, "stdout", mcptest.Parent, "Parent", "├── "+mcptest.Parent+"::sub::", "└── "+mcptest.Parent+"::sub::", "Chain3")
	if n := strings.Count(r.out, "\n"); n != 3 {
		t.Errorf("tree has %d lines:\n%s", n, r.out)
	}
	r = on(t, fixture(), "tree", mcptest.Parent, "--json")
	var tree mcp.TreeOutput
	if err := json.Unmarshal([]byte(r.out), &tree); err != nil || tree.Count != 3 {
		t.Errorf("tree --json: %+v %v", tree, err)
	}
	expect(t, on(t, fixture(), "tree", "nope"), exitFailed, "stderr", `instance "nope" not found`)

	r = on(t, fixture(), "metrics")
	expect(t, r, exitOK, "stdout", "instances", "running", "executions", "orchestrator queue", "worker queue")
	for _, line := range []string{`(?m)^instances\s+9$`, `(?m)^  running\s+3$`, `(?m)^executions\s+11$`, `(?m)^  delayed \(timers\)\s+1$`} {
		if !regexp.MustCompile(line).MatchString(r.out) {
			t.Errorf("metrics lack %s:\n%s", line, r.out)
		}
	}
	r = on(t, fixture(), "metrics", "--json")
	var m mcp.MetricsOutput
	if err := json.Unmarshal([]byte(r.out), &m); err != nil || m.Metrics.FailedInstances != 1 {
		t.Errorf("metrics --json: %+v %v", m, err)
	}

	expect(t, on(t, fixture(), "kv", mcptest.Wait), exitOK, "stdout", "KEY", "stage", "waiting")
	expect(t, on(t, fixture(), "kv", mcptest.Wait, "stage"), exitOK, "stdout", "waiting")
	expect(t, on(t, fixture(), "kv", mcptest.Wait, "nokey"), exitFailed, "stderr", `no key "nokey"`)
	expect(t, on(t, fixture(), "kv", "nope"), exitFailed, "stderr", "not found")
	expect(t, on(t, fixture(), "kv"), exitUsage, "stderr", "want ID")

	expect(t, on(t, fixture(), "dead-letters"), exitOK, "stderr", "no dead letters")
	expect(t, on(t, fixture(), "dead-letters", "--json"), exitOK, "stdout", "[]")
}

// TestChangeCommands changes a copy of the fixture through the CLI, then
// lets a runtime carry the changes out and checks the outcome.
func TestChangeCommands(t *testing.T) {
	dsn := copyStore(t)
	expect(t, on(t, dsn, "start", "Chain3", "new-1", "--input", `"n"`), exitOK, "stdout", "started Chain3 as new-1")
	expect(t, on(t, dsn, "start", "Chain3", mcptest.Chain), exitFailed, "stderr", `instance "chain-1" already exists`)
	expect(t, on(t, dsn, "start", "Chain3", "bad-1", "--input", `{bad`), exitUsage, "stderr", "--input is not valid JSON")
	expect(t, on(t, dsn, "start", "Chain3"), exitUsage, "stderr", "missing ID")
	expect(t, on(t, dsn, "start", "Chain3", "v-1", "--version", "one"), exitUsage, "stderr", "one")

	expect(t, on(t, dsn, "raise", mcptest.Wait, "Go", "--data", "yes"), exitOK, "stdout", `raised event "Go" on wait-1`)
	expect(t, on(t, dsn, "raise", "nope", "Go"), exitFailed, "stderr", `instance "nope" not found`)
	expect(t, on(t, dsn, "raise", mcptest.Wait), exitUsage, "stderr", "missing EVENT")
	expect(t, on(t, dsn, "enqueue", mcptest.Queue, "inbox", "--data", `{"n": 1}`), exitOK, "stdout", `queued a message on "inbox"`)

	expect(t, on(t, dsn, "cancel", mcptest.Sleep, "--reason", "no time"), exitOK, "stdout", "cancellation of sleep-1 requested")
	expect(t, on(t, dsn, "cancel", mcptest.Chain), exitFailed, "stderr", "has already ended (Completed)")
	expect(t, on(t, dsn, "cancel", "nope"), exitFailed, "stderr", "not found")

	expect(t, on(t, dsn, "delete", mcptest.Wait), exitFailed, "stderr", "still running", "--force")
	expect(t, on(t, dsn, "delete", mcptest.Parent+"::sub::2"), exitFailed, "stderr", "sub-orchestration")
	expect(t, on(t, dsn, "delete", mcptest.Parent), exitOK, "stdout", "deleted parent-1: 3 instances")
	expect(t, on(t, dsn, "delete", "nope"), exitFailed, "stderr", `instance "nope" not found`)
	expect(t, on(t, dsn, "status", mcptest.Parent), exitFailed, "stderr", "not found")

	expect(t, on(t, dsn, "prune", mcptest.Loop), exitUsage, "stderr", "missing --keep-last")
	expect(t, on(t, dsn, "prune", mcptest.Loop, "--keep-last", "0"), exitUsage, "stderr", "--keep-last 0")
	expect(t, on(t, dsn, "prune", mcptest.Loop, "--keep-last", "1"), exitOK, "stdout", "pruned loop-1: 2 executions")
	expect(t, on(t, dsn, "prune", "nope", "--keep-last", "1"), exitFailed, "stderr", "not found")
	expect(t, on(t, dsn, "status", mcptest.Loop), exitOK, "stdout", "3 (stored: 3)")

	// A runtime on the store carries out the start, the event, the message
	// and the cancellation.
	ctx := context.Background()
	p, err := sqlite.Open(dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	rt, err := runtime.Start(ctx, p, mcptest.Registry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Stop(ctx)
	c := client.New(p, nil)
	want := map[string]string{"new-1": "Completed nxxx", mcptest.Wait: "Completed got yes", mcptest.Queue: `Completed took {"n": 1}`, mcptest.Sleep: "Failed canceled: no time"}
	for id, w := range want {
		st, err := c.WaitForOrchestration(ctx, id, 30*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if got := fmt.Sprintf("%s %s%s", st.State, st.Output, st.ErrorMessage()); got != w {
			t.Errorf("%s = %q, want %q", id, got, w)
		}
	}
	// start --wait waits for the result while the runtime runs.
	expect(t, on(t, dsn, "start", "Chain3", "w-1", "--input", "w", "--wait", "30s"), exitOK, "stdout", "wxxx")
	expect(t, on(t, dsn, "start", "Fails", "w-2", "--wait", "30s"), exitFailed, "stderr", `instance "w-2" failed: boom`)
}

func TestPayloadFlags(t *testing.T) {
	e := &env{stdin: strings.NewReader(` {"from":"stdin"} `)}
	file := filepath.Join(t.TempDir(), "in.json")
	if err := os.WriteFile(file, []byte(`[1, 2]`), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ in, want string }{
		{``, ``}, {`"quoted text"`, `quoted text`}, {`plain text`, `plain text`}, {`42`, `42`},
		{`{"a":1}`, `{"a":1}`}, {`@` + file, `[1, 2]`}, {`@-`, `{"from":"stdin"}`},
	}
	for _, tc := range cases {
		got, err := parsePayload(e, "input", tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parsePayload(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`{"a":`, `[1,`, `@/no/such/file`} {
		if _, err := parsePayload(e, "input", bad); err == nil {
			t.Errorf("parsePayload(%q) accepted", bad)
		}
	}
}

func TestMCPCommandRefusesUnsafeHTTP(t *testing.T) {
	const tok = "0123456789abcdef0123"
	expect(t, on(t, fixture(), "mcp", "--http", "0.0.0.0:0"), exitUsage, "stderr", "non-loopback", "needs a bearer token")
	expect(t, on(t, fixture(), "mcp", "--http", "127.0.0.1:0"), exitUsage, "stderr", "needs a bearer token", "--no-auth")
	expect(t, on(t, fixture(), "mcp", "--http", "10.1.2.3:0", "--no-auth"), exitUsage, "stderr", "only allowed on a loopback address")
	expect(t, on(t, fixture(), "mcp", "--http", "127.0.0.1:0", "--token", "short"), exitUsage, "stderr", "at least 16")
	expect(t, on(t, fixture(), "mcp", "--http", "127.0.0.1:0", "--token", tok, "--no-auth"), exitUsage, "stderr", "choose one")
	expect(t, on(t, fixture(), "mcp", "--token", tok), exitUsage, "stderr", "only with --http")
	expect(t, cli(t, map[string]string{envStore: fixture(), envMCPToken: "short"}, "mcp", "--http", "127.0.0.1:0"), exitUsage, "stderr", "at least 16")
}

// serveMCPHTTP runs "duroxide mcp --http 127.0.0.1:0 ..." in this process
// and returns its endpoint and a function that stops it and returns its
// result.
func serveMCPHTTP(t *testing.T, env map[string]string, args ...string) (string, func() result) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan result, 1)
	go func() { done <- cliCtx(ctx, env, stderr, append([]string{"mcp", "--http", "127.0.0.1:0"}, args...)...) }()
	re := regexp.MustCompile(`http://(127\.0\.0\.1:\d+)/mcp`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			return m[0], func() result { cancel(); return <-done }
		}
		select {
		case r := <-done:
			cancel()
			t.Fatalf("mcp exited %d: %s", r.code, r.err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("mcp did not print its address: %s", stderr.String())
		}
	}
}

type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

func connectHTTP(ctx context.Context, endpoint, token string) (*sdk.ClientSession, error) {
	hc := &http.Client{Timeout: 30 * time.Second}
	if token != "" {
		hc.Transport = bearer{token, http.DefaultTransport}
	}
	return sdk.NewClient(&sdk.Implementation{Name: "cli-test", Version: "1"}, nil).
		Connect(ctx, &sdk.StreamableClientTransport{Endpoint: endpoint, HTTPClient: hc, MaxRetries: -1}, nil)
}

func TestMCPCommandHTTP(t *testing.T) {
	const tok = "cli-test-token-0123456789"
	endpoint, stop := serveMCPHTTP(t, map[string]string{envStore: fixture(), envMCPToken: tok})
	ctx := context.Background()
	if cs, err := connectHTTP(ctx, endpoint, ""); err == nil {
		cs.Close()
		t.Error("connected without the token")
	}
	cs, err := connectHTTP(ctx, endpoint, tok)
	if err != nil {
		t.Fatal(err)
	}
	res, err := cs.ListTools(ctx, nil)
	if err != nil || len(res.Tools) != len(mcp.ReadToolNames) {
		t.Errorf("tools: %d, %v", len(res.Tools), err)
	}
	got, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "get_instance", Arguments: map[string]any{"instance_id": mcptest.Chain}})
	if err != nil || got.IsError || !strings.Contains(got.Content[0].(*sdk.TextContent).Text, `"output":"axxx"`) {
		t.Errorf("get_instance: %+v %v", got, err)
	}
	cs.Close()
	r := stop()
	expect(t, r, exitOK, "stderr", "read-only", "bearer token required")

	// Loopback without a token when asked for, read-write.
	endpoint, stop = serveMCPHTTP(t, nil, "--no-auth", "--allow-write", "--store", copyStore(t))
	cs, err = connectHTTP(ctx, endpoint, "")
	if err != nil {
		t.Fatal(err)
	}
	res, err = cs.ListTools(ctx, nil)
	if err != nil || len(res.Tools) != len(mcp.ReadToolNames)+len(mcp.WriteToolNames) {
		t.Errorf("tools with --allow-write: %d, %v", len(res.Tools), err)
	}
	cs.Close()
	expect(t, stop(), exitOK, "stderr", "read-write", "no authentication")
}

// exe runs the test binary as the duroxide CLI in its own process.
func exe(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), envBeCLI+"=1")
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

func TestProcessExitCodes(t *testing.T) {
	cases := []struct {
		args []string
		code int
	}{
		{[]string{"version"}, 0},
		{[]string{"status", mcptest.Chain, "--store", fixture()}, 0},
		{[]string{"status", "nope", "--store", fixture()}, 1},
		{[]string{"status", "--store", fixture()}, 2},
		{[]string{"nosuchcommand"}, 2},
	}
	for _, tc := range cases {
		cmd := exe(t, []string{envStore + "="}, tc.args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d\n%s%s", tc.args, code, tc.code, out, stderr.String())
		}
	}
}

func TestMCPCommandStdio(t *testing.T) {
	cmd := exe(t, []string{envStore + "=" + fixture()}, "mcp")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	ctx := context.Background()
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "cli-test", Version: "1"}, nil).Connect(ctx, &sdk.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	res, err := cs.ListTools(ctx, nil)
	if err != nil || len(res.Tools) != len(mcp.ReadToolNames) {
		t.Errorf("tools over stdio: %v %v", res, err)
	}
	got, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "list_instances", Arguments: map[string]any{"status": "Failed"}})
	if err != nil || got.IsError || !strings.Contains(got.Content[0].(*sdk.TextContent).Text, mcptest.Fail) {
		t.Errorf("list_instances over stdio: %+v %v", got, err)
	}
	_, err = cs.CallTool(ctx, &sdk.CallToolParams{Name: "delete_instance", Arguments: map[string]any{"instance_id": mcptest.Chain}})
	if err == nil || !strings.Contains(err.Error(), "unknown tool") {
		t.Errorf("delete_instance without --allow-write: %v", err)
	}
	if err := cs.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if !strings.Contains(stderr.String(), "serving") {
		t.Errorf("stderr: %s", stderr.String())
	}
}

func TestBench(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "bench.db")
	expect(t, on(t, dsn, "bench", "--count", "20", "--starters", "4", "--prefix", "b"), exitOK, "stdout",
		"3-activity chain, 20 orchestrations, 4 starters", "orchestrations/s", "activities/s", "p50", "p99")
	r := on(t, dsn, "bench", "--count", "10", "--starters", "2", "--json")
	expect(t, r, exitOK, "stdout")
	var res benchResult
	if err := json.Unmarshal([]byte(r.out), &res); err != nil || res.Orchestrations != 10 || res.OrchPerSecond <= 0 || res.P99Ms < res.P50Ms {
		t.Errorf("bench --json: %+v %v", res, err)
	}
	expect(t, on(t, dsn, "list", "--name", benchOrchestration, "--status", "Completed"), exitOK, "stdout", "b-19")
	// Without a store: a temporary one.
	expect(t, cli(t, nil, "bench", "--count", "5", "--starters", "1"), exitOK, "stdout", "orchestrations/s")
	// A store with other running instances is refused.
	expect(t, on(t, copyStore(t), "bench", "--count", "5"), exitFailed, "stderr", "running instances of other orchestrations")
	expect(t, on(t, dsn, "bench", "--starters", "0"), exitUsage, "stderr", "--starters 0")
}

func TestVersion(t *testing.T) {
	expect(t, cli(t, nil, "version"), exitOK, "stdout", "duroxide "+runtime.EngineVersion, "go1.")
	expect(t, cli(t, nil, "version", "x"), exitUsage, "stderr", "takes no arguments")
}
