"""duroxide — durable task orchestration for Python, on the Go core.

Write orchestrations as generator functions that ``yield`` tasks, and
activities as plain functions (sync or ``async def``); duroxide records
every decision in an append-only history and replays the code after any
restart, so it continues exactly where it left off.

>>> from duroxide import SqliteProvider, Runtime, Client
>>> provider = SqliteProvider.open("sqlite:app.db")
>>> rt = Runtime(provider)
>>> @rt.register_activity("Hello")
... def hello(ctx, name):
...     return f"Hello, {name}!"
>>> @rt.register_orchestration("HelloWorld")
... def hello_world(ctx, name):
...     first = yield ctx.schedule_activity("Hello", "Go")
...     return (yield ctx.schedule_activity("Hello", name))
>>> rt.start()
>>> client = Client(provider)
>>> client.start_orchestration("hello-1", "HelloWorld", "World")
>>> client.wait_for_orchestration("hello-1", 10_000).output
'Hello, World!'
>>> rt.shutdown()
"""

from __future__ import annotations

from ._driver import RaceResult, Task
from ._native import ABI_VERSION, PROTOCOL_VERSION, library_path
from ._native import version as _native_version
from ._payload import decode as decode_payload
from ._payload import encode as encode_payload
from .client import (
    Client,
    DeleteInstanceResult,
    ExecutionInfo,
    InstanceFilter,
    InstanceInfo,
    InstanceTree,
    OrchestrationResult,
    OrchestrationStatus,
    PruneOptions,
    PruneResult,
    QueueDepths,
    SystemMetrics,
)
from .context import ActivityContext, OrchestrationContext, RetryPolicy
from .errors import (
    ActivityFailed,
    ActivityTimeout,
    AlreadyRegisteredError,
    Cancelled,
    ClosedError,
    DuroxideError,
    DuroxideTimeoutError,
    ForkedProcessError,
    HandleError,
    InvalidArgumentError,
    LibraryNotFoundError,
    NotFoundError,
    OrchestrationFailed,
    PayloadError,
    SubOrchestrationFailed,
    SystemCallFailed,
    TaskFailed,
)
from .provider import PostgresProvider, Provider, SqliteProvider
from .runtime import Runtime, RuntimeOptions, TagFilter

__version__ = "0.1.0"


def native_version() -> dict:
    """Versions of the loaded library: ABI, protocol, engine, Go."""
    return _native_version()


__all__ = [
    "SqliteProvider",
    "PostgresProvider",
    "Provider",
    "Runtime",
    "RuntimeOptions",
    "TagFilter",
    "Client",
    "OrchestrationContext",
    "ActivityContext",
    "RetryPolicy",
    "Task",
    "RaceResult",
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
    "DuroxideError",
    "LibraryNotFoundError",
    "HandleError",
    "ClosedError",
    "ForkedProcessError",
    "InvalidArgumentError",
    "NotFoundError",
    "DuroxideTimeoutError",
    "AlreadyRegisteredError",
    "PayloadError",
    "TaskFailed",
    "ActivityFailed",
    "ActivityTimeout",
    "SubOrchestrationFailed",
    "SystemCallFailed",
    "Cancelled",
    "OrchestrationFailed",
    "encode_payload",
    "decode_payload",
    "library_path",
    "native_version",
    "ABI_VERSION",
    "PROTOCOL_VERSION",
]
