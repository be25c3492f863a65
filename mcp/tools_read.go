package mcp

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/duroxide/duroxide/core/client"
	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// ListInstancesInput filters list_instances.
type ListInstancesInput struct {
	Status        string `json:"status,omitempty" jsonschema:"only instances in this state: Running, Completed, Failed or ContinuedAsNew"`
	Name          string `json:"name,omitempty" jsonschema:"only instances of this orchestration name (exact match)"`
	CreatedAfter  string `json:"created_after,omitempty" jsonschema:"only instances created after this time: an RFC 3339 time (2025-01-02T15:04:05Z) or a duration before now (30m, 24h)"`
	CreatedBefore string `json:"created_before,omitempty" jsonschema:"only instances created before this time: an RFC 3339 time or a duration before now"`
	Parent        string `json:"parent,omitempty" jsonschema:"only the sub-orchestrations of this parent instance id"`
	RootsOnly     bool   `json:"roots_only,omitempty" jsonschema:"only top-level instances (no sub-orchestrations)"`
	Limit         int    `json:"limit,omitempty" jsonschema:"page size: 1 to 200, default 50"`
	Offset        int    `json:"offset,omitempty" jsonschema:"how many matching instances to skip (for the next page pass the next_offset of the previous answer)"`
}

// InstanceSummary is one row of list_instances.
type InstanceSummary struct {
	InstanceID   string    `json:"instance_id" jsonschema:"the instance id"`
	Name         string    `json:"name" jsonschema:"the orchestration name"`
	Version      string    `json:"version,omitempty" jsonschema:"the orchestration version"`
	Status       string    `json:"status" jsonschema:"Running, Completed, Failed or ContinuedAsNew"`
	ExecutionID  uint64    `json:"execution_id" jsonschema:"the current execution (1 unless the instance continued as new)"`
	CreatedAt    time.Time `json:"created_at" jsonschema:"when the instance was created (RFC 3339)"`
	UpdatedAt    time.Time `json:"updated_at" jsonschema:"when the instance last changed (RFC 3339)"`
	CompletedAt  time.Time `json:"completed_at,omitzero" jsonschema:"when the current execution ended, if it did"`
	Parent       string    `json:"parent_instance,omitempty" jsonschema:"the parent instance of a sub-orchestration"`
	CustomStatus *string   `json:"custom_status,omitempty" jsonschema:"the last custom status the orchestration set"`
}

// ListInstancesOutput is a page of instances, newest first.
type ListInstancesOutput struct {
	Instances  []InstanceSummary `json:"instances" jsonschema:"matching instances, newest first"`
	Count      int               `json:"count" jsonschema:"number of instances in this page"`
	NextOffset int               `json:"next_offset,omitempty" jsonschema:"offset of the next page; absent when this is the last page"`
}

// InstanceInput names one instance.
type InstanceInput struct {
	InstanceID string `json:"instance_id" jsonschema:"the instance id (as list_instances shows it)"`
}

// InstanceDetail is get_instance's answer.
type InstanceDetail struct {
	InstanceID          string                `json:"instance_id"`
	Name                string                `json:"name" jsonschema:"the orchestration name"`
	Version             string                `json:"version,omitempty" jsonschema:"the orchestration version"`
	Status              string                `json:"status" jsonschema:"Running, Completed, Failed or ContinuedAsNew"`
	ExecutionID         uint64                `json:"execution_id" jsonschema:"the current execution"`
	Executions          []uint64              `json:"executions,omitempty" jsonschema:"all execution ids still stored, ascending"`
	Output              string                `json:"output,omitempty" jsonschema:"the output of a Completed instance (text, usually JSON)"`
	OutputTruncated     bool                  `json:"output_truncated,omitempty" jsonschema:"true when output was cut to 64 KiB"`
	Error               *history.ErrorDetails `json:"error,omitempty" jsonschema:"the failure of a Failed instance"`
	ErrorMessage        string                `json:"error_message,omitempty" jsonschema:"the failure as one sentence"`
	CustomStatus        *string               `json:"custom_status,omitempty" jsonschema:"the last custom status the orchestration set"`
	CustomStatusVersion uint64                `json:"custom_status_version,omitempty" jsonschema:"how many times the custom status changed"`
	CreatedAt           time.Time             `json:"created_at" jsonschema:"when the instance was created (RFC 3339)"`
	UpdatedAt           time.Time             `json:"updated_at" jsonschema:"when the instance last changed (RFC 3339)"`
	CompletedAt         time.Time             `json:"completed_at,omitzero" jsonschema:"when the current execution ended, if it did"`
	Parent              string                `json:"parent_instance,omitempty" jsonschema:"the parent instance of a sub-orchestration"`
	Children            []string              `json:"children,omitempty" jsonschema:"direct sub-orchestrations"`
}

