package guest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// testHooks collects what the driver hands its host.
type testHooks struct {
	cmds []Command
	logs []string
}

func (h *testHooks) emit(cmds []Command) error {
	h.cmds = append(h.cmds, cmds...)
	return nil
}
func (h *testHooks) log(rec []byte) { h.logs = append(h.logs, string(rec)) }

// step runs one activation of jobs and returns the commands it produced.
func step(t *testing.T, d *driver, h *testHooks, jobs ...Job) []Command {
	t.Helper()
	h.cmds = nil
	if err := d.activate(&Activation{Protocol: ProtocolVersion, Instance: "i", ExecutionID: 1, Name: "n", Version: "1.0.0", Jobs: jobs}); err != nil {
		t.Fatal(err)
	}
	return h.cmds
}

func kinds(cmds []Command) string {
	var s []string
	for _, c := range cmds {
		s = append(s, string(c.Kind))
	}
	return strings.Join(s, ",")
}

func TestDriverSequenceAndResults(t *testing.T) {
	h := &testHooks{}
	d := newDriver(func(ctx *Context, in string) (string, error) {
		ctx.Logger().Info("started", "input", in)
		var out []string
		if err := ctx.All(ctx.ScheduleActivity("A", in), ctx.ScheduleActivity("B", 2)).Await(&out); err != nil {
			return "", err
		}
		return strings.Join(out, ""), nil
	}, h)
	cmds := step(t, d, h, Job{Kind: JobStart, Input: "x"})
	if kinds(cmds) != "schedule_activity,schedule_activity" || cmds[0].Seq != 1 || cmds[1].Seq != 2 || cmds[1].Input != "2" {
		t.Fatalf("commands %+v", cmds)
	}
	if len(h.logs) != 1 || !strings.Contains(h.logs[0], `"msg":"started"`) || strings.Contains(h.logs[0], `"time"`) {
		t.Fatalf("logs %v", h.logs)
	}
	cmds = step(t, d, h, Job{Kind: JobActivity, Seq: 2, Result: "b"}, Job{Kind: JobActivity, Seq: 1, Result: "a"})
	if len(cmds) != 1 || cmds[0].Kind != CmdComplete || cmds[0].Output != "ab" {
		t.Fatalf("commands %+v", cmds)
	}
}

func TestDriverRaceDropsTheLoser(t *testing.T) {
	h := &testHooks{}
	d := newDriver(func(ctx *Context, _ string) (string, error) {
		i, err := ctx.Select(ctx.ScheduleActivity("Slow", ""), ctx.CreateTimer(1500*time.Microsecond))
		if err != nil {
			return "", err
		}
		if i == 1 {
			return "", errors.New("timeout")
		}
		return "ok", nil
	}, h)
	cmds := step(t, d, h, Job{Kind: JobStart})
	if kinds(cmds) != "schedule_activity,create_timer" || cmds[1].DelayMs != 2 {
		t.Fatalf("commands %+v", cmds)
	}
	cmds = step(t, d, h, Job{Kind: JobTimer, Seq: 2})
	if kinds(cmds) != "drop_future,fail" || cmds[0].Seq != 1 || cmds[1].Error.Message != "timeout" {
		t.Fatalf("commands %+v", cmds)
	}
	// A late completion of the loser is ignored.
	if cmds := step(t, d, h, Job{Kind: JobActivity, Seq: 1, Result: "late"}); len(cmds) != 0 {
		t.Fatalf("commands after the end %+v", cmds)
	}
}

func TestDriverCancelFailsPendingFutures(t *testing.T) {
	h := &testHooks{}
	d := newDriver(func(ctx *Context, _ string) (string, error) {
		err := ctx.WaitForEvent("Go").Await(nil)
		var ce *CanceledError
		if ctx.IsCancelRequested() && errors.As(err, &ce) {
			ctx.SetKVValue("compensated", ce.Reason)
		}
		return "", err
	}, h)
	step(t, d, h, Job{Kind: JobStart})
	cmds := step(t, d, h, Job{Kind: JobCancel, Reason: "stop"})
	if kinds(cmds) != "set_kv,fail" || cmds[0].Value != "stop" {
		t.Fatalf("commands %+v", cmds)
	}
}

