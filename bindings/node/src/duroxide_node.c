/*
 * duroxide_node.c — the N-API addon of the `duroxide` npm package.
 *
 * It is a thin layer over the C ABI of the Go core (libduroxide.so,
 * duroxide.h). Three kinds of call cross it:
 *
 *  - Quick calls run on the JavaScript thread and return at once
 *    (dx_runtime_new, registrations, dx_client_call_async,
 *    dx_complete_activation, dx_complete_activity, metrics). None of them
 *    waits for I/O.
 *
 *  - Blocking calls (opening and closing a store, starting, shutting down
 *    and closing a runtime, closing a client) run on a short-lived thread
 *    of their own and settle a Promise through a napi_threadsafe_function.
 *    They never occupy libuv's shared worker pool.
 *
 *  - Pumps. Each runtime and each client has one pump thread that blocks
 *    in dx_poll (bounded timeout) and hands every batch of work (a JSON
 *    array) to a JavaScript callback through a napi_threadsafe_function.
 *    The event loop never waits for Go. A pump ends when its handle is
 *    shut down (dx_poll answers DX_ERR_CLOSED); it then releases its
 *    threadsafe function, so it never keeps the process alive afterwards.
 *    JavaScript refs a client's pump only while calls are pending.
 *
 * N-API is only ever called on the JavaScript thread; the pump and job
 * threads touch nothing but the C ABI and napi_call_threadsafe_function /
 * napi_release_threadsafe_function (which are thread-safe). When the
 * environment is torn down (process exit, a worker thread ending) a cleanup
 * hook stops every pump (closing clients and shutting runtimes down so their
 * polls return at once), joins the threads and waits for blocking calls in
 * flight, so no thread outlives the functions it uses.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "duroxide.h"

#define ADDON_VERSION 1

/* ------------------------------------------------------------------ */
/* Per-environment state. Allocated once per environment and never freed:
 * threads may still hold it while the environment is being torn down. */

typedef struct poller poller;

typedef struct addon {
  napi_env env;
  napi_ref error_factory; /* (code, message) => Error, set by JavaScript */
  pthread_mutex_t mu;
  pthread_cond_t cond;
  int jobs_inflight; /* blocking-call threads still running (mu) */
  poller* pollers;   /* live pumps of this environment (mu) */
  uint32_t next_poller_id;
  bool tearing_down;
} addon;

/* ------------------------------------------------------------------ */
/* Helpers. */

#define CHECK(call)                                                        \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      throw_last(env, #call);                                              \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

static void throw_last(napi_env env, const char* what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  const napi_extended_error_info* info = NULL;
  napi_get_last_error_info(env, &info);
  char buf[512];
  snprintf(buf, sizeof buf, "duroxide addon: %s failed: %s", what,
           info && info->error_message ? info->error_message : "unknown N-API error");
  napi_throw_error(env, NULL, buf);
}

static addon* get_addon(napi_env env) {
  void* data = NULL;
  if (napi_get_instance_data(env, &data) != napi_ok) return NULL;
  return (addon*)data;
}

/* make_error builds the Error JavaScript sees for a status code: through
 * the factory JavaScript installed (typed error classes), or a plain Error
 * with a `code` property before it did. */
static napi_value make_error(napi_env env, int code, const char* msg, size_t len) {
  addon* ad = get_addon(env);
  napi_value jmsg, jcode, result = NULL;
  if (msg == NULL) {
    msg = "duroxide: unknown error";
    len = strlen(msg);
  }
  if (napi_create_string_utf8(env, msg, len, &jmsg) != napi_ok) return NULL;
  napi_create_int32(env, code, &jcode);
  if (ad && ad->error_factory) {
    napi_value factory, global;
    if (napi_get_reference_value(env, ad->error_factory, &factory) == napi_ok && factory) {
      napi_get_global(env, &global);
      napi_value argv[2] = {jcode, jmsg};
      if (napi_call_function(env, global, factory, 2, argv, &result) == napi_ok) return result;
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) {
        napi_value ignored;
        napi_get_and_clear_last_exception(env, &ignored);
      }
    }
  }
  napi_create_error(env, NULL, jmsg, &result);
  if (result) napi_set_named_property(env, result, "code", jcode);
  return result;
}

/* throw_dx throws the error of a failed dx_* call and frees its text. */
static void throw_dx(napi_env env, int rc, char* err) {
  napi_value e = make_error(env, rc, err, err ? strlen(err) : 0);
  dx_free(err);
  if (e) napi_throw(env, e);
}

