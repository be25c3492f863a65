package main

/*
#include <stdint.h>
#include <stdlib.h>
*/
import "C"

import (
	"fmt"
	"runtime/debug"
	"time"
	"unsafe"

	"github.com/duroxide/duroxide/core/replay"
	coreruntime "github.com/duroxide/duroxide/core/runtime"
)

// abiVersion changes whenever a function's signature or meaning changes.
// The documented header is capi/duroxide.h; `make capi` checks that its
// prototypes match the ones cgo generates from the exports below.
const abiVersion = 1

// guard runs fn, recovering panics, and reports its error through errOut.
func guard(name string, errOut **C.char, fn func() error) (status C.int) {
	if errOut != nil {
		*errOut = nil
	}
	defer func() {
		if p := recover(); p != nil {
			setErr(errOut, fmt.Sprintf("panic in %s: %v\n%s", name, p, debug.Stack()))
			status = statusPanic
		}
	}()
	if err := fn(); err != nil {
		setErr(errOut, fmt.Sprintf("%s: %v", name, err))
		return C.int(statusOf(err))
	}
	return statusOK
}

func setErr(errOut **C.char, msg string) {
	if errOut != nil {
		*errOut = C.CString(msg)
	}
}

// setOut hands b to the caller as a C buffer (NUL-terminated).
func setOut(out **C.char, outLen *C.size_t, b []byte) error {
	if out == nil || outLen == nil {
		return invalidf("out and out_len must not be NULL")
	}
	p := C.malloc(C.size_t(len(b) + 1))
	if p == nil {
		return fmt.Errorf("out of memory allocating %d bytes", len(b)+1)
	}
	buf := unsafe.Slice((*byte)(p), len(b)+1)
	copy(buf, b)
	buf[len(b)] = 0
	*out = (*C.char)(p)
	*outLen = C.size_t(len(b))
	return nil
}

func clearOut(out **C.char, outLen *C.size_t) {
	if out != nil {
		*out = nil
	}
	if outLen != nil {
		*outLen = 0
	}
}

func goString(p *C.char, what string) (string, error) {
	if p == nil {
		return "", invalidf("%s must not be NULL", what)
	}
	return C.GoString(p), nil
}

func goBytes(p *C.char, n C.size_t) []byte {
	if p == nil || n == 0 {
		return nil
	}
	return C.GoBytes(unsafe.Pointer(p), C.int(n))
}

func encodeOut(out **C.char, outLen *C.size_t, v any) error {
	b, err := encodeJSON(v)
	if err != nil {
		return err
	}
	return setOut(out, outLen, b)
}

// dx_abi_version returns DX_ABI_VERSION of the loaded library. A host
// checks it before any other call. Never fails; nothing to free.
//
//export dx_abi_version
func dx_abi_version() C.int { return abiVersion }

// dx_free releases a buffer or error string the library returned (through
// out or err). NULL is allowed and ignored. Never free them with anything
// else, and never free the same pointer twice.
//
//export dx_free
func dx_free(p unsafe.Pointer) {
	if p != nil {
		C.free(p)
	}
}

// dx_version writes a JSON object {"abi":…, "protocol":…, "engine":…,
// "go":…} to *out (caller frees with dx_free).
//
//export dx_version
func dx_version(out **C.char, outLen *C.size_t, errOut **C.char) C.int {
	clearOut(out, outLen)
	return guard("dx_version", errOut, func() error {
		bi, _ := debug.ReadBuildInfo()
		goVer := ""
		if bi != nil {
			goVer = bi.GoVersion
		}
		return encodeOut(out, outLen, map[string]any{"abi": abiVersion, "protocol": replay.ProtocolVersion,
			"engine": coreruntime.EngineVersion, "go": goVer})
	})
}

// dx_store_open opens a store and writes its handle to *out_store.
// dsn: "sqlite:PATH", "sqlite::memory:" (a private in-memory database), a
// file path, or "postgres://…" (a PostgreSQL store). options_json: NULL or a JSON object ({"poll_interval_ms",
// "watch_interval_ms", "synchronous", "busy_timeout_ms",
// "dead_letter_after_ms", "read_connections"}, all optional). Close the
// handle with dx_store_close once its runtimes and clients are closed.
//
//export dx_store_open
func dx_store_open(dsn *C.char, optionsJSON *C.char, outStore *C.uint64_t, errOut **C.char) C.int {
	return guard("dx_store_open", errOut, func() error {
		if err := checkFork(); err != nil {
			return err
		}
		if outStore == nil {
			return invalidf("out_store must not be NULL")
		}
		*outStore = 0
		d, err := goString(dsn, "dsn")
		if err != nil {
			return err
		}
		var opts []byte
		if optionsJSON != nil {
			opts = []byte(C.GoString(optionsJSON))
		}
		s, err := openStore(d, opts)
		if err != nil {
			return err
		}
		*outStore = C.uint64_t(addHandle(kindStore, s))
		return nil
	})
}

