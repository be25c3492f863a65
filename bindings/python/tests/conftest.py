"""Fixtures: a runtime, a client and a SQLite file store per test."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from typing import Any, Callable

import pytest

from duroxide import Client, Runtime, RuntimeOptions, SqliteProvider

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))

# Short retries and polls so failure paths finish quickly (as the Go
# scenario suite does).
FAST = dict(max_attempts=4, unregistered_backoff_ms=20, unregistered_backoff_max_ms=100, poll_timeout_ms=1000)


class Env:
    def __init__(self, path: str, **opts: Any) -> None:
        self.path = path
        self.provider = SqliteProvider.open(path)
        self.opts = dict(FAST, **opts)
        self.rt = Runtime(self.provider, RuntimeOptions(**self.opts))
        self.client = Client(self.provider)

    def new_runtime(self, **opts: Any) -> Runtime:
        """Shut the runtime down and make a fresh one (new registrations)."""
        self.rt.shutdown(5000)
        self.rt = Runtime(self.provider, RuntimeOptions(**dict(self.opts, **opts)))
        return self.rt

    def run(self, instance: str, name: str, input: Any = None, timeout_ms: int = 30000):
        self.client.start_orchestration(instance, name, input)
        return self.client.wait_for_orchestration(instance, timeout_ms)

    def completed(self, instance: str, name: str, input: Any, want: Any) -> None:
        st = self.run(instance, name, input)
        assert st.status == "Completed", f"{instance}: {st.status} {st.error}"
        assert st.output == want

    def history_has(self, instance: str, kind: str) -> bool:
        try:
            return any(e.get("type") == kind for e in self.client.read_history(instance))
        except Exception:
            return False

    def close(self) -> None:
        self.rt.shutdown(5000)
        self.client.close()
        self.provider.close()


@pytest.fixture
def env(tmp_path):
    e = Env(str(tmp_path / "duroxide.db"))
    yield e
    e.close()


def wait_for(what: str, cond: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.002
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


@pytest.fixture(scope="session")
def gohost(tmp_path_factory) -> str:
    """Builds the Go helper process of the cross-language tests."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("the cross-language tests need Go to build their Go process")
    out = str(tmp_path_factory.mktemp("gohost") / "gohost")
    subprocess.run([go, "build", "-buildvcs=false", "-o", out, "./bindings/python/tests/gohost"], cwd=REPO, check=True)
    return out
