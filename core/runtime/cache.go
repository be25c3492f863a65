package runtime

import (
	"container/list"
	"sync"

	"github.com/duroxide/duroxide/core/replay"
)

// driverCache keeps drivers warm between turns (sticky execution): a turn
// of a cached instance sends only its new jobs instead of replaying the
// whole history. Entries are keyed by instance and valid only for the
// exact history fingerprint they saw.
type driverCache struct {
	mu    sync.Mutex
	cap   int
	ll    *list.List
	items map[string]*list.Element
}

type cacheEntry struct {
	instance    string
	name        string
	version     string
	fingerprint string
	drv         replay.Driver
}

func newDriverCache(capacity int) *driverCache {
	return &driverCache{cap: capacity, ll: list.New(), items: map[string]*list.Element{}}
}

// take removes and returns the instance's entry, if any.
func (c *driverCache) take(instance string) *cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[instance]
	if !ok {
		return nil
	}
	c.ll.Remove(el)
	delete(c.items, instance)
	return el.Value.(*cacheEntry)
}

// put stores an entry, evicting (and closing) the least recently used ones
// beyond capacity.
func (c *driverCache) put(e *cacheEntry) {
	if c.cap <= 0 {
		e.drv.Close()
		return
	}
	var evicted []*cacheEntry
	c.mu.Lock()
	if old, ok := c.items[e.instance]; ok {
		c.ll.Remove(old)
		evicted = append(evicted, old.Value.(*cacheEntry))
	}
	c.items[e.instance] = c.ll.PushFront(e)
	for c.ll.Len() > c.cap {
		el := c.ll.Back()
		c.ll.Remove(el)
		ent := el.Value.(*cacheEntry)
		delete(c.items, ent.instance)
		evicted = append(evicted, ent)
	}
	c.mu.Unlock()
	for _, ent := range evicted {
		ent.drv.Close()
	}
}

// len returns the number of cached drivers.
func (c *driverCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

// closeAll closes and forgets every cached driver.
func (c *driverCache) closeAll() {
	c.mu.Lock()
	var all []*cacheEntry
	for el := c.ll.Front(); el != nil; el = el.Next() {
		all = append(all, el.Value.(*cacheEntry))
	}
	c.ll.Init()
	c.items = map[string]*list.Element{}
	c.mu.Unlock()
	for _, e := range all {
		e.drv.Close()
	}
}