// dx_store_close closes a store and releases its handle. Fails (and keeps
// the handle open) while runtimes or clients still use the store.
//
//export dx_store_close
func dx_store_close(store C.uint64_t, errOut **C.char) C.int {
	return guard("dx_store_close", errOut, func() error {
		s, err := lookupStore(uint64(store))
		if err != nil {
			return err
		}
		if err := s.close(); err != nil {
			return err
		}
		_, err = removeHandle(uint64(store), kindStore)
		return err
	})
}

// dx_runtime_new creates a runtime on a store (not started) and writes its
// handle to *out_runtime. options_json: NULL or a JSON object with the
// fields of runtime.Options in snake case and milliseconds
// ("orchestration_concurrency", "worker_concurrency", "max_attempts",
// "poll_timeout_ms", "unregistered_backoff_ms", "instance_cache_size",
// "worker_tag_filter": {"mode", "tags"}, "activation_timeout_ms",
// "log_level", …). Register orchestrations and activities, then call
// dx_runtime_start.
//
//export dx_runtime_new
func dx_runtime_new(store C.uint64_t, optionsJSON *C.char, outRuntime *C.uint64_t, errOut **C.char) C.int {
	return guard("dx_runtime_new", errOut, func() error {
		if outRuntime == nil {
			return invalidf("out_runtime must not be NULL")
		}
		*outRuntime = 0
		s, err := lookupStore(uint64(store))
		if err != nil {
			return err
		}
		var opts []byte
		if optionsJSON != nil {
			opts = []byte(C.GoString(optionsJSON))
		}
		h, err := newHostRuntime(s, opts)
		if err != nil {
			return err
		}
		*outRuntime = C.uint64_t(addHandle(kindRuntime, h))
		return nil
	})
}

// dx_runtime_register_orchestration registers an orchestration served by
// the host: each of its activations arrives through dx_poll as
// {"type":"activation","driver_id":…,"registered_version":…,"activation":{…}}
// and must be answered with dx_complete_activation. version: NULL or "" for
// 1.0.0; a semver otherwise. May be called before or after start.
//
//export dx_runtime_register_orchestration
func dx_runtime_register_orchestration(rt C.uint64_t, name *C.char, version *C.char, errOut **C.char) C.int {
	return guard("dx_runtime_register_orchestration", errOut, func() error {
		h, err := lookupRuntime(uint64(rt))
		if err != nil {
			return err
		}
		n, err := goString(name, "name")
		if err != nil {
			return err
		}
		v := ""
		if version != nil {
			v = C.GoString(version)
		}
		return h.registerOrchestration(n, v)
	})
}

// dx_runtime_register_activity registers an activity served by the host:
// each execution arrives through dx_poll as {"type":"activity","task_id":…,
// "name":…,"input":…,"info":{…}} and must be answered with
// dx_complete_activity. If the activity is cancelled meanwhile the host
// receives {"type":"activity_cancelled","task_id":…}.
//
//export dx_runtime_register_activity
func dx_runtime_register_activity(rt C.uint64_t, name *C.char, errOut **C.char) C.int {
	return guard("dx_runtime_register_activity", errOut, func() error {
		h, err := lookupRuntime(uint64(rt))
		if err != nil {
			return err
		}
		n, err := goString(name, "name")
		if err != nil {
			return err
		}
		return h.registerActivity(n)
	})
}

// dx_runtime_start starts the runtime's dispatchers and returns once they
// run. Work for the host then arrives through dx_poll.
//
//export dx_runtime_start
func dx_runtime_start(rt C.uint64_t, errOut **C.char) C.int {
	return guard("dx_runtime_start", errOut, func() error {
		h, err := lookupRuntime(uint64(rt))
		if err != nil {
			return err
		}
		return h.start()
	})
}