func TestDriverPanicFails(t *testing.T) {
	h := &testHooks{}
	d := newDriver(func(*Context, string) (string, error) { panic("kaboom") }, h)
	cmds := step(t, d, h, Job{Kind: JobStart})
	if len(cmds) != 1 || cmds[0].Kind != CmdFail || cmds[0].Error.Kind != KindPanicked || cmds[0].Error.Message != "kaboom" {
		t.Fatalf("commands %+v", cmds)
	}
}

func TestDriverCoroutineCancelledWithItsRace(t *testing.T) {
	h := &testHooks{}
	d := newDriver(func(ctx *Context, _ string) (string, error) {
		co := ctx.Go(func(ctx *Context) (any, error) {
			var v string
			err := ctx.ScheduleActivity("Inner", "").Await(&v)
			return v, err
		})
		r := ctx.Race(co, ctx.WaitForEvent("Stop"))
		var v string
		err := r.Await(&v)
		return v, err
	}, h)
	cmds := step(t, d, h, Job{Kind: JobStart})
	if kinds(cmds) != "wait_event,schedule_activity" {
		t.Fatalf("commands %+v", cmds)
	}
	cmds = step(t, d, h, Job{Kind: JobEvent, Seq: 1, Data: "stopped"})
	if kinds(cmds) != "drop_future,complete" || cmds[0].Seq != 2 || cmds[1].Output != "stopped" {
		t.Fatalf("commands %+v", cmds)
	}
}

func TestContinueAsNewWinsOverTheResult(t *testing.T) {
	h := &testHooks{}
	d := newDriver(func(ctx *Context, _ string) (string, error) {
		_ = ctx.ContinueAsNewVersioned("2.0.0", map[string]int{"n": 1})
		return "ignored", nil
	}, h)
	cmds := step(t, d, h, Job{Kind: JobStart, KV: map[string]string{"k": "v"}})
	if len(cmds) != 1 || cmds[0].Kind != CmdContinueAsNew || cmds[0].Input != `{"n":1}` || cmds[0].Version != "2.0.0" {
		t.Fatalf("commands %+v", cmds)
	}
}

func TestRegisterAndManifest(t *testing.T) {
	saved := registry
	t.Cleanup(func() { registry = saved })
	registry.fns, registry.order, registry.errors = map[OrchestrationRef]Func{}, nil, nil
	noop := func(*Context, string) (string, error) { return "", nil }
	Register("B", noop)
	RegisterVersioned("A", "v2.1", noop)
	RegisterVersioned("A", "v2.1.0-beta", noop)
	RegisterVersioned("A", "2.0.0", noop)
	RegisterVersioned("A", "2.0.0", noop)
	Register("", noop)
	Register("C", nil)
	m := manifest()
	b, _ := json.Marshal(m)
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
	saved, savedCur := registry, current
	t.Cleanup(func() { registry, current = saved, savedCur })
	registry.fns, registry.order, registry.errors = map[OrchestrationRef]Func{}, nil, nil
	current = nil
	h := &testHooks{}
	if err := serveActivate([]byte("{"), h); err == nil || !strings.Contains(err.Error(), "decode activation") {
		t.Fatalf("bad JSON: %v", err)
	}
	if err := serveActivate([]byte(`{"protocol":1,"name":"X","version":"1.0.0"}`), h); err == nil || !strings.Contains(err.Error(), `does not register orchestration "X" version 1.0.0`) {
		t.Fatalf("unknown orchestration: %v", err)
	}
	Register("X", func(*Context, string) (string, error) { return "x", nil })
	if err := serveActivate([]byte(`{"protocol":2,"name":"X","version":"1.0.0"}`), h); err == nil || !strings.Contains(err.Error(), "protocol 2") {
		t.Fatalf("protocol: %v", err)
	}
}

func TestPayloadCodec(t *testing.T) {
	for _, c := range []struct {
		in   any
		want string
	}{{"World", "World"}, {42, "42"}, {map[string]int{"a": 1}, `{"a":1}`}, {nil, ""}, {json.RawMessage(`[1]`), "[1]"}} {
		got, err := EncodePayload(c.in)
		if err != nil || got != c.want {
			t.Errorf("EncodePayload(%v) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	var s string
	if err := DecodePayload(`"quoted"`, &s); err != nil || s != "quoted" {
		t.Errorf("decode quoted string: %q %v", s, err)
	}
	var n int
	if err := DecodePayload("7", &n); err != nil || n != 7 {
		t.Errorf("decode int: %d %v", n, err)
	}
	if err := DecodePayload("x", &n); err == nil {
		t.Error("decoding text into an int succeeded")
	}
}
