/*
 * duroxide.h — the C ABI of duroxide, a durable task orchestration engine.
 *
 * Link with -lduroxide (libduroxide.so, built by `make capi` from ./capi).
 * This header is hand-written; `make capi` checks that every prototype
 * matches the exports cgo generates.
 *
 * CONVENTIONS (they hold for every function below)
 *
 *  Handles   Stores, runtimes and clients are opaque uint64_t ids, never
 *            pointers. 0 is never a valid handle. An unknown, closed or
 *            wrong-kind handle is answered with DX_ERR_HANDLE and an error
 *            that names it.
 *  Status    Every function except dx_abi_version and dx_free returns a
 *            status code: DX_OK (0) on success, another DX_* on failure.
 *  Errors    char** err may be NULL. Otherwise *err is set to NULL on
 *            success, and on failure to a NUL-terminated UTF-8 message the
 *            CALLER OWNS and must release with dx_free.
 *  Outputs   char** out, size_t* out_len: on success *out points to
 *            *out_len bytes of UTF-8 JSON (plus a terminating NUL, not
 *            counted) that the CALLER OWNS and must release with dx_free.
 *            On failure *out is NULL and *out_len 0.
 *  Inputs    Strings and buffers passed in are only read during the call;
 *            the library never keeps a pointer to them and never frees them.
 *  JSON      Messages are UTF-8 JSON objects with a "protocol" field
 *            (DX_PROTOCOL_VERSION). Activations and commands follow the turn
 *            protocol of docs/protocol.md, field for field. User payloads
 *            (inputs, outputs, event data) are strings — JSON text by
 *            convention, a bare string stored without quotes.
 *  Pull      Go never calls into the host. The host calls dx_poll, which
 *            blocks up to a timeout (call it from a thread that may block,
 *            never from an event loop), and answers each item with the
 *            matching dx_complete_* call. One round trip per orchestration
 *            turn (per activation).
 *  Threads   Every function is thread-safe.
 *  fork()    The Go runtime does not survive fork(): handles are bound to
 *            the process that created them, and a forked child gets
 *            DX_ERR_FORKED. Create new handles in the child (or spawn).
 *  Panics    A Go panic never crosses the boundary: it is recovered and
 *            reported as DX_ERR_PANIC.
 */
#ifndef DUROXIDE_H
#define DUROXIDE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes; compare with dx_abi_version(). */
#define DX_ABI_VERSION 1
/* The turn-protocol version carried in every JSON message. */
#define DX_PROTOCOL_VERSION 1

/* Status codes. */
#define DX_OK            0 /* success */
#define DX_ERR           1 /* any other failure; see *err */
#define DX_ERR_HANDLE    2 /* unknown, closed or wrong-kind handle */
#define DX_ERR_INVALID   3 /* bad argument or malformed JSON */
#define DX_ERR_NOT_FOUND 4 /* instance, driver or activity task not found */
#define DX_ERR_TIMEOUT   5 /* a wait ended before its condition held */
#define DX_ERR_PANIC     6 /* a Go panic was recovered (a bug: please report) */
#define DX_ERR_FORKED    7 /* called in a forked child process */
#define DX_ERR_CLOSED    8 /* the runtime or client is shut down */
#define DX_ERR_EXISTS    9 /* name (and version) already registered */

/* ------------------------------------------------------------------ */
/* Library                                                             */

/* The ABI version of the loaded library (DX_ABI_VERSION it was built
 * with). Check it before any other call. Never fails; nothing to free. */
int dx_abi_version(void);

/* Releases a buffer or an error string returned by the library (through
 * out or err). NULL is ignored. Free each pointer exactly once, and only
 * with dx_free. */
void dx_free(void* p);

/* Writes {"abi":…,"protocol":…,"engine":"0.1.0","go":"go1.26…"} to *out.
 * Ownership: *out and *err belong to the caller (dx_free). */
int dx_version(char** out, size_t* out_len, char** err);

/* ------------------------------------------------------------------ */
/* Stores                                                              */

/* Opens a store and writes its handle to *out_store.
 * dsn: "sqlite:PATH", "sqlite::memory:" (a private in-memory database), a
 * plain file path, or "postgres://user:password@host:port/db?…" (a
 * PostgreSQL store; created and migrated if needed). options_json: NULL or
 * a JSON object, every field optional: poll_interval_ms; for SQLite
 * watch_interval_ms, synchronous ("FULL" or "NORMAL"), busy_timeout_ms,
 * dead_letter_after_ms, read_connections; for PostgreSQL schema (default
 * "public") and max_conns. Error messages never show the password.
 * Ownership: dsn and options_json are borrowed; *err belongs to the caller.
 * The handle must be released with dx_store_close. */