// dx_runtime_shutdown stops fetching new work, waits up to timeout_ms
// (<= 0: 10 s) for in-flight turns and activities — the host must keep
// polling meanwhile, from another thread — then cancels the rest. Then
// every dx_poll on the runtime returns DX_ERR_CLOSED. Idempotent; the
// handle stays valid until dx_runtime_close.
//
//export dx_runtime_shutdown
func dx_runtime_shutdown(rt C.uint64_t, timeoutMs C.int64_t, errOut **C.char) C.int {
	return guard("dx_runtime_shutdown", errOut, func() error {
		h, err := lookupRuntime(uint64(rt))
		if err != nil {
			return err
		}
		d := ms(int64(timeoutMs))
		if d <= 0 {
			d = 10 * time.Second
		}
		return h.shutdown(d)
	})
}

// dx_runtime_close shuts the runtime down (with the default drain timeout
// if dx_runtime_shutdown was not called) and releases its handle.
//
//export dx_runtime_close
func dx_runtime_close(rt C.uint64_t, errOut **C.char) C.int {
	return guard("dx_runtime_close", errOut, func() error {
		h, err := lookupRuntime(uint64(rt))
		if err != nil {
			return err
		}
		err = h.shutdown(10 * time.Second)
		if _, rerr := removeHandle(uint64(rt), kindRuntime); rerr != nil && err == nil {
			err = rerr
		}
		return err
	})
}

// dx_poll waits up to timeout_ms for work on a runtime or a client handle
// and writes a JSON array of up to max_items items (max_items <= 0: no
// limit) to *out. On timeout it returns DX_OK with *out == NULL and
// *out_len == 0. Once the runtime is shut down (or the client closed) it
// returns DX_ERR_CLOSED. Item types: "activation", "driver_closed" (drop the
// driver's state), "activity", "activity_cancelled" (runtimes);
// "client_result" (clients). Blocks the calling thread: never call it from
// an event loop.
//
//export dx_poll
func dx_poll(handle C.uint64_t, maxItems C.int32_t, timeoutMs C.int64_t, out **C.char, outLen *C.size_t, errOut **C.char) C.int {
	clearOut(out, outLen)
	return guard("dx_poll", errOut, func() error {
		if out == nil || outLen == nil {
			return invalidf("out and out_len must not be NULL")
		}
		if err := checkFork(); err != nil {
			return err
		}
		var q *pollQueue
		handles.RLock()
		e := handles.m[uint64(handle)]
		handles.RUnlock()
		switch {
		case e == nil:
			return &errHandle{fmt.Sprintf("handle %d is closed or was never opened", uint64(handle))}
		case e.kind == kindRuntime:
			q = e.obj.(*hostRuntime).q
		case e.kind == kindClient:
			q = e.obj.(*clientEntry).q
		default:
			return &errHandle{fmt.Sprintf("handle %d is a %s handle; dx_poll takes a runtime or client handle", uint64(handle), e.kind)}
		}
		items, closed := q.poll(int(maxItems), ms(int64(timeoutMs)))
		if closed {
			return &errClosed{fmt.Sprintf("%s %d is shut down", e.kind, uint64(handle))}
		}
		if len(items) == 0 {
			return nil
		}
		return setOut(out, outLen, joinItems(items))
	})
}

// dx_complete_activation answers the activation of driver driver_id with
// result_json (result_len bytes): {"protocol":1,"commands":[…]} — the
// commands the code issued, in order (docs/protocol.md) — or
// {"protocol":1,"error":"…"} when the host could not run the code at all
// (the turn is abandoned and retried). DX_ERR_NOT_FOUND when no activation
// of that driver waits (it timed out, or the driver was closed).
//
//export dx_complete_activation
func dx_complete_activation(rt C.uint64_t, driverID C.uint64_t, resultJSON *C.char, resultLen C.size_t, errOut **C.char) C.int {
	return guard("dx_complete_activation", errOut, func() error {
		h, err := lookupRuntime(uint64(rt))
		if err != nil {
			return err
		}
		return h.completeActivation(uint64(driverID), goBytes(resultJSON, resultLen))
	})
}

// dx_complete_activity completes activity task task_id. ok != 0: payload
// (payload_len bytes) is the activity's output payload. ok == 0: payload is
// {"message":"…","error_type":"…"} (or plain text), and the activity fails
// with that message. DX_ERR_NOT_FOUND when the task is no longer pending
// (cancelled and past its grace period, or already completed): the host may
// ignore it.
//
//export dx_complete_activity
func dx_complete_activity(rt C.uint64_t, taskID C.uint64_t, ok C.int, payload *C.char, payloadLen C.size_t, errOut **C.char) C.int {
	return guard("dx_complete_activity", errOut, func() error {
		h, err := lookupRuntime(uint64(rt))
		if err != nil {
			return err
		}
		return h.completeActivity(uint64(taskID), ok != 0, goBytes(payload, payloadLen))
	})
}

