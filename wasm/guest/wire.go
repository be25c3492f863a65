package guest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/replay"
)

// decodeActivation parses a replay.Activation (the schema of
// docs/protocol.md). It is a hand-written decoder for this one schema
// because encoding/json's reflection is most of a turn's cost inside a
// WebAssembly guest (about 20 µs for a one-job activation, against under
// 2 µs here). It follows encoding/json's rules — keys match exactly or
// case-insensitively, null leaves a field at its zero value (nil for
// pointers and maps), unknown keys are skipped, invalid UTF-8 becomes
// U+FFFD — refuses a field named twice, and never accepts a document
// encoding/json would refuse (FuzzDecodeActivation checks both). The field
// lists below follow the JSON tags of replay.Activation, replay.Job and
// history.ErrorDetails (TestWireCoversEveryField checks them).
func decodeActivation(b []byte, a *replay.Activation) error {
	d := wireDecoder{b: b}
	if err := d.activation(a); err != nil {
		return err
	}
	d.ws()
	if d.i != len(d.b) {
		return d.errorf("data after the activation")
	}
	return nil
}

var (
	activationFields = []string{"protocol", "instance", "execution_id", "name", "version", "jobs"}
	jobFields        = []string{"kind", "seq", "replaying", "input", "result", "error", "name", "data", "reason", "custom_status", "kv", "parent_instance"}
	errorFields      = []string{"category", "kind", "message", "error_type", "reason", "operation", "retryable", "attempt_count", "max_attempts", "resource"}
	jobKinds         = []string{string(replay.JobStart), string(replay.JobActivity), string(replay.JobTimer), string(replay.JobEvent), string(replay.JobSubOrchestration), string(replay.JobSystemCall), string(replay.JobCancel)}
	categories       = []string{string(history.CategoryApplication), string(history.CategoryInfrastructure), string(history.CategoryConfiguration), string(history.CategoryPoison)}
)

// wireHints are strings an activation usually repeats from the previous
// one (instance, name, version): decoding reuses them instead of
// allocating copies.
var wireHints [3]string

func (d *wireDecoder) activation(a *replay.Activation) error {
	var seen uint32
	if err := d.open('{'); err != nil {
		return err
	}
	for first := true; ; {
		key, more, err := d.nextKey(&first)
		if err != nil || !more {
			return err
		}
		i, err := d.field(key, activationFields, &seen)
		if err != nil {
			return err
		}
		switch i {
		case -1:
		case 0:
			err = d.intField(&a.Protocol)
		case 1:
			err = d.stringField(&a.Instance, wireHints[0])
			wireHints[0] = a.Instance
		case 2:
			err = d.uintField(&a.ExecutionID)
		case 3:
			err = d.stringField(&a.Name, wireHints[1])
			wireHints[1] = a.Name
		case 4:
			err = d.stringField(&a.Version, wireHints[2])
			wireHints[2] = a.Version
		default: // jobs
			err = d.jobs(a)
		}
		if err != nil {
			return err
		}
	}
}

func (d *wireDecoder) jobs(a *replay.Activation) error {
	if d.null() {
		return nil
	}
	if err := d.open('['); err != nil {
		return err
	}
	a.Jobs = make([]replay.Job, 0, 1)
	for first := true; ; {
		more, err := d.nextElem(&first)
		if err != nil || !more {
			return err
		}
		a.Jobs = append(a.Jobs, replay.Job{})
		if err := d.job(&a.Jobs[len(a.Jobs)-1]); err != nil {
			return err
		}
	}
}

// field finds the field a key names (-1: none, the value is skipped). A
// field named twice is refused: encoding/json would merge the two values
// in ways this decoder does not copy, and no host sends duplicates.
func (d *wireDecoder) field(key []byte, fields []string, seen *uint32) (int, error) {
	idx := -1
	for i, f := range fields {
		if string(key) == f {
			idx = i
			break
		}
	}
	if idx < 0 {
		for i, f := range fields {
			if keyIs(string(key), f) {
				idx = i
				break
			}
		}
	}
	if idx < 0 {
		return -1, d.skip()
	}
	if *seen&(1<<idx) != 0 {
		return -1, d.errorf("field %q appears twice", fields[idx])
	}
	*seen |= 1 << idx
	return idx, nil
}