/* A string argument: short strings live on the stack, long ones on the heap. */
typedef struct {
  char* p;
  size_t len;
  char small[2048];
} strbuf;

/* sb_get reads a string argument. allow_null: null/undefined give p == NULL. */
static bool sb_get(napi_env env, napi_value v, strbuf* sb, bool allow_null, const char* what) {
  sb->p = NULL;
  sb->len = 0;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == napi_null || t == napi_undefined) {
    if (allow_null) return true;
  }
  if (t != napi_string) {
    char buf[160];
    snprintf(buf, sizeof buf, "duroxide addon: %s must be a string", what);
    napi_throw_type_error(env, NULL, buf);
    return false;
  }
  size_t n = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &n) != napi_ok) return false;
  char* p = sb->small;
  if (n + 1 > sizeof sb->small) {
    p = malloc(n + 1);
    if (!p) {
      napi_throw_error(env, NULL, "duroxide addon: out of memory");
      return false;
    }
  }
  if (napi_get_value_string_utf8(env, v, p, n + 1, &n) != napi_ok) {
    if (p != sb->small) free(p);
    return false;
  }
  sb->p = p;
  sb->len = n;
  return true;
}

static void sb_free(strbuf* sb) {
  if (sb->p && sb->p != sb->small) free(sb->p);
  sb->p = NULL;
}

/* sb_dup gives a heap copy of the string (for another thread), or NULL. */
static char* sb_dup(const strbuf* sb) {
  if (!sb->p) return NULL;
  char* d = malloc(sb->len + 1);
  if (d) {
    memcpy(d, sb->p, sb->len);
    d[sb->len] = 0;
  }
  return d;
}

static bool get_u64(napi_env env, napi_value v, uint64_t* out, const char* what) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t != napi_number) {
    char buf[160];
    snprintf(buf, sizeof buf, "duroxide addon: %s must be a number", what);
    napi_throw_type_error(env, NULL, buf);
    return false;
  }
  int64_t i = 0;
  if (napi_get_value_int64(env, v, &i) != napi_ok) return false;
  *out = (uint64_t)i;
  return true;
}

static bool get_i64(napi_env env, napi_value v, int64_t* out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == napi_undefined || t == napi_null) {
    *out = 0;
    return true;
  }
  return napi_get_value_int64(env, v, out) == napi_ok;
}

static napi_value make_u64(napi_env env, uint64_t v) {
  napi_value r = NULL;
  napi_create_int64(env, (int64_t)v, &r);
  return r;
}

static napi_value undefined(napi_env env) {
  napi_value u = NULL;
  napi_get_undefined(env, &u);
  return u;
}

#define ARGS(n)                                                          \
  size_t argc = (n);                                                     \
  napi_value argv[(n) > 0 ? (n) : 1];                                    \
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));           \
  if (argc < (n)) {                                                      \
    napi_throw_type_error(env, NULL, "duroxide addon: missing arguments"); \
    return NULL;                                                         \
  }

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

/* ------------------------------------------------------------------ */
/* Library. */

static napi_value js_abi_version(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  CHECK(napi_create_int32(env, dx_abi_version(), &r));
  return r;
}

static napi_value js_version(napi_env env, napi_callback_info info) {
  (void)info;
  char* out = NULL;
  size_t n = 0;
  char* err = NULL;
  int rc = dx_version(&out, &n, &err);
  if (rc != DX_OK) {
    throw_dx(env, rc, err);
    return NULL;
  }
  napi_value r;
  napi_status st = napi_create_string_utf8(env, out, n, &r);
  dx_free(out);
  if (st != napi_ok) {
    throw_last(env, "napi_create_string_utf8");
    return NULL;
  }
  return r;
}

/* setErrorFactory(fn): fn(code, message) returns the Error to throw. */
static napi_value js_set_error_factory(napi_env env, napi_callback_info info) {
  ARGS(1);
  addon* ad = get_addon(env);
  if (ad->error_factory) {
    napi_delete_reference(env, ad->error_factory);
    ad->error_factory = NULL;
  }
  CHECK(napi_create_reference(env, argv[0], 1, &ad->error_factory));
  return undefined(env);
}

/* ------------------------------------------------------------------ */
/* Quick calls (JavaScript thread). */

