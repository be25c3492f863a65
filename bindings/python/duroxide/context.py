"""The contexts user code receives: :class:`OrchestrationContext` for
orchestration generators and :class:`ActivityContext` for activities."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Generator, List, Mapping, Optional, Sequence, Union

from . import _driver, _payload
from ._driver import RaceResult, Task
from .errors import ActivityTimeout, Cancelled, TaskFailed

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client

__all__ = ["OrchestrationContext", "ActivityContext", "RetryPolicy", "Task", "RaceResult"]

orchestration_logger = logging.getLogger("duroxide.orchestration")
activity_logger = logging.getLogger("duroxide.activity")


@dataclass
class RetryPolicy:
    """How ``schedule_activity_with_retry`` retries a failing activity. Every
    attempt is its own activity in history; waits are durable timers.

    backoff: ``"none"``, ``"fixed"`` (``backoff_ms`` between attempts),
    ``"linear"`` (``backoff_ms`` × attempt) or ``"exponential"``
    (``backoff_ms`` × ``multiplier``^(attempt-1)), each capped at
    ``max_backoff_ms``. ``timeout_ms`` bounds each attempt (the attempt is
    cancelled and the retries end with :class:`ActivityTimeout`).
    """

    max_attempts: int = 3
    backoff: str = "exponential"
    backoff_ms: int = 100
    multiplier: float = 2.0
    max_backoff_ms: int = 30000
    timeout_ms: Optional[int] = None

    @classmethod
    def from_value(cls, v: Union["RetryPolicy", Mapping[str, Any], None]) -> "RetryPolicy":
        if v is None:
            return cls()
        if isinstance(v, RetryPolicy):
            return v
        if not isinstance(v, Mapping):
            raise TypeError(f"retry policy must be a RetryPolicy or a dict, got {v!r}")
        d = dict(v)
        p = cls()
        p.max_attempts = int(d.get("max_attempts", d.get("maxAttempts", p.max_attempts)))
        backoff = d.get("backoff", d.get("backoff_strategy", p.backoff))
        if isinstance(backoff, Mapping):  # {"fixed": {"delay_ms": 10}}
            (kind, params), = backoff.items()
            backoff = kind
            params = dict(params or {})
            d.setdefault("backoff_ms", params.get("delay_ms", params.get("base_ms", params.get("initial_ms", p.backoff_ms))))
            if "multiplier" in params:
                d.setdefault("multiplier", params["multiplier"])
            if "max_ms" in params:
                d.setdefault("max_backoff_ms", params["max_ms"])
        p.backoff = str(backoff or "none").lower()
        p.backoff_ms = int(d.get("backoff_ms", d.get("delay_ms", d.get("base_ms", p.backoff_ms))))
        p.multiplier = float(d.get("multiplier", p.multiplier))
        p.max_backoff_ms = int(d.get("max_backoff_ms", d.get("max_ms", p.max_backoff_ms)))
        t = d.get("timeout_ms", d.get("timeoutMs"))
        p.timeout_ms = int(t) if t else None
        if p.backoff not in ("none", "fixed", "linear", "exponential"):
            raise ValueError(f"retry backoff {p.backoff!r}: want none, fixed, linear or exponential")
        return p

    def delay_ms(self, attempt: int) -> int:
        """The wait after failed attempt ``attempt`` (1-based)."""
        attempt = max(attempt, 1)
        if self.backoff == "fixed":
            d = float(self.backoff_ms)
        elif self.backoff == "linear":
            d = float(self.backoff_ms) * attempt
        elif self.backoff == "exponential":
            d = float(self.backoff_ms) * (self.multiplier or 2.0) ** (attempt - 1)
        else:
            return 0
        if self.max_backoff_ms > 0:
            d = min(d, float(self.max_backoff_ms))
        return int(d)


class OrchestrationContext:
    """The orchestration's handle on the engine, passed to the generator.

    Methods that schedule work return a :class:`Task` at once; ``yield`` it
    to wait for its value (a failure is raised at the ``yield``). The code
    must be deterministic: it is re-run against its history after every
    restart. Do I/O in activities; take time and GUIDs from the context.
    """

    __slots__ = ("_d",)

    def __init__(self, driver: "_driver.Driver") -> None:
        self._d = driver

    # ---------------------------------------------------------------- info

    @property
    def instance_id(self) -> str:
        return self._d.instance

    @property
    def execution_id(self) -> int:
        return self._d.execution_id

    @property
    def orchestration_name(self) -> str:
        return self._d.name

    @property
    def orchestration_version(self) -> str:
        return self._d.version

    @property
    def parent_instance_id(self) -> Optional[str]:
        return self._d.parent_instance or None

    def is_replaying(self) -> bool:
        """True while the code re-runs decisions already in history."""
        return self._d.replaying

    def is_cancel_requested(self) -> bool:
        """True once the instance is being cancelled: every pending task
        failed with :class:`Cancelled`; the code may compensate (set status,
        KV, start a detached orchestration) before the instance ends."""
        return self._d.cancel_requested

    # ---------------------------------------------------------- scheduling

    def schedule_activity(self, name: str, input: Any = None, session_id: Optional[str] = None, tag: Optional[str] = None) -> Task:
        """Schedule activity ``name``; yield the task for its result."""
        payload = _payload.encode(input, f"the input of activity {name!r}")
        return self._activity(name, payload, session_id, tag)

    def schedule_activity_on_session(self, name: str, input: Any, session_id: str) -> Task:
        """Schedule an activity on a session: every activity of one session
        runs on the worker that holds it."""
        return self.schedule_activity(name, input, session_id=session_id)

    def schedule_activity_with_tag(self, name: str, input: Any, tag: str) -> Task:
        """Schedule an activity for workers serving ``tag``."""
        return self.schedule_activity(name, input, tag=tag)

    def _activity(self, name: str, payload: str, session_id: Optional[str], tag: Optional[str]) -> Task:
        d = self._d
        t = d.new_task(_driver.ACTIVITY, name)
        cmd: Dict[str, Any] = {"kind": "schedule_activity", "name": name, "input": payload}
        if session_id:
            cmd["session_id"] = session_id
        if tag:
            cmd["tag"] = tag
        d.emit(cmd, t)
        return t

    def schedule_activity_with_retry(
        self,
        name: str,
        input: Any = None,
        retry: Union[RetryPolicy, Mapping[str, Any], None] = None,
        session_id: Optional[str] = None,
        tag: Optional[str] = None,
    ) -> Task:
        """Schedule an activity and retry failed attempts per ``retry`` (a
        :class:`RetryPolicy` or a dict such as ``{"max_attempts": 3,
        "backoff": "fixed", "backoff_ms": 10, "timeout_ms": 5000}``)."""
        policy = RetryPolicy.from_value(retry)
        payload = _payload.encode(input, f"the input of activity {name!r}")
        return self._d.spawn(self._retry(name, payload, policy, session_id, tag))

    def schedule_activity_with_retry_on_session(self, name: str, input: Any, retry: Union[RetryPolicy, Mapping[str, Any], None], session_id: str) -> Task:
        return self.schedule_activity_with_retry(name, input, retry, session_id=session_id)

    def _retry(self, name: str, payload: str, policy: RetryPolicy, session_id: Optional[str], tag: Optional[str]) -> Generator[Task, Any, Any]:
        attempts = max(policy.max_attempts, 1)
        last: Optional[BaseException] = None
        for attempt in range(1, attempts + 1):
            t = self._activity(name, payload, session_id, tag)
            if policy.timeout_ms:
                r = self.race(t, self.schedule_timer(policy.timeout_ms))
                try:
                    yield r
                except TaskFailed:
                    pass
                if r.winner == 1:
                    raise ActivityTimeout(f"timeout: activity {name!r} timed out after {policy.timeout_ms} ms", name=name)
            try:
                return (yield t)
            except Cancelled:
                raise
            except TaskFailed as e:
                last = e
            if attempt < attempts:
                self.trace_warn(f"activity {name!r} attempt {attempt} failed; retrying: {last}")
                delay = policy.delay_ms(attempt)
                if delay > 0:
                    yield self.schedule_timer(delay)
        assert last is not None
        raise last

    def schedule_timer(self, delay_ms: Union[int, float]) -> Task:
        """A durable timer of ``delay_ms`` milliseconds (it survives restarts)."""
        ms = int(delay_ms)
        if ms < delay_ms:
            ms += 1
        if ms < 0:
            raise ValueError(f"timer delay {delay_ms} ms: must not be negative")
        t = self._d.new_task(_driver.TIMER)
        self._d.emit({"kind": "create_timer", "delay_ms": ms}, t)
        return t

    create_timer = schedule_timer

    def wait_for_event(self, name: str) -> Task:
        """The data of the next external event ``name`` (Client.raise_event).
        Events raised before the wait are kept, first raised first taken."""
        t = self._d.new_task(_driver.EVENT, name)
        self._d.emit({"kind": "wait_event", "name": name}, t)
        return t

    def dequeue_event(self, queue_name: str) -> Task:
        """The next message of event queue ``queue_name``
        (Client.enqueue_event); unconsumed messages survive continue-as-new."""
        t = self._d.new_task(_driver.EVENT, queue_name)
        self._d.emit({"kind": "dequeue_event", "name": queue_name}, t)
        return t

    def schedule_sub_orchestration(self, name: str, input: Any = None) -> Task:
        """Start a child orchestration; yield the task for its output."""
        return self._sub(name, None, None, input)

    def schedule_sub_orchestration_with_id(self, name: str, instance_id: str, input: Any = None) -> Task:
        return self._sub(name, None, instance_id, input)

    def schedule_sub_orchestration_versioned(self, name: str, version: Optional[str] = None, input: Any = None) -> Task:
        return self._sub(name, version, None, input)

    def schedule_sub_orchestration_versioned_with_id(self, name: str, version: Optional[str], instance_id: str, input: Any = None) -> Task:
        return self._sub(name, version, instance_id, input)

    def _sub(self, name: str, version: Optional[str], instance_id: Optional[str], input: Any) -> Task:
        payload = _payload.encode(input, f"the input of sub-orchestration {name!r}")
        t = self._d.new_task(_driver.SUB_ORCHESTRATION, name)
        cmd: Dict[str, Any] = {"kind": "schedule_sub_orchestration", "name": name, "input": payload}
        if version:
            cmd["version"] = version
        if instance_id:
            cmd["instance"] = instance_id
        self._d.emit(cmd, t)
        return t

    def start_orchestration(self, name: str, instance_id: str, input: Any = None) -> Task:
        """Start an independent orchestration (fire and forget). The start
        is recorded at once; the returned task is already complete, so
        ``yield`` it or not."""
        return self.start_orchestration_versioned(name, None, instance_id, input)

    def start_orchestration_versioned(self, name: str, version: Optional[str], instance_id: str, input: Any = None) -> Task:
        payload = _payload.encode(input, f"the input of orchestration {name!r}")
        cmd: Dict[str, Any] = {"kind": "start_orchestration", "name": name, "instance": instance_id, "input": payload}
        if version:
            cmd["version"] = version
        self._d.emit(cmd)
        return self._d.done_task(None)

    def continue_as_new(self, input: Any = None) -> Task:
        """End this execution and start the next one with ``input``:
        ``yield ctx.continue_as_new(next_input)`` (or ``return`` it)."""
        return self.continue_as_new_versioned(input, None)

    def continue_as_new_versioned(self, input: Any, version: Optional[str] = None) -> Task:
        payload = _payload.encode(input, "the continue-as-new input")
        self._d.can = {"input": payload, "version": version or ""}
        return self._d.new_task(_driver.CONTINUE_AS_NEW)

    # ---------------------------------------------------------- composites

    def all(self, tasks: Sequence[Task]) -> Task:
        """A task that completes when every task has; its value is the list
        of their values, in order. The first failure (in argument order) is
        raised."""
        return self._d.composite(_driver.ALL, list(tasks))

    def race(self, *tasks: Any) -> Task:
        """A task won by the first of ``tasks`` to complete (in history
        order, identical on every replay); the losers are cancelled. Its
        value is a :class:`RaceResult` (``.index``, ``.value``). Nestable:
        ``ctx.race(ctx.race(a, b), c)``. Also accepts one list."""
        if len(tasks) == 1 and isinstance(tasks[0], (list, tuple)):
            tasks = tuple(tasks[0])
        return self._d.composite(_driver.RACE, list(tasks))

    select = race

    # -------------------------------------------------------- system calls

    def _system_call(self, op: str, args: str = "") -> Task:
        t = self._d.new_task(_driver.SYSTEM_CALL, op)
        cmd: Dict[str, Any] = {"kind": "system_call", "op": op}
        if args:
            cmd["input"] = args
        self._d.emit(cmd, t)
        return t

    def new_guid(self) -> Task:
        """A random UUID string, recorded in history (same on replay). Yield it."""
        return self._system_call("new_guid")

    def utc_now(self) -> Task:
        """The current time in milliseconds since the epoch, recorded in
        history (same on replay). Yield it."""
        return self._system_call("utc_now")

    def get_kv_value_from_instance(self, instance_id: str, key: str) -> Task:
        """Read a key of another instance's KV store (recorded in history);
        yields the value or None."""
        return self._system_call("get_kv", json.dumps({"instance": instance_id, "key": key}, separators=(",", ":")))

    # ---------------------------------------------------------- state

    def set_custom_status(self, status: Any) -> None:
        """Publish a status clients can read (no yield needed)."""
        s = status if isinstance(status, str) else _payload.encode(status, "the custom status")
        self._d.custom_status = s
        self._d.emit({"kind": "set_custom_status", "status": s})

    def reset_custom_status(self) -> None:
        self._d.custom_status = None
        self._d.emit({"kind": "set_custom_status"})

    def get_custom_status(self) -> Optional[str]:
        return self._d.custom_status

    def set_kv_value(self, key: str, value: Any) -> None:
        """Set a key of this instance's KV store (no yield needed)."""
        v = value if isinstance(value, str) else _payload.encode(value, f"KV value {key!r}")
        self._d.kv[key] = v
        self._d.emit({"kind": "set_kv", "key": key, "value": v})

    def get_kv_value(self, key: str) -> Optional[str]:
        return self._d.kv.get(key)

    def get_kv_all_values(self) -> Dict[str, str]:
        return dict(self._d.kv)

    def get_kv_all_keys(self) -> List[str]:
        return sorted(self._d.kv)

    def get_kv_length(self) -> int:
        return len(self._d.kv)

    def clear_kv_value(self, key: str) -> None:
        self._d.kv.pop(key, None)
        self._d.emit({"kind": "clear_kv", "key": key})

    def clear_all_kv_values(self) -> None:
        self._d.kv.clear()
        self._d.emit({"kind": "clear_all_kv"})

    # ---------------------------------------------------------- logging

    def _log(self, level: int, message: Any) -> None:
        if self._d.replaying or not orchestration_logger.isEnabledFor(level):
            return
        orchestration_logger.log(
            level,
            "[%s#%d %s] %s",
            self._d.instance,
            self._d.execution_id,
            self._d.name,
            message,
            extra={"instance_id": self._d.instance, "execution_id": self._d.execution_id, "orchestration": self._d.name},
        )

    def trace_info(self, message: Any) -> None:
        """Log at INFO on the "duroxide.orchestration" logger, once per
        decision (dropped while replaying)."""
        self._log(logging.INFO, message)

    def trace_warn(self, message: Any) -> None:
        self._log(logging.WARNING, message)

    def trace_error(self, message: Any) -> None:
        self._log(logging.ERROR, message)

    def trace_debug(self, message: Any) -> None:
        self._log(logging.DEBUG, message)