// HistoryInput selects a page of an execution's history.
type HistoryInput struct {
	InstanceID  string `json:"instance_id" jsonschema:"the instance id"`
	ExecutionID uint64 `json:"execution_id,omitempty" jsonschema:"which execution; default the current one"`
	Raw         bool   `json:"raw,omitempty" jsonschema:"return the raw stored events with whole payloads instead of one-line summaries"`
	Limit       int    `json:"limit,omitempty" jsonschema:"events per page: 1 to 500 (raw: 1 to 100), default 100"`
	Offset      int    `json:"offset,omitempty" jsonschema:"events to skip (for the next page pass next_offset)"`
}

// HistoryEvent is one event, summarised.
type HistoryEvent struct {
	EventID       uint64    `json:"event_id" jsonschema:"position in the history, from 1"`
	Time          time.Time `json:"time" jsonschema:"when the event was recorded"`
	Kind          string    `json:"kind" jsonschema:"event kind, e.g. ActivityScheduled, ActivityCompleted, TimerFired, OrchestrationCompleted"`
	Name          string    `json:"name,omitempty" jsonschema:"activity, timer, event or orchestration name involved"`
	SourceEventID uint64    `json:"source_event_id,omitempty" jsonschema:"for a completion: the event_id of the scheduling event it answers"`
	Summary       string    `json:"summary" jsonschema:"one line with the kind, names and shortened payloads"`
}

// HistoryOutput is a page of history.
type HistoryOutput struct {
	InstanceID  string          `json:"instance_id"`
	ExecutionID uint64          `json:"execution_id"`
	Executions  []uint64        `json:"executions,omitempty" jsonschema:"all execution ids still stored"`
	TotalEvents int             `json:"total_events" jsonschema:"events in this execution"`
	Offset      int             `json:"offset"`
	Events      []HistoryEvent  `json:"events,omitempty" jsonschema:"summaries (unless raw was asked for)"`
	RawEvents   []history.Event `json:"raw_events,omitempty" jsonschema:"stored events (when raw was asked for)"`
	NextOffset  int             `json:"next_offset,omitempty" jsonschema:"offset of the next page; absent on the last page"`
}

// TreeNode is one instance of a tree.
type TreeNode struct {
	InstanceID string   `json:"instance_id"`
	Name       string   `json:"name"`
	Status     string   `json:"status"`
	Parent     string   `json:"parent_instance,omitempty"`
	Depth      int      `json:"depth" jsonschema:"0 for the root, 1 for its children, ..."`
	Children   []string `json:"children,omitempty" jsonschema:"direct sub-orchestrations"`
}

// TreeOutput is an instance and its sub-orchestrations.
type TreeOutput struct {
	RootID string     `json:"root_id"`
	Count  int        `json:"count" jsonschema:"number of instances in the tree"`
	Nodes  []TreeNode `json:"nodes" jsonschema:"the root first, then descendants breadth first"`
}

// MetricsInput takes no arguments.
type MetricsInput struct{}

