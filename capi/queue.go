package main

import (
	"sync"
	"time"
)

// pollQueue is the pull side of the ABI: Go producers (turns, activities,
// asynchronous client calls) push encoded JSON items; the host takes them
// with dx_poll. Unbounded, so a producer never blocks on a slow host;
// every producer waits for its own answer with a timeout instead.
type pollQueue struct {
	mu     sync.Mutex
	items  [][]byte
	wake   chan struct{} // closed and replaced on each push
	closed bool
}

func newPollQueue() *pollQueue { return &pollQueue{wake: make(chan struct{})} }

// push enqueues an item; false when the queue is closed.
func (q *pollQueue) push(item []byte) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	q.items = append(q.items, item)
	close(q.wake)
	q.wake = make(chan struct{})
	return true
}

// close wakes every poller; later polls report closed.
func (q *pollQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	q.closed = true
	q.items = nil
	close(q.wake)
}

// poll takes up to max items, waiting up to timeout for the first. It
// returns nil on timeout and closed=true once the queue is closed.
func (q *pollQueue) poll(max int, timeout time.Duration) (items [][]byte, closed bool) {
	if max <= 0 {
		max = 1 << 30
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return nil, true
		}
		if n := len(q.items); n > 0 {
			if n > max {
				n = max
			}
			items = make([][]byte, n)
			copy(items, q.items[:n])
			rest := copy(q.items, q.items[n:])
			for i := rest; i < len(q.items); i++ {
				q.items[i] = nil
			}
			q.items = q.items[:rest]
			q.mu.Unlock()
			return items, false
		}
		wake := q.wake
		q.mu.Unlock()
		if timeout <= 0 {
			return nil, false
		}
		if timer == nil {
			timer = time.NewTimer(timeout)
		}
		select {
		case <-wake:
		case <-timer.C:
			return nil, false
		}
	}
}

// joinItems renders items as one JSON array.
func joinItems(items [][]byte) []byte {
	n := 2
	for _, it := range items {
		n += len(it) + 1
	}
	out := make([]byte, 0, n)
	out = append(out, '[')
	for i, it := range items {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, it...)
	}
	return append(out, ']')
}
