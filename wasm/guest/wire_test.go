package guest

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/replay"
)

func sampleActivation() replay.Activation {
	cs := "status"
	return replay.Activation{Protocol: 1, Instance: "order-7", ExecutionID: 3, Name: "Checkout", Version: "1.0.0", Jobs: []replay.Job{
		{Kind: replay.JobStart, Replaying: true, Input: `{"cart":3}`, CustomStatus: &cs, KV: map[string]string{"a": "b", "é": "\u2028"}, ParentInstance: "p"},
		{Kind: replay.JobActivity, Seq: 1, Result: "tab\there \"quoted\" \\ </script> \U0001F600"},
		{Kind: replay.JobActivity, Seq: 2, Error: &history.ErrorDetails{Category: history.CategoryApplication, Kind: history.KindActivityFailed, Message: "boom", Type: "E", Retryable: true, AttemptCount: -3, MaxAttempts: 9}},
		{Kind: replay.JobCancel, Reason: "why"},
		{Kind: replay.JobEvent, Seq: 18446744073709551615, Name: "n", Data: ""},
	}}
}

func TestDecodeActivationMatchesEncodingJSON(t *testing.T) {
	a := sampleActivation()
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var got replay.Activation
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
		var want, mine replay.Activation
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
		var a replay.Activation
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
		var mine replay.Activation
		if decodeActivation(b, &mine) != nil {
			return
		}
		var want replay.Activation
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
		a := replay.Activation{Protocol: 1, Instance: inst, Name: name, Jobs: []replay.Job{
			{Kind: replay.JobStart, Input: input, KV: map[string]string{k: v}, Replaying: rep},
			{Kind: replay.JobActivity, Seq: seq, Result: result, Error: &history.ErrorDetails{Message: data}},
			{Kind: replay.JobEvent, Name: name, Data: data, CustomStatus: &input},
		}}
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		var want, mine replay.Activation
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
		c := replay.Command{Kind: replay.CommandKind(kind), Seq: seq, Name: name, Version: input, Instance: name, Input: input, SessionID: status,
			Tag: kind, DelayMs: delay, PickupTimeoutMs: -delay, Op: name, Key: input, Value: status, Output: input}
		if withErr {
			c.Status = &status
			c.Error = &history.ErrorDetails{Category: history.Category(kind), Kind: name, Message: input, Type: status, Reason: input, Operation: name,
				Retryable: delay%2 == 0, AttemptCount: int(delay), MaxAttempts: n, Resource: status}
		}
		cmds := []replay.Command{c, {Kind: replay.CmdComplete, Output: name}}
		want, err := json.Marshal(cmds)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendCommands(nil, cmds); string(got) != string(want) {
			t.Fatalf("\nmine %s\njson %s", got, want)
		}
	})
}

// fill sets every field of v, recursively, to a value encoding/json writes
// (no zero values, which omitempty would hide), with characters that need
// escaping. n makes the values differ.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString("v<" + string(rune('a'+*n%26)) + "\u2028\"")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(-*n))
	case reflect.Uint64:
		v.SetUint(uint64(*n) << 40)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, n)
		fill(e, n)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), n)
		v.Set(s)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n)
			}
		}
	default:
		panic("fill: unhandled kind " + v.Kind().String())
	}
}

// The hand-written codec knows every field of the core's protocol types:
// a field added to replay.Activation, replay.Job, replay.Command or
// history.ErrorDetails without teaching wire.go fails here.
func TestWireCoversEveryField(t *testing.T) {
	n := 0
	var a replay.Activation
	fill(reflect.ValueOf(&a).Elem(), &n)
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var got replay.Activation
	if err := decodeActivation(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if !reflect.DeepEqual(got, a) {
		t.Fatalf("decoding %s lost a field:\nmine %+v\nwant %+v", b, got, a)
	}

	var c replay.Command
	fill(reflect.ValueOf(&c).Elem(), &n)
	cmds := []replay.Command{c, {Kind: replay.CmdSetCustomStatus}}
	want, err := json.Marshal(cmds)
	if err != nil {
		t.Fatal(err)
	}
	if mine := appendCommands(nil, cmds); string(mine) != string(want) {
		t.Fatalf("encoding a command lost a field:\nmine %s\njson %s", mine, want)
	}
}
