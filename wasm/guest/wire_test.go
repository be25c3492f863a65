package guest

import (
	"encoding/json"
	"reflect"
	"testing"
)

func sampleActivation() Activation {
	cs := "status"
	return Activation{Protocol: 1, Instance: "order-7", ExecutionID: 3, Name: "Checkout", Version: "1.0.0", Jobs: []Job{
		{Kind: JobStart, Replaying: true, Input: `{"cart":3}`, CustomStatus: &cs, KV: map[string]string{"a": "b", "é": "\u2028"}, ParentInstance: "p"},
		{Kind: JobActivity, Seq: 1, Result: "tab\there \"quoted\" \\ </script> \U0001F600"},
		{Kind: JobActivity, Seq: 2, Error: &ErrorDetails{Category: CategoryApplication, Kind: KindActivityFailed, Message: "boom", Type: "E", Retryable: true, AttemptCount: -3, MaxAttempts: 9}},
		{Kind: JobCancel, Reason: "why"},
		{Kind: JobEvent, Seq: 18446744073709551615, Name: "n", Data: ""},
	}}
}

func TestDecodeActivationMatchesEncodingJSON(t *testing.T) {
	a := sampleActivation()
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var got Activation
	if err := decodeActivation(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, a) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", got, a)
	}
	for _, doc := range []string{
		` { "PROTOCOL" : 1 , "jobs" : [ ] , "extra" : [ {"x": [1, -2.5e3, true, null, "s"]} ] } `,
		`{"jobs":null,"instance":null}`,
		`{"jobs":[{"kind":"event","data":"\ud83d\ude00 \ud800 \u00e9 \/"}]}`,
		"{\"name\":\"bad \xff utf8\"}",
		`{"jobs":[{"kv":{"k":null,"k2":"v"},"error":{"retryable":false,"unknown":{}}}]}`,
	} {
		var want, mine Activation
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatalf("%s: encoding/json: %v", doc, err)
		}
		if err := decodeActivation([]byte(doc), &mine); err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		if !reflect.DeepEqual(mine, want) {
			t.Fatalf("%s:\nmine %+v\njson %+v", doc, mine, want)
		}
	}
	for _, bad := range []string{``, `{`, `{"seq":1}x`, `{"protocol":1.5}`, `{"execution_id":-1}`, `{"jobs":[{"seq":"1"}]}`, `{"name":"a\u12"}`, "{\"name\":\"\x01\"}", `[]`, `{"jobs":[1]}`, `{"a":01}`, `{"a":[1,]}`} {
		var a Activation
		if err := decodeActivation([]byte(bad), &a); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

// The hand-written decoder never accepts a document differently from
// encoding/json: whatever it decodes, encoding/json decodes the same way.
func FuzzDecodeActivation(f *testing.F) {
	b, _ := json.Marshal(sampleActivation())
	f.Add(b)
	f.Add([]byte(`{"jobs":[{"kind":"start","kv":{"a":"b"}}],"protocol":1}`))
	f.Add([]byte(`{"Jobs":[{"KIND":"x","Error":{"Kind":"k"}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var mine Activation
		if decodeActivation(b, &mine) != nil {
			return
		}
		var want Activation
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", b, err)
		}
		if !reflect.DeepEqual(mine, want) {
			t.Fatalf("%q:\nmine %+v\njson %+v", b, mine, want)
		}
	})
}

// Any activation the host encodes decodes to itself.
func FuzzActivationRoundTrip(f *testing.F) {
	f.Add("i", "n", "in", "res", "data", "k", "v", uint64(7), true)
	f.Fuzz(func(t *testing.T, inst, name, input, result, data, k, v string, seq uint64, rep bool) {
		a := Activation{Protocol: 1, Instance: inst, Name: name, Jobs: []Job{
			{Kind: JobStart, Input: input, KV: map[string]string{k: v}, Replaying: rep},
			{Kind: JobActivity, Seq: seq, Result: result, Error: &ErrorDetails{Message: data}},
			{Kind: JobEvent, Name: name, Data: data, CustomStatus: &input},
		}}
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		var want, mine Activation
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		if err := decodeActivation(b, &mine); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(mine, want) {
			t.Fatalf("%s:\nmine %+v\njson %+v", b, mine, want)
		}
	})
}

// The hand-written encoder writes exactly what encoding/json writes.
func FuzzEncodeCommands(f *testing.F) {
	f.Add("schedule_activity", "Append", "in\x00<&>\u2028\xff\"\\", "st", int64(-5), uint64(3), true, 2)
	f.Fuzz(func(t *testing.T, kind, name, input, status string, delay int64, seq uint64, withErr bool, n int) {
		c := Command{Kind: CommandKind(kind), Seq: seq, Name: name, Version: input, Instance: name, Input: input, SessionID: status,
			Tag: kind, DelayMs: delay, PickupTimeoutMs: -delay, Op: name, Key: input, Value: status, Output: input}
		if withErr {
			c.Status = &status
			c.Error = &ErrorDetails{Category: kind, Kind: name, Message: input, Type: status, Reason: input, Operation: name,
				Retryable: delay%2 == 0, AttemptCount: int(delay), MaxAttempts: n, Resource: status}
		}
		cmds := []Command{c, {Kind: CmdComplete, Output: name}}
		want, err := json.Marshal(cmds)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendCommands(nil, cmds); string(got) != string(want) {
			t.Fatalf("\nmine %s\njson %s", got, want)
		}
	})
}
