package wasm

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/replay"
	"github.com/duroxide/duroxide/wasm/guest"
)

// jsonFields lists a struct type's JSON field names, recursively for
// nested structs (as "outer.inner").
func jsonFields(t reflect.Type, prefix string) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		out = append(out, prefix+name+","+opts)
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			out = append(out, jsonFields(ft, prefix+name+".")...)
		}
	}
	sort.Strings(out)
	return out
}

// The guest SDK keeps its own copies of the protocol structs; their JSON
// shape must stay the host's.
func TestGuestProtocolStructsMatchTheHost(t *testing.T) {
	pairs := []struct {
		name        string
		host, guest reflect.Type
	}{
		{"Activation", reflect.TypeOf(replay.Activation{}), reflect.TypeOf(guest.Activation{})},
		{"Command", reflect.TypeOf(replay.Command{}), reflect.TypeOf(guest.Command{})},
		{"ErrorDetails", reflect.TypeOf(history.ErrorDetails{}), reflect.TypeOf(guest.ErrorDetails{})},
	}
	for _, p := range pairs {
		h, g := jsonFields(p.host, ""), jsonFields(p.guest, "")
		if !reflect.DeepEqual(h, g) {
			t.Errorf("%s JSON fields differ:\nhost  %v\nguest %v", p.name, h, g)
		}
	}

	status := "s"
	errd := &history.ErrorDetails{Category: history.CategoryPoison, Kind: "k", Message: "m", Type: "t", Reason: "r", Operation: "o", Retryable: true, AttemptCount: 2, MaxAttempts: 3, Resource: "x"}
	act := replay.Activation{Protocol: replay.ProtocolVersion, Instance: "i", ExecutionID: 7, Name: "n", Version: "1.2.3", Jobs: []replay.Job{
		{Kind: replay.JobStart, Replaying: true, Input: "in", CustomStatus: &status, KV: map[string]string{"a": "b"}, ParentInstance: "p"},
		{Kind: replay.JobActivity, Seq: 1, Result: "r"},
		{Kind: replay.JobActivity, Seq: 2, Error: errd},
		{Kind: replay.JobTimer, Seq: 3},
		{Kind: replay.JobEvent, Seq: 4, Name: "e", Data: "d"},
		{Kind: replay.JobSubOrchestration, Seq: 5, Result: "r"},
		{Kind: replay.JobSystemCall, Seq: 6, Result: "v"},
		{Kind: replay.JobCancel, Reason: "why"},
	}}
	roundTrip(t, "activation", act, &guest.Activation{}, &replay.Activation{})

	var cmds []replay.Command
	for _, k := range []replay.CommandKind{
		replay.CmdScheduleActivity, replay.CmdCreateTimer, replay.CmdWaitEvent, replay.CmdDequeueEvent,
		replay.CmdScheduleSubOrchestration, replay.CmdSystemCall, replay.CmdStartOrchestration, replay.CmdDropFuture,
		replay.CmdSetCustomStatus, replay.CmdSetKV, replay.CmdClearKV, replay.CmdClearAllKV,
		replay.CmdComplete, replay.CmdFail, replay.CmdContinueAsNew,
	} {
		cmds = append(cmds, replay.Command{Kind: k, Seq: 9, Name: "n", Version: "v", Instance: "i", Input: "in", SessionID: "s", Tag: "t",
			DelayMs: 5, Op: replay.OpGetKV, Status: &status, Key: "k", Value: "v", Output: "o", Error: errd})
	}
	roundTrip(t, "commands", cmds, &[]guest.Command{}, &[]replay.Command{})

	// The kind and op names are the same strings.
	same := map[string][2]string{
		"start": {string(replay.JobStart), string(guest.JobStart)}, "activity": {string(replay.JobActivity), string(guest.JobActivity)},
		"timer": {string(replay.JobTimer), string(guest.JobTimer)}, "event": {string(replay.JobEvent), string(guest.JobEvent)},
		"sub": {string(replay.JobSubOrchestration), string(guest.JobSubOrchestration)}, "syscall": {string(replay.JobSystemCall), string(guest.JobSystemCall)},
		"cancel": {string(replay.JobCancel), string(guest.JobCancel)},
		"sa":     {string(replay.CmdScheduleActivity), string(guest.CmdScheduleActivity)}, "ct": {string(replay.CmdCreateTimer), string(guest.CmdCreateTimer)},
		"we": {string(replay.CmdWaitEvent), string(guest.CmdWaitEvent)}, "de": {string(replay.CmdDequeueEvent), string(guest.CmdDequeueEvent)},
		"sso": {string(replay.CmdScheduleSubOrchestration), string(guest.CmdScheduleSubOrchestration)}, "sc": {string(replay.CmdSystemCall), string(guest.CmdSystemCall)},
		"so": {string(replay.CmdStartOrchestration), string(guest.CmdStartOrchestration)}, "df": {string(replay.CmdDropFuture), string(guest.CmdDropFuture)},
		"scs": {string(replay.CmdSetCustomStatus), string(guest.CmdSetCustomStatus)}, "skv": {string(replay.CmdSetKV), string(guest.CmdSetKV)},
		"ckv": {string(replay.CmdClearKV), string(guest.CmdClearKV)}, "cakv": {string(replay.CmdClearAllKV), string(guest.CmdClearAllKV)},
		"c": {string(replay.CmdComplete), string(guest.CmdComplete)}, "f": {string(replay.CmdFail), string(guest.CmdFail)},
		"can":  {string(replay.CmdContinueAsNew), string(guest.CmdContinueAsNew)},
		"guid": {replay.OpNewGUID, guest.OpNewGUID}, "now": {replay.OpUtcNow, guest.OpUtcNow}, "kv": {replay.OpGetKV, guest.OpGetKV},
		"protocol": {string(rune('0' + replay.ProtocolVersion)), string(rune('0' + guest.ProtocolVersion))},
		"cat":      {string(history.CategoryApplication), guest.CategoryApplication},
		"panicked": {history.KindPanicked, guest.KindPanicked}, "cancelled": {history.KindCancelled, guest.KindCancelled},
	}
	for what, p := range same {
		if p[0] != p[1] {
			t.Errorf("%s: host %q, guest %q", what, p[0], p[1])
		}
	}
	d := &guest.ErrorDetails{Category: guest.CategoryApplication, Kind: guest.KindCancelled, Reason: "r"}
	if d.DisplayMessage() != (&history.ErrorDetails{Category: history.CategoryApplication, Kind: history.KindCancelled, Reason: "r"}).DisplayMessage() {
		t.Errorf("DisplayMessage differs: %q", d.DisplayMessage())
	}
}

