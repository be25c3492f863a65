package orchestration

import (
	"context"
	"log/slog"
)

// replaySafeHandler drops records while the driver replays history (or,
// with keep, passes them on marked replaying=true).
type replaySafeHandler struct {
	inner slog.Handler
	d     *driver
	keep  bool
}

func newReplaySafeLogger(base *slog.Logger, d *driver, keep bool) *slog.Logger {
	if base == nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(&replaySafeHandler{inner: base.Handler(), d: d, keep: keep})
}

func (h *replaySafeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return (h.keep || !h.d.replaying) && h.inner.Enabled(ctx, l)
}

func (h *replaySafeHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.d.replaying && !h.keep {
		return nil
	}
	r.AddAttrs(slog.String("instance_id", h.d.instance), slog.Uint64("execution_id", h.d.exec), slog.String("orchestration", h.d.name))
	if h.keep {
		r.AddAttrs(slog.Bool(LogReplaying, h.d.replaying))
	}
	return h.inner.Handle(ctx, r)
}

func (h *replaySafeHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &replaySafeHandler{inner: h.inner.WithAttrs(attrs), d: h.d, keep: h.keep}
}

func (h *replaySafeHandler) WithGroup(name string) slog.Handler {
	return &replaySafeHandler{inner: h.inner.WithGroup(name), d: h.d, keep: h.keep}
}
