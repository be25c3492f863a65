package guest

import (
	"bytes"
	"context"
	"log/slog"
)

// The guest's logger encodes each record as one JSON object (without a
// time: the guest's clock is logical) and hands it to the host, which logs
// it with its own logger and the instance's identity. The host drops the
// records of replayed jobs, so each is logged once per decision. The guest
// formats them either way: its work for a job must not depend on whether
// the job is replayed, or a warm instance and a fresh replay would
// allocate differently and reach different states of the Go runtime (its
// GC timing, its internal random numbers behind math/rand).

type replaySafeHandler struct {
	inner slog.Handler
	d     *driver
	buf   *bytes.Buffer
}

func newReplaySafeLogger(d *driver) *slog.Logger {
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
	return slog.New(&replaySafeHandler{inner: inner, d: d, buf: buf})
}

func (h *replaySafeHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *replaySafeHandler) Handle(ctx context.Context, r slog.Record) error {
	h.buf.Reset()
	if err := h.inner.Handle(ctx, r); err != nil {
		return err
	}
	h.d.h.log(bytes.TrimRight(h.buf.Bytes(), "\n"))
	return nil
}

func (h *replaySafeHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &replaySafeHandler{inner: h.inner.WithAttrs(attrs), d: h.d, buf: h.buf}
}

func (h *replaySafeHandler) WithGroup(name string) slog.Handler {
	return &replaySafeHandler{inner: h.inner.WithGroup(name), d: h.d, buf: h.buf}
}