// MetricsOutput is get_metrics' answer.
type MetricsOutput struct {
	Metrics     provider.SystemMetrics `json:"metrics" jsonschema:"store-wide instance, execution, event and dead-letter counts"`
	QueueDepths provider.QueueDepths   `json:"queue_depths" jsonschema:"messages waiting: orchestrator queue (visible now), worker queue (activities), delayed (timers not yet due)"`
}

func (s *Server) addReadTools() {
	sdk.AddTool(s.srv, &sdk.Tool{
		Name:        "list_instances",
		InputSchema: withLimit(inputSchema[ListInstancesInput](), MaxListLimit),
		Annotations: readOnly("List instances"),
		Description: "List orchestration instances, newest first, optionally filtered by status, orchestration name, creation time or parent. " +
			"Returns one page (default 50); use next_offset to get the next page. Use get_instance for details of one instance.",
	}, handler("list_instances", s.listInstances))
	sdk.AddTool(s.srv, &sdk.Tool{
		Name:        "get_instance",
		InputSchema: inputSchema[InstanceInput](),
		Annotations: readOnly("Get an instance"),
		Description: "Get one instance: its status, output (Completed) or error (Failed), custom status, creation/update/completion times, " +
			"orchestration name and version, current execution and parent instance.",
	}, handler("get_instance", s.getInstance))
	sdk.AddTool(s.srv, &sdk.Tool{
		Name:        "get_history",
		InputSchema: withLimit(inputSchema[HistoryInput](), MaxHistoryLimit),
		Annotations: readOnly("Get an instance's history"),
		Description: "Get the recorded history of an instance's execution (default: the current one): every decision and result in order. " +
			"By default each event is a one-line summary; set raw=true for the stored events with whole payloads. Paginated: " +
			"default 100 events per page, use next_offset for more.",
	}, handler("get_history", s.getHistory))
	sdk.AddTool(s.srv, &sdk.Tool{
		Name:        "get_instance_tree",
		InputSchema: inputSchema[InstanceInput](),
		Annotations: readOnly("Get an instance tree"),
		Description: "Get an instance and all its sub-orchestrations (recursively), with each one's name and status.",
	}, handler("get_instance_tree", s.getTree))
	sdk.AddTool(s.srv, &sdk.Tool{
		Name:        "get_metrics",
		InputSchema: inputSchema[MetricsInput](),
		Annotations: readOnly("Get store metrics"),
		Description: "Get store-wide counts (instances by status, executions, events, dead letters) and queue depths (orchestrator, worker, delayed timers).",
	}, handler("get_metrics", s.getMetrics))
}

func summarize(info *provider.InstanceInfo) InstanceSummary {
	return InstanceSummary{
		InstanceID: info.InstanceID, Name: info.Name, Version: info.Version, Status: info.Status,
		ExecutionID: info.CurrentExecutionID, CreatedAt: info.CreatedAt, UpdatedAt: info.UpdatedAt,
		CompletedAt: info.CompletedAt, Parent: info.ParentInstance, CustomStatus: info.CustomStatus,
	}
}

func (s *Server) listInstances(ctx context.Context, in ListInstancesInput) (ListInstancesOutput, error) {
	var out ListInstancesOutput
	limit, offset, err := page(in.Limit, in.Offset, DefaultListLimit, MaxListLimit)
	if err != nil {
		return out, err
	}
	if err := checkStatus(in.Status); err != nil {
		return out, err
	}
	if err := checkOptionalID("name", in.Name); err != nil {
		return out, err
	}
	if err := checkOptionalID("parent", in.Parent); err != nil {
		return out, err
	}
	now := time.Now()
	f := provider.ListFilter{Status: in.Status, Name: in.Name, Parent: in.Parent, RootsOnly: in.RootsOnly, Limit: limit + 1, Offset: offset}
	if f.CreatedAfter, err = parseTime("created_after", in.CreatedAfter, now); err != nil {
		return out, err
	}
	if f.CreatedBefore, err = parseTime("created_before", in.CreatedBefore, now); err != nil {
		return out, err
	}
	infos, err := s.c.ListInstances(ctx, f)
	if err != nil {
		return out, storeError("list instances", "", err)
	}
	if len(infos) > limit {
		infos = infos[:limit]
		out.NextOffset = offset + limit
	}
	out.Instances = make([]InstanceSummary, 0, len(infos))
	for i := range infos {
		out.Instances = append(out.Instances, summarize(&infos[i]))
	}
	out.Count = len(out.Instances)
	return out, nil
}