// dx_runtime_metrics writes the runtime's counters as a JSON object to *out
// (caller frees): the core's (turns, warm_turns, orchestrations_completed,
// …) plus host_activations and host_activation_ns_total (the round trips to
// the host and their total time).
//
//export dx_runtime_metrics
func dx_runtime_metrics(rt C.uint64_t, out **C.char, outLen *C.size_t, errOut **C.char) C.int {
	clearOut(out, outLen)
	return guard("dx_runtime_metrics", errOut, func() error {
		h, err := lookupRuntime(uint64(rt))
		if err != nil {
			return err
		}
		m := h.metrics()
		return encodeOut(out, outLen, &m)
	})
}

// dx_client_new creates a client on a store and writes its handle to
// *out_client. Close it with dx_client_close.
//
//export dx_client_new
func dx_client_new(store C.uint64_t, outClient *C.uint64_t, errOut **C.char) C.int {
	return guard("dx_client_new", errOut, func() error {
		if outClient == nil {
			return invalidf("out_client must not be NULL")
		}
		*outClient = 0
		s, err := lookupStore(uint64(store))
		if err != nil {
			return err
		}
		ce, err := newClientEntry(s)
		if err != nil {
			return err
		}
		*outClient = C.uint64_t(addHandle(kindClient, ce))
		return nil
	})
}

// dx_client_close cancels the client's pending asynchronous calls, waits
// for them and releases its handle.
//
//export dx_client_close
func dx_client_close(cl C.uint64_t, errOut **C.char) C.int {
	return guard("dx_client_close", errOut, func() error {
		o, err := removeHandle(uint64(cl), kindClient)
		if err != nil {
			return err
		}
		o.(*clientEntry).close()
		return nil
	})
}

// dx_client_call runs one client operation synchronously on the calling
// thread. request_json (request_len bytes): {"protocol":1,"op":"…", args…}
// with op one of start_orchestration {instance,name,version?,input},
// raise_event {instance,name,data}, enqueue_event {instance,name,data},
// cancel_instance {instance,reason}, get_status {instance},
// wait_for_orchestration {instance,timeout_ms}, wait_for_status_change
// {instance,last_seen_version,timeout_ms}, get_kv_value {instance,key},
// get_kv_all_values, wait_for_kv_value {instance,key,timeout_ms},
// read_history {instance,execution_id?}, list_instances {filter},
// get_instance_info, list_executions, get_execution_info {execution_id},
// get_instance_tree, delete_instance {force}, delete_instance_bulk {filter},
// prune_executions {prune}, prune_executions_bulk {filter,prune},
// get_system_metrics, get_queue_depths, list_dead_letters {limit}. On
// success *out holds the JSON result (caller frees). A wait that times out
// returns DX_ERR_TIMEOUT.
//
//export dx_client_call
func dx_client_call(cl C.uint64_t, requestJSON *C.char, requestLen C.size_t, out **C.char, outLen *C.size_t, errOut **C.char) C.int {
	clearOut(out, outLen)
	return guard("dx_client_call", errOut, func() error {
		ce, err := lookupClient(uint64(cl))
		if err != nil {
			return err
		}
		res, err := ce.call(ce.ctx, goBytes(requestJSON, requestLen))
		if err != nil {
			return err
		}
		return encodeOut(out, outLen, res)
	})
}

// dx_client_call_async starts the same operation as dx_client_call on a Go
// goroutine and returns at once with *out_request_id. Its result arrives
// through dx_poll(client) as {"type":"client_result","request_id":…,
// "status":<DX code>,"result":…,"error":"…"}. For event-loop hosts.
//
//export dx_client_call_async
func dx_client_call_async(cl C.uint64_t, requestJSON *C.char, requestLen C.size_t, outRequestID *C.uint64_t, errOut **C.char) C.int {
	return guard("dx_client_call_async", errOut, func() error {
		if outRequestID == nil {
			return invalidf("out_request_id must not be NULL")
		}
		*outRequestID = 0
		ce, err := lookupClient(uint64(cl))
		if err != nil {
			return err
		}
		id, err := ce.callAsync(goBytes(requestJSON, requestLen))
		if err != nil {
			return err
		}
		*outRequestID = C.uint64_t(id)
		return nil
	})
}
