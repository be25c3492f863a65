package wasm

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/replay"
)

// driver is the replay.Driver of one execution of a WebAssembly
// orchestration. It runs the execution in its own guest instance, created
// at the first activation (the guest's random seed comes from the instance
// id, which is only known then) and kept warm between turns while the
// runtime keeps the driver in its instance cache.
//
// When the host's instance pool releases the guest instance (Options.
// MaxInstances), the driver keeps the jobs it has applied and rebuilds a
// fresh instance from them at its next activation.
type driver struct {
	mu      sync.Mutex
	mod     *Module
	orch    OrchestrationInfo
	base    *slog.Logger
	logger  *slog.Logger
	inst    *instance
	journal []replay.Job
	closed  bool
	elem    *list.Element // in the pool's idle list; guarded by the pool
}

// Activate runs the activation's jobs in the guest.
func (d *driver) Activate(ctx context.Context, a *replay.Activation) ([]replay.Command, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, errors.New("wasm driver is closed")
	}
	if a.Protocol != replay.ProtocolVersion {
		return nil, fmt.Errorf("activation protocol %d, this host speaks %d", a.Protocol, replay.ProtocolVersion)
	}
	pool := d.mod.host.pool
	pool.busy(d)
	defer pool.release(d)

	act, skip := a, 0
	if d.inst == nil {
		if d.logger == nil {
			d.logger = d.base.With("instance_id", a.Instance, "execution_id", a.ExecutionID, "orchestration", d.orch.Name, LogModule, d.mod.name)
		}
		inst, err := d.mod.host.instantiate(d.mod, seedFor(a.Instance, a.ExecutionID), d.logger)
		var fault *guestFault
		if errors.As(err, &fault) {
			return []replay.Command{failCommand(fault)}, nil
		}
		if err != nil {
			return nil, err
		}
		d.inst = inst
		pool.added()
		if len(d.journal) > 0 {
			jobs := make([]replay.Job, 0, len(d.journal)+len(a.Jobs))
			for _, j := range d.journal {
				j.Replaying = true
				jobs = append(jobs, j)
			}
			cp := *a
			cp.Jobs = append(jobs, a.Jobs...)
			act, skip = &cp, len(d.journal)
		}
	}
	cmds, faulted, err := d.inst.runActivation(act, skip)
	if err != nil || faulted {
		// The instance's state is unknown (or it is dead): never reuse it.
		d.dropInstance()
		return cmds, err
	}
	if pool.max > 0 {
		d.journal = append(d.journal, a.Jobs...)
	}
	return cmds, nil
}

func failCommand(f *guestFault) replay.Command {
	return replay.Command{Kind: replay.CmdFail, Error: &history.ErrorDetails{
		Category: history.CategoryApplication, Kind: f.Kind, Message: f.Message,
	}}
}

// dropInstance closes the guest instance; d.mu is held.
func (d *driver) dropInstance() {
	if d.inst == nil {
		return
	}
	d.inst.close()
	d.inst = nil
	d.mod.host.pool.removed()
}

// Close releases the guest instance. Idempotent.
func (d *driver) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	d.closed = true
	d.mod.host.pool.busy(d)
	d.dropInstance()
	d.journal = nil
}

// instantiate starts a guest instance unless the host is closed.
func (h *Host) instantiate(m *Module, seed [32]byte, logger *slog.Logger) (*instance, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		return nil, ErrClosed
	}
	return m.newInstance(seed, logger)
}

// instancePool bounds the live guest instances of a host. Idle instances
// (their driver is not in Activate) are kept in least-recently-used order;
// when a new instance pushes the count over the bound, the oldest idle ones
// are released.
type instancePool struct {
	mu   sync.Mutex
	max  int        // <= 0: no bound
	lru  *list.List // idle drivers with a live instance, most recent first
	live int
}

func newInstancePool(max int) *instancePool {
	return &instancePool{max: max, lru: list.New()}
}

// busy takes d off the idle list while it runs.
func (p *instancePool) busy(d *driver) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d.elem != nil {
		p.lru.Remove(d.elem)
		d.elem = nil
	}
}

// release puts d (whose mu is held) at the front of the idle list.
func (p *instancePool) release(d *driver) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d.inst != nil && d.elem == nil && !d.closed {
		d.elem = p.lru.PushFront(d)
	}
}

// added counts a new instance and releases idle ones over the bound.
func (p *instancePool) added() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.live++
	if p.max <= 0 {
		return
	}
	for el := p.lru.Back(); el != nil && p.live > p.max; {
		prev := el.Prev()
		v := el.Value.(*driver)
		// A driver that is entering Activate holds its lock: skip it.
		if v.mu.TryLock() {
			p.lru.Remove(el)
			v.elem = nil
			if v.inst != nil {
				v.inst.close()
				v.inst = nil
				p.live--
			}
			v.mu.Unlock()
		}
		el = prev
	}
}

func (p *instancePool) removed() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.live--
}

// closeIdle releases every idle instance (the host is closing).
func (p *instancePool) closeIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for el := p.lru.Front(); el != nil; {
		next := el.Next()
		v := el.Value.(*driver)
		if v.mu.TryLock() {
			p.lru.Remove(el)
			v.elem = nil
			if v.inst != nil {
				v.inst.close()
				v.inst = nil
				p.live--
			}
			v.mu.Unlock()
		}
		el = next
	}
}

// liveInstances reports the live guest instances (for tests and metrics).
func (p *instancePool) liveInstances() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live
}
