"""The Python orchestration driver: it speaks the turn protocol of
docs/protocol.md with the Go replay engine.

A driver runs one execution of one instance. It keeps a table seq → task
(the pending futures), the composites built on them (``all``, ``race``,
nested freely) and the coroutines of the code (the orchestration
generator, plus internal ones such as retry loops). For each activation it
applies the jobs one at a time and, after each, steps the generators until
every one is blocked on an unresolved task or finished; then it returns the
commands the code issued, in order. This mirrors the Go driver
(core/orchestration), which is the reference.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Dict, Generator, Iterator, List, Optional

from . import _payload
from .errors import (
    ActivityFailed,
    Cancelled,
    DuroxideError,
    SubOrchestrationFailed,
    SystemCallFailed,
    TaskFailed,
)

# Task kinds.
ACTIVITY = "activity"
TIMER = "timer"
EVENT = "event"
SUB_ORCHESTRATION = "sub_orchestration"
SYSTEM_CALL = "system_call"
ALL = "all"
RACE = "race"
COROUTINE = "coroutine"
DONE = "done"
CONTINUE_AS_NEW = "continue_as_new"


class RaceResult:
    """What ``yield ctx.race(...)`` returns: which branch won and its value.

    Readable as attributes (``r.index``, ``r.value``), as the original
    SDK's dict (``r["index"]``, ``r["value"]``), or unpacked
    (``index, value = yield ctx.race(a, b)``).
    """

    __slots__ = ("index", "value")

    def __init__(self, index: int, value: Any) -> None:
        self.index = index
        self.value = value

    def __getitem__(self, key: Any) -> Any:
        if key in ("index", 0):
            return self.index
        if key in ("value", 1):
            return self.value
        raise KeyError(key)

    def __iter__(self) -> Iterator[Any]:
        yield self.index
        yield self.value

    def __len__(self) -> int:
        return 2

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RaceResult):
            return (self.index, self.value) == (other.index, other.value)
        if isinstance(other, tuple):
            return (self.index, self.value) == other
        if isinstance(other, dict):
            return {"index": self.index, "value": self.value} == other
        return NotImplemented

    def __repr__(self) -> str:
        return f"RaceResult(index={self.index!r}, value={self.value!r})"


class Task:
    """A durable task: the pending result of something the orchestration
    scheduled. Orchestration code ``yield``s it to wait for its value; a
    failure is raised at the ``yield``. Tasks compose with ``ctx.all`` and
    ``ctx.race``."""

    __slots__ = ("_d", "_kind", "_seq", "_name", "_done", "_value", "_error", "_parents", "_children", "_winner", "_co", "_dropped")

    def __init__(self, driver: "Driver", kind: str, name: str = "") -> None:
        self._d = driver
        self._kind = kind
        self._seq = 0
        self._name = name
        self._done = False
        self._value: Any = None
        self._error: Optional[BaseException] = None
        self._parents: Optional[List["Task"]] = None
        self._children: Optional[List["Task"]] = None
        self._winner = -1
        self._co: Optional["_Coroutine"] = None
        self._dropped = False
        co = driver._current
        if co is not None and not co.main:
            co.owned.append(self)

    # Public, read-only views.
    def is_completed(self) -> bool:
        """True once the task has a value or an error (yield would not block)."""
        return self._done

    @property
    def winner(self) -> int:
        """For a race: the index of the winning branch (-1 before it is decided)."""
        return self._winner if self._kind == RACE and self._done else -1

    def cancel(self) -> None:
        """Abandon the task: its work is cancelled as if it lost a race."""
        if not self._d.done:
            self._d._drop(self, "cancelled by the orchestration")

    def __repr__(self) -> str:
        state = "done" if self._done else "pending"
        what = f" {self._name!r}" if self._name else ""
        seq = f" seq={self._seq}" if self._seq else ""
        return f"<Task {self._kind}{what}{seq} {state}>"

    def _add_parent(self, p: "Task") -> None:
        if self._parents is None:
            self._parents = [p]
        else:
            self._parents.append(p)

    def _resolve(self, value: Any = None, error: Optional[BaseException] = None) -> None:
        if self._done:
            return
        self._done = True
        self._value = value
        self._error = error
        if self._parents:
            for p in self._parents:
                p._child_resolved(self)

    def _child_resolved(self, c: Optional["Task"]) -> None:
        if self._done:
            return
        children = self._children or []
        if self._kind == ALL:
            for ch in children:
                if not ch._done:
                    return
            first: Optional[BaseException] = None
            for ch in children:
                if ch._error is not None:
                    first = ch._error
                    break
            self._resolve(None if first else [ch._value for ch in children], first)
        elif self._kind == RACE and c is not None:
            idx = 0
            for i, ch in enumerate(children):
                if ch is c:
                    idx = i
                    break
            self._winner = idx
            self._resolve(None if c._error else RaceResult(idx, c._value), c._error)
            for ch in children:
                if ch is not c and not ch._done:
                    self._d._drop(ch, "lost a race")


class _Coroutine:
    __slots__ = ("gen", "main", "started", "done", "killed", "waiting", "task", "owned")

    def __init__(self, gen: Generator[Any, Any, Any], main: bool) -> None:
        self.gen = gen
        self.main = main
        self.started = False
        self.done = False
        self.killed = False
        self.waiting: Optional[Task] = None
        self.task: Optional[Task] = None
        self.owned: List[Task] = []


def error_details(exc: BaseException) -> Dict[str, Any]:
    """The recorded form of an exception that ended orchestration code."""
    try:
        msg = str(exc)
    except Exception:  # a broken __str__ must not break the driver
        msg = ""
    if isinstance(exc, DuroxideError) and getattr(exc, "message", None):
        msg = exc.message
    if not msg:
        msg = type(exc).__name__
    etype = type(exc).__name__
    if isinstance(exc, TaskFailed) and exc.error_type:
        etype = exc.error_type
    return {"category": "application", "kind": "OrchestrationFailed", "message": msg, "error_type": etype}


class Driver:
    """Runs one execution of one orchestration for the engine."""

    def __init__(self, fn: Callable[..., Any], ctx_factory: Callable[["Driver"], Any]) -> None:
        self.fn = fn
        self.futures: Dict[int, Task] = {}
        self.cmds: List[Dict[str, Any]] = []
        self.next_seq = 0
        self._coros: List[_Coroutine] = []
        self._current: Optional[_Coroutine] = None
        self.instance = ""
        self.execution_id = 0
        self.name = ""
        self.version = ""
        self.input = ""
        self.parent_instance = ""
        self.replaying = False
        self.started = False
        self.done = False
        self.closed = False
        self.cancel_requested = False
        self.cancel_reason = ""
        self.can: Optional[Dict[str, Any]] = None
        self.custom_status: Optional[str] = None
        self.kv: Dict[str, str] = {}
        self.ctx = ctx_factory(self)

    # ----------------------------------------------------------------
    # The protocol.

    def activate(self, activation: Dict[str, Any]) -> List[Dict[str, Any]]:
        if self.closed:
            raise DuroxideError("driver is closed")
        proto = activation.get("protocol")
        if proto != 1:
            raise DuroxideError(f"activation protocol {proto}, this driver speaks 1")
        self.instance = activation.get("instance", "")
        self.execution_id = activation.get("execution_id", 0)
        self.name = activation.get("name", "")
        self.version = activation.get("version", "")
        self.cmds = []
        for job in activation.get("jobs") or ():
            self.replaying = bool(job.get("replaying"))
            self._apply(job)
            self._run()
        self.replaying = False
        cmds, self.cmds = self.cmds, []
        return cmds

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.done = True
        for co in self._coros:
            if not co.done:
                co.done = True
                try:
                    co.gen.close()
                except BaseException:
                    pass
        self._coros = []

    def _apply(self, job: Dict[str, Any]) -> None:
        kind = job.get("kind")
        if self.done and kind != "start":
            return
        if kind == "start":
            if self.started:
                return
            self.started = True
            self.input = job.get("input", "")
            self.parent_instance = job.get("parent_instance", "")
            cs = job.get("custom_status")
            if cs is not None:
                self.custom_status = cs
            self.kv = dict(job.get("kv") or {})
            co = _Coroutine(self._main(self.input), True)
            self._coros.append(co)
            return
        if kind == "cancel":
            if self.cancel_requested:
                return
            self.cancel_requested = True
            self.cancel_reason = job.get("reason", "")
            for seq in sorted(self.futures):
                t = self.futures[seq]
                if not t._done:
                    t._resolve(None, Cancelled(self.cancel_reason))
            return
        t = self.futures.get(job.get("seq", 0))
        if t is None or t._done:
            return
        err = job.get("error")
        if kind == "activity":
            if err is not None:
                t._resolve(None, ActivityFailed(_payload.display_message(err), error_type=err.get("error_type"), details=err, name=t._name))
            else:
                t._resolve(_payload.decode(job.get("result", "")))
        elif kind == "timer":
            t._resolve(None)
        elif kind == "event":
            t._resolve(_payload.decode(job.get("data", "")))
        elif kind == "sub_orchestration":
            if err is not None:
                t._resolve(None, SubOrchestrationFailed(_payload.display_message(err), error_type=err.get("error_type"), details=err, name=t._name))
            else:
                t._resolve(_payload.decode(job.get("result", "")))
        elif kind == "system_call":
            if err is not None:
                t._resolve(None, SystemCallFailed(_payload.display_message(err), error_type=err.get("error_type"), details=err, name=t._name))
            else:
                t._resolve(self._system_value(t._name, job.get("result", "")))

    @staticmethod
    def _system_value(op: str, result: str) -> Any:
        if op == "utc_now":
            try:
                return int(result)
            except ValueError:
                return _payload.decode(result)
        if op == "get_kv":
            import json

            try:
                v = json.loads(result)
            except ValueError:
                return result
            return v if v is None or isinstance(v, str) else result
        return result

    def _main(self, raw_input: str) -> Generator[Any, Any, Any]:
        result = self.fn(self.ctx, _payload.decode(raw_input))
        if inspect.isgenerator(result):
            return (yield from result)
        if inspect.iscoroutine(result):
            result.close()
            raise TypeError(
                "orchestrations are generator functions (def with yield), not async def: "
                "write `result = yield ctx.schedule_activity(...)`"
            )
        return result

    def spawn(self, gen: Generator[Any, Any, Any]) -> Task:
        """Run gen as a coroutine of the orchestration; the task resolves
        with its return value (or its exception)."""
        t = Task(self, COROUTINE)
        co = _Coroutine(gen, False)
        co.task = t
        t._co = co
        self._coros.append(co)
        return t

    # ----------------------------------------------------------------
    # Stepping the code.

    def _run(self) -> None:
        coros = self._coros
        while True:
            progressed = False
            i = 0
            while i < len(coros):
                co = coros[i]
                i += 1
                if co.done:
                    continue
                if co.started and not co.killed and (co.waiting is None or not co.waiting._done):
                    continue
                self._step(co)
                progressed = True
                coros = self._coros
            if not progressed:
                break
            self._coros = coros = [c for c in coros if not c.done]

    def _step(self, co: _Coroutine) -> None:
        prev = self._current
        self._current = co
        try:
            if co.killed:
                co.done = True
                co.waiting = None
                try:
                    co.gen.close()
                except BaseException:
                    pass
                if co.task is not None and not co.task._done:
                    co.task._resolve(None, Cancelled("coroutine cancelled"))
                return
            send: Any = None
            throw: Optional[BaseException] = None
            if co.started:
                w = co.waiting
                co.waiting = None
                if w is not None:
                    if w._error is not None:
                        throw = w._error
                    else:
                        send = w._value
            co.started = True
            gen = co.gen
            while True:
                try:
                    if throw is not None:
                        y = gen.throw(throw)
                    else:
                        y = gen.send(send)
                except StopIteration as stop:
                    self._finish(co, stop.value, None)
                    return
                except (KeyboardInterrupt, SystemExit):
                    raise
                except BaseException as e:
                    self._finish(co, None, e)
                    return
                if not isinstance(y, Task):
                    send, throw = None, TypeError(
                        f"orchestration code yielded {y!r}; yield a task made by the context "
                        "(ctx.schedule_activity, ctx.schedule_timer, ctx.all, ctx.race, …)"
                    )
                    continue
                if y._kind == CONTINUE_AS_NEW:
                    if co.main:
                        try:
                            gen.close()
                        except BaseException:
                            pass
                        self._finish(co, None, None)
                        return
                    co.waiting = y  # never resolves: the main code decides
                    return
                if y._done:
                    if y._error is not None:
                        send, throw = None, y._error
                    else:
                        send, throw = y._value, None
                    continue
                co.waiting = y
                return
        finally:
            self._current = prev

    def _finish(self, co: _Coroutine, value: Any, exc: Optional[BaseException]) -> None:
        co.done = True
        co.waiting = None
        if co.main:
            self._finish_main(value, exc)
        elif co.task is not None:
            co.task._resolve(value, exc)

    def _finish_main(self, value: Any, exc: Optional[BaseException]) -> None:
        if self.done:
            return
        if self.can is not None:
            cmd = {"kind": "continue_as_new", "input": self.can["input"]}
            if self.can.get("version"):
                cmd["version"] = self.can["version"]
        elif exc is not None:
            cmd = {"kind": "fail", "error": error_details(exc)}
        else:
            try:
                out = _payload.encode(value, "the orchestration's output")
            except DuroxideError as e:
                cmd = {"kind": "fail", "error": {"category": "application", "kind": "OrchestrationFailed", "message": e.message, "error_type": "PayloadError"}}
            else:
                cmd = {"kind": "complete", "output": out}
        self.cmds.append(cmd)
        self.done = True

    # ----------------------------------------------------------------
    # Used by the context.

    def emit(self, cmd: Dict[str, Any], task: Optional[Task] = None) -> None:
        if self.done or self.closed:
            if task is not None and not task._done:
                task._done = True
                task._error = Cancelled("the orchestration already ended")
            return
        if task is not None:
            self.next_seq += 1
            cmd["seq"] = self.next_seq
            task._seq = self.next_seq
            self.futures[self.next_seq] = task
        self.cmds.append(cmd)

    def _drop(self, t: Task, reason: str) -> None:
        if t._done or t._dropped:
            return
        t._dropped = True
        if t._kind in (ALL, RACE):
            for c in t._children or ():
                self._drop(c, reason)
        elif t._kind == COROUTINE:
            co = t._co
            if co is not None and not co.done:
                co.killed = True
                for o in co.owned:
                    self._drop(o, reason)
        elif t._seq and not self.done:
            self.cmds.append({"kind": "drop_future", "seq": t._seq})
        t._resolve(None, Cancelled(reason))

    def new_task(self, kind: str, name: str = "") -> Task:
        return Task(self, kind, name)

    def done_task(self, value: Any = None) -> Task:
        t = Task(self, DONE)
        t._done = True
        t._value = value
        return t

    def composite(self, kind: str, tasks: List[Task]) -> Task:
        for x in tasks:
            if not isinstance(x, Task):
                raise TypeError(f"ctx.{'all' if kind == ALL else 'race'} takes tasks made by the context, got {x!r}")
            if x._d is not self:
                raise DuroxideError("a task of another orchestration execution cannot be composed here")
        t = Task(self, kind)
        t._children = list(tasks)
        for ch in t._children:
            ch._add_parent(t)
        if kind == ALL:
            if not tasks:
                t._resolve([])
            else:
                t._child_resolved(None)
        else:
            if not tasks:
                raise ValueError("ctx.race needs at least one task")
            for ch in t._children:
                if ch._done:
                    t._child_resolved(ch)
                    break
        return t
