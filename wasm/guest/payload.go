package guest

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// Payloads (inputs, outputs, results, event data) are strings, JSON text by
// convention, with the rule every duroxide language shares:
//
//   - Encode: a value that encodes to a JSON string is stored raw, without
//     the quotes; any other value as its JSON text.
//   - Decode: the text is tried as JSON first; when that fails (or the
//     target is a string and the text is not a JSON string) the text itself
//     is the value.

// EncodePayload turns a value into a payload. A nil value encodes to "".
func EncodePayload(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	case json.RawMessage:
		return string(x), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode payload of type %T: %w", v, err)
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if json.Unmarshal(b, &s) == nil {
			return s, nil
		}
	}
	return string(b), nil
}

// DecodePayload stores the payload s into out, a non-nil pointer (or nil to
// discard the value).
func DecodePayload(s string, out any) error {
	switch p := out.(type) {
	case nil:
		return nil
	case *string:
		*p = decodeString(s)
		return nil
	case *[]byte:
		*p = []byte(s)
		return nil
	case *json.RawMessage:
		*p = json.RawMessage(s)
		return nil
	case *any:
		if s == "" {
			*p = nil
			return nil
		}
		var v any
		if json.Unmarshal([]byte(s), &v) == nil {
			*p = v
		} else {
			*p = s
		}
		return nil
	}
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("decode payload: target must be a non-nil pointer, got %T", out)
	}
	if s == "" {
		rv.Elem().SetZero()
		return nil
	}
	if rv.Elem().Kind() == reflect.String {
		rv.Elem().SetString(decodeString(s))
		return nil
	}
	err := json.Unmarshal([]byte(s), out)
	if err == nil {
		return nil
	}
	quoted, _ := json.Marshal(s)
	if json.Unmarshal(quoted, out) == nil {
		return nil
	}
	return fmt.Errorf("decode payload %q into %T: %w", shorten(s, 80), out, err)
}

func decodeString(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		var v string
		if json.Unmarshal([]byte(s), &v) == nil {
			return v
		}
	}
	return s
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