// Describe reads everything get_instance reports about an instance. An
// unknown instance is an error wrapping provider.ErrInstanceNotFound.
func Describe(ctx context.Context, c *client.Client, id string) (InstanceDetail, error) {
	var out InstanceDetail
	info, err := c.GetInstanceInfo(ctx, id)
	if err != nil {
		return out, err
	}
	st, err := c.GetStatus(ctx, id)
	if err != nil {
		return out, err
	}
	out = InstanceDetail{
		InstanceID: id, Name: info.Name, Version: info.Version, Status: info.Status,
		ExecutionID: info.CurrentExecutionID, CustomStatus: info.CustomStatus, CustomStatusVersion: info.CustomStatusVer,
		CreatedAt: info.CreatedAt, UpdatedAt: info.UpdatedAt, CompletedAt: info.CompletedAt, Parent: info.ParentInstance,
	}
	switch st.State {
	case client.StateCompleted:
		out.Output = st.Output
	case client.StateFailed:
		out.Error, out.ErrorMessage = st.Error, st.ErrorMessage()
	}
	if len(out.Output) > MaxOutputBytes {
		out.Output, out.OutputTruncated = history.Shorten(out.Output, MaxOutputBytes), true
	}
	if out.Executions, err = c.ListExecutions(ctx, id); err != nil {
		return out, err
	}
	kids, err := c.ListInstances(ctx, provider.ListFilter{Parent: id})
	if err != nil {
		return out, err
	}
	for _, k := range kids {
		out.Children = append(out.Children, k.InstanceID)
	}
	slices.Sort(out.Children)
	return out, nil
}

func (s *Server) getInstance(ctx context.Context, in InstanceInput) (InstanceDetail, error) {
	return s.describe(ctx, in.InstanceID)
}

func (s *Server) describe(ctx context.Context, id string) (InstanceDetail, error) {
	if err := checkID("instance_id", id); err != nil {
		return InstanceDetail{}, err
	}
	d, err := Describe(ctx, s.c, id)
	if err != nil {
		return d, storeError("get instance", id, err)
	}
	return d, nil
}

// Summarize turns events into the one-line form get_history returns. A
// completion is named after the event it answers.
func Summarize(evs []history.Event) []HistoryEvent { return summarizePage(evs, evs) }

// summarizePage summarises page, a part of the execution's events all.
func summarizePage(all, page []history.Event) []HistoryEvent {
	byID := make(map[uint64]*history.Event, len(all))
	for i := range all {
		byID[all[i].EventID] = &all[i]
	}
	out := make([]HistoryEvent, 0, len(page))
	for i := range page {
		e := &page[i]
		name := e.Name
		if name == "" && e.SourceEventID != 0 {
			if src := byID[e.SourceEventID]; src != nil {
				name = src.Name
			}
		}
		out = append(out, HistoryEvent{
			EventID: e.EventID, Time: time.UnixMilli(e.TimestampMs).UTC(), Kind: string(e.Kind), Name: name,
			SourceEventID: e.SourceEventID, Summary: e.Summary(),
		})
	}
	return out
}

