"""Python and Go share one SQLite file: a Python orchestration calls
activities a Go process serves, and a Go orchestration calls activities
this Python process serves. Payloads follow the shared codec both ways."""

from __future__ import annotations

import subprocess

import pytest

from conftest import Env

from duroxide import ActivityFailed


def start_gohost(binary: str, path: str, mode: str) -> subprocess.Popen:
    p = subprocess.Popen([binary, "-store", "sqlite:" + path, "-mode", mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip() if p.stdout else ""
    if line != "ready":
        p.kill()
        raise RuntimeError(f"gohost did not start: {line!r}")
    return p


def stop_gohost(p: subprocess.Popen) -> None:
    if p.stdin:
        p.stdin.close()  # the host stops when its stdin closes
    try:
        assert p.wait(timeout=10) == 0
    except subprocess.TimeoutExpired:
        p.kill()
        raise


@pytest.fixture
def shared(tmp_path):
    envs = []

    def make(**opts):
        e = Env(str(tmp_path / "shared.db"), **opts)
        envs.append(e)
        return e

    yield make
    for e in envs:
        e.close()


def test_python_orchestration_calls_go_activities(gohost, shared):
    # This runtime serves activities too, but not the Go ones: it hands them
    # back with backoff until the Go process takes them.
    env = shared(max_attempts=50)
    go = start_gohost(gohost, env.path, "activities")
    try:

        @env.rt.register_orchestration("PyCallsGo")
        def py_calls_go(ctx, name):
            upper = yield ctx.schedule_activity("GoUpper", name)
            total = yield ctx.schedule_activity("GoSum", {"a": 2, "b": 3})
            try:
                yield ctx.schedule_activity("GoFail", "")
            except ActivityFailed as e:
                failure = f"{e.error_type}:{e.message}"
            return {"upper": upper, "sum": total["sum"], "failure": failure}

        env.rt.start()
        st = env.run("py-calls-go", "PyCallsGo", "gopher")
        assert st.status == "Completed", st
        assert st.output == {"upper": "GOPHER (from Go)", "sum": 5, "failure": "*errors.errorString:go says no"}
    finally:
        stop_gohost(go)


def test_go_orchestration_calls_python_activities(gohost, shared):
    env = shared(orchestration_concurrency=-1)  # the Go process runs the orchestration
    go = start_gohost(gohost, env.path, "orchestrations")
    try:
        env.rt.register_activity("PyGreet", lambda ctx, name: f"Hello from Python, {name}")
        env.rt.register_activity("PyDouble", lambda ctx, d: {"doubled": d["n"] * 2})

        @env.rt.register_activity("PyFail")
        def py_fail(ctx, _):
            raise KeyError("nope")

        env.rt.start()
        st = env.run("go-calls-py", "GoCallsPython", "Gopher")
        assert st.status == "Completed", st
        assert st.output == "go:Hello from Python, Gopher|42|KeyError:'nope'"
    finally:
        stop_gohost(go)