class ActivityContext:
    """What an activity receives with its input."""

    def __init__(self, info: Mapping[str, Any], client_factory: Any = None) -> None:
        self.instance_id: str = info.get("instance_id", "")
        self.execution_id: int = info.get("execution_id", 0)
        self.orchestration_name: str = info.get("orchestration_name", "")
        self.orchestration_version: str = info.get("orchestration_version", "")
        self.activity_name: str = info.get("activity_name", "")
        self.activity_id: int = info.get("activity_id", 0)
        self.attempt: int = info.get("attempt", 1)
        self.worker_id: str = info.get("worker_id", "")
        self.session_id: Optional[str] = info.get("session_id") or None
        self.tag: Optional[str] = info.get("tag") or None
        self._cancelled = threading.Event()
        self._client_factory = client_factory
        self._on_cancel: List[Any] = []

    def is_cancelled(self) -> bool:
        """True once the activity is cancelled (it lost a race, its
        orchestration ended, or the runtime is shutting down). Long
        activities should check it and return early."""
        return self._cancelled.is_set()

    def wait_cancelled(self, timeout: Optional[float] = None) -> bool:
        """Block up to ``timeout`` seconds for cancellation; True if cancelled."""
        return self._cancelled.wait(timeout)

    def _cancel(self) -> None:
        self._cancelled.set()
        for cb in list(self._on_cancel):
            try:
                cb()
            except Exception:
                pass

    def get_client(self) -> "Client":
        """A client on the runtime's store, to start or signal orchestrations."""
        if self._client_factory is None:
            raise RuntimeError("no client available for this activity")
        return self._client_factory()

    def _log(self, level: int, message: Any) -> None:
        activity_logger.log(
            level,
            "[%s %s#%d] %s",
            self.instance_id,
            self.activity_name,
            self.activity_id,
            message,
            extra={"instance_id": self.instance_id, "activity": self.activity_name},
        )

    def trace_info(self, message: Any) -> None:
        self._log(logging.INFO, message)

    def trace_warn(self, message: Any) -> None:
        self._log(logging.WARNING, message)

    def trace_error(self, message: Any) -> None:
        self._log(logging.ERROR, message)

    def trace_debug(self, message: Any) -> None:
        self._log(logging.DEBUG, message)