func (s *Server) getHistory(ctx context.Context, in HistoryInput) (HistoryOutput, error) {
	out := HistoryOutput{InstanceID: in.InstanceID}
	if err := checkID("instance_id", in.InstanceID); err != nil {
		return out, err
	}
	max := MaxHistoryLimit
	if in.Raw {
		max = MaxRawHistoryLimit
	}
	limit, offset, err := page(in.Limit, in.Offset, min(DefaultHistoryLimit, max), max)
	if err != nil {
		return out, err
	}
	execs, err := s.c.ListExecutions(ctx, in.InstanceID)
	if err != nil {
		return out, storeError("get history of", in.InstanceID, err)
	}
	if len(execs) == 0 {
		return out, fmt.Errorf("instance %q not found", in.InstanceID)
	}
	out.Executions = execs
	exec := in.ExecutionID
	if exec == 0 {
		exec = execs[len(execs)-1]
	}
	if !slices.Contains(execs, exec) {
		return out, fmt.Errorf("instance %q has no execution %d; its executions are %v", in.InstanceID, exec, execs)
	}
	evs, err := s.c.ReadExecutionHistory(ctx, in.InstanceID, exec)
	if err != nil {
		return out, storeError("get history of", in.InstanceID, err)
	}
	out.ExecutionID, out.TotalEvents, out.Offset = exec, len(evs), offset
	pg := evs[min(offset, len(evs)):]
	if len(pg) > limit {
		pg = pg[:limit]
		out.NextOffset = offset + limit
	}
	if in.Raw {
		out.RawEvents = pg
	} else {
		out.Events = summarizePage(evs, pg)
	}
	return out, nil
}

func (s *Server) getTree(ctx context.Context, in InstanceInput) (TreeOutput, error) {
	if err := checkID("instance_id", in.InstanceID); err != nil {
		return TreeOutput{RootID: in.InstanceID}, err
	}
	t, err := Tree(ctx, s.c, in.InstanceID)
	if err != nil {
		return t, storeError("get tree of", in.InstanceID, err)
	}
	return t, nil
}

// Tree reads an instance and its sub-orchestrations, recursively, with each
// one's name and status, as get_instance_tree reports them.
func Tree(ctx context.Context, c *client.Client, id string) (TreeOutput, error) {
	out := TreeOutput{RootID: id}
	tree, err := c.GetInstanceTree(ctx, id)
	if err != nil {
		return out, err
	}
	infos, err := c.ListInstances(ctx, provider.ListFilter{InstanceIDs: tree.AllIDs, Limit: len(tree.AllIDs)})
	if err != nil {
		return out, err
	}
	byID := make(map[string]*provider.InstanceInfo, len(infos))
	for i := range infos {
		byID[infos[i].InstanceID] = &infos[i]
	}
	depth := map[string]int{id: 0}
	parent := map[string]string{}
	for _, p := range tree.AllIDs {
		for _, k := range tree.Children[p] {
			depth[k], parent[k] = depth[p]+1, p
		}
	}
	for _, n := range tree.AllIDs {
		node := TreeNode{InstanceID: n, Parent: parent[n], Depth: depth[n], Children: tree.Children[n], Status: "Unknown"}
		if info := byID[n]; info != nil {
			node.Name, node.Status = info.Name, info.Status
		}
		out.Nodes = append(out.Nodes, node)
	}
	out.Count = len(out.Nodes)
	return out, nil
}

func (s *Server) getMetrics(ctx context.Context, _ MetricsInput) (MetricsOutput, error) {
	var out MetricsOutput
	m, err := s.c.GetSystemMetrics(ctx)
	if err != nil {
		return out, storeError("get metrics", "", err)
	}
	q, err := s.c.GetQueueDepths(ctx)
	if err != nil {
		return out, storeError("get queue depths", "", err)
	}
	out.Metrics, out.QueueDepths = *m, *q
	return out, nil
}

// exists reports whether an instance has a stored history.
func (s *Server) exists(ctx context.Context, id string) (bool, error) {
	st, err := s.c.GetStatus(ctx, id)
	if err != nil {
		return false, err
	}
	return st.State != client.StateNotFound, nil
}
