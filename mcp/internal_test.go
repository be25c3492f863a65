package mcp

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestHandlerRecoversPanics(t *testing.T) {
	h := handler("explode", func(context.Context, InstanceInput) (InstanceDetail, error) {
		var m map[string]int
		m["x"]++ // nil map write: a runtime panic
		return InstanceDetail{}, nil
	})
	res, _, err := h(context.Background(), nil, InstanceInput{})
	if res != nil || err == nil || !strings.Contains(err.Error(), "explode: internal error") {
		t.Fatalf("res %v, err %v", res, err)
	}
}

func TestPayload(t *testing.T) {
	cases := []struct{ in, want string }{
		{``, ``},
		{`null`, ``},
		{`"hello"`, `hello`},
		{` {"a": 1} `, `{"a": 1}`},
		{`42`, `42`},
		{`12345678901234567890`, `12345678901234567890`}, // no float rounding
		{`[1,2]`, `[1,2]`},
	}
	for _, tc := range cases {
		got, err := payload("input", json.RawMessage(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("payload(%s) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := payload("input", json.RawMessage(`{bad`)); err == nil {
		t.Error("invalid JSON accepted")
	}
}