func (d *wireDecoder) job(j *replay.Job) error {
	if d.null() {
		return nil
	}
	var seen uint32
	if err := d.open('{'); err != nil {
		return err
	}
	for first := true; ; {
		key, more, err := d.nextKey(&first)
		if err != nil || !more {
			return err
		}
		i, err := d.field(key, jobFields, &seen)
		if err != nil {
			return err
		}
		switch i {
		case -1:
		case 0:
			var s string
			err = d.stringField(&s, jobKinds...)
			j.Kind = replay.JobKind(s)
		case 1:
			err = d.uintField(&j.Seq)
		case 2:
			err = d.boolField(&j.Replaying)
		case 3:
			err = d.stringField(&j.Input)
		case 4:
			err = d.stringField(&j.Result)
		case 5:
			if !d.null() {
				j.Error = &history.ErrorDetails{}
				err = d.errorDetails(j.Error)
			}
		case 6:
			err = d.stringField(&j.Name)
		case 7:
			err = d.stringField(&j.Data)
		case 8:
			err = d.stringField(&j.Reason)
		case 9:
			if !d.null() {
				var s string
				s, err = d.str()
				j.CustomStatus = &s
			}
		case 10:
			if !d.null() {
				j.KV = map[string]string{}
				err = d.kv(j.KV)
			}
		default: // parent_instance
			err = d.stringField(&j.ParentInstance)
		}
		if err != nil {
			return err
		}
	}
}

func (d *wireDecoder) kv(m map[string]string) error {
	if err := d.open('{'); err != nil {
		return err
	}
	for first := true; ; {
		key, more, err := d.nextKey(&first)
		if err != nil || !more {
			return err
		}
		if d.null() {
			m[string(key)] = ""
			continue
		}
		k := string(key)
		v, err := d.str()
		if err != nil {
			return err
		}
		m[k] = v
	}
}

func (d *wireDecoder) errorDetails(e *history.ErrorDetails) error {
	var seen uint32
	if err := d.open('{'); err != nil {
		return err
	}
	for first := true; ; {
		key, more, err := d.nextKey(&first)
		if err != nil || !more {
			return err
		}
		i, err := d.field(key, errorFields, &seen)
		if err != nil {
			return err
		}
		switch i {
		case -1:
		case 0:
			err = d.stringField((*string)(&e.Category), categories...)
		case 1:
			err = d.stringField(&e.Kind)
		case 2:
			err = d.stringField(&e.Message)
		case 3:
			err = d.stringField(&e.Type)
		case 4:
			err = d.stringField(&e.Reason)
		case 5:
			err = d.stringField(&e.Operation)
		case 6:
			err = d.boolField(&e.Retryable)
		case 7:
			err = d.intField(&e.AttemptCount)
		case 8:
			err = d.intField(&e.MaxAttempts)
		default: // resource
			err = d.stringField(&e.Resource)
		}
		if err != nil {
			return err
		}
	}
}

// keyIs matches a key as encoding/json does: exactly, or ignoring case.
func keyIs(key, name string) bool { return key == name || strings.EqualFold(key, name) }

type wireDecoder struct {
	b     []byte
	i     int
	depth int
}

// maxWireDepth bounds nesting in skipped values, as encoding/json does.
const maxWireDepth = 10000

var errWireSyntax = errors.New("invalid JSON")

func (d *wireDecoder) errorf(format string, args ...any) error {
	return fmt.Errorf("decode activation at byte %d: %w: %s", d.i, errWireSyntax, fmt.Sprintf(format, args...))
}