int dx_store_open(const char* dsn, const char* options_json, uint64_t* out_store, char** err);

/* Closes a store and releases its handle. Fails with DX_ERR (the handle
 * stays open) while runtimes or clients created on it are not closed.
 * Ownership: *err belongs to the caller. */
int dx_store_close(uint64_t store, char** err);

/* ------------------------------------------------------------------ */
/* Runtimes                                                            */

/* Creates a runtime on a store, not yet started, and writes its handle to
 * *out_runtime. options_json: NULL or a JSON object, every field optional:
 * orchestration_concurrency (default 4; negative: no orchestrations),
 * worker_concurrency (16; negative: no activities), max_attempts (10),
 * poll_timeout_ms, orchestrator_lock_timeout_ms, worker_lock_timeout_ms,
 * unregistered_backoff_ms, unregistered_backoff_max_ms,
 * activity_cancellation_grace_ms, instance_cache_size, worker_node_id,
 * session_lock_timeout_ms, worker_tag_filter {"mode": "default_only" |
 * "tags" | "default_and" | "any" | "none", "tags": [...]},
 * activation_timeout_ms (how long a turn waits for the host; default
 * 60000), log_level ("debug" … "error": core logs on stderr), limits.
 * Ownership: options_json is borrowed; *err belongs to the caller. Release
 * the handle with dx_runtime_close. The runtime keeps the store in use. */
int dx_runtime_new(uint64_t store, const char* options_json, uint64_t* out_runtime, char** err);

/* Registers an orchestration the host serves, as version `version` (NULL
 * or "" means "1.0.0"; semver otherwise). Each activation of it arrives
 * through dx_poll as
 *   {"protocol":1,"type":"activation","driver_id":N,
 *    "registered_version":"<version as given here>","activation":{…}}
 * and must be answered with dx_complete_activation(driver_id, …). A driver
 * lives for one execution and may receive several activations (the
 * instance cache keeps it warm); {"type":"driver_closed","driver_id":N}
 * tells the host to drop its state. DX_ERR_EXISTS if already registered.
 * May be called before or after dx_runtime_start.
 * Ownership: name and version are borrowed; *err belongs to the caller. */
int dx_runtime_register_orchestration(uint64_t runtime, const char* name, const char* version, char** err);

/* Registers an activity the host serves. Each execution arrives through
 * dx_poll as
 *   {"protocol":1,"type":"activity","task_id":N,"name":"…","input":"…",
 *    "info":{"instance_id","execution_id","orchestration_name",
 *            "orchestration_version","activity_name","activity_id",
 *            "attempt","session_id","tag","worker_id"}}
 * and must be answered with dx_complete_activity(task_id, …). When the
 * activity is cancelled (its orchestration dropped it, ended, or the
 * runtime shuts down) the host receives
 *   {"protocol":1,"type":"activity_cancelled","task_id":N}
 * and should finish soon; its late answer is then ignored.
 * Ownership: name is borrowed; *err belongs to the caller. */
int dx_runtime_register_activity(uint64_t runtime, const char* name, char** err);

/* Starts the runtime's dispatchers; returns once they run. From then on
 * work for the host arrives through dx_poll. Ownership: *err. */
int dx_runtime_start(uint64_t runtime, char** err);

/* Stops fetching new work, waits up to timeout_ms (<= 0: 10 s) for
 * in-flight turns and activities — keep polling from another thread
 * meanwhile, or they cannot finish — then cancels what is left (it will
 * run again later). Afterwards dx_poll on this runtime returns
 * DX_ERR_CLOSED. Idempotent; the handle stays valid until
 * dx_runtime_close. Ownership: *err belongs to the caller. */
int dx_runtime_shutdown(uint64_t runtime, int64_t timeout_ms, char** err);

/* Shuts the runtime down if needed (10 s drain) and releases its handle.
 * Ownership: *err belongs to the caller. */
int dx_runtime_close(uint64_t runtime, char** err);

/* Writes the runtime's counters as a JSON object to *out: turns,
 * warm_turns, replayed_jobs, orchestrations_started/_completed/_failed,
 * continued_as_new, activities_succeeded/_failed/_cancelled, abandoned,
 * poison_messages, provider_errors, ack_conflicts, cached_instances,
 * host_activations and host_activation_ns_total (host round trips and
 * their total time), host_activity_tasks, host_drivers_open,
 * host_activities_open. Ownership: *out and *err belong to the caller. */
int dx_runtime_metrics(uint64_t runtime, char** out, size_t* out_len, char** err);

/* ------------------------------------------------------------------ */
/* Polling and completing                                              */

