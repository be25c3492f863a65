"""Stores (providers): where histories and queues live."""

from __future__ import annotations

import threading
from typing import Any, Dict, Optional

from . import _native
from .errors import ClosedError, ForkedProcessError

__all__ = ["Provider", "SqliteProvider", "PostgresProvider"]


class _Handle:
    """A library handle: closed idempotently, usable with ``with``."""

    _kind = "handle"

    def __init__(self, handle: int) -> None:
        self._handle = handle
        self._closed = False
        self._pid = _native._PID
        self._close_lock = threading.Lock()

    def _h(self) -> int:
        if self._closed:
            raise ClosedError(f"this {self._kind} is closed")
        _native.check_process(f"this {self._kind}")
        return self._handle

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class Provider(_Handle):
    """An open store. Use :class:`SqliteProvider` or :class:`PostgresProvider`."""

    _kind = "provider"

    def __init__(self, handle: int, dsn: str) -> None:
        super().__init__(handle)
        self.dsn = dsn

    def close(self) -> None:
        """Close the store. Close its runtimes and clients first (a store in
        use refuses to close). Idempotent."""
        with self._close_lock:
            if self._closed:
                return
            try:
                _native.check_process()
            except ForkedProcessError:
                self._closed = True
                return
            _native.call("dx_store_close", self._handle)
            self._closed = True

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<{type(self).__name__} {self.dsn!r} {state}>"


class SqliteProvider(Provider):
    """The embedded SQLite store: a file, or a private in-memory database."""

    @staticmethod
    def open(path: str, options: Optional[Dict[str, Any]] = None) -> "SqliteProvider":
        """Open (creating if needed) a database: ``"sqlite:./app.db"``,
        ``"sqlite::memory:"`` or a plain file path. ``options``: see
        dx_store_open (``synchronous``, ``busy_timeout_ms``, …)."""
        dsn = path if path.startswith("sqlite:") or path == ":memory:" else "sqlite:" + path
        opts = _native.dumps(options) if options else None
        h = _native.call_handle("dx_store_open", _native.cstr(dsn), opts)
        return SqliteProvider(h, dsn)

    @staticmethod
    def in_memory() -> "SqliteProvider":
        """A private in-memory database (gone when closed)."""
        return SqliteProvider.open("sqlite::memory:")


class PostgresProvider(Provider):
    """The PostgreSQL store, for many runtimes on many machines."""

    @staticmethod
    def connect(database_url: str, options: Optional[Dict[str, Any]] = None) -> "PostgresProvider":
        """Connect to PostgreSQL (``postgres://user:pass@host:5432/db``),
        creating and migrating the store's schema (default ``public``) if
        needed. ``options``: ``schema``, ``max_conns``, ``poll_interval_ms``."""
        opts = _native.dumps(options) if options else None
        h = _native.call_handle("dx_store_open", _native.cstr(database_url), opts)
        return PostgresProvider(h, _redact(database_url))

    @staticmethod
    def connect_with_schema(database_url: str, schema: str) -> "PostgresProvider":
        """Connect using a custom schema (many stores can share one database)."""
        return PostgresProvider.connect(database_url, {"schema": schema})


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if sep and at and ":" in creds:
        return f"{scheme}://{creds.split(':', 1)[0]}:xxxxx@{host}"
    return url
