package providertest

import (
	"time"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

func closedWithin(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

var notifierTests = []test{
	{"AckWakesWatchers", func(e *env) {
		n := e.notifier()
		e.enqueue(startItem("a"))
		it := e.fetch("a")
		ch, stop := n.WatchInstance("a")
		defer stop()
		other, stopOther := n.WatchInstance("b")
		defer stopOther()
		if isClosed(ch) {
			e.t.Fatal("watch channel closed before any change")
		}
		e.ack(it, 1, []history.Event{started("a", 1)}, nil, nil, meta())
		if !closedWithin(ch, time.Second) {
			e.t.Fatal("the ack did not close the watcher's channel")
		}
		if isClosed(other) {
			e.t.Fatal("an ack of a closed another instance's watcher")
		}
	}},
	{"EnqueueWakesWatchers", func(e *env) {
		n := e.notifier()
		ch, stop := n.WatchInstance("a")
		defer stop()
		e.enqueue(raised("a", "x"))
		if !closedWithin(ch, time.Second) {
			e.t.Fatal("EnqueueForOrchestrator did not close the watcher's channel")
		}
	}},
	{"StopEndsTheWatch", func(e *env) {
		n := e.notifier()
		ch, stop := n.WatchInstance("a")
		stop()
		stop() // idempotent
		e.enqueue(startItem("a"))
		it := e.fetch("a")
		e.ack(it, 1, []history.Event{started("a", 1)}, nil, nil, provider.ExecutionMetadata{OrchestrationName: orchName})
		if isClosed(ch) {
			e.t.Fatal("a stopped watch was still notified")
		}
	}},
}
