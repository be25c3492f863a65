package replay_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/orchestration"
	"github.com/duroxide/duroxide/core/replay"
)

// sim runs turns of the real engine and the real Go driver over in-memory
// queues with a virtual clock. It is a test harness for the engine alone:
// activities run synchronously (optionally "taking" virtual time) and the
// clock jumps to the next due message when nothing else is visible.
type sim struct {
	t       *testing.T
	now     time.Time
	orchs   map[string]orchestration.Func
	acts    map[string]simActivity
	execs   map[string][][]history.Event // instance → executions' histories
	kv      map[string]map[string]string // instance → KV as of the last boundary
	queue   []simMsg
	worker  []history.WorkItem
	seq     int
	guid    int
	warm    bool
	cache   map[string]simCached
	turns   int
	replays int
	failure map[string]*history.ErrorDetails
}

type simActivity func(input string) (out string, err error, takes time.Duration)

type simMsg struct {
	seq     int
	visible time.Time
	item    history.WorkItem
}

type simCached struct {
	fp      string
	drv     replay.Driver
	version string
}

func newSim(t *testing.T, warm bool) *sim {
	return &sim{
		t:       t,
		now:     time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		orchs:   map[string]orchestration.Func{},
		acts:    map[string]simActivity{},
		execs:   map[string][][]history.Event{},
		kv:      map[string]map[string]string{},
		warm:    warm,
		cache:   map[string]simCached{},
		failure: map[string]*history.ErrorDetails{},
	}
}

func (s *sim) Now() time.Time { return s.now }
func (s *sim) NewGUID() string {
	s.guid++
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", s.guid)
}
func (s *sim) ReadKV(_ context.Context, instance, key string) (string, bool, error) {
	v, ok := s.liveKV(instance)[key]
	return v, ok, nil
}

// liveKV merges the boundary snapshot with the current execution's changes.
func (s *sim) liveKV(instance string) map[string]string {
	out := map[string]string{}
	for k, v := range s.kv[instance] {
		out[k] = v
	}
	if ex := s.execs[instance]; len(ex) > 0 {
		applyKV(out, ex[len(ex)-1])
	}
	return out
}

func applyKV(m map[string]string, evs []history.Event) {
	for _, e := range evs {
		switch e.Kind {
		case history.KeyValueSet:
			m[e.Key] = e.Value
		case history.KeyValueCleared:
			delete(m, e.Key)
		case history.KeyValuesCleared:
			clear(m)
		}
	}
}

func (s *sim) ResolveVersion(name, requested string) (string, error) {
	if _, ok := s.orchs[name]; !ok {
		return "", replay.ErrNotRegistered
	}
	if requested != "" {
		return requested, nil
	}
	return "1.0.0", nil
}

func (s *sim) Driver(req replay.DriverRequest) (replay.Driver, bool, error) {
	if c, ok := s.cache[req.Instance]; ok {
		delete(s.cache, req.Instance)
		if c.fp == req.Fingerprint && c.version == req.Version {
			return c.drv, true, nil
		}
		c.drv.Close()
	}
	fn, ok := s.orchs[req.Name]
	if !ok {
		return nil, false, replay.ErrNotRegistered
	}
	return orchestration.NewDriver(fn, nil), false, nil
}

func (s *sim) enqueue(item history.WorkItem, at time.Time) {
	s.seq++
	s.queue = append(s.queue, simMsg{seq: s.seq, visible: at, item: item})
}

func (s *sim) start(instance, name, input string) {
	s.enqueue(history.WorkItem{Kind: history.WorkStartOrchestration, Instance: instance, Name: name, Input: input, ExecutionID: 1}, s.now)
}

func (s *sim) raise(instance, name, data string) {
	s.enqueue(history.WorkItem{Kind: history.WorkExternalRaised, Instance: instance, Name: name, Data: data}, s.now)
}