func (d *wireDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *wireDecoder) peek() byte {
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// null consumes a null literal if one is next.
func (d *wireDecoder) null() bool {
	if d.peek() == 'n' && len(d.b)-d.i >= 4 && d.b[d.i+1] == 'u' && d.b[d.i+2] == 'l' && d.b[d.i+3] == 'l' {
		d.i += 4
		return true
	}
	return false
}

func (d *wireDecoder) literal(word string) bool {
	if len(d.b)-d.i >= len(word) && string(d.b[d.i:d.i+len(word)]) == word {
		d.i += len(word)
		return true
	}
	return false
}

// open consumes the '{' or '[' that starts an object or array.
func (d *wireDecoder) open(c byte) error {
	if d.peek() != c {
		if c == '{' {
			return d.errorf("want an object")
		}
		return d.errorf("want an array")
	}
	d.i++
	return nil
}

// nextKey moves to the next key of an object (after open): more is false
// at its end. The key is valid until the next string is read.
func (d *wireDecoder) nextKey(first *bool) (key []byte, more bool, err error) {
	c := d.peek()
	switch {
	case c == '}' && *first:
		d.i++
		return nil, false, nil
	case *first:
		*first = false
	case c == ',':
		d.i++
	case c == '}':
		d.i++
		return nil, false, nil
	default:
		return nil, false, d.errorf("want ',' or '}'")
	}
	if d.peek() != '"' {
		return nil, false, d.errorf("want a key")
	}
	if key, err = d.strBytes(); err != nil {
		return nil, false, err
	}
	if d.peek() != ':' {
		return nil, false, d.errorf("want ':'")
	}
	d.i++
	return key, true, nil
}

// nextElem moves to the next element of an array (after open): more is
// false at its end.
func (d *wireDecoder) nextElem(first *bool) (more bool, err error) {
	c := d.peek()
	switch {
	case c == ']' && *first:
		d.i++
		return false, nil
	case *first:
		*first = false
	case c == ',':
		d.i++
	case c == ']':
		d.i++
		return false, nil
	default:
		return false, d.errorf("want ',' or ']'")
	}
	return true, nil
}

// stringField reads a string (null leaves *p alone); when it equals one of
// the hints, the hint is stored instead of a new copy.
func (d *wireDecoder) stringField(p *string, hints ...string) error {
	if d.null() {
		return nil
	}
	b, err := d.strBytes()
	if err != nil {
		return err
	}
	for _, h := range hints {
		if string(b) == h {
			*p = h
			return nil
		}
	}
	*p = string(b)
	return nil
}

func (d *wireDecoder) boolField(p *bool) error {
	switch {
	case d.null():
	case d.peek() == 't' && d.literal("true"):
		*p = true
	case d.peek() == 'f' && d.literal("false"):
		*p = false
	default:
		return d.errorf("want a boolean")
	}
	return nil
}

func (d *wireDecoder) uintField(p *uint64) error {
	if d.null() {
		return nil
	}
	lit, err := d.number()
	if err != nil {
		return err
	}
	v, err := strconv.ParseUint(string(lit), 10, 64)
	if err != nil {
		return d.errorf("want an unsigned integer, got %s", lit)
	}
	*p = v
	return nil
}

func (d *wireDecoder) intField(p *int) error {
	if d.null() {
		return nil
	}
	lit, err := d.number()
	if err != nil {
		return err
	}
	v, err := strconv.ParseInt(string(lit), 10, strconv.IntSize)
	if err != nil {
		return d.errorf("want an integer, got %s", lit)
	}
	*p = int(v)
	return nil
}

// number scans a JSON number and returns its text.
func (d *wireDecoder) number() ([]byte, error) {
	d.ws()
	start := d.i
	digits := func() int {
		n := 0
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.b) && d.b[d.i] == '0':
		d.i++
	case digits() == 0:
		return nil, d.errorf("want a number")
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return nil, d.errorf("want digits after '.'")
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return nil, d.errorf("want digits in the exponent")
		}
	}
	return d.b[start:d.i], nil
}

// skip consumes any JSON value.
func (d *wireDecoder) skip() error {
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > maxWireDepth {
		return d.errorf("nested too deeply")
	}
	switch c := d.peek(); {
	case c == '{':
		d.i++
		for first := true; ; {
			_, more, err := d.nextKey(&first)
			if err != nil || !more {
				return err
			}
			if err := d.skip(); err != nil {
				return err
			}
		}
	case c == '[':
		d.i++
		for first := true; ; {
			more, err := d.nextElem(&first)
			if err != nil || !more {
				return err
			}
			if err := d.skip(); err != nil {
				return err
			}
		}
	case c == '"':
		_, err := d.str()
		return err
	case c == 't' && d.literal("true"), c == 'f' && d.literal("false"), c == 'n' && d.literal("null"):
		return nil
	case c == '-' || c >= '0' && c <= '9':
		_, err := d.number()
		return err
	}
	return d.errorf("want a value")
}

// str reads a JSON string: escapes resolved, invalid UTF-8 and lone
// surrogates replaced by U+FFFD, as encoding/json does.
func (d *wireDecoder) str() (string, error) {
	b, err := d.strBytes()
	return string(b), err
}

