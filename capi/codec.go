package main

import (
	"fmt"
	"sync"

	"github.com/ugorji/go/codec"
)

// Messages cross the C boundary as UTF-8 JSON, encoded and decoded with
// github.com/ugorji/go/codec (DESIGN §5; docs/RATIONALE.md explains why
// JSON and not MessagePack). Struct fields use their `json` tags, so the
// wire format is exactly the one docs/protocol.md documents.

// jsonHandle is shared and immutable once configured.
var jsonHandle = func() *codec.JsonHandle {
	h := &codec.JsonHandle{}
	h.Canonical = false
	h.HTMLCharsAsIs = true
	h.MapKeyAsString = true
	// Unknown fields are ignored so newer hosts can send more.
	h.ErrorIfNoField = false
	return h
}()

var encoderPool = sync.Pool{New: func() any { return codec.NewEncoderBytes(nil, jsonHandle) }}

// encodeJSON encodes v as JSON.
func encodeJSON(v any) ([]byte, error) {
	var b []byte
	enc := encoderPool.Get().(*codec.Encoder)
	enc.ResetBytes(&b)
	err := enc.Encode(v)
	enc.ResetBytes(nil)
	encoderPool.Put(enc)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return b, nil
}

// decodeJSON decodes JSON text into out (a pointer).
func decodeJSON(data []byte, out any) error {
	if len(data) == 0 {
		return fmt.Errorf("empty JSON message")
	}
	dec := codec.NewDecoderBytes(data, jsonHandle)
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("decode %T: %w", out, err)
	}
	return nil
}