// roundTrip encodes v, decodes it into the guest's type, encodes that and
// decodes it into the host's type again: nothing may be lost.
func roundTrip[T any](t *testing.T, what string, v T, viaGuest any, back *T) {
	t.Helper()
	b1, err := json.Marshal(v)
	must(t, err)
	must(t, json.Unmarshal(b1, viaGuest))
	b2, err := json.Marshal(viaGuest)
	must(t, err)
	must(t, json.Unmarshal(b2, back))
	if !reflect.DeepEqual(v, *back) {
		t.Errorf("%s changed through the guest's types:\n%s\n%s", what, b1, b2)
	}
}

// methodNames lists a type's exported methods.
func methodNames(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumMethod(); i++ {
		out = append(out, t.Method(i).Name)
	}
	sort.Strings(out)
	return out
}

func fieldNames(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).IsExported() {
			out = append(out, t.Field(i).Name)
		}
	}
	sort.Strings(out)
	return out
}

// The guest SDK's orchestration API mirrors core/orchestration: when the
// Go API gains a method or an option, the guest SDK gets it too (or this
// test lists it as host-only, with the reason).
func TestGuestAPIMatchesTheGoAPI(t *testing.T) {
	hostOnly := map[string]bool{} // name → reason it cannot exist in a guest
	pairs := []struct {
		name        string
		host, guest []string
	}{
		{"Context methods", methodNames(reflect.TypeOf(&orchestration.Context{})), methodNames(reflect.TypeOf(&guest.Context{}))},
		{"Future methods", methodNames(reflect.TypeOf(&orchestration.Future{})), methodNames(reflect.TypeOf(&guest.Future{}))},
		{"ActivityOptions", fieldNames(reflect.TypeOf(orchestration.ActivityOptions{})), fieldNames(reflect.TypeOf(guest.ActivityOptions{}))},
		{"SubOrchestrationOptions", fieldNames(reflect.TypeOf(orchestration.SubOrchestrationOptions{})), fieldNames(reflect.TypeOf(guest.SubOrchestrationOptions{}))},
		{"RetryPolicy", fieldNames(reflect.TypeOf(orchestration.RetryPolicy{})), fieldNames(reflect.TypeOf(guest.RetryPolicy{}))},
		{"Backoff", fieldNames(reflect.TypeOf(orchestration.Backoff{})), fieldNames(reflect.TypeOf(guest.Backoff{}))},
	}
	for _, p := range pairs {
		var missing []string
		for _, n := range p.host {
			if !slices.Contains(p.guest, n) && !hostOnly[n] {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			t.Errorf("%s: the guest SDK (wasm/guest) lacks %v", p.name, missing)
		}
	}
}