/* runtimeNew(store, optionsJson|null) -> runtime handle */
static napi_value js_runtime_new(napi_env env, napi_callback_info info) {
  ARGS(2);
  uint64_t store, rt = 0;
  strbuf opts;
  if (!get_u64(env, argv[0], &store, "store") || !sb_get(env, argv[1], &opts, true, "options")) return NULL;
  char* err = NULL;
  int rc = dx_runtime_new(store, opts.p, &rt, &err);
  sb_free(&opts);
  if (rc != DX_OK) {
    throw_dx(env, rc, err);
    return NULL;
  }
  return make_u64(env, rt);
}

/* registerOrchestration(rt, name, version) */
static napi_value js_register_orchestration(napi_env env, napi_callback_info info) {
  ARGS(3);
  uint64_t rt;
  strbuf name, version;
  if (!get_u64(env, argv[0], &rt, "runtime")) return NULL;
  if (!sb_get(env, argv[1], &name, false, "name")) return NULL;
  if (!sb_get(env, argv[2], &version, true, "version")) {
    sb_free(&name);
    return NULL;
  }
  char* err = NULL;
  int rc = dx_runtime_register_orchestration(rt, name.p, version.p, &err);
  sb_free(&name);
  sb_free(&version);
  if (rc != DX_OK) {
    throw_dx(env, rc, err);
    return NULL;
  }
  return undefined(env);
}

/* registerActivity(rt, name) */
static napi_value js_register_activity(napi_env env, napi_callback_info info) {
  ARGS(2);
  uint64_t rt;
  strbuf name;
  if (!get_u64(env, argv[0], &rt, "runtime") || !sb_get(env, argv[1], &name, false, "name")) return NULL;
  char* err = NULL;
  int rc = dx_runtime_register_activity(rt, name.p, &err);
  sb_free(&name);
  if (rc != DX_OK) {
    throw_dx(env, rc, err);
    return NULL;
  }
  return undefined(env);
}

/* runtimeMetrics(rt) -> JSON text */
static napi_value js_runtime_metrics(napi_env env, napi_callback_info info) {
  ARGS(1);
  uint64_t rt;
  if (!get_u64(env, argv[0], &rt, "runtime")) return NULL;
  char* out = NULL;
  size_t n = 0;
  char* err = NULL;
  int rc = dx_runtime_metrics(rt, &out, &n, &err);
  if (rc != DX_OK) {
    throw_dx(env, rc, err);
    return NULL;
  }
  napi_value r;
  napi_status st = napi_create_string_utf8(env, out, n, &r);
  dx_free(out);
  if (st != napi_ok) {
    throw_last(env, "napi_create_string_utf8");
    return NULL;
  }
  return r;
}

/* completeActivation(rt, driverId, resultJson) -> undefined | Error (not thrown) */
static napi_value js_complete_activation(napi_env env, napi_callback_info info) {
  ARGS(3);
  uint64_t rt, driver;
  strbuf res;
  if (!get_u64(env, argv[0], &rt, "runtime") || !get_u64(env, argv[1], &driver, "driver id") ||
      !sb_get(env, argv[2], &res, false, "result"))
    return NULL;
  char* err = NULL;
  int rc = dx_complete_activation(rt, driver, res.p, res.len, &err);
  sb_free(&res);
  if (rc != DX_OK) {
    napi_value e = make_error(env, rc, err, err ? strlen(err) : 0);
    dx_free(err);
    return e;
  }
  return undefined(env);
}

/* completeActivity(rt, taskId, ok, payload) -> undefined | Error (not thrown) */
static napi_value js_complete_activity(napi_env env, napi_callback_info info) {
  ARGS(4);
  uint64_t rt, task;
  bool ok = false;
  strbuf payload;
  if (!get_u64(env, argv[0], &rt, "runtime") || !get_u64(env, argv[1], &task, "task id")) return NULL;
  CHECK(napi_get_value_bool(env, argv[2], &ok));
  if (!sb_get(env, argv[3], &payload, false, "payload")) return NULL;
  char* err = NULL;
  int rc = dx_complete_activity(rt, task, ok ? 1 : 0, payload.p, payload.len, &err);
  sb_free(&payload);
  if (rc != DX_OK) {
    napi_value e = make_error(env, rc, err, err ? strlen(err) : 0);
    dx_free(err);
    return e;
  }
  return undefined(env);
}

