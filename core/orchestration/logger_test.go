package orchestration

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/duroxide/duroxide/core/replay"
)

func logOnce(ctx *Context, _ string) (string, error) {
	ctx.Logger().Info("hello from the code")
	return "", nil
}

func runStart(t *testing.T, opts *DriverOptions, replaying bool) {
	t.Helper()
	d := NewDriver(logOnce, opts)
	defer d.Close()
	_, err := d.Activate(context.Background(), &replay.Activation{Protocol: replay.ProtocolVersion, Instance: "i", ExecutionID: 1, Name: "L",
		Jobs: []replay.Job{{Kind: replay.JobStart, Replaying: replaying}}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLoggerIsReplaySafe(t *testing.T) {
	var buf bytes.Buffer
	opts := &DriverOptions{Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	runStart(t, opts, true)
	if buf.Len() != 0 {
		t.Fatalf("logged while replaying: %s", buf.String())
	}
	runStart(t, opts, false)
	if !strings.Contains(buf.String(), "hello from the code") || !strings.Contains(buf.String(), "instance_id=i") {
		t.Fatalf("record missing or without identity: %s", buf.String())
	}
}

func TestLogWhileReplayingMarksRecords(t *testing.T) {
	var buf bytes.Buffer
	opts := &DriverOptions{Logger: slog.New(slog.NewTextHandler(&buf, nil)), LogWhileReplaying: true}
	runStart(t, opts, true)
	if !strings.Contains(buf.String(), "replaying=true") {
		t.Fatalf("replay record not passed on marked: %s", buf.String())
	}
	buf.Reset()
	runStart(t, opts, false)
	if !strings.Contains(buf.String(), "replaying=false") {
		t.Fatalf("live record not marked: %s", buf.String())
	}
}
