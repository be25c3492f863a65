package mcp

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/google/jsonschema-go/jsonschema"
)

// inputSchema builds a tool's input schema from its Go type, as the SDK
// would, and then states the bounds the handlers enforce, so a model sees
// them before it calls: identifier lengths, page sizes, the status values.
// json.RawMessage fields (payloads) accept any JSON value.
func inputSchema[T any]() *jsonschema.Schema {
	s, err := jsonschema.For[T](&jsonschema.ForOptions{
		TypeSchemas: map[reflect.Type]*jsonschema.Schema{reflect.TypeFor[json.RawMessage](): {}},
	})
	if err != nil {
		panic(fmt.Sprintf("input schema of %T: %v", *new(T), err))
	}
	one, maxID := 1, MaxIDBytes
	for name, p := range s.Properties {
		switch name {
		case "instance_id", "name", "event_name", "queue", "parent":
			if p.Type == "string" {
				p.MaxLength = &maxID
				if isRequired(s, name) {
					p.MinLength = &one
				}
			}
		case "status":
			p.Enum = []any{"Running", "Completed", "Failed", "ContinuedAsNew"}
		case "offset":
			p.Minimum, p.Maximum = float(0), float(MaxOffset)
		case "keep_last":
			p.Minimum = float(1)
		}
	}
	return s
}

func isRequired(s *jsonschema.Schema, name string) bool {
	for _, r := range s.Required {
		if r == name {
			return true
		}
	}
	return false
}

func float(v float64) *float64 { return &v }

// withLimit sets the bounds of a "limit" property.
func withLimit(s *jsonschema.Schema, max int) *jsonschema.Schema {
	if p := s.Properties["limit"]; p != nil {
		p.Minimum, p.Maximum = float(0), float(float64(max))
	}
	return s
}