/* clientNew(store) -> client handle */
static napi_value js_client_new(napi_env env, napi_callback_info info) {
  ARGS(1);
  uint64_t store, client = 0;
  if (!get_u64(env, argv[0], &store, "store")) return NULL;
  char* err = NULL;
  int rc = dx_client_new(store, &client, &err);
  if (rc != DX_OK) {
    throw_dx(env, rc, err);
    return NULL;
  }
  return make_u64(env, client);
}

/* clientCallAsync(client, requestJson) -> request id; the result arrives
 * through the client's pump. */
static napi_value js_client_call_async(napi_env env, napi_callback_info info) {
  ARGS(2);
  uint64_t client, id = 0;
  strbuf req;
  if (!get_u64(env, argv[0], &client, "client") || !sb_get(env, argv[1], &req, false, "request")) return NULL;
  char* err = NULL;
  int rc = dx_client_call_async(client, req.p, req.len, &id, &err);
  sb_free(&req);
  if (rc != DX_OK) {
    throw_dx(env, rc, err);
    return NULL;
  }
  return make_u64(env, id);
}

/* ------------------------------------------------------------------ */
/* Blocking calls: one thread each, settled through a threadsafe function. */

enum {
  OP_STORE_OPEN,
  OP_STORE_CLOSE,
  OP_RUNTIME_START,
  OP_RUNTIME_SHUTDOWN,
  OP_RUNTIME_CLOSE,
  OP_CLIENT_CLOSE,
};

typedef struct job {
  int op;
  uint64_t h;
  int64_t n;
  char* s1;
  char* s2;
  int rc;
  uint64_t out_h;
  char* err;
  addon* ad;
  napi_deferred deferred;
  napi_threadsafe_function tsfn;
} job;

static void job_free(job* j) {
  free(j->s1);
  free(j->s2);
  dx_free(j->err);
  free(j);
}

static void job_call_js(napi_env env, napi_value js_cb, void* context, void* data) {
  (void)js_cb;
  (void)context;
  job* j = data;
  if (env != NULL) {
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    if (j->rc == DX_OK) {
      napi_value v = j->out_h ? make_u64(env, j->out_h) : undefined(env);
      napi_resolve_deferred(env, j->deferred, v);
    } else {
      napi_value e = make_error(env, j->rc, j->err, j->err ? strlen(j->err) : 0);
      if (!e) e = undefined(env);
      napi_reject_deferred(env, j->deferred, e);
    }
    napi_close_handle_scope(env, scope);
  }
  job_free(j);
}

static void* job_main(void* arg) {
  job* j = arg;
  addon* ad = j->ad;
  switch (j->op) {
    case OP_STORE_OPEN:
      j->rc = dx_store_open(j->s1, j->s2, &j->out_h, &j->err);
      break;
    case OP_STORE_CLOSE:
      j->rc = dx_store_close(j->h, &j->err);
      break;
    case OP_RUNTIME_START:
      j->rc = dx_runtime_start(j->h, &j->err);
      break;
    case OP_RUNTIME_SHUTDOWN:
      j->rc = dx_runtime_shutdown(j->h, j->n, &j->err);
      break;
    case OP_RUNTIME_CLOSE:
      j->rc = dx_runtime_close(j->h, &j->err);
      break;
    case OP_CLIENT_CLOSE:
      j->rc = dx_client_close(j->h, &j->err);
      break;
    default:
      j->rc = DX_ERR;
      break;
  }
  napi_threadsafe_function tsfn = j->tsfn;
  if (napi_call_threadsafe_function(tsfn, j, napi_tsfn_blocking) != napi_ok) {
    job_free(j); /* the environment is going away: nobody to tell */
  }
  napi_release_threadsafe_function(tsfn, napi_tsfn_release);
  pthread_mutex_lock(&ad->mu);
  ad->jobs_inflight--;
  pthread_cond_broadcast(&ad->cond);
  pthread_mutex_unlock(&ad->mu);
  return NULL;
}

