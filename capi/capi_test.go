package main

import (
	"context"
	"encoding/json"

	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/replay"
)

// These tests drive the ABI's Go side (handles, queues, host runtime)
// without C; capi/testdata/capi_test.c drives the same through the header.

func TestHandles(t *testing.T) {
	s, err := openStore("sqlite::memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	id := addHandle(kindStore, s)
	if _, err := lookupRuntime(id); statusOf(err) != statusHandle || !strings.Contains(err.Error(), "not a runtime") {
		t.Fatalf("wrong kind: %v", err)
	}
	if _, err := lookupStore(id + 1000); statusOf(err) != statusHandle || !strings.Contains(err.Error(), "closed or was never opened") {
		t.Fatalf("unknown handle: %v", err)
	}
	if _, err := removeHandle(id, kindStore); err != nil {
		t.Fatal(err)
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
}

func TestPollQueue(t *testing.T) {
	q := newPollQueue()
	if items, closed := q.poll(0, 10*time.Millisecond); items != nil || closed {
		t.Fatalf("empty poll: %v %v", items, closed)
	}
	go func() {
		time.Sleep(5 * time.Millisecond)
		q.push([]byte(`{"a":1}`))
		q.push([]byte(`{"b":2}`))
	}()
	items, _ := q.poll(1, time.Second)
	if len(items) != 1 || string(items[0]) != `{"a":1}` {
		t.Fatalf("first poll: %q", items)
	}
	items, _ = q.poll(0, time.Second)
	if got := string(joinItems(items)); got != `[{"b":2}]` {
		t.Fatalf("second poll: %s", got)
	}
	q.close()
	if _, closed := q.poll(0, time.Second); !closed {
		t.Fatal("poll after close: not closed")
	}
	if q.push([]byte("x")) {
		t.Fatal("push after close succeeded")
	}
}

// fakeHost answers every activation of a Hello orchestration and every
// activity, the way a binding does.
func fakeHost(t *testing.T, h *hostRuntime, done <-chan struct{}) {
	t.Helper()
	for {
		items, closed := h.q.poll(0, 50*time.Millisecond)
		if closed {
			return
		}
		select {
		case <-done:
			return
		default:
		}
		for _, raw := range items {
			var it struct {
				Type       string             `json:"type"`
				DriverID   uint64             `json:"driver_id"`
				TaskID     uint64             `json:"task_id"`
				Input      string             `json:"input"`
				Activation *replay.Activation `json:"activation"`
			}
			if err := json.Unmarshal(raw, &it); err != nil {
				t.Errorf("bad item %s: %v", raw, err)
				continue
			}
			switch it.Type {
			case itemActivation:
				var cmds []replay.Command
				for _, j := range it.Activation.Jobs {
					switch j.Kind {
					case replay.JobStart:
						cmds = append(cmds, replay.Command{Kind: replay.CmdScheduleActivity, Seq: 1, Name: "Greet", Input: j.Input})
					case replay.JobActivity:
						cmds = append(cmds, replay.Command{Kind: replay.CmdComplete, Output: j.Result})
					}
				}
				b, _ := json.Marshal(map[string]any{"protocol": 1, "commands": cmds})
				if err := h.completeActivation(it.DriverID, b); err != nil {
					t.Errorf("complete activation: %v", err)
				}
			case itemActivity:
				if err := h.completeActivity(it.TaskID, true, []byte("Hello, "+it.Input+"!")); err != nil {
					t.Errorf("complete activity: %v", err)
				}
			}
		}
	}
}

func TestHostRuntime(t *testing.T) {
	s, err := openStore("sqlite::memory:", nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHostRuntime(s, []byte(`{"activation_timeout_ms":5000}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.registerOrchestration("Hello", ""); err != nil {
		t.Fatal(err)
	}
	if err := h.registerActivity("Greet"); err != nil {
		t.Fatal(err)
	}
	if err := h.registerActivity("Greet"); statusOf(err) != statusExists {
		t.Fatalf("duplicate: %v", err)
	}
	if err := h.start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); fakeHost(t, h, done) }()
	ce, err := newClientEntry(s)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := ce.call(ctx, []byte(`{"op":"start_orchestration","instance":"i","name":"Hello","input":"World"}`)); err != nil {
		t.Fatal(err)
	}
	res, err := ce.call(ctx, []byte(`{"op":"wait_for_orchestration","instance":"i","timeout_ms":10000}`))
	if err != nil {
		t.Fatal(err)
	}
	if st := res.(*statusOut); st.Status != string(client.StateCompleted) || *st.Output != "Hello, World!" {
		t.Fatalf("status %+v", st)
	}
	if _, err := ce.call(ctx, []byte(`{"op":"nope"}`)); statusOf(err) != statusInvalid {
		t.Fatalf("unknown op: %v", err)
	}
	if _, err := ce.call(ctx, []byte(`{"op":"wait_for_orchestration","instance":"x","timeout_ms":20}`)); statusOf(err) != statusTimeout {
		t.Fatalf("timeout: %v", err)
	}
	if err := h.completeActivation(12345, []byte(`{}`)); statusOf(err) != statusNotFound {
		t.Fatalf("unknown driver: %v", err)
	}
	if err := s.close(); err == nil {
		t.Fatal("closed a store in use")
	}
	if err := h.shutdown(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	close(done)
	wg.Wait()
	ce.close()
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
}

// FuzzClientRequest: any bytes as a client request give an error or a
// result, never a panic.
func FuzzClientRequest(f *testing.F) {
	f.Add([]byte(`{"op":"get_status","instance":"x"}`))
	f.Add([]byte(`{"op":"list_instances","filter":{"limit":-1}}`))
	f.Add([]byte(`{"op":"start_orchestration","instance":"","name":""}`))
	f.Add([]byte(`[1,2`))
	f.Add([]byte(`{"op":"read_history","instance":"x","execution_id":18446744073709551615}`))
	s, err := openStore("sqlite::memory:", nil)
	if err != nil {
		f.Fatal(err)
	}
	ce, err := newClientEntry(s)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { ce.close(); _ = s.close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		res, err := ce.call(ctx, data)
		if err == nil {
			if _, err := encodeJSON(res); err != nil {
				t.Fatalf("result of %q does not encode: %v", data, err)
			}
		}
	})
}

// FuzzActivationResult: any bytes completing an activation give an error
// or commands, never a panic.
func FuzzActivationResult(f *testing.F) {
	f.Add([]byte(`{"protocol":1,"commands":[{"kind":"complete","output":"x"}]}`))
	f.Add([]byte(`{"protocol":1,"error":"boom"}`))
	f.Add([]byte(`{"protocol":2}`))
	f.Add([]byte(`{"commands":[{"kind":"schedule_activity","seq":"x"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var res activationResult
		_ = decodeJSON(data, &res)
	})
}

func BenchmarkDecodeCommands(b *testing.B) {
	data := []byte(`{"protocol":1,"commands":[{"kind":"schedule_activity","seq":1,"name":"Step","input":"axx"}]}`)
	for i := 0; i < b.N; i++ {
		var res activationResult
		if err := decodeJSON(data, &res); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeActivation(b *testing.B) {
	item := &pollItem{Protocol: 1, Type: itemActivation, DriverID: 7, Activation: &replay.Activation{Protocol: 1, Instance: "chain-1",
		ExecutionID: 1, Name: "Chain3", Version: "1.0.0", Jobs: []replay.Job{{Kind: replay.JobActivity, Seq: 1, Result: "ax"}}}}
	for i := 0; i < b.N; i++ {
		if _, err := encodeJSON(item); err != nil {
			b.Fatal(err)
		}
	}
}