func (s *sim) enqueueEvent(instance, queue, data string) {
	s.enqueue(history.WorkItem{Kind: history.WorkQueueMessage, Instance: instance, Name: queue, Data: data}, s.now)
}

func (s *sim) cancel(instance, reason string) {
	s.enqueue(history.WorkItem{Kind: history.WorkCancelInstance, Instance: instance, Reason: reason}, s.now)
}

// history returns the latest execution's events.
func (s *sim) history(instance string) []history.Event {
	ex := s.execs[instance]
	if len(ex) == 0 {
		return nil
	}
	return ex[len(ex)-1]
}

// step runs one turn or one activity; it returns false when nothing is
// visible (after advancing the clock if something is due later).
func (s *sim) step() bool {
	if len(s.worker) > 0 {
		w := s.worker[0]
		s.worker = s.worker[1:]
		s.runActivity(w)
		return true
	}
	sort.SliceStable(s.queue, func(i, j int) bool { return s.queue[i].seq < s.queue[j].seq })
	for _, m := range s.queue {
		if !m.visible.After(s.now) {
			s.turn(m.item.Instance)
			return true
		}
	}
	if len(s.queue) == 0 {
		return false
	}
	next := s.queue[0].visible
	for _, m := range s.queue {
		if m.visible.Before(next) {
			next = m.visible
		}
	}
	s.now = next
	return true
}

func (s *sim) runActivity(w history.WorkItem) {
	fn, ok := s.acts[w.Name]
	var item history.WorkItem
	var takes time.Duration
	if !ok {
		item = history.WorkItem{Kind: history.WorkActivityFailed, Instance: w.Instance, ExecutionID: w.ExecutionID, ID: w.ID,
			Error: history.AppError(history.KindUnregistered, "activity "+w.Name+" is not registered")}
	} else {
		out, err, d := fn(w.Input)
		takes = d
		if err != nil {
			item = history.WorkItem{Kind: history.WorkActivityFailed, Instance: w.Instance, ExecutionID: w.ExecutionID, ID: w.ID,
				Error: history.AppError(history.KindActivityFailed, err.Error())}
		} else {
			item = history.WorkItem{Kind: history.WorkActivityCompleted, Instance: w.Instance, ExecutionID: w.ExecutionID, ID: w.ID, Result: out}
		}
	}
	s.enqueue(item, s.now.Add(takes))
}