/* start_job runs j on a new thread and returns its Promise. */
static napi_value start_job(napi_env env, job* j) {
  addon* ad = get_addon(env);
  napi_value promise, name;
  j->ad = ad;
  if (napi_create_promise(env, &j->deferred, &promise) != napi_ok) {
    job_free(j);
    throw_last(env, "napi_create_promise");
    return NULL;
  }
  napi_create_string_utf8(env, "duroxide:call", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, NULL, job_call_js, &j->tsfn) !=
      napi_ok) {
    napi_value e = make_error(env, DX_ERR, "duroxide addon: cannot create a threadsafe function", 52);
    napi_reject_deferred(env, j->deferred, e);
    job_free(j);
    return promise;
  }
  pthread_mutex_lock(&ad->mu);
  ad->jobs_inflight++;
  pthread_mutex_unlock(&ad->mu);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t t;
  int terr = pthread_create(&t, &attr, job_main, j);
  pthread_attr_destroy(&attr);
  if (terr != 0) {
    pthread_mutex_lock(&ad->mu);
    ad->jobs_inflight--;
    pthread_mutex_unlock(&ad->mu);
    napi_release_threadsafe_function(j->tsfn, napi_tsfn_release);
    char buf[128];
    snprintf(buf, sizeof buf, "duroxide addon: cannot start a thread: %s", strerror(terr));
    napi_value e = make_error(env, DX_ERR, buf, strlen(buf));
    napi_reject_deferred(env, j->deferred, e);
    j->tsfn = NULL;
    job_free(j);
  }
  return promise;
}

static job* new_job(napi_env env, int op) {
  job* j = calloc(1, sizeof *j);
  if (!j) napi_throw_error(env, NULL, "duroxide addon: out of memory");
  else j->op = op;
  return j;
}

/* storeOpen(dsn, optionsJson|null) -> Promise<store handle> */
static napi_value js_store_open(napi_env env, napi_callback_info info) {
  ARGS(2);
  strbuf dsn, opts;
  if (!sb_get(env, argv[0], &dsn, false, "dsn")) return NULL;
  if (!sb_get(env, argv[1], &opts, true, "options")) {
    sb_free(&dsn);
    return NULL;
  }
  job* j = new_job(env, OP_STORE_OPEN);
  if (j) {
    j->s1 = sb_dup(&dsn);
    j->s2 = sb_dup(&opts);
  }
  sb_free(&dsn);
  sb_free(&opts);
  return j ? start_job(env, j) : NULL;
}

/* handleJob(op)(handle[, n]) -> Promise<void> */
static napi_value handle_job(napi_env env, napi_callback_info info, int op, bool with_n) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "duroxide addon: missing handle");
    return NULL;
  }
  uint64_t h;
  int64_t n = 0;
  if (!get_u64(env, argv[0], &h, "handle")) return NULL;
  if (with_n && argc > 1 && !get_i64(env, argv[1], &n)) return NULL;
  job* j = new_job(env, op);
  if (!j) return NULL;
  j->h = h;
  j->n = n;
  return start_job(env, j);
}

static napi_value js_store_close(napi_env env, napi_callback_info info) {
  return handle_job(env, info, OP_STORE_CLOSE, false);
}
static napi_value js_runtime_start(napi_env env, napi_callback_info info) {
  return handle_job(env, info, OP_RUNTIME_START, false);
}
static napi_value js_runtime_shutdown(napi_env env, napi_callback_info info) {
  return handle_job(env, info, OP_RUNTIME_SHUTDOWN, true);
}
static napi_value js_runtime_close(napi_env env, napi_callback_info info) {
  return handle_job(env, info, OP_RUNTIME_CLOSE, false);
}
static napi_value js_client_close(napi_env env, napi_callback_info info) {
  return handle_job(env, info, OP_CLIENT_CLOSE, false);
}

/* ------------------------------------------------------------------ */
/* Pumps. */

enum { MSG_ITEMS = 0, MSG_CLOSED = 1, MSG_ERROR = 2 };

struct poller {
  uint32_t id;
  uint64_t handle;
  bool is_client;
  int64_t timeout_ms;
  napi_threadsafe_function tsfn;
  pthread_t thread;
  bool thread_started;
  bool joined;
  bool finalized;
  atomic_int stop;
  atomic_int done; /* the thread has released the function */
  addon* ad;
  poller* next;
};

typedef struct {
  int kind;
  int rc;
  char* data; /* owned by the library (dx_free) */
  size_t len;
} pump_msg;

