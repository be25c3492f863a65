package main

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// Handles are opaque uint64 ids into this table, never Go pointers: C code
// can copy, store and compare them freely, and a wrong or stale one is
// answered with an error that names it instead of undefined behaviour.
// Ids are never reused.

type handleKind string

const (
	kindStore   handleKind = "store"
	kindRuntime handleKind = "runtime"
	kindClient  handleKind = "client"
)

type handleEntry struct {
	kind handleKind
	pid  int // the process that created the handle
	obj  any
}

var handles = struct {
	sync.RWMutex
	m    map[uint64]*handleEntry
	next uint64
}{m: map[uint64]*handleEntry{}}

// processID is the pid of the process that loaded the library. A forked
// child has another pid: the Go runtime did not survive the fork (only the
// forking thread exists in the child), so every call is refused.
var processID = os.Getpid()

// errForked is returned to a forked child.
var errForked = errors.New("duroxide handles cannot be used in a forked child process: the Go runtime does not survive fork(); open a new store, runtime and client in the child instead (or use the spawn start method)")

// errHandle reports a bad handle; statusOf maps it to DX_ERR_HANDLE.
type errHandle struct{ msg string }

func (e *errHandle) Error() string { return e.msg }

func checkFork() error {
	if os.Getpid() != processID {
		return errForked
	}
	return nil
}

func addHandle(kind handleKind, obj any) uint64 {
	handles.Lock()
	defer handles.Unlock()
	handles.next++
	id := handles.next
	handles.m[id] = &handleEntry{kind: kind, pid: os.Getpid(), obj: obj}
	return id
}

func lookupHandle(id uint64, kind handleKind) (any, error) {
	if err := checkFork(); err != nil {
		return nil, err
	}
	if id == 0 {
		return nil, &errHandle{fmt.Sprintf("%s handle 0 is not a valid handle", kind)}
	}
	handles.RLock()
	e := handles.m[id]
	handles.RUnlock()
	if e == nil {
		return nil, &errHandle{fmt.Sprintf("%s handle %d is closed or was never opened", kind, id)}
	}
	if e.kind != kind {
		return nil, &errHandle{fmt.Sprintf("handle %d is a %s handle, not a %s handle", id, e.kind, kind)}
	}
	if e.pid != os.Getpid() {
		return nil, errForked
	}
	return e.obj, nil
}

func removeHandle(id uint64, kind handleKind) (any, error) {
	if err := checkFork(); err != nil {
		return nil, err
	}
	handles.Lock()
	defer handles.Unlock()
	e := handles.m[id]
	if e == nil {
		return nil, &errHandle{fmt.Sprintf("%s handle %d is closed or was never opened", kind, id)}
	}
	if e.kind != kind {
		return nil, &errHandle{fmt.Sprintf("handle %d is a %s handle, not a %s handle", id, e.kind, kind)}
	}
	delete(handles.m, id)
	return e.obj, nil
}

func lookupStore(id uint64) (*storeEntry, error) {
	o, err := lookupHandle(id, kindStore)
	if err != nil {
		return nil, err
	}
	return o.(*storeEntry), nil
}

func lookupRuntime(id uint64) (*hostRuntime, error) {
	o, err := lookupHandle(id, kindRuntime)
	if err != nil {
		return nil, err
	}
	return o.(*hostRuntime), nil
}

func lookupClient(id uint64) (*clientEntry, error) {
	o, err := lookupHandle(id, kindClient)
	if err != nil {
		return nil, err
	}
	return o.(*clientEntry), nil
}
