package client

import (
	"context"
	"fmt"

	"github.com/duroxide/duroxide/core/provider"
)

func (c *Client) admin() (provider.Admin, error) {
	a, ok := c.p.(provider.Admin)
	if !ok {
		return nil, ErrManagementNotAvailable
	}
	return a, nil
}

// HasManagement reports whether the store supports the management calls.
func (c *Client) HasManagement() bool {
	_, ok := c.p.(provider.Admin)
	return ok
}

// ListInstances lists instances matching the filter, newest first.
func (c *Client) ListInstances(ctx context.Context, filter provider.ListFilter) ([]provider.InstanceInfo, error) {
	a, err := c.admin()
	if err != nil {
		return nil, err
	}
	if filter.Limit < 0 || filter.Offset < 0 {
		return nil, c.invalid(fmt.Errorf("limit and offset must not be negative"))
	}
	if filter.Status != "" {
		switch filter.Status {
		case provider.StatusRunning, provider.StatusCompleted, provider.StatusFailed, provider.StatusContinuedAsNew:
		default:
			return nil, c.invalid(fmt.Errorf("status %q: want Running, Completed, Failed or ContinuedAsNew", filter.Status))
		}
	}
	return a.ListInstances(ctx, filter)
}

// GetInstanceInfo describes one instance.
func (c *Client) GetInstanceInfo(ctx context.Context, instance string) (*provider.InstanceInfo, error) {
	if err := c.checkInstance(instance); err != nil {
		return nil, err
	}
	a, err := c.admin()
	if err != nil {
		return nil, err
	}
	return a.GetInstanceInfo(ctx, instance)
}

// ListExecutions returns an instance's execution ids, ascending.
func (c *Client) ListExecutions(ctx context.Context, instance string) ([]uint64, error) {
	if err := c.checkInstance(instance); err != nil {
		return nil, err
	}
	a, err := c.admin()
	if err != nil {
		return nil, err
	}
	return a.ListExecutions(ctx, instance)
}

// GetExecutionInfo describes one execution.
func (c *Client) GetExecutionInfo(ctx context.Context, instance string, executionID uint64) (*provider.ExecutionInfo, error) {
	if err := c.checkInstance(instance); err != nil {
		return nil, err
	}
	a, err := c.admin()
	if err != nil {
		return nil, err
	}
	return a.GetExecutionInfo(ctx, instance, executionID)
}

// GetSystemMetrics returns store-wide counts.
func (c *Client) GetSystemMetrics(ctx context.Context) (*provider.SystemMetrics, error) {
	a, err := c.admin()
	if err != nil {
		return nil, err
	}
	return a.GetSystemMetrics(ctx)
}

// GetQueueDepths returns the queues' depths.
func (c *Client) GetQueueDepths(ctx context.Context) (*provider.QueueDepths, error) {
	a, err := c.admin()
	if err != nil {
		return nil, err
	}
	return a.GetQueueDepths(ctx)
}

// InstanceTree is an instance and its sub-orchestrations, recursively.
type InstanceTree struct {
	RootID string `json:"root_id"`
	// AllIDs lists the root first, then descendants breadth first.
	AllIDs []string `json:"all_ids"`
	// Children maps each instance to its direct children.
	Children map[string][]string `json:"children"`
}

// GetInstanceTree walks an instance's sub-orchestrations.
func (c *Client) GetInstanceTree(ctx context.Context, instance string) (*InstanceTree, error) {
	if err := c.checkInstance(instance); err != nil {
		return nil, err
	}
	a, err := c.admin()
	if err != nil {
		return nil, err
	}
	if _, err := a.GetInstanceInfo(ctx, instance); err != nil {
		return nil, err
	}
	t := &InstanceTree{RootID: instance, Children: map[string][]string{}}
	seen := map[string]bool{instance: true}
	queue := []string{instance}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		t.AllIDs = append(t.AllIDs, id)
		kids, err := a.ListChildren(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, k := range kids {
			if seen[k] {
				continue
			}
			seen[k] = true
			t.Children[id] = append(t.Children[id], k)
			queue = append(queue, k)
		}
	}
	return t, nil
}