static void pump_call_js(napi_env env, napi_value js_cb, void* context, void* data) {
  (void)context;
  pump_msg* m = data;
  if (env != NULL && js_cb != NULL) {
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    napi_value argv[3], global, ignored;
    napi_create_int32(env, m->kind, &argv[0]);
    napi_create_int32(env, m->rc, &argv[1]);
    if (m->data) {
      if (napi_create_string_utf8(env, m->data, m->len, &argv[2]) != napi_ok) napi_get_null(env, &argv[2]);
    } else {
      napi_get_null(env, &argv[2]);
    }
    dx_free(m->data);
    m->data = NULL;
    napi_get_global(env, &global);
    napi_status st = napi_call_function(env, global, js_cb, 3, argv, &ignored);
    if (st != napi_ok) {
      /* The JavaScript side catches everything; if something escapes it
       * anyway, report it instead of crashing the process. */
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) {
        napi_value exc, str;
        napi_get_and_clear_last_exception(env, &exc);
        char buf[512] = "";
        size_t n = 0;
        if (napi_coerce_to_string(env, exc, &str) == napi_ok)
          napi_get_value_string_utf8(env, str, buf, sizeof buf, &n);
        fprintf(stderr, "duroxide: uncaught error in a poll callback: %s\n", buf);
      }
    }
    napi_close_handle_scope(env, scope);
  }
  dx_free(m->data);
  free(m);
}

/* deliver hands a message to JavaScript; it takes ownership of data.
 * false when the function is closing (the environment is going away). */
static bool deliver(poller* p, int kind, int rc, char* data, size_t len) {
  pump_msg* m = malloc(sizeof *m);
  if (!m) {
    dx_free(data);
    return true;
  }
  m->kind = kind;
  m->rc = rc;
  m->data = data;
  m->len = len;
  if (napi_call_threadsafe_function(p->tsfn, m, napi_tsfn_nonblocking) != napi_ok) {
    dx_free(data);
    free(m);
    return false;
  }
  return true;
}

static void* pump_main(void* arg) {
  poller* p = arg;
  for (;;) {
    if (atomic_load(&p->stop)) break;
    char* out = NULL;
    char* err = NULL;
    size_t n = 0;
    int rc = dx_poll(p->handle, 0, p->timeout_ms, &out, &n, &err);
    if (atomic_load(&p->stop)) {
      dx_free(out);
      dx_free(err);
      break;
    }
    if (rc == DX_OK) {
      if (out == NULL) continue;
      if (!deliver(p, MSG_ITEMS, rc, out, n)) break;
      continue;
    }
    dx_free(out);
    bool final = rc == DX_ERR_CLOSED || rc == DX_ERR_HANDLE || rc == DX_ERR_FORKED;
    if (!deliver(p, final ? MSG_CLOSED : MSG_ERROR, rc, err, err ? strlen(err) : 0)) break;
    if (final) break;
    sleep_ms(50); /* a transient failure: do not spin */
  }
  atomic_store(&p->done, 1);
  napi_release_threadsafe_function(p->tsfn, napi_tsfn_release);
  return NULL;
}

static poller* find_poller(addon* ad, uint32_t id) {
  for (poller* p = ad->pollers; p; p = p->next)
    if (p->id == id) return p;
  return NULL;
}

static void unlink_poller(addon* ad, poller* p) {
  pthread_mutex_lock(&ad->mu);
  for (poller** pp = &ad->pollers; *pp; pp = &(*pp)->next) {
    if (*pp == p) {
      *pp = p->next;
      break;
    }
  }
  pthread_mutex_unlock(&ad->mu);
}

/* Runs on the JavaScript thread once the pump released the function. */
static void pump_finalize(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  poller* p = data;
  if (p->thread_started && !p->joined) {
    pthread_join(p->thread, NULL);
    p->joined = true;
  }
  unlink_poller(p->ad, p);
  free(p);
}

