"""The runtime: runs orchestrations and activities registered in Python.

The Go core does the work — fetching turns, replaying histories,
committing — and hands this process what only Python can do: each turn of
a Python orchestration (an *activation*) and each Python activity. One
poll thread per runtime pulls that work with ``dx_poll`` (bounded waits, so
shutdown and Ctrl-C stay prompt), runs activations inline (orchestration
code is short and deterministic), and hands activities to a thread pool
(``async def`` activities to an asyncio loop thread).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import inspect
import json
import logging
import threading
import time
import traceback
import weakref
from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar, Union

from . import _native, _payload
from ._driver import Driver
from .client import Client
from .context import ActivityContext, OrchestrationContext
from .errors import ClosedError, DuroxideError, ForkedProcessError
from .provider import Provider, _Handle

__all__ = ["Runtime", "RuntimeOptions"]

log = logging.getLogger("duroxide.runtime")

F = TypeVar("F", bound=Callable[..., Any])

_POLL_TIMEOUT_MS = 200


@dataclass
class RuntimeOptions:
    """Runtime settings; ``None`` fields keep the core's defaults.

    orchestration_concurrency: turns run at once (default 4; negative: this
    runtime runs no orchestrations). worker_concurrency: activities run at
    once (default 16; negative: none). max_attempts: deliveries before a
    message is poison, and retries of an unregistered orchestration or
    activity (default 10). unregistered_backoff_ms: first delay before such
    a retry (default 1000, doubling up to unregistered_backoff_max_ms).
    worker_tag_filter: ``"default_only"``, ``"any"``, ``"none"``, or a dict
    ``{"mode": "tags" | "default_and", "tags": [...]}``. log_level: core
    logs on stderr (``"debug"`` … ``"error"``). activation_timeout_ms: how
    long a turn waits for this process (default 60000).
    """

    orchestration_concurrency: Optional[int] = None
    worker_concurrency: Optional[int] = None
    max_attempts: Optional[int] = None
    poll_timeout_ms: Optional[int] = None
    orchestrator_lock_timeout_ms: Optional[int] = None
    worker_lock_timeout_ms: Optional[int] = None
    unregistered_backoff_ms: Optional[int] = None
    unregistered_backoff_max_ms: Optional[int] = None
    activity_cancellation_grace_ms: Optional[int] = None
    instance_cache_size: Optional[int] = None
    worker_node_id: Optional[str] = None
    session_lock_timeout_ms: Optional[int] = None
    worker_tag_filter: Optional[Union[str, Dict[str, Any]]] = None
    activation_timeout_ms: Optional[int] = None
    log_level: Optional[str] = None
    limits: Optional[Dict[str, int]] = None

    def _json(self) -> Dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if v is not None}
        tf = d.get("worker_tag_filter")
        if isinstance(tf, str):
            try:
                parsed = json.loads(tf)
            except ValueError:
                parsed = tf
            if isinstance(parsed, dict):  # the original SDK's TagFilter.tags(...) strings
                if "tags" in parsed:
                    d["worker_tag_filter"] = {"mode": "tags", "tags": parsed["tags"]}
                elif "default_and" in parsed:
                    d["worker_tag_filter"] = {"mode": "default_and", "tags": parsed["default_and"]}
            else:
                d["worker_tag_filter"] = {"mode": tf}
        if "limits" in d:
            d["limits"] = {_go_limit(k): v for k, v in d["limits"].items()}
        return d


def _go_limit(k: str) -> str:
    # history.Limits has no json tags: its fields travel under their Go names.
    return "".join(p.capitalize() if p not in ("kv",) else "KV" for p in k.split("_"))


class TagFilter:
    """Values for ``RuntimeOptions.worker_tag_filter``."""

    DEFAULT_ONLY = "default_only"
    ANY = "any"
    NONE = "none"

    @staticmethod
    def tags(tags: List[str]) -> Dict[str, Any]:
        return {"mode": "tags", "tags": list(tags)}

    @staticmethod
    def default_and(tags: List[str]) -> Dict[str, Any]:
        return {"mode": "default_and", "tags": list(tags)}


_running: "weakref.WeakSet[Runtime]" = weakref.WeakSet()


@atexit.register
def _shutdown_all() -> None:
    for rt in list(_running):
        try:
            rt.shutdown(5000)
        except Exception:
            pass


class Runtime(_Handle):
    """Runs the orchestrations and activities registered on it.

    >>> rt = Runtime(SqliteProvider.open("sqlite:app.db"))
    >>> @rt.register_activity("Hello")
    ... def hello(ctx, name):
    ...     return f"Hello, {name}!"
    >>> @rt.register_orchestration("HelloWorld")
    ... def hello_world(ctx, name):
    ...     return (yield ctx.schedule_activity("Hello", name))
    >>> rt.start()            # returns at once; work runs on background threads
    >>> rt.shutdown()

    Usable as a context manager: ``with Runtime(p) as rt: ... rt.start()``
    shuts it down on exit, also on Ctrl-C.
    """

    _kind = "runtime"

    def __init__(self, provider: Provider, options: Union[RuntimeOptions, Dict[str, Any], None] = None) -> None:
        if isinstance(options, dict):
            options = RuntimeOptions(**options)
        self.options = options or RuntimeOptions()
        opts = _native.dumps(self.options._json())
        super().__init__(_native.call_handle("dx_runtime_new", provider._h(), opts))
        self.provider = provider
        self._orchestrations: Dict[Tuple[str, str], Callable[..., Any]] = {}
        self._activities: Dict[str, Callable[..., Any]] = {}
        self._drivers: Dict[int, Driver] = {}
        self._activity_ctxs: Dict[int, ActivityContext] = {}
        self._async_tasks: Dict[int, "concurrent.futures.Future[Any]"] = {}
        self._state = "new"
        self._state_lock = threading.Lock()
        self._poll_thread: Optional[threading.Thread] = None
        self._pool: Optional[concurrent.futures.ThreadPoolExecutor] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._loop_thread: Optional[threading.Thread] = None
        self._client: Optional[Client] = None
        # Figures for benchmarks: activations handled, time spent in Python.
        self.activations = 0
        self.activation_ns = 0

    # ------------------------------------------------------------ registration

    def register_activity(self, name: str, fn: Optional[F] = None) -> Any:
        """Register an activity ``fn(ctx, input)`` (sync or ``async def``).
        Usable as a decorator: ``@rt.register_activity("Name")``."""
        if fn is not None:
            self._register_activity(name, fn)
            return fn

        def decorator(func: F) -> F:
            self._register_activity(name, func)
            return func

        return decorator

    def _register_activity(self, name: str, fn: Callable[..., Any]) -> None:
        if not callable(fn):
            raise TypeError(f"activity {name!r}: {fn!r} is not callable")
        self._activities[name] = fn
        try:
            _native.call("dx_runtime_register_activity", self._h(), _native.cstr(name))
        except BaseException:
            self._activities.pop(name, None)
            raise

    def register_orchestration(self, name: str, fn: Optional[F] = None) -> Any:
        """Register an orchestration generator ``fn(ctx, input)`` as version
        1.0.0. Usable as a decorator: ``@rt.register_orchestration("Name")``."""
        return self.register_orchestration_versioned(name, "1.0.0", fn)

    def register_orchestration_versioned(self, name: str, version: str, fn: Optional[F] = None) -> Any:
        """Register an orchestration as an exact (semver) version. New
        instances run the latest version unless started pinned to one;
        running instances keep replaying on theirs."""
        if fn is not None:
            self._register_orchestration(name, version, fn)
            return fn

        def decorator(func: F) -> F:
            self._register_orchestration(name, version, func)
            return func

        return decorator

    def _register_orchestration(self, name: str, version: str, fn: Callable[..., Any]) -> None:
        if inspect.iscoroutinefunction(fn):
            raise TypeError(
                f"orchestration {name!r}: orchestrations are generator functions (def with yield), not async def"
            )
        if not callable(fn):
            raise TypeError(f"orchestration {name!r}: {fn!r} is not callable")
        key = (name, version)
        self._orchestrations[key] = fn
        try:
            _native.call("dx_runtime_register_orchestration", self._h(), _native.cstr(name), _native.cstr(version))
        except BaseException:
            self._orchestrations.pop(key, None)
            raise

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the runtime; returns once it runs. Orchestrations and
        activities then run on background threads."""
        with self._state_lock:
            if self._state == "running":
                return
            if self._state != "new":
                raise ClosedError("this runtime was shut down; create a new Runtime")
            _native.call("dx_runtime_start", self._h())
            workers = self.options.worker_concurrency or 16
            self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="duroxide-activity")
            self._poll_thread = threading.Thread(target=self._poll_loop, name="duroxide-poll", daemon=True)
            self._state = "running"
            self._poll_thread.start()
            _running.add(self)

    @property
    def is_running(self) -> bool:
        return self._state == "running"

    def shutdown(self, timeout_ms: Optional[int] = None) -> None:
        """Stop taking new work, let in-flight turns and activities finish
        for up to ``timeout_ms`` (default 10 s), cancel the rest (it runs
        again later, here or elsewhere), and release the runtime.
        Idempotent."""
        with self._state_lock:
            if self._state in ("stopped", "stopping"):
                return
            started = self._state == "running"
            self._state = "stopping"
        _running.discard(self)
        try:
            _native.check_process()
        except ForkedProcessError:
            self._state = "stopped"
            self._closed = True
            return
        err: Optional[BaseException] = None
        try:
            if started:
                try:
                    _native.call("dx_runtime_shutdown", self._handle, int(timeout_ms or 10000))
                except DuroxideError as e:
                    err = e
                t = self._poll_thread
                if t is not None and t is not threading.current_thread():
                    t.join(timeout=10)
            for ctx in list(self._activity_ctxs.values()):
                ctx._cancel()
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._loop.stop)
            for d in self._drivers.values():
                d.close()
            self._drivers.clear()
            if self._client is not None:
                self._client.close()
            _native.call("dx_runtime_close", self._handle)
        finally:
            self._state = "stopped"
            self._closed = True
        if err is not None:
            log.warning("duroxide runtime shutdown: %s", err)

    def close(self) -> None:
        self.shutdown()

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()

    def run_forever(self) -> None:
        """Start (if needed) and serve until Ctrl-C (or SIGTERM turned into
        KeyboardInterrupt), then shut down cleanly."""
        self.start()
        try:
            while self._state == "running":
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self.shutdown()

    def metrics_snapshot(self) -> Dict[str, Any]:
        """The core's counters (turns, completions, activities, …) plus the
        host round-trip figures and this process's activation time."""
        m = json.loads(_native.call_out("dx_runtime_metrics", self._h()))
        m["python_activations"] = self.activations
        m["python_activation_ns_total"] = self.activation_ns
        return m

    def _get_client(self) -> Client:
        if self._client is None:
            self._client = Client(self.provider)
        return self._client

    # ------------------------------------------------------------ the poll loop

    def _poll_loop(self) -> None:
        h = self._handle
        while True:
            rc, data, err = _native.poll(h, 0, _POLL_TIMEOUT_MS)
            if rc != _native.DX_OK:
                if rc not in (_native.DX_ERR_CLOSED, _native.DX_ERR_HANDLE, _native.DX_ERR_FORKED):
                    log.error("duroxide poll failed: %s", err)
                    time.sleep(0.05)
                    continue
                return
            if data is None:
                continue
            try:
                items = json.loads(data)
            except ValueError as e:
                log.error("duroxide: undecodable poll items: %s", e)
                continue
            for item in items:
                try:
                    self._dispatch(item)
                except Exception:
                    log.exception("duroxide: failed to handle a %s item", item.get("type"))

    def _dispatch(self, item: Dict[str, Any]) -> None:
        typ = item.get("type")
        if typ == "activation":
            self._on_activation(item)
        elif typ == "activity":
            self._on_activity(item)
        elif typ == "activity_cancelled":
            ctx = self._activity_ctxs.get(item.get("task_id", 0))
            if ctx is not None:
                ctx._cancel()
        elif typ == "driver_closed":
            d = self._drivers.pop(item.get("driver_id", 0), None)
            if d is not None:
                d.close()
        else:
            log.debug("duroxide: ignoring poll item of type %r", typ)

    def _on_activation(self, item: Dict[str, Any]) -> None:
        t0 = time.perf_counter_ns()
        did = item["driver_id"]
        act = item.get("activation") or {}
        drv = self._drivers.get(did)
        try:
            if drv is None:
                fn = self._orchestrations.get((act.get("name", ""), item.get("registered_version") or "1.0.0"))
                if fn is None:
                    raise DuroxideError(f"orchestration {act.get('name')!r} version {item.get('registered_version')!r} is not registered in this process")
                drv = Driver(fn, OrchestrationContext)
                self._drivers[did] = drv
            cmds = drv.activate(act)
            data = _native.dumps({"protocol": 1, "commands": cmds})
        except Exception as e:
            self._drivers.pop(did, None)
            log.error("duroxide: driver error for %r: %s", act.get("instance"), traceback.format_exc())
            data = _native.dumps({"protocol": 1, "error": f"{type(e).__name__}: {e}"})
        rc, err = _native.complete("dx_complete_activation", self._handle, did, data, len(data))
        self.activations += 1
        self.activation_ns += time.perf_counter_ns() - t0
        if rc not in (_native.DX_OK, _native.DX_ERR_NOT_FOUND, _native.DX_ERR_CLOSED, _native.DX_ERR_HANDLE):
            log.error("duroxide: completing an activation failed: %s", err)

    # ------------------------------------------------------------ activities

    def _on_activity(self, item: Dict[str, Any]) -> None:
        task_id = item["task_id"]
        name = item.get("name", "")
        ctx = ActivityContext(item.get("info") or {}, self._get_client)
        self._activity_ctxs[task_id] = ctx
        fn = self._activities.get(name)
        if fn is not None and inspect.iscoroutinefunction(fn):
            self._run_async_activity(task_id, fn, ctx, item.get("input", ""))
            return
        pool = self._pool
        if pool is None:
            return
        try:
            pool.submit(self._run_activity, task_id, fn, name, ctx, item.get("input", ""))
        except RuntimeError:  # shutting down
            self._activity_ctxs.pop(task_id, None)

    def _run_activity(self, task_id: int, fn: Optional[Callable[..., Any]], name: str, ctx: ActivityContext, raw: str) -> None:
        try:
            if fn is None:
                raise DuroxideError(f"activity {name!r} is not registered in this process")
            result = fn(ctx, _payload.decode(raw))
            if inspect.isawaitable(result):
                result = asyncio.run_coroutine_threadsafe(_await(result), self._ensure_loop()).result()
            self._complete_ok(task_id, result)
        except BaseException as e:  # report every failure, never lose the task
            self._complete_err(task_id, e)

    def _run_async_activity(self, task_id: int, fn: Callable[..., Any], ctx: ActivityContext, raw: str) -> None:
        loop = self._ensure_loop()
        try:
            coro = fn(ctx, _payload.decode(raw))
        except BaseException as e:
            self._complete_err(task_id, e)
            return
        fut = asyncio.run_coroutine_threadsafe(coro, loop)
        ctx._on_cancel.append(fut.cancel)

        def done(f: "concurrent.futures.Future[Any]") -> None:
            if f.cancelled():
                self._complete_err(task_id, asyncio.CancelledError("activity cancelled"))
                return
            e = f.exception()
            if e is not None:
                self._complete_err(task_id, e)
            else:
                self._complete_ok(task_id, f.result())

        fut.add_done_callback(done)

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._state_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                t = threading.Thread(target=loop.run_forever, name="duroxide-asyncio", daemon=True)
                t.start()
                self._loop, self._loop_thread = loop, t
            return self._loop

    def _complete_ok(self, task_id: int, result: Any) -> None:
        try:
            payload = _payload.encode(result, "the activity's output").encode("utf-8")
        except DuroxideError as e:
            self._complete_err(task_id, e)
            return
        self._activity_ctxs.pop(task_id, None)
        self._complete_activity(task_id, 1, payload)

    def _complete_err(self, task_id: int, e: BaseException) -> None:
        self._activity_ctxs.pop(task_id, None)
        try:
            msg = str(e)
        except Exception:
            msg = ""
        if isinstance(e, DuroxideError) and e.message:
            msg = e.message
        if isinstance(e, asyncio.CancelledError) and not msg:
            msg = "activity cancelled"
        if not msg:
            msg = type(e).__name__
        data = _native.dumps({"message": msg, "error_type": type(e).__name__})
        self._complete_activity(task_id, 0, data)

    def _complete_activity(self, task_id: int, ok: int, data: bytes) -> None:
        if self._closed:
            return
        rc, err = _native.complete("dx_complete_activity", self._handle, task_id, ok, data, len(data))
        if rc not in (_native.DX_OK, _native.DX_ERR_NOT_FOUND, _native.DX_ERR_CLOSED, _native.DX_ERR_HANDLE, _native.DX_ERR_FORKED):
            log.error("duroxide: completing activity task %d failed: %s", task_id, err)

    def __repr__(self) -> str:
        return f"<Runtime {self._state} on {self.provider!r}>"


async def _await(aw: Any) -> Any:
    return await aw
