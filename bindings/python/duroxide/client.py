"""The client: start, signal, inspect and manage orchestration instances.

A client talks only to the store, so any process sharing it can drive
instances that runtimes elsewhere execute. Calls are synchronous; they
release the GIL while Go works, and long waits are split into short
slices so Ctrl-C stays prompt.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from . import _native, _payload
from .errors import DuroxideError, DuroxideTimeoutError, ForkedProcessError, OrchestrationFailed
from .provider import Provider, _Handle

__all__ = [
    "Client",
    "OrchestrationResult",
    "OrchestrationStatus",
    "InstanceInfo",
    "ExecutionInfo",
    "InstanceTree",
    "InstanceFilter",
    "PruneOptions",
    "PruneResult",
    "DeleteInstanceResult",
    "SystemMetrics",
    "QueueDepths",
]

# A single Go wait never blocks longer than this, so the main thread gets
# back to the interpreter (signals, Ctrl-C) regularly.
_WAIT_SLICE_MS = 250


class OrchestrationResult:
    """An instance's status.

    ``status`` is ``"Running"``, ``"Completed"``, ``"Failed"`` or
    ``"NotFound"``; ``output`` the decoded output when Completed;
    ``error`` the failure message when Failed (``error_details`` the
    recorded error as a dict); ``custom_status`` the last custom status.
    """

    __slots__ = ("instance_id", "status", "output", "raw_output", "error", "error_details", "custom_status",
                 "custom_status_version", "name", "version", "execution_id")

    def __init__(self, d: Dict[str, Any]) -> None:
        self.instance_id: str = d.get("instance", "")
        self.status: str = d.get("status", "NotFound")
        raw = d.get("output")
        self.raw_output: Optional[str] = raw
        self.output: Any = _payload.decode(raw) if raw is not None else None
        self.error: Optional[str] = d.get("error_message")
        self.error_details: Optional[Dict[str, Any]] = d.get("error")
        self.custom_status: Optional[str] = d.get("custom_status")
        self.custom_status_version: int = d.get("custom_status_version") or 0
        self.name: str = d.get("name", "")
        self.version: str = d.get("version", "")
        self.execution_id: int = d.get("execution_id") or 0

    @property
    def is_terminal(self) -> bool:
        return self.status in ("Completed", "Failed")

    def __repr__(self) -> str:
        extra = f" output={self.output!r}" if self.status == "Completed" else ""
        if self.error:
            extra += f" error={self.error!r}"
        return f"<OrchestrationResult {self.instance_id!r} {self.status}{extra}>"


OrchestrationStatus = OrchestrationResult


@dataclass
class InstanceInfo:
    instance_id: str
    name: str
    version: str
    current_execution_id: int
    status: str
    output: Optional[str] = None
    custom_status: Optional[str] = None
    custom_status_version: int = 0
    created_at: int = 0
    updated_at: int = 0
    completed_at: Optional[int] = None
    parent_instance_id: Optional[str] = None

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "InstanceInfo":
        return cls(
            instance_id=d["instance_id"], name=d.get("name", ""), version=d.get("version", ""),
            current_execution_id=d.get("current_execution_id", 0), status=d.get("status", ""),
            output=d.get("output") or None, custom_status=d.get("custom_status"),
            custom_status_version=d.get("custom_status_version") or 0, created_at=d.get("created_at_ms", 0),
            updated_at=d.get("updated_at_ms", 0), completed_at=d.get("completed_at_ms") or None,
            parent_instance_id=d.get("parent_instance") or None,
        )


@dataclass
class ExecutionInfo:
    execution_id: int
    status: str
    output: Optional[str]
    started_at: int
    completed_at: Optional[int]
    event_count: int
    pinned_version: Optional[str] = None


@dataclass
class InstanceTree:
    root_id: str
    all_ids: List[str]
    children: Dict[str, List[str]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.all_ids)


@dataclass
class InstanceFilter:
    """Selects instances; unset fields do not filter. Times in ms since the epoch."""

    status: Optional[str] = None
    name: Optional[str] = None
    instance_ids: Optional[List[str]] = None
    created_after: Optional[int] = None
    created_before: Optional[int] = None
    completed_before: Optional[int] = None
    parent: Optional[str] = None
    roots_only: bool = False
    limit: Optional[int] = None
    offset: int = 0

    def _json(self) -> Dict[str, Any]:
        return {
            "status": self.status or "", "name": self.name or "", "instance_ids": self.instance_ids,
            "created_after_ms": self.created_after or 0, "created_before_ms": self.created_before or 0,
            "completed_before_ms": self.completed_before or 0, "parent": self.parent or "",
            "roots_only": self.roots_only, "limit": self.limit or 0, "offset": self.offset,
        }


@dataclass
class PruneOptions:
    """keep_last: executions to keep (0 or 1: only the current one);
    completed_before: only prune executions that ended before it (ms)."""

    keep_last: Optional[int] = None
    completed_before: Optional[int] = None

    def _json(self) -> Dict[str, Any]:
        return {"keep_last": self.keep_last or 0, "completed_before_ms": self.completed_before or 0}


@dataclass
class PruneResult:
    instances_processed: int
    executions_deleted: int
    events_deleted: int


@dataclass
class DeleteInstanceResult:
    instances_deleted: int
    executions_deleted: int
    events_deleted: int
    queue_messages_deleted: int


@dataclass
class SystemMetrics:
    total_instances: int
    total_executions: int
    running_instances: int
    completed_instances: int
    failed_instances: int
    total_events: int
    dead_letters: int = 0
    continued_as_new_instances: int = 0


@dataclass
class QueueDepths:
    orchestrator_queue: int
    worker_queue: int
    timer_queue: int


def _ms(deadline: float) -> int:
    return int((deadline - time.monotonic()) * 1000)


class Client(_Handle):
    """Drives instances through a provider: ``Client(provider)``."""

    _kind = "client"

    def __init__(self, provider: Provider) -> None:
        super().__init__(_native.call_handle("dx_client_new", provider._h()))
        self.provider = provider

    def close(self) -> None:
        """Release the client. Idempotent."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            try:
                _native.check_process()
            except ForkedProcessError:
                return
            _native.call("dx_client_close", self._handle)

    def _call(self, op: str, **args: Any) -> Any:
        args["protocol"] = _native.PROTOCOL_VERSION
        args["op"] = op
        req = _native.dumps(args)
        out = _native.call_out("dx_client_call", self._h(), req, len(req))
        return json.loads(out) if out else None

    # ------------------------------------------------------------ instances

    def start_orchestration(self, instance_id: str, name: str, input: Any = None) -> None:
        """Start instance ``instance_id`` of orchestration ``name``. Starting
        an existing id does nothing."""
        self._call("start_orchestration", instance=instance_id, name=name, input=_payload.encode(input, "the input"))

    def start_orchestration_versioned(self, instance_id: str, name: str, input: Any, version: str) -> None:
        """Start an instance pinned to an exact orchestration version."""
        self._call("start_orchestration", instance=instance_id, name=name, version=version, input=_payload.encode(input, "the input"))

    def raise_event(self, instance_id: str, event_name: str, data: Any = None) -> None:
        """Raise external event ``event_name``; it waits, buffered, for the
        code's next ``wait_for_event(event_name)``."""
        self._call("raise_event", instance=instance_id, name=event_name, data=_payload.encode(data, "the event data"))

    def enqueue_event(self, instance_id: str, queue_name: str, data: Any = None) -> None:
        """Put a message on the instance's event queue (``dequeue_event``)."""
        self._call("enqueue_event", instance=instance_id, name=queue_name, data=_payload.encode(data, "the message"))

    def cancel_instance(self, instance_id: str, reason: Optional[str] = None) -> None:
        """Cancel an instance (and its children); it ends Failed with
        ``canceled: <reason>``."""
        self._call("cancel_instance", instance=instance_id, reason=reason or "cancelled by the client")

    def get_status(self, instance_id: str) -> OrchestrationResult:
        return OrchestrationResult(self._call("get_status", instance=instance_id))

    def wait_for_orchestration(self, instance_id: str, timeout_ms: int = 30000) -> OrchestrationResult:
        """Wait until the instance is Completed or Failed; raises
        :class:`DuroxideTimeoutError` (a ``TimeoutError``) after ``timeout_ms``."""
        deadline = time.monotonic() + timeout_ms / 1000.0
        while True:
            left = _ms(deadline)
            if left <= 0:
                st = self.get_status(instance_id)
                if st.is_terminal:
                    return st
                raise DuroxideTimeoutError(f"wait for {instance_id!r}: timed out after {timeout_ms} ms (status {st.status})")
            try:
                return OrchestrationResult(self._call("wait_for_orchestration", instance=instance_id, timeout_ms=max(1, min(left, _WAIT_SLICE_MS))))
            except DuroxideTimeoutError:
                continue

    def wait_for_orchestration_typed(self, instance_id: str, timeout_ms: int = 30000) -> Any:
        """Wait and return the output; raises :class:`OrchestrationFailed`
        if the instance failed."""
        st = self.wait_for_orchestration(instance_id, timeout_ms)
        if st.status == "Failed":
            raise OrchestrationFailed(st.error or "orchestration failed", details=st.error_details)
        return st.output

    def wait_for_status_change(
        self, instance_id: str, last_seen_version: int = 0, poll_interval_ms: int = 0, timeout_ms: int = 30000
    ) -> Optional[OrchestrationResult]:
        """Wait until the custom status version exceeds ``last_seen_version``
        or the instance ends; returns None on timeout. (``poll_interval_ms``
        is accepted for compatibility; the core wakes on changes itself.)"""
        deadline = time.monotonic() + timeout_ms / 1000.0
        while True:
            left = _ms(deadline)
            if left <= 0:
                return None
            try:
                d = self._call("wait_for_status_change", instance=instance_id, last_seen_version=last_seen_version,
                               timeout_ms=max(1, min(left, _WAIT_SLICE_MS)))
                return OrchestrationResult(d)
            except DuroxideTimeoutError:
                continue

    # ------------------------------------------------------------ KV

    def get_kv_value(self, instance_id: str, key: str) -> Optional[str]:
        d = self._call("get_kv_value", instance=instance_id, key=key)
        return d.get("value") if d.get("found") else None

    def get_kv_value_typed(self, instance_id: str, key: str) -> Any:
        """The value decoded with the payload rule (JSON, else the text)."""
        v = self.get_kv_value(instance_id, key)
        return None if v is None else _payload.decode(v)

    def get_kv_all_values(self, instance_id: str) -> Dict[str, str]:
        return dict(self._call("get_kv_all_values", instance=instance_id) or {})

    def wait_for_kv_value(self, instance_id: str, key: str, timeout_ms: int = 30000) -> str:
        """Wait until the key exists; raises :class:`DuroxideTimeoutError`."""
        deadline = time.monotonic() + timeout_ms / 1000.0
        while True:
            left = _ms(deadline)
            if left <= 0:
                raise DuroxideTimeoutError(f"timed out waiting for value {key!r} on instance {instance_id!r}")
            try:
                d = self._call("wait_for_kv_value", instance=instance_id, key=key, timeout_ms=max(1, min(left, _WAIT_SLICE_MS)))
                return d["value"]
            except DuroxideTimeoutError:
                continue

    def wait_for_kv_value_typed(self, instance_id: str, key: str, timeout_ms: int = 30000) -> Any:
        return _payload.decode(self.wait_for_kv_value(instance_id, key, timeout_ms))

    # ------------------------------------------------------------ history

    def read_history(self, instance_id: str) -> List[Dict[str, Any]]:
        """The latest execution's events, as dicts (``type``, ``event_id``, …)."""
        return self._call("read_history", instance=instance_id)

    def read_execution_history(self, instance_id: str, execution_id: int) -> List[Dict[str, Any]]:
        return self._call("read_history", instance=instance_id, execution_id=execution_id)

    # ------------------------------------------------------------ management

    def list_instances(self, filter: Optional[InstanceFilter] = None) -> List[InstanceInfo]:
        f = filter or InstanceFilter()
        return [InstanceInfo._from(d) for d in self._call("list_instances", filter=f._json())]

    def list_all_instances(self) -> List[str]:
        return [i.instance_id for i in self.list_instances()]

    def list_instances_by_status(self, status: str) -> List[str]:
        return [i.instance_id for i in self.list_instances(InstanceFilter(status=status))]

    def get_instance_info(self, instance_id: str) -> InstanceInfo:
        return InstanceInfo._from(self._call("get_instance_info", instance=instance_id))

    def list_executions(self, instance_id: str) -> List[int]:
        return list(self._call("list_executions", instance=instance_id))

    def get_execution_info(self, instance_id: str, execution_id: int) -> ExecutionInfo:
        d = self._call("get_execution_info", instance=instance_id, execution_id=execution_id)
        return ExecutionInfo(
            execution_id=d["execution_id"], status=d.get("status", ""), output=d.get("output") or None,
            started_at=d.get("started_at_ms", 0), completed_at=d.get("completed_at_ms") or None,
            event_count=d.get("event_count", 0), pinned_version=d.get("pinned_version") or None,
        )

    def get_instance_tree(self, instance_id: str) -> InstanceTree:
        d = self._call("get_instance_tree", instance=instance_id)
        return InstanceTree(root_id=d["root_id"], all_ids=list(d.get("all_ids") or []), children=dict(d.get("children") or {}))

    def delete_instance(self, instance_id: str, force: bool = False) -> DeleteInstanceResult:
        """Delete a root instance and its sub-orchestrations (a running one
        only with ``force``)."""
        return DeleteInstanceResult(**self._call("delete_instance", instance=instance_id, force=force))

    def delete_instance_bulk(self, filter: Optional[InstanceFilter] = None) -> DeleteInstanceResult:
        f = filter or InstanceFilter()
        return DeleteInstanceResult(**self._call("delete_instance_bulk", filter=f._json()))

    def prune_executions(self, instance_id: str, options: Optional[PruneOptions] = None) -> PruneResult:
        o = options or PruneOptions()
        return PruneResult(**self._call("prune_executions", instance=instance_id, prune=o._json()))

    def prune_executions_bulk(self, filter: Optional[InstanceFilter] = None, options: Optional[PruneOptions] = None) -> PruneResult:
        f = filter or InstanceFilter()
        o = options or PruneOptions()
        return PruneResult(**self._call("prune_executions_bulk", filter=f._json(), prune=o._json()))

    def get_system_metrics(self) -> SystemMetrics:
        return SystemMetrics(**self._call("get_system_metrics"))

    def get_queue_depths(self) -> QueueDepths:
        d = self._call("get_queue_depths")
        return QueueDepths(orchestrator_queue=d.get("orchestrator_queue", 0), worker_queue=d.get("worker_queue", 0), timer_queue=d.get("delayed", 0))

    def list_dead_letters(self, limit: int = 100) -> List[Dict[str, Any]]:
        return self._call("list_dead_letters", limit=limit)