/* pollerStart(handle, isClient, timeoutMs, callback(kind, rc, data)) -> poller id */
static napi_value js_poller_start(napi_env env, napi_callback_info info) {
  ARGS(4);
  addon* ad = get_addon(env);
  uint64_t h;
  bool is_client = false;
  int64_t timeout = 0;
  if (!get_u64(env, argv[0], &h, "handle")) return NULL;
  CHECK(napi_get_value_bool(env, argv[1], &is_client));
  if (!get_i64(env, argv[2], &timeout)) return NULL;
  if (timeout <= 0) timeout = 200;
  poller* p = calloc(1, sizeof *p);
  if (!p) {
    napi_throw_error(env, NULL, "duroxide addon: out of memory");
    return NULL;
  }
  p->handle = h;
  p->is_client = is_client;
  p->timeout_ms = timeout;
  p->ad = ad;
  atomic_init(&p->stop, 0);
  atomic_init(&p->done, 0);
  napi_value name;
  napi_create_string_utf8(env, is_client ? "duroxide:client-pump" : "duroxide:runtime-pump", NAPI_AUTO_LENGTH,
                          &name);
  if (napi_create_threadsafe_function(env, argv[3], NULL, name, 0, 1, p, pump_finalize, NULL, pump_call_js,
                                      &p->tsfn) != napi_ok) {
    free(p);
    throw_last(env, "napi_create_threadsafe_function");
    return NULL;
  }
  pthread_mutex_lock(&ad->mu);
  p->id = ++ad->next_poller_id;
  p->next = ad->pollers;
  ad->pollers = p;
  pthread_mutex_unlock(&ad->mu);
  int terr = pthread_create(&p->thread, NULL, pump_main, p);
  if (terr != 0) {
    /* Releasing the function finalizes it, which unlinks and frees p. */
    napi_release_threadsafe_function(p->tsfn, napi_tsfn_abort);
    char buf[128];
    snprintf(buf, sizeof buf, "duroxide addon: cannot start the poll thread: %s", strerror(terr));
    napi_throw_error(env, NULL, buf);
    return NULL;
  }
  p->thread_started = true;
  napi_value r;
  CHECK(napi_create_uint32(env, p->id, &r));
  return r;
}

static poller* poller_arg(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return NULL;
  uint32_t id = 0;
  if (napi_get_value_uint32(env, argv[0], &id) != napi_ok) return NULL;
  addon* ad = get_addon(env);
  pthread_mutex_lock(&ad->mu);
  poller* p = find_poller(ad, id);
  pthread_mutex_unlock(&ad->mu);
  return p;
}

/* pollerRef(id) / pollerUnref(id): whether the pump keeps the process
 * alive. A finished pump is ignored. */
static napi_value js_poller_ref(napi_env env, napi_callback_info info) {
  poller* p = poller_arg(env, info);
  if (p && !atomic_load(&p->done)) napi_ref_threadsafe_function(env, p->tsfn);
  return undefined(env);
}

static napi_value js_poller_unref(napi_env env, napi_callback_info info) {
  poller* p = poller_arg(env, info);
  if (p && !atomic_load(&p->done)) napi_unref_threadsafe_function(env, p->tsfn);
  return undefined(env);
}

/* pollerStop(id): the pump ends after its current poll (at most its
 * timeout). Normally a pump ends by itself when its handle shuts down. */
static napi_value js_poller_stop(napi_env env, napi_callback_info info) {
  poller* p = poller_arg(env, info);
  if (p) atomic_store(&p->stop, 1);
  return undefined(env);
}

/* stats() -> {pumps, pumpsRunning, calls}: live pumps of this environment,
 * those whose thread still runs, and blocking calls in flight. */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  (void)info;
  addon* ad = get_addon(env);
  int pumps = 0, running = 0, calls;
  pthread_mutex_lock(&ad->mu);
  for (poller* p = ad->pollers; p; p = p->next) {
    pumps++;
    if (!atomic_load(&p->done)) running++;
  }
  calls = ad->jobs_inflight;
  pthread_mutex_unlock(&ad->mu);
  napi_value r, v;
  CHECK(napi_create_object(env, &r));
  napi_create_int32(env, pumps, &v);
  napi_set_named_property(env, r, "pumps", v);
  napi_create_int32(env, running, &v);
  napi_set_named_property(env, r, "pumpsRunning", v);
  napi_create_int32(env, calls, &v);
  napi_set_named_property(env, r, "calls", v);
  return r;
}

/* ------------------------------------------------------------------ */
/* Environment teardown. */

