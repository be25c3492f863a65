package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
	"github.com/duroxide/duroxide/core/replay"
)

// clientEntry is a client on a store. Synchronous calls (dx_client_call)
// run on the caller's thread; asynchronous ones (dx_client_call_async) run
// on a goroutine and deliver their result through the client's poll queue,
// so an event-loop host (Node) never blocks.
type clientEntry struct {
	store  *storeEntry
	c      *client.Client
	q      *pollQueue
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	nextID atomic.Uint64
	once   sync.Once
}

func newClientEntry(s *storeEntry) (*clientEntry, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &clientEntry{store: s, c: client.New(s.p, nil), q: newPollQueue(), ctx: ctx, cancel: cancel}, nil
}

// close cancels running asynchronous calls, waits for them and releases
// the store. Idempotent.
func (ce *clientEntry) close() {
	ce.once.Do(func() {
		ce.cancel()
		ce.wg.Wait()
		ce.q.close()
		ce.store.release()
	})
}

// clientRequest is the JSON of dx_client_call: an op and its arguments.
// Payloads (input, data) are payload strings (JSON text by convention).
type clientRequest struct {
	Protocol        int           `json:"protocol"`
	Op              string        `json:"op"`
	Instance        string        `json:"instance"`
	Name            string        `json:"name"`
	Version         string        `json:"version"`
	Input           string        `json:"input"`
	Data            string        `json:"data"`
	Reason          string        `json:"reason"`
	Key             string        `json:"key"`
	TimeoutMs       int64         `json:"timeout_ms"`
	LastSeenVersion uint64        `json:"last_seen_version"`
	ExecutionID     uint64        `json:"execution_id"`
	Force           bool          `json:"force"`
	Limit           int           `json:"limit"`
	Filter          *listFilter   `json:"filter"`
	Prune           *pruneOptions `json:"prune"`
}

type listFilter struct {
	Status            string   `json:"status"`
	Name              string   `json:"name"`
	CreatedAfterMs    int64    `json:"created_after_ms"`
	CreatedBeforeMs   int64    `json:"created_before_ms"`
	CompletedBeforeMs int64    `json:"completed_before_ms"`
	Parent            string   `json:"parent"`
	RootsOnly         bool     `json:"roots_only"`
	InstanceIDs       []string `json:"instance_ids"`
	Limit             int      `json:"limit"`
	Offset            int      `json:"offset"`
}

