package provider

import "sync"

// InstanceWatchers is a ready-made implementation of the Notifier
// capability for stores: Watch hands out channels, Notify closes those of
// one instance, CloseAll closes every one (for the store's Close). The zero
// value is ready to use; it is safe for concurrent use.
type InstanceWatchers struct {
	mu     sync.Mutex
	m      map[string]map[chan struct{}]struct{}
	closed bool
}

// Watch returns a channel closed at the next Notify of instance (or at
// CloseAll), and a function that stops watching.
func (w *InstanceWatchers) Watch(instance string) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		close(ch)
		return ch, func() {}
	}
	if w.m == nil {
		w.m = make(map[string]map[chan struct{}]struct{})
	}
	set := w.m[instance]
	if set == nil {
		set = make(map[chan struct{}]struct{})
		w.m[instance] = set
	}
	set[ch] = struct{}{}
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if set, ok := w.m[instance]; ok {
			delete(set, ch)
			if len(set) == 0 {
				delete(w.m, instance)
			}
		}
	}
}

// Notify wakes the watchers of instance.
func (w *InstanceWatchers) Notify(instance string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.m[instance] {
		close(ch)
	}
	delete(w.m, instance)
}

// CloseAll wakes every watcher; later watches return closed channels.
func (w *InstanceWatchers) CloseAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	for _, set := range w.m {
		for ch := range set {
			close(ch)
		}
	}
	w.m = nil
}