static void env_cleanup(void* arg) {
  addon* ad = arg;
  pthread_mutex_lock(&ad->mu);
  ad->tearing_down = true;
  int n = 0;
  for (poller* p = ad->pollers; p; p = p->next) n++;
  poller** list = calloc(n > 0 ? (size_t)n : 1, sizeof *list);
  if (list == NULL) {
    /* Out of memory at exit: at least make every pump stop by itself. */
    for (poller* p = ad->pollers; p; p = p->next) atomic_store(&p->stop, 1);
    pthread_mutex_unlock(&ad->mu);
    return;
  }
  n = 0;
  for (poller* p = ad->pollers; p; p = p->next) list[n++] = p;
  pthread_mutex_unlock(&ad->mu);
  /* Stop every pump, and make its poll return at once: a client is closed,
   * a runtime shut down (its in-flight turns are abandoned and retried
   * elsewhere or later) — nobody is left to serve them. */
  for (int i = 0; i < n; i++) atomic_store(&list[i]->stop, 1);
  for (int i = 0; i < n; i++) {
    poller* p = list[i];
    if (atomic_load(&p->done)) continue;
    if (p->is_client) {
      dx_client_close(p->handle, NULL);
    } else {
      dx_runtime_shutdown(p->handle, 1, NULL);
      dx_runtime_close(p->handle, NULL);
    }
  }
  for (int i = 0; i < n; i++) {
    poller* p = list[i];
    if (p->thread_started && !p->joined) {
      pthread_join(p->thread, NULL);
      p->joined = true;
    }
  }
  free(list);
  /* Blocking calls in flight still hold their threadsafe functions. */
  pthread_mutex_lock(&ad->mu);
  while (ad->jobs_inflight > 0) pthread_cond_wait(&ad->cond, &ad->mu);
  pthread_mutex_unlock(&ad->mu);
}

/* ------------------------------------------------------------------ */
/* Module. */

static napi_value init(napi_env env, napi_value exports) {
  addon* ad = calloc(1, sizeof *ad);
  if (!ad) {
    napi_throw_error(env, NULL, "duroxide addon: out of memory");
    return NULL;
  }
  ad->env = env;
  pthread_mutex_init(&ad->mu, NULL);
  pthread_cond_init(&ad->cond, NULL);
  /* No finalizer: threads may use ad while the environment is torn down. */
  if (napi_set_instance_data(env, ad, NULL, NULL) != napi_ok) {
    throw_last(env, "napi_set_instance_data");
    return NULL;
  }
  napi_add_env_cleanup_hook(env, env_cleanup, ad);

  napi_property_descriptor props[] = {
      {"abiVersion", NULL, js_abi_version, NULL, NULL, NULL, napi_default, NULL},
      {"version", NULL, js_version, NULL, NULL, NULL, napi_default, NULL},
      {"setErrorFactory", NULL, js_set_error_factory, NULL, NULL, NULL, napi_default, NULL},
      {"storeOpen", NULL, js_store_open, NULL, NULL, NULL, napi_default, NULL},
      {"storeClose", NULL, js_store_close, NULL, NULL, NULL, napi_default, NULL},
      {"runtimeNew", NULL, js_runtime_new, NULL, NULL, NULL, napi_default, NULL},
      {"registerOrchestration", NULL, js_register_orchestration, NULL, NULL, NULL, napi_default, NULL},
      {"registerActivity", NULL, js_register_activity, NULL, NULL, NULL, napi_default, NULL},
      {"runtimeStart", NULL, js_runtime_start, NULL, NULL, NULL, napi_default, NULL},
      {"runtimeShutdown", NULL, js_runtime_shutdown, NULL, NULL, NULL, napi_default, NULL},
      {"runtimeClose", NULL, js_runtime_close, NULL, NULL, NULL, napi_default, NULL},
      {"runtimeMetrics", NULL, js_runtime_metrics, NULL, NULL, NULL, napi_default, NULL},
      {"completeActivation", NULL, js_complete_activation, NULL, NULL, NULL, napi_default, NULL},
      {"completeActivity", NULL, js_complete_activity, NULL, NULL, NULL, napi_default, NULL},
      {"clientNew", NULL, js_client_new, NULL, NULL, NULL, napi_default, NULL},
      {"clientClose", NULL, js_client_close, NULL, NULL, NULL, napi_default, NULL},
      {"clientCallAsync", NULL, js_client_call_async, NULL, NULL, NULL, napi_default, NULL},
      {"pollerStart", NULL, js_poller_start, NULL, NULL, NULL, napi_default, NULL},
      {"pollerRef", NULL, js_poller_ref, NULL, NULL, NULL, napi_default, NULL},
      {"pollerUnref", NULL, js_poller_unref, NULL, NULL, NULL, napi_default, NULL},
      {"pollerStop", NULL, js_poller_stop, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) {
    throw_last(env, "napi_define_properties");
    return NULL;
  }
  napi_value v;
  napi_create_int32(env, ADDON_VERSION, &v);
  napi_set_named_property(env, exports, "addonVersion", v);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