func msToTime(v int64) time.Time {
	if v <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

func timeToMs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func (f *listFilter) core() provider.ListFilter {
	if f == nil {
		return provider.ListFilter{}
	}
	return provider.ListFilter{
		Status: f.Status, Name: f.Name, CreatedAfter: msToTime(f.CreatedAfterMs), CreatedBefore: msToTime(f.CreatedBeforeMs),
		CompletedBefore: msToTime(f.CompletedBeforeMs), Parent: f.Parent, RootsOnly: f.RootsOnly,
		InstanceIDs: f.InstanceIDs, Limit: f.Limit, Offset: f.Offset,
	}
}

type pruneOptions struct {
	KeepLast          int   `json:"keep_last"`
	CompletedBeforeMs int64 `json:"completed_before_ms"`
}

func (p *pruneOptions) core() provider.PruneOptions {
	if p == nil {
		return provider.PruneOptions{}
	}
	return provider.PruneOptions{KeepLast: p.KeepLast, CompletedBefore: msToTime(p.CompletedBeforeMs)}
}

// statusOut is an instance status on the wire.
type statusOut struct {
	Instance            string                `json:"instance"`
	Status              string                `json:"status"`
	Output              *string               `json:"output"`
	Error               *history.ErrorDetails `json:"error"`
	ErrorMessage        *string               `json:"error_message"`
	CustomStatus        *string               `json:"custom_status"`
	CustomStatusVersion uint64                `json:"custom_status_version"`
	Name                string                `json:"name"`
	Version             string                `json:"version"`
	ExecutionID         uint64                `json:"execution_id"`
}

func toStatus(st *client.Status) *statusOut {
	if st == nil {
		return nil
	}
	o := &statusOut{Instance: st.Instance, Status: string(st.State), Error: st.Error, CustomStatus: st.CustomStatus,
		CustomStatusVersion: st.CustomStatusVersion, Name: st.Name, Version: st.Version, ExecutionID: st.ExecutionID}
	if st.State == client.StateCompleted {
		out := st.Output
		o.Output = &out
	}
	if st.Error != nil {
		m := st.Error.DisplayMessage()
		o.ErrorMessage = &m
	}
	return o
}

type instanceInfoOut struct {
	InstanceID          string  `json:"instance_id"`
	Name                string  `json:"name"`
	Version             string  `json:"version"`
	CurrentExecutionID  uint64  `json:"current_execution_id"`
	Status              string  `json:"status"`
	Output              string  `json:"output"`
	CustomStatus        *string `json:"custom_status"`
	CustomStatusVersion uint64  `json:"custom_status_version"`
	CreatedAtMs         int64   `json:"created_at_ms"`
	UpdatedAtMs         int64   `json:"updated_at_ms"`
	CompletedAtMs       int64   `json:"completed_at_ms"`
	ParentInstance      string  `json:"parent_instance"`
}

func toInstanceInfo(i *provider.InstanceInfo) instanceInfoOut {
	return instanceInfoOut{InstanceID: i.InstanceID, Name: i.Name, Version: i.Version, CurrentExecutionID: i.CurrentExecutionID,
		Status: i.Status, Output: i.Output, CustomStatus: i.CustomStatus, CustomStatusVersion: i.CustomStatusVer,
		CreatedAtMs: timeToMs(i.CreatedAt), UpdatedAtMs: timeToMs(i.UpdatedAt), CompletedAtMs: timeToMs(i.CompletedAt),
		ParentInstance: i.ParentInstance}
}

type executionInfoOut struct {
	ExecutionID   uint64 `json:"execution_id"`
	Status        string `json:"status"`
	Output        string `json:"output"`
	StartedAtMs   int64  `json:"started_at_ms"`
	CompletedAtMs int64  `json:"completed_at_ms"`
	EventCount    int    `json:"event_count"`
	PinnedVersion string `json:"pinned_version"`
}

type deadLetterOut struct {
	ID          int64            `json:"id"`
	Instance    string           `json:"instance"`
	Queue       string           `json:"queue"`
	Item        history.WorkItem `json:"item"`
	Raw         string           `json:"raw"`
	Reason      string           `json:"reason"`
	CreatedAtMs int64            `json:"created_at_ms"`
}

type kvOut struct {
	Found bool    `json:"found"`
	Value *string `json:"value"`
}

func timeoutOf(req *clientRequest, def time.Duration) time.Duration {
	if req.TimeoutMs > 0 {
		return ms(req.TimeoutMs)
	}
	return def
}

// call runs one client operation and returns its JSON-encodable result.
func (ce *clientEntry) call(ctx context.Context, data []byte) (any, error) {
	var req clientRequest
	if err := decodeJSON(data, &req); err != nil {
		return nil, invalidf("client request: %v", err)
	}
	if req.Protocol != 0 && req.Protocol != replay.ProtocolVersion {
		return nil, invalidf("client request protocol %d, this library speaks %d", req.Protocol, replay.ProtocolVersion)
	}
	c := ce.c
	switch req.Op {
	case "start_orchestration":
		return nil, c.StartOrchestrationVersioned(ctx, req.Instance, req.Name, req.Version, req.Input)
	case "raise_event":
		return nil, c.RaiseEvent(ctx, req.Instance, req.Name, req.Data)
	case "enqueue_event":
		return nil, c.EnqueueEvent(ctx, req.Instance, req.Name, req.Data)
	case "cancel_instance":
		return nil, c.CancelInstance(ctx, req.Instance, req.Reason)
	case "get_status":
		st, err := c.GetStatus(ctx, req.Instance)
		return toStatus(st), err
	case "wait_for_orchestration":
		st, err := c.WaitForOrchestration(ctx, req.Instance, timeoutOf(&req, 30*time.Second))
		if err != nil {
			return nil, err
		}
		return toStatus(st), nil
	case "wait_for_status_change":
		st, err := c.WaitForStatusChange(ctx, req.Instance, req.LastSeenVersion, timeoutOf(&req, 30*time.Second))
		if err != nil {
			return nil, err
		}
		return toStatus(st), nil
	case "get_kv_value":
		v, ok, err := c.GetKVValue(ctx, req.Instance, req.Key)
		if err != nil {
			return nil, err
		}
		if !ok {
			return kvOut{}, nil
		}
		return kvOut{Found: true, Value: &v}, nil
	case "get_kv_all_values":
		m, err := c.GetKVAllValues(ctx, req.Instance)
		if m == nil && err == nil {
			m = map[string]string{}
		}
		return m, err
	case "wait_for_kv_value":
		v, err := c.WaitForKVValue(ctx, req.Instance, req.Key, timeoutOf(&req, 30*time.Second))
		if err != nil {
			return nil, err
		}
		return kvOut{Found: true, Value: &v}, nil
	case "read_history":
		var evs []history.Event
		var err error
		if req.ExecutionID > 0 {
			evs, err = c.ReadExecutionHistory(ctx, req.Instance, req.ExecutionID)
		} else {
			evs, err = c.ReadHistory(ctx, req.Instance)
		}
		if evs == nil {
			evs = []history.Event{}
		}
		return evs, err
	case "list_instances":
		infos, err := c.ListInstances(ctx, req.Filter.core())
		if err != nil {
			return nil, err
		}
		out := make([]instanceInfoOut, len(infos))
		for i := range infos {
			out[i] = toInstanceInfo(&infos[i])
		}
		return out, nil
	case "get_instance_info":
		info, err := c.GetInstanceInfo(ctx, req.Instance)
		if err != nil {
			return nil, err
		}
		return toInstanceInfo(info), nil
	case "list_executions":
		ids, err := c.ListExecutions(ctx, req.Instance)
		if ids == nil {
			ids = []uint64{}
		}
		return ids, err
	case "get_execution_info":
		ei, err := c.GetExecutionInfo(ctx, req.Instance, req.ExecutionID)
		if err != nil {
			return nil, err
		}
		return executionInfoOut{ExecutionID: ei.ExecutionID, Status: ei.Status, Output: ei.Output, StartedAtMs: timeToMs(ei.StartedAt),
			CompletedAtMs: timeToMs(ei.CompletedAt), EventCount: ei.EventCount, PinnedVersion: ei.PinnedVersion}, nil
	case "get_instance_tree":
		return c.GetInstanceTree(ctx, req.Instance)
	case "delete_instance":
		return c.DeleteInstance(ctx, req.Instance, req.Force)
	case "delete_instance_bulk":
		return c.DeleteInstanceBulk(ctx, req.Filter.core())
	case "prune_executions":
		return c.PruneExecutions(ctx, req.Instance, req.Prune.core())
	case "prune_executions_bulk":
		return c.PruneExecutionsBulk(ctx, req.Filter.core(), req.Prune.core())
	case "get_system_metrics":
		return c.GetSystemMetrics(ctx)
	case "get_queue_depths":
		return c.GetQueueDepths(ctx)
	case "list_dead_letters":
		dls, err := c.ListDeadLetters(ctx, req.Limit)
		if err != nil {
			return nil, err
		}
		out := make([]deadLetterOut, len(dls))
		for i, d := range dls {
			out[i] = deadLetterOut{ID: d.ID, Instance: d.Instance, Queue: d.Queue, Item: d.Item, Raw: d.Raw, Reason: d.Reason, CreatedAtMs: timeToMs(d.CreatedAt)}
		}
		return out, nil
	case "":
		return nil, invalidf("client request has no op")
	}
	return nil, invalidf("unknown client op %q", req.Op)
}

// clientResult is the poll item that completes an asynchronous call.
type clientResult struct {
	Protocol  int    `json:"protocol"`
	Type      string `json:"type"`
	RequestID uint64 `json:"request_id"`
	// Status is the dx status code the synchronous call would have returned.
	Status int    `json:"status"`
	Result any    `json:"result"`
	Error  string `json:"error,omitempty"`
}

// callAsync starts a call on a goroutine; its result arrives on the
// client's poll queue as a client_result item.
func (ce *clientEntry) callAsync(data []byte) (uint64, error) {
	if ce.ctx.Err() != nil {
		return 0, &errClosed{"the client is closed"}
	}
	id := ce.nextID.Add(1)
	req := append([]byte(nil), data...)
	ce.wg.Add(1)
	go func() {
		defer ce.wg.Done()
		var res any
		var err error
		func() {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("panic in client call: %v", p)
				}
			}()
			res, err = ce.call(ce.ctx, req)
		}()
		if err != nil && ce.ctx.Err() != nil {
			// The client was closed while the call was pending.
			err = &errClosed{"the client was closed before the call finished"}
		}
		out := clientResult{Protocol: replay.ProtocolVersion, Type: itemClientResult, RequestID: id, Status: statusOf(err), Result: res}
		if err != nil {
			out.Error = err.Error()
			out.Result = nil
		}
		b, encErr := encodeJSON(&out)
		if encErr != nil {
			b, _ = encodeJSON(&clientResult{Protocol: replay.ProtocolVersion, Type: itemClientResult, RequestID: id, Status: statusErr, Error: encErr.Error()})
		}
		ce.q.push(b)
	}()
	return id, nil
}
