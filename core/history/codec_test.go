package history

import (
	"encoding/json"
	"testing"
)

func TestEncodePayload(t *testing.T) {
	type pair struct {
		A int `json:"a"`
	}
	cases := []struct {
		name string
		in   any
		want string
	}{
		{"nil", nil, ""},
		{"string stays raw", "World", "World"},
		{"string that looks like JSON stays raw", `{"a":1}`, `{"a":1}`},
		{"empty string", "", ""},
		{"int", 42, "42"},
		{"bool", true, "true"},
		{"struct", pair{A: 1}, `{"a":1}`},
		{"slice", []int{1, 2}, "[1,2]"},
		{"raw message", json.RawMessage(`[1]`), "[1]"},
		{"bytes", []byte("raw"), "raw"},
		{"named string type", json.Number("12"), "12"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := EncodePayload(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("EncodePayload(%v) = %q, want %q", c.in, got, c.want)
			}
		})
	}
	if _, err := EncodePayload(make(chan int)); err == nil {
		t.Fatal("encoding a channel should fail")
	}
}

func TestDecodePayload(t *testing.T) {
	var s string
	for _, c := range []struct{ in, want string }{
		{"World", "World"},
		{`"quoted"`, "quoted"},
		{"123", "123"},
		{"true", "true"},
		{`{"a":1}`, `{"a":1}`},
		{"", ""},
	} {
		if err := DecodePayload(c.in, &s); err != nil || s != c.want {
			t.Fatalf("DecodePayload(%q, *string) = %q, %v; want %q", c.in, s, err, c.want)
		}
	}
	var n int
	if err := DecodePayload("41", &n); err != nil || n != 41 {
		t.Fatalf("int: %d %v", n, err)
	}
	if err := DecodePayload("not a number", &n); err == nil {
		t.Fatal("decoding text into an int should fail")
	}
	var m map[string]int
	if err := DecodePayload(`{"a":1}`, &m); err != nil || m["a"] != 1 {
		t.Fatalf("map: %v %v", m, err)
	}
	var a any
	if err := DecodePayload("plain", &a); err != nil || a != "plain" {
		t.Fatalf("any from raw text: %v %v", a, err)
	}
	if err := DecodePayload("1", nil); err != nil {
		t.Fatalf("nil target: %v", err)
	}
	if err := DecodePayload("1", n); err == nil {
		t.Fatal("a non-pointer target should fail")
	}
	// A typed string value round-trips through both rules.
	enc, _ := EncodePayload("Hello, World!")
	if err := DecodePayload(enc, &s); err != nil || s != "Hello, World!" {
		t.Fatalf("round trip: %q %v", s, err)
	}
}

func FuzzPayloadRoundTrip(f *testing.F) {
	f.Add("World")
	f.Add(`{"a":[1,2]}`)
	f.Add(`"x"`)
	f.Fuzz(func(t *testing.T, s string) {
		var out string
		if err := DecodePayload(s, &out); err != nil {
			t.Fatalf("decode into string never fails: %v", err)
		}
		var a any
		_ = DecodePayload(s, &a)
		enc, err := EncodePayload(s)
		if err != nil || enc != s {
			t.Fatalf("a string encodes raw: %q -> %q %v", s, enc, err)
		}
	})
}

func TestDecodeStored(t *testing.T) {
	if w, err := DecodeStoredWorkItem(` {"kind":"ExternalRaised","instance":"i","name":"E"}`); err != nil || w.Name != "E" {
		t.Fatalf("valid work item: %+v %v", w, err)
	}
	for _, raw := range []string{``, `[]`, `"x"`, `{"kind":"Teleport"}`, `{"kind":`} {
		if _, err := DecodeStoredWorkItem(raw); err == nil {
			t.Errorf("work item %q accepted", raw)
		}
	}
	if e, err := DecodeStoredEvent(`{"event_id":3,"type":"TimerCreated"}`, 3); err != nil || e.Kind != TimerCreated {
		t.Fatalf("valid event: %+v %v", e, err)
	}
	for _, c := range []struct {
		raw  string
		id   uint64
		want string
	}{
		{`{"event_id":3}`, 3, "no type"},
		{`{"event_id":4,"type":"TimerCreated"}`, 3, "event id 4"},
		{`not json`, 3, "undecodable event 3"},
	} {
		if _, err := DecodeStoredEvent(c.raw, c.id); err == nil || !contains(err.Error(), c.want) {
			t.Errorf("event %q: %v, want an error saying %q", c.raw, err, c.want)
		}
	}
}
