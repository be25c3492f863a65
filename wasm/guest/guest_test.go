package guest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/replay"
)

// resetRegistry gives a test an empty registry and no running execution.
func resetRegistry(t *testing.T) {
	saved, savedCur := registry, current
	t.Cleanup(func() {
		if current != nil && current != savedCur {
			current.drv.Close()
		}
		registry, current = saved, savedCur
	})
	registry.fns, registry.order, registry.errors = map[OrchestrationRef]Func{}, nil, nil
	current = nil
}

func TestRegisterAndManifest(t *testing.T) {
	resetRegistry(t)
	noop := func(*Context, string) (string, error) { return "", nil }
	Register("B", noop)
	RegisterVersioned("A", "v2.1", noop)
	RegisterVersioned("A", "v2.1.0-beta", noop)
	RegisterVersioned("A", "2.0.0", noop)
	RegisterVersioned("A", "2.0.0", noop)
	Register("", noop)
	Register("C", nil)
	b, _ := json.Marshal(manifest())
	want := `{"protocol":1,"sdk":"` + SDKVersion + `","orchestrations":[{"name":"A","version":"2.0.0"},{"name":"A","version":"2.1.0"},{"name":"B","version":"1.0.0"}],"errors":[` +
		`"orchestration \"A\": version \"v2.1\": want major.minor.patch",` +
		`"orchestration \"A\" version 2.0.0 is registered twice",` +
		`"an orchestration was registered with an empty name",` +
		`"orchestration \"C\": nil function"]}`
	if string(b) != want {
		t.Fatalf("manifest\n%s\nwant\n%s", b, want)
	}
}

func TestServeActivateRefusals(t *testing.T) {
	resetRegistry(t)
	if _, err := serveActivate([]byte("{"), nil); err == nil || !strings.Contains(err.Error(), "decode activation") {
		t.Fatalf("bad JSON: %v", err)
	}
	if _, err := serveActivate([]byte(`{"protocol":1,"name":"X","version":"1.0.0"}`), nil); err == nil || !strings.Contains(err.Error(), `does not register orchestration "X" version 1.0.0`) {
		t.Fatalf("unknown orchestration: %v", err)
	}
	if _, err := serveActivate([]byte(`{"protocol":1,"name":"X","version":"one"}`), nil); err == nil || !strings.Contains(err.Error(), `want major.minor.patch`) {
		t.Fatalf("bad version: %v", err)
	}
	Register("X", func(*Context, string) (string, error) { return "x", nil })
	if _, err := serveActivate([]byte(`{"protocol":2,"instance":"i","execution_id":1,"name":"X","version":"1.0.0"}`), nil); err == nil || !strings.Contains(err.Error(), "protocol 2") {
		t.Fatalf("protocol: %v", err)
	}
	if _, err := serveActivate([]byte(`{"protocol":1,"instance":"j","execution_id":1,"name":"X","version":"1.0.0"}`), nil); err == nil || !strings.Contains(err.Error(), `runs "i" execution 1, not "j" execution 1`) {
		t.Fatalf("another execution: %v", err)
	}
}

// serve runs one job through the wire format, as the host sends it.
func serve(t *testing.T, logTo func([]byte), j replay.Job) string {
	t.Helper()
	in, err := json.Marshal(replay.Activation{Protocol: ProtocolVersion, Instance: "i", ExecutionID: 1, Name: "Greet", Version: "1.0.0", Jobs: []replay.Job{j}})
	if err != nil {
		t.Fatal(err)
	}
	cmds, err := serveActivate(in, logTo)
	if err != nil {
		t.Fatal(err)
	}
	return string(appendCommands(nil, cmds))
}

