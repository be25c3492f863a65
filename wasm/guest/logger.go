package guest

import (
	"bytes"
	"context"
	"log/slog"

	"github.com/duroxide/duroxide/core/orchestration"
)

// The guest's logger encodes each record as one JSON object (without a
// time: the guest's clock is logical) and hands it to the host, which logs
// it with its own logger and the instance's identity. The host knows which
// jobs it replays and drops their records, so each is logged once per
// decision.
//
// The guest formats every record either way: its work for a job must not
// depend on whether the job is replayed, or a warm instance and a fresh
// replay would use different fuel, allocate differently and reach
// different states of the Go runtime (its GC timing, its internal random
// numbers behind math/rand). The driver is therefore built with
// DriverOptions.LogWhileReplaying, and its replay-safe handler passes
// every record to guestHandler below, with the execution's identity and
// the replaying mark appended. guestHandler removes those four attributes:
// the host adds the identity itself, and without the mark a record is the
// same bytes whether its job is replayed or not.

// driverAttrs are the attributes the driver's handler appends to every
// record, in order (core/orchestration/logger.go).
var driverAttrs = [...]string{"instance_id", "execution_id", "orchestration", orchestration.LogReplaying}

type guestHandler struct {
	inner slog.Handler // writes JSON into buf
	buf   *bytes.Buffer
	logTo func(record []byte)
}

func newGuestLogger(logTo func(record []byte)) *slog.Logger {
	buf := &bytes.Buffer{}
	inner := slog.NewJSONHandler(buf, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	return slog.New(&guestHandler{inner: inner, buf: buf, logTo: logTo})
}

func (h *guestHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *guestHandler) Handle(ctx context.Context, r slog.Record) error {
	h.buf.Reset()
	if err := h.inner.Handle(ctx, withoutDriverAttrs(r)); err != nil {
		return err
	}
	if h.logTo != nil {
		h.logTo(bytes.TrimRight(h.buf.Bytes(), "\n"))
	}
	return nil
}

func (h *guestHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &guestHandler{inner: h.inner.WithAttrs(attrs), buf: h.buf, logTo: h.logTo}
}

func (h *guestHandler) WithGroup(name string) slog.Handler {
	return &guestHandler{inner: h.inner.WithGroup(name), buf: h.buf, logTo: h.logTo}
}

// withoutDriverAttrs returns r without the attributes the driver appended.
// They are the last ones; the code's own attributes (even one it calls
// "replaying") come before them and stay.
func withoutDriverAttrs(r slog.Record) slog.Record {
	n, k := r.NumAttrs(), len(driverAttrs)
	if n < k {
		return r
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	i, ours := 0, true
	r.Attrs(func(a slog.Attr) bool {
		if i < n-k {
			out.AddAttrs(a)
		} else if a.Key != driverAttrs[i-(n-k)] {
			ours = false
			return false
		}
		i++
		return true
	})
	if !ours {
		return r
	}
	return out
}