/* Waits up to timeout_ms for work on a runtime or client handle and writes
 * a JSON array of up to max_items items (max_items <= 0: all queued) to
 * *out. Returns DX_OK with *out == NULL and *out_len == 0 when nothing
 * arrived in time; DX_ERR_CLOSED once the runtime is shut down or the
 * client closed (stop polling). Runtime items: "activation",
 * "driver_closed", "activity", "activity_cancelled"; client items:
 * "client_result". Use bounded timeouts (100–250 ms) so the host can
 * notice its own shutdown and signals.
 * Ownership: *out and *err belong to the caller. */
int dx_poll(uint64_t handle, int32_t max_items, int64_t timeout_ms, char** out, size_t* out_len, char** err);

/* Answers the waiting activation of driver driver_id with result_json
 * (result_len bytes):
 *   {"protocol":1,"commands":[{"kind":"schedule_activity","seq":1,…},…]}
 * — every command the code issued while the activation's jobs were
 * applied, in order (docs/protocol.md) — or
 *   {"protocol":1,"error":"…"}
 * when the host could not run the code at all (the turn is abandoned and
 * retried). DX_ERR_NOT_FOUND when no activation of that driver is waiting
 * (it timed out or the driver was closed).
 * Ownership: result_json is borrowed; *err belongs to the caller. */
int dx_complete_activation(uint64_t runtime, uint64_t driver_id, const char* result_json, size_t result_len, char** err);

/* Completes activity task task_id. ok != 0: payload (payload_len bytes)
 * is the activity's output payload. ok == 0: payload is
 * {"message":"…","error_type":"…"} (or plain text) and the activity fails
 * with that message. DX_ERR_NOT_FOUND when the task is no longer pending
 * (cancelled and past its grace period, or already completed); the host
 * may ignore that. Ownership: payload is borrowed; *err belongs to the
 * caller. */
int dx_complete_activity(uint64_t runtime, uint64_t task_id, int ok, const char* payload, size_t payload_len, char** err);

/* ------------------------------------------------------------------ */
/* Clients                                                             */

/* Creates a client on a store and writes its handle to *out_client.
 * Release it with dx_client_close. Ownership: *err. */
int dx_client_new(uint64_t store, uint64_t* out_client, char** err);

/* Cancels the client's pending asynchronous calls, waits for them and
 * releases the handle. Ownership: *err belongs to the caller. */
int dx_client_close(uint64_t client, char** err);

/* Runs one client operation on the calling thread. request_json
 * (request_len bytes) is {"protocol":1,"op":"…", arguments…}:
 *   start_orchestration   instance, name, version?, input
 *   raise_event           instance, name, data
 *   enqueue_event         instance, name (the queue), data
 *   cancel_instance       instance, reason
 *   get_status            instance
 *   wait_for_orchestration instance, timeout_ms          (DX_ERR_TIMEOUT)
 *   wait_for_status_change instance, last_seen_version, timeout_ms
 *   get_kv_value          instance, key   -> {"found":bool,"value":…}
 *   get_kv_all_values     instance        -> {key: value}
 *   wait_for_kv_value     instance, key, timeout_ms
 *   read_history          instance, execution_id? -> [events]
 *   list_instances        filter {status,name,created_after_ms,
 *                         created_before_ms,completed_before_ms,parent,
 *                         roots_only,instance_ids,limit,offset}
 *   get_instance_info     instance
 *   list_executions       instance -> [ids]
 *   get_execution_info    instance, execution_id
 *   get_instance_tree     instance
 *   delete_instance       instance, force
 *   delete_instance_bulk  filter
 *   prune_executions      instance, prune {keep_last,completed_before_ms}
 *   prune_executions_bulk filter, prune
 *   get_system_metrics, get_queue_depths, list_dead_letters (limit)
 * A status is {"instance","status":"Running"|"Completed"|"Failed"|
 * "NotFound","output","error":{…},"error_message","custom_status",
 * "custom_status_version","name","version","execution_id"}.
 * On success *out holds the JSON result.
 * Ownership: request_json is borrowed; *out and *err belong to the caller. */
int dx_client_call(uint64_t client, const char* request_json, size_t request_len, char** out, size_t* out_len, char** err);

/* Starts the same operation as dx_client_call on a Go goroutine and
 * returns at once with *out_request_id. The result arrives through
 * dx_poll(client) as {"protocol":1,"type":"client_result","request_id":N,
 * "status":<DX code>,"result":…,"error":"…"}. For event-loop hosts.
 * Ownership: request_json is borrowed; *err belongs to the caller. */
int dx_client_call_async(uint64_t client, const char* request_json, size_t request_len, uint64_t* out_request_id, char** err);

#ifdef __cplusplus
}
#endif

#endif /* DUROXIDE_H */