// turn runs one turn for instance with every visible message.
func (s *sim) turn(instance string) {
	var batch []history.WorkItem
	rest := s.queue[:0]
	for _, m := range s.queue {
		if m.item.Instance == instance && !m.visible.After(s.now) {
			batch = append(batch, m.item)
		} else {
			rest = append(rest, m)
		}
	}
	s.queue = rest
	ex := s.execs[instance]
	var hist []history.Event
	exec := uint64(1)
	if len(ex) > 0 {
		hist = ex[len(ex)-1]
		exec = uint64(len(ex))
	}
	in := &replay.Input{Instance: instance, ExecutionID: exec, History: hist, Messages: batch, KVSnapshot: s.kv[instance], EngineVersion: "0.1.0"}
	res, err := replay.Run(context.Background(), in, s, s)
	if err != nil {
		s.t.Fatalf("turn of %s: %v", instance, err)
	}
	s.turns++
	s.replays += res.Replayed
	if res.Status == replay.StatusNoOp {
		return
	}
	if res.Status == replay.StatusUnregistered {
		s.t.Fatalf("orchestration of %s not registered", instance)
	}
	if res.ExecutionID != exec || len(ex) == 0 {
		s.execs[instance] = append(ex, nil)
		ex = s.execs[instance]
	}
	full := append(append([]history.Event(nil), ex[len(ex)-1]...), res.Delta...)
	if err := history.Validate(instance, res.ExecutionID, full); err != nil {
		s.t.Fatalf("turn of %s produced an invalid history: %v", instance, err)
	}
	ex[len(ex)-1] = full
	if res.Status.IsTerminal() {
		// At an execution boundary the KV changes join the snapshot.
		if s.kv[instance] == nil {
			s.kv[instance] = map[string]string{}
		}
		applyKV(s.kv[instance], full)
	}
	for _, w := range res.WorkerItems {
		s.worker = append(s.worker, w)
	}
	for _, c := range res.CancelledActivities {
		kept := s.worker[:0]
		for _, w := range s.worker {
			if !(w.Instance == c.Instance && w.ExecutionID == c.ExecutionID && w.ID == c.ActivityID) {
				kept = append(kept, w)
			}
		}
		s.worker = kept
		// A cancelled activity may still be "running": drop its completion.
		keptQ := s.queue[:0]
		for _, m := range s.queue {
			if m.item.Instance == c.Instance && m.item.ExecutionID == c.ExecutionID && m.item.ID == c.ActivityID &&
				(m.item.Kind == history.WorkActivityCompleted || m.item.Kind == history.WorkActivityFailed) {
				continue
			}
			keptQ = append(keptQ, m)
		}
		s.queue = keptQ
	}
	for _, o := range res.OrchestratorItems {
		at := s.now
		if o.Kind == history.WorkTimerFired {
			at = time.UnixMilli(o.FireAtMs)
		}
		s.enqueue(o, at)
	}
	if res.Status == replay.StatusFailed {
		s.failure[instance] = res.Error
	}
	if res.Driver != nil {
		if s.warm && res.Status == replay.StatusContinue {
			s.cache[instance] = simCached{fp: res.Fingerprint, drv: res.Driver, version: res.Version}
		} else {
			res.Driver.Close()
		}
	}
}

// run steps until nothing is left or limit steps passed.
func (s *sim) run(limit int) {
	for i := 0; i < limit; i++ {
		if !s.step() {
			return
		}
	}
	s.t.Fatalf("simulation did not settle in %d steps", limit)
}

// steps runs exactly n steps.
func (s *sim) steps(n int) {
	for i := 0; i < n; i++ {
		s.step()
	}
}

// runUntil steps until cond holds.
func (s *sim) runUntil(limit int, cond func() bool) {
	for i := 0; i < limit; i++ {
		if cond() {
			return
		}
		if !s.step() {
			break
		}
	}
	if !cond() {
		s.t.Fatalf("condition not reached")
	}
}

func (s *sim) close() {
	for k, c := range s.cache {
		c.drv.Close()
		delete(s.cache, k)
	}
}

// outcome returns the terminal event of the latest execution, if any.
func (s *sim) outcome(instance string) *history.Event {
	h := s.history(instance)
	if len(h) == 0 {
		return nil
	}
	last := h[len(h)-1]
	if last.Kind.IsTerminal() {
		return &last
	}
	return nil
}

func (s *sim) mustComplete(instance, want string) {
	s.t.Helper()
	o := s.outcome(instance)
	if o == nil {
		s.t.Fatalf("%s did not end; history:\n%s", instance, dump(s.history(instance)))
	}
	if o.Kind != history.OrchestrationCompleted {
		s.t.Fatalf("%s ended with %s, want Completed %q; history:\n%s", instance, o.Summary(), want, dump(s.history(instance)))
	}
	if o.Output != want {
		s.t.Fatalf("%s output %q, want %q", instance, o.Output, want)
	}
}

func (s *sim) mustFail(instance string) *history.ErrorDetails {
	s.t.Helper()
	o := s.outcome(instance)
	if o == nil || o.Kind != history.OrchestrationFailed {
		s.t.Fatalf("%s did not fail; history:\n%s", instance, dump(s.history(instance)))
	}
	return o.Error
}

func dump(evs []history.Event) string {
	out := ""
	for _, e := range evs {
		out += fmt.Sprintf("  %3d %s\n", e.EventID, e.Summary())
	}
	return out
}

var errBoom = errors.New("boom")