// DeleteInstance deletes a root instance and all its sub-orchestrations.
// A running instance is refused (provider.ErrInstanceRunning) unless force;
// a child is refused (provider.ErrIsSubOrchestration): delete its root.
func (c *Client) DeleteInstance(ctx context.Context, instance string, force bool) (*provider.DeleteResult, error) {
	if err := c.checkInstance(instance); err != nil {
		return nil, err
	}
	a, err := c.admin()
	if err != nil {
		return nil, err
	}
	parent, err := a.GetParentID(ctx, instance)
	if err != nil {
		return nil, err
	}
	if parent != "" {
		return nil, fmt.Errorf("delete %q: %w (its parent is %q; delete the root instead)", instance, provider.ErrIsSubOrchestration, parent)
	}
	tree, err := c.GetInstanceTree(ctx, instance)
	if err != nil {
		return nil, err
	}
	res, err := a.DeleteInstances(ctx, tree.AllIDs, force)
	if err != nil {
		return nil, fmt.Errorf("delete %q: %w", instance, err)
	}
	return res, nil
}

// DeleteInstanceBulk deletes the ended root instances the filter selects
// (with their sub-orchestrations). Running instances are skipped. The
// filter's Limit defaults to 1000.
func (c *Client) DeleteInstanceBulk(ctx context.Context, filter provider.ListFilter) (*provider.DeleteResult, error) {
	a, err := c.admin()
	if err != nil {
		return nil, err
	}
	filter.RootsOnly = true
	infos, err := a.ListInstances(ctx, filter)
	if err != nil {
		return nil, err
	}
	total := &provider.DeleteResult{}
	for _, info := range infos {
		if info.Status == provider.StatusRunning || info.Status == provider.StatusContinuedAsNew {
			continue
		}
		tree, err := c.GetInstanceTree(ctx, info.InstanceID)
		if err != nil {
			return total, err
		}
		r, err := a.DeleteInstances(ctx, tree.AllIDs, false)
		if err != nil {
			return total, fmt.Errorf("delete %q: %w", info.InstanceID, err)
		}
		total.InstancesDeleted += r.InstancesDeleted
		total.ExecutionsDeleted += r.ExecutionsDeleted
		total.EventsDeleted += r.EventsDeleted
		total.QueueMessages += r.QueueMessages
	}
	return total, nil
}

// PruneExecutions deletes old executions of an instance, keeping the
// current one (and any running one) always.
func (c *Client) PruneExecutions(ctx context.Context, instance string, opts provider.PruneOptions) (*provider.PruneResult, error) {
	if err := c.checkInstance(instance); err != nil {
		return nil, err
	}
	if opts.KeepLast < 0 {
		return nil, c.invalid(fmt.Errorf("keep last %d: must not be negative", opts.KeepLast))
	}
	a, err := c.admin()
	if err != nil {
		return nil, err
	}
	return a.PruneExecutions(ctx, instance, opts)
}

// PruneExecutionsBulk prunes every instance the filter selects, whatever
// its status.
func (c *Client) PruneExecutionsBulk(ctx context.Context, filter provider.ListFilter, opts provider.PruneOptions) (*provider.PruneResult, error) {
	a, err := c.admin()
	if err != nil {
		return nil, err
	}
	infos, err := a.ListInstances(ctx, filter)
	if err != nil {
		return nil, err
	}
	total := &provider.PruneResult{}
	for _, info := range infos {
		r, err := a.PruneExecutions(ctx, info.InstanceID, opts)
		if err != nil {
			return total, fmt.Errorf("prune %q: %w", info.InstanceID, err)
		}
		total.InstancesProcessed++
		total.ExecutionsDeleted += r.ExecutionsDeleted
		total.EventsDeleted += r.EventsDeleted
	}
	return total, nil
}

// ListDeadLetters returns messages the store set aside, newest first.
func (c *Client) ListDeadLetters(ctx context.Context, limit int) ([]provider.DeadLetter, error) {
	a, err := c.admin()
	if err != nil {
		return nil, err
	}
	return a.ListDeadLetters(ctx, limit)
}