// A guest execution runs on core/orchestration's driver: one activation in,
// its commands out. The code's log records are formatted whether the job is
// replayed or not, byte for byte the same, without a time or the driver's
// identity attributes (the host adds its own), and with the code's own
// attributes — even one called "replaying".
func TestServeActivateRunsTheCoreDriver(t *testing.T) {
	resetRegistry(t)
	Register("Greet", Typed(func(ctx *Context, name string) (string, error) {
		ctx.Logger().Info("greeting", "name", name, "replaying", ctx.IsReplaying())
		var g string
		err := ctx.ScheduleActivityWithRetry("Hello", name, RetryPolicy{MaxAttempts: 2, Backoff: FixedBackoff(1)}).Await(&g)
		var ae *ActivityError
		if errors.As(err, &ae) && ae.Details.Category == CategoryApplication {
			ctx.Logger().WithGroup("g").Warn("failed", "kind", ae.Details.Kind)
			return "", err
		}
		return g, err
	}))
	var logs []string
	logTo := func(rec []byte) { logs = append(logs, string(rec)) }

	out := serve(t, logTo, replay.Job{Kind: replay.JobStart, Input: "Go", Replaying: true})
	if out != `[{"kind":"schedule_activity","seq":1,"name":"Hello","input":"Go"}]` {
		t.Fatalf("start: %s", out)
	}
	if want := `{"level":"INFO","msg":"greeting","name":"Go","replaying":true}`; len(logs) != 1 || logs[0] != want {
		t.Fatalf("logs %q, want %s", logs, want)
	}
	out = serve(t, logTo, replay.Job{Kind: replay.JobActivity, Seq: 1, Error: &ErrorDetails{Category: CategoryApplication, Kind: KindActivityFailed, Message: "boom"}})
	if !strings.Contains(out, `"kind":"create_timer","seq":2,"delay_ms":1`) {
		t.Fatalf("first failure: %s", out)
	}
	serve(t, logTo, replay.Job{Kind: replay.JobTimer, Seq: 2})
	out = serve(t, logTo, replay.Job{Kind: replay.JobActivity, Seq: 3, Error: &ErrorDetails{Category: CategoryApplication, Kind: KindActivityFailed, Message: "boom"}})
	if out != `[{"kind":"fail","error":{"category":"application","kind":"OrchestrationFailed","message":"boom","error_type":"*orchestration.ActivityError"}}]` {
		t.Fatalf("second failure: %s", out)
	}
	last := logs[len(logs)-1]
	if last != `{"level":"WARN","msg":"failed","g":{"kind":"ActivityFailed"}}` {
		t.Fatalf("grouped record %s", last)
	}
	for _, rec := range logs {
		if strings.Contains(rec, "instance_id") || strings.Contains(rec, `"time"`) {
			t.Fatalf("record %s carries the driver's attributes or a time", rec)
		}
	}
}

// The same job gives the same record bytes whether it is replayed or not.
func TestLogRecordsIgnoreReplaying(t *testing.T) {
	var recs [2][]string
	for i, replaying := range []bool{false, true} {
		drv := orchestration.NewDriver(func(ctx *Context, _ string) (string, error) {
			ctx.Logger().With("a", 1).Info("hello", "b", "c")
			return "", nil
		}, &orchestration.DriverOptions{Logger: newGuestLogger(func(rec []byte) { recs[i] = append(recs[i], string(rec)) }), LogWhileReplaying: true})
		_, err := drv.Activate(t.Context(), &replay.Activation{Protocol: ProtocolVersion, Instance: "i", ExecutionID: 1, Name: "n",
			Jobs: []replay.Job{{Kind: replay.JobStart, Replaying: replaying}}})
		drv.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(recs[0]) != 1 || recs[0][0] != recs[1][0] || recs[0][0] != `{"level":"INFO","msg":"hello","a":1,"b":"c"}` {
		t.Fatalf("live %q, replayed %q", recs[0], recs[1])
	}
}

// The API is core/orchestration's: the same types and values.
func TestAPIIsTheGoAPI(t *testing.T) {
	var _ *orchestration.Context = (*Context)(nil)
	var _ orchestration.Func = Func(nil)
	if ErrTimeout != orchestration.ErrTimeout || FixedBackoff(5) != orchestration.FixedBackoff(5) || DefaultRetryPolicy() != orchestration.DefaultRetryPolicy() {
		t.Fatal("the guest's values differ from core/orchestration's")
	}
	s, err := EncodePayload(map[string]int{"a": 1})
	var m map[string]int
	if err != nil || s != `{"a":1}` || DecodePayload(s, &m) != nil || m["a"] != 1 {
		t.Fatalf("payload codec: %q %v %v", s, err, m)
	}
}
