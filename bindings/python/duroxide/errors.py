"""The exception hierarchy of duroxide. Everything the package raises on
purpose derives from :class:`DuroxideError`."""

from __future__ import annotations

from typing import Any, Dict, Optional

__all__ = [
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
]


class DuroxideError(Exception):
    """Base class of every duroxide error.

    ``message`` is the human-readable text; ``code`` is the C ABI status
    code when the error came from the library (``None`` otherwise).
    """

    def __init__(self, message: str, *, code: Optional[int] = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class LibraryNotFoundError(DuroxideError, ImportError):
    """libduroxide.so could not be loaded; the message lists every path tried."""


class HandleError(DuroxideError):
    """The library does not know the handle (closed or never opened)."""


class ClosedError(DuroxideError):
    """The provider, runtime or client was closed or shut down."""


class ForkedProcessError(DuroxideError):
    """A handle was used in a child process created by fork(): the Go
    runtime does not survive fork(), so create new objects in the child."""


class InvalidArgumentError(DuroxideError, ValueError):
    """An argument was empty, too long, or not valid JSON."""


class NotFoundError(DuroxideError, LookupError):
    """The instance (or driver, or task) does not exist."""


class DuroxideTimeoutError(DuroxideError, TimeoutError):
    """A wait ended before its condition held."""


class AlreadyRegisteredError(DuroxideError):
    """The name (and version) is already registered."""


class PayloadError(DuroxideError, TypeError):
    """A value cannot be encoded as a payload (JSON)."""


class TaskFailed(DuroxideError):
    """A task awaited by orchestration code failed. Raised inside the
    orchestration generator at the ``yield``.

    ``error_type`` is the type name of the original error (for example
    ``"ValueError"`` for a Python activity, ``"*errors.errorString"`` for a
    Go one); ``details`` is the recorded error as a dict (category, kind,
    message, …).
    """

    def __init__(
        self,
        message: str,
        *,
        error_type: Optional[str] = None,
        details: Optional[Dict[str, Any]] = None,
        name: str = "",
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.details = dict(details or {})
        self.name = name

    @property
    def kind(self) -> Optional[str]:
        """The recorded error kind (``ActivityFailed``, ``Unregistered``,
        ``Cancelled``, ``Panicked``, …)."""
        return self.details.get("kind")


class ActivityFailed(TaskFailed):
    """An activity failed (its exception, or an error recorded by the engine
    such as an unregistered activity)."""


class ActivityTimeout(ActivityFailed):
    """An attempt of an activity scheduled with a retry policy outlived the
    policy's ``timeout_ms``."""


class SubOrchestrationFailed(TaskFailed):
    """A sub-orchestration ended Failed."""


class SystemCallFailed(TaskFailed):
    """A system call (``new_guid``, ``utc_now``, a KV read) failed."""


class Cancelled(TaskFailed):
    """The task was cancelled: the instance is being cancelled (``reason``
    is the client's reason), or the task lost a race."""

    def __init__(self, reason: str) -> None:
        super().__init__("canceled: " + reason, details={"category": "application", "kind": "Cancelled", "reason": reason})
        self.reason = reason


class OrchestrationFailed(DuroxideError):
    """An orchestration instance ended Failed (raised by
    ``Client.wait_for_orchestration_typed``)."""

    def __init__(self, message: str, *, details: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.details = dict(details or {})
        self.error_type = self.details.get("error_type")