// strBytes is str without the copy: plain ASCII comes back as a slice of
// the input.
func (d *wireDecoder) strBytes() ([]byte, error) {
	if d.peek() != '"' {
		return nil, d.errorf("want a string")
	}
	d.i++
	start := d.i
	// Fast path: plain ASCII up to the closing quote.
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c == '"' {
			d.i++
			return d.b[start : d.i-1], nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		d.i++
	}
	out := make([]byte, 0, d.i-start+16)
	out = append(out, d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return out, nil
		case c < 0x20:
			return nil, d.errorf("control character in a string")
		case c == '\\':
			if d.i+1 >= len(d.b) {
				return nil, d.errorf("unfinished escape")
			}
			e := d.b[d.i+1]
			d.i += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := d.hex4()
				if !ok {
					return nil, d.errorf("bad \\u escape")
				}
				if utf16.IsSurrogate(r) {
					save := d.i
					r2 := rune(-1)
					if d.i+1 < len(d.b) && d.b[d.i] == '\\' && d.b[d.i+1] == 'u' {
						d.i += 2
						if v, ok := d.hex4(); ok {
							r2 = v
						} else {
							return nil, d.errorf("bad \\u escape")
						}
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
					} else {
						d.i = save
						r = utf8.RuneError
					}
				}
				out = utf8.AppendRune(out, r)
			default:
				return nil, d.errorf("bad escape \\%c", e)
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			d.i++
		default:
			r, size := utf8.DecodeRune(d.b[d.i:])
			d.i += size
			out = utf8.AppendRune(out, r)
		}
	}
	return nil, d.errorf("unterminated string")
}

func (d *wireDecoder) hex4() (rune, bool) {
	if d.i+4 > len(d.b) {
		return 0, false
	}
	var r rune
	for _, c := range d.b[d.i : d.i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	d.i += 4
	return r, true
}

// appendCommands encodes replay.Commands exactly as encoding/json.Marshal does
// (FuzzEncodeCommands checks byte for byte), without its reflection.
func appendCommands(b []byte, cmds []replay.Command) []byte {
	b = append(b, '[')
	for i := range cmds {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCommand(b, &cmds[i])
	}
	return append(b, ']')
}

func appendCommand(b []byte, c *replay.Command) []byte {
	b = append(b, `{"kind":`...)
	b = appendString(b, string(c.Kind))
	if c.Seq != 0 {
		b = append(b, `,"seq":`...)
		b = strconv.AppendUint(b, c.Seq, 10)
	}
	b = appendStringField(b, "name", c.Name)
	b = appendStringField(b, "version", c.Version)
	b = appendStringField(b, "instance", c.Instance)
	b = appendStringField(b, "input", c.Input)
	b = appendStringField(b, "session_id", c.SessionID)
	b = appendStringField(b, "tag", c.Tag)
	if c.DelayMs != 0 {
		b = append(b, `,"delay_ms":`...)
		b = strconv.AppendInt(b, c.DelayMs, 10)
	}
	if c.PickupTimeoutMs != 0 {
		b = append(b, `,"pickup_timeout_ms":`...)
		b = strconv.AppendInt(b, c.PickupTimeoutMs, 10)
	}
	b = appendStringField(b, "op", c.Op)
	if c.Status != nil {
		b = append(b, `,"status":`...)
		b = appendString(b, *c.Status)
	}
	b = appendStringField(b, "key", c.Key)
	b = appendStringField(b, "value", c.Value)
	b = appendStringField(b, "output", c.Output)
	if e := c.Error; e != nil {
		b = append(b, `,"error":{"category":`...)
		b = appendString(b, string(e.Category))
		b = appendStringField(b, "kind", e.Kind)
		b = appendStringField(b, "message", e.Message)
		b = appendStringField(b, "error_type", e.Type)
		b = appendStringField(b, "reason", e.Reason)
		b = appendStringField(b, "operation", e.Operation)
		if e.Retryable {
			b = append(b, `,"retryable":true`...)
		}
		if e.AttemptCount != 0 {
			b = append(b, `,"attempt_count":`...)
			b = strconv.AppendInt(b, int64(e.AttemptCount), 10)
		}
		if e.MaxAttempts != 0 {
			b = append(b, `,"max_attempts":`...)
			b = strconv.AppendInt(b, int64(e.MaxAttempts), 10)
		}
		b = appendStringField(b, "resource", e.Resource)
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendStringField(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendString(b, v)
}

const hexDigits = "0123456789abcdef"

// appendString quotes s as encoding/json does (with its HTML escaping).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
