package history

import (
	"fmt"
	"unicode/utf8"
)

// Limits bound what one instance may record. Every violation is reported as
// a *LimitError that names the limit, the value and the maximum. The zero
// value of a field means the default.
type Limits struct {
	// MaxNameBytes bounds orchestration, activity, event, queue and
	// instance names. Default 256.
	MaxNameBytes int
	// MaxPayloadBytes bounds an input, output, result or event payload.
	// Default 2 MiB.
	MaxPayloadBytes int
	// MaxHistoryEvents bounds the events of one execution; use
	// continue-as-new for longer-lived instances. Default 100000.
	MaxHistoryEvents int
	// MaxCustomStatusBytes bounds the custom status. Default 256 KiB.
	MaxCustomStatusBytes int
	// MaxTagBytes bounds an activity tag or session id. Default 256.
	MaxTagBytes int
	// MaxKVKeys bounds the keys of an instance's KV store. Default 100.
	MaxKVKeys int
	// MaxKVKeyBytes bounds a KV key. Default 256.
	MaxKVKeyBytes int
	// MaxKVValueBytes bounds a KV value. Default 16 KiB.
	MaxKVValueBytes int
}

// Default limits.
const (
	DefaultMaxNameBytes         = 256
	DefaultMaxPayloadBytes      = 2 << 20
	DefaultMaxHistoryEvents     = 100000
	DefaultMaxCustomStatusBytes = 256 << 10
	DefaultMaxTagBytes          = 256
	DefaultMaxKVKeys            = 100
	DefaultMaxKVKeyBytes        = 256
	DefaultMaxKVValueBytes      = 16 << 10
)

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxNameBytes, DefaultMaxNameBytes)
	def(&l.MaxPayloadBytes, DefaultMaxPayloadBytes)
	def(&l.MaxHistoryEvents, DefaultMaxHistoryEvents)
	def(&l.MaxCustomStatusBytes, DefaultMaxCustomStatusBytes)
	def(&l.MaxTagBytes, DefaultMaxTagBytes)
	def(&l.MaxKVKeys, DefaultMaxKVKeys)
	def(&l.MaxKVKeyBytes, DefaultMaxKVKeyBytes)
	def(&l.MaxKVValueBytes, DefaultMaxKVValueBytes)
	return l
}

// LimitError reports a value that exceeds a limit (or is empty where a
// value is required).
type LimitError struct {
	Limit string // the limit's name, e.g. "MaxPayloadBytes"
	What  string // what was checked, e.g. "input of activity \"Hello\""
	Size  int
	Max   int
}

// Error implements the error interface.
func (e *LimitError) Error() string {
	if e.Max == 0 {
		return fmt.Sprintf("%s: must not be empty", e.What)
	}
	return fmt.Sprintf("%s is %d bytes, over the limit %s=%d", e.What, e.Size, e.Limit, e.Max)
}

// CheckName verifies a required name: non-empty, valid UTF-8, within MaxNameBytes.
func (l Limits) CheckName(what, name string) error {
	l = l.WithDefaults()
	if name == "" {
		return &LimitError{Limit: "MaxNameBytes", What: what}
	}
	if len(name) > l.MaxNameBytes {
		return &LimitError{Limit: "MaxNameBytes", What: what, Size: len(name), Max: l.MaxNameBytes}
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%s: not valid UTF-8", what)
	}
	return nil
}

// CheckPayload verifies a payload against MaxPayloadBytes.
func (l Limits) CheckPayload(what, payload string) error {
	l = l.WithDefaults()
	if len(payload) > l.MaxPayloadBytes {
		return &LimitError{Limit: "MaxPayloadBytes", What: what, Size: len(payload), Max: l.MaxPayloadBytes}
	}
	return nil
}

// CheckTag verifies an optional tag or session id against MaxTagBytes.
func (l Limits) CheckTag(what, tag string) error {
	l = l.WithDefaults()
	if len(tag) > l.MaxTagBytes {
		return &LimitError{Limit: "MaxTagBytes", What: what, Size: len(tag), Max: l.MaxTagBytes}
	}
	return nil
}
