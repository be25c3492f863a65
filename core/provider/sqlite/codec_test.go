package sqlite

import (
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

func fuzzSeeds(f *testing.F) {
	status := "s"
	seeds := []any{
		history.WorkItem{Kind: history.WorkStartOrchestration, Instance: "a", Name: "O", Version: "1.0.0", Input: `{"x":1}`,
			CarryForward: []history.QueuedEvent{{Name: "q", Data: "d"}}, CustomStatus: &status},
		history.WorkItem{Kind: history.WorkActivityFailed, Instance: "a", ExecutionID: 2, ID: 3,
			Error: history.AppError(history.KindActivityFailed, "boom")},
		history.Event{EventID: 1, Kind: history.OrchestrationStarted, InstanceID: "a", ExecutionID: 1, Name: "O"},
		history.Event{EventID: 7, Kind: history.CustomStatusUpdated, CustomStatus: &status},
	}
	for _, s := range seeds {
		raw, err := encodeJSON(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw, uint64(1))
		f.Add(raw, uint64(7))
	}
	for _, raw := range []string{"", "{", "[]", "null", `"str"`, `{"kind":"Nope"}`, `{"type":""}`,
		`{"event_id": 1e400, "type": "X"}`, `{"execution_id": -1, "kind": "TimerFired"}`, "\x00\xff", `{"kind":"StartOrchestration","carry_forward":[]}`,
		`{"event_id":1,"type":"OrchestrationStarted","custom_status":null}`, " {\"kind\":\"CancelInstance\"} "} {
		f.Add(raw, uint64(1))
	}
}

// FuzzDecodeRows feeds arbitrary row text to the decoders: they never
// panic, and what they accept re-encodes to a stable form.
func FuzzDecodeRows(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, raw string, id uint64) {
		if w, err := decodeWorkItem(raw); err == nil {
			if !w.Kind.Known() {
				t.Fatalf("accepted unknown kind %q", w.Kind)
			}
			enc1, err := encodeJSON(w)
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			w2, err := decodeWorkItem(enc1)
			if err != nil {
				t.Fatalf("decode of re-encoded item %q: %v", enc1, err)
			}
			if enc2, _ := encodeJSON(w2); enc2 != enc1 {
				t.Fatalf("unstable round trip: %q then %q", enc1, enc2)
			}
		}
		if e, err := decodeEvent(raw, id); err == nil {
			if e.EventID != id || e.Kind == "" {
				t.Fatalf("accepted event %d (%q) for row %d", e.EventID, e.Kind, id)
			}
			enc1, err := encodeJSON(e)
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			e2, err := decodeEvent(enc1, id)
			if err != nil {
				t.Fatalf("decode of re-encoded event %q: %v", enc1, err)
			}
			if enc2, _ := encodeJSON(e2); enc2 != enc1 {
				t.Fatalf("unstable round trip: %q then %q", enc1, enc2)
			}
		}
	})
}

// FuzzFetchStoredRows stores arbitrary text as a queue row and as a history
// row of a live instance, then runs the fetch paths: whatever the text, the
// store neither panics nor fails, and the row either reaches the caller or
// is dead-lettered.
func FuzzFetchStoredRows(f *testing.F) {
	fuzzSeeds(f)
	s, err := Open("sqlite::memory:", nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	ctx := bg0
	f.Fuzz(func(t *testing.T, raw string, _ uint64) {
		err := s.write(ctx, func(w *wtx) error {
			for _, table := range []string{"history", "executions", "instances", "orchestrator_queue", "worker_queue",
				"instance_locks", "dead_letters"} {
				if _, err := w.exec("DELETE FROM " + table); err != nil {
					return err
				}
			}
			if _, err := w.exec(`INSERT INTO instances(instance_id, orchestration_name, created_at, updated_at) VALUES ('a', 'O', 1, 1)`); err != nil {
				return err
			}
			if _, err := w.exec(`INSERT INTO executions(instance_id, execution_id, started_at) VALUES ('a', 1, 1)`); err != nil {
				return err
			}
			if _, err := w.exec(`INSERT INTO history(instance_id, execution_id, event_id, event_type, event_data, created_at)
VALUES ('a', 1, 1, 'OrchestrationStarted', ?, 1)`, raw); err != nil {
				return err
			}
			if _, err := w.exec(`INSERT INTO orchestrator_queue(instance_id, kind, work_item, visible_at, created_at)
VALUES ('a', 'ExternalRaised', ?, 0, 1)`, raw); err != nil {
				return err
			}
			_, err := w.exec(`INSERT INTO worker_queue(instance_id, execution_id, activity_id, work_item, visible_at, created_at)
VALUES ('a', 1, 1, ?, 0, 1)`, raw)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		it, err := s.FetchOrchestrationItem(ctx, time.Minute, 0, nil)
		if err != nil {
			t.Fatalf("fetch: %v", err)
		}
		l, err := s.FetchWorkItem(ctx, time.Minute, 0, nil, provider.TagFilter{Mode: provider.TagAny})
		if err != nil {
			t.Fatalf("work fetch: %v", err)
		}
		dls, err := s.ListDeadLetters(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if want := boolInt(it == nil) + boolInt(l == nil); len(dls) != want {
			t.Fatalf("%d dead letters, want %d (item %v, lease %v)", len(dls), want, it != nil, l != nil)
		}
		if it != nil {
			if (it.HistoryError == "") != (len(it.History) == 1) || it.StoredEvents != 1 {
				t.Fatalf("history: error %q, %d events, %d stored", it.HistoryError, len(it.History), it.StoredEvents)
			}
			if err := s.AbandonOrchestrationItem(ctx, it.LockToken, 0, false); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
