package wasm

import (
	"context"
	"fmt"
	"testing"

	"github.com/duroxide/duroxide/core/activity"
	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/runtime"
)

// Versioning by deployment: instances started on module v1 keep running on
// v1 after v2 is loaded (warm, and after a restart on a fresh instance),
// new starts run v2, and a continue-as-new moves an old instance to v2.
func TestVersioningByDeployment(t *testing.T) {
	stamp := func(_ *activity.Context, in string) (string, error) { return "stamped:" + in, nil }
	e := newEnv(t, nil, "deploy_v1")
	must(t, e.reg.RegisterActivity("Stamp", stamp))
	e.start()
	ctx := context.Background()
	for _, id := range []string{"old-warm", "old-restart", "old-continues"} {
		must(t, e.c.StartOrchestration(ctx, id, "Order", "0"))
	}
	for _, id := range []string{"old-warm", "old-restart", "old-continues"} {
		waitFor(t, id+" to wait for Ship", func() bool { return historyHas(e, id, history.ExternalSubscribed) })
	}

	// Deploy v2 while the runtime runs.
	e.load("deploy_v2")
	if got := fmt.Sprint(e.reg.OrchestrationVersions("Order")); got != "[1.0.0 2.0.0]" {
		t.Fatalf("registered versions %s", got)
	}
	st := e.completed("new", "Order", "0", "stamped:v2:0")
	if st.Version != "2.0.0" {
		t.Fatalf("a new start ran %s, want 2.0.0", st.Version)
	}

	// The old instance, still warm on v1, finishes on v1.
	must(t, e.c.RaiseEvent(ctx, "old-warm", "Ship", "done"))
	if st := e.wait("old-warm"); st.Output != "stamped:v1:0" || st.Version != "1.0.0" {
		t.Fatalf("old-warm: %s %q at %s", st.State, st.Output, st.Version)
	}

	// A restart: a new runtime and host load both deployments; old
	// instances replay on a fresh v1 instance.
	e.stop()
	e.reg = runtime.NewRegistry()
	must(t, e.reg.RegisterActivity("Stamp", stamp))
	e.host = newTestHost(t, nil)
	e.load("deploy_v1")
	e.load("deploy_v2")
	e.start()
	must(t, e.c.RaiseEvent(ctx, "old-restart", "Ship", "done"))
	if st := e.wait("old-restart"); st.Output != "stamped:v1:0" || st.Version != "1.0.0" {
		t.Fatalf("old-restart: %s %q at %s", st.State, st.Output, st.Version)
	}

	// continue-as-new without a version takes the newest deployment.
	must(t, e.c.RaiseEvent(ctx, "old-continues", "Ship", "again"))
	st = e.wait("old-continues")
	if st.State != client.StateCompleted || st.Output != "stamped:v2:1" || st.Version != "2.0.0" || st.ExecutionID != 2 {
		t.Fatalf("old-continues: %s %q at %s execution %d", st.State, st.Output, st.Version, st.ExecutionID)
	}
	h1, err := e.c.ReadExecutionHistory(ctx, "old-continues", 1)
	must(t, err)
	if h1[0].Version != "1.0.0" || h1[len(h1)-1].Kind != history.OrchestrationContinuedAsNew {
		t.Fatalf("execution 1 started at %s and ended %s", h1[0].Version, h1[len(h1)-1].Kind)
	}
}
