"""The package's public API around the scenarios: lifecycle and errors at
the edges, management calls, the loader, fork and Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import Env, wait_for

import duroxide
from duroxide import (
    AlreadyRegisteredError,
    Client,
    ClosedError,
    DuroxideError,
    DuroxideTimeoutError,
    ForkedProcessError,
    InstanceFilter,
    InvalidArgumentError,
    PruneOptions,
    Runtime,
    SqliteProvider,
)


def sub_env():
    """The environment for child Pythons: they import this same duroxide."""
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(duroxide.__file__)))
    return dict(os.environ, PYTHONPATH=os.pathsep.join([pkg_parent] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))


def test_versions_and_library():
    v = duroxide.native_version()
    if not os.environ.get("DUROXIDE_LIBRARY") and "site-packages" in duroxide.__file__:
        # An installed package loads the library it ships.
        assert os.path.dirname(duroxide.library_path()) == os.path.dirname(duroxide.__file__)
    assert v["abi"] == duroxide.ABI_VERSION and v["protocol"] == duroxide.PROTOCOL_VERSION
    assert os.path.exists(duroxide.library_path())


def test_closed_objects_raise_clear_errors(tmp_path):
    p = SqliteProvider.open(str(tmp_path / "c.db"))
    rt = Runtime(p)
    c = Client(p)
    with pytest.raises(DuroxideError, match="still used"):
        p.close()  # a store in use refuses to close
    rt.shutdown()
    rt.shutdown()  # idempotent
    with pytest.raises(ClosedError, match="runtime is closed"):
        rt.register_activity("X", lambda ctx, _: None)
    with pytest.raises(ClosedError):
        rt.start()
    c.close()
    c.close()
    with pytest.raises(ClosedError, match="client is closed"):
        c.get_status("x")
    p.close()
    with pytest.raises(ClosedError):
        Client(p)


def test_errors_at_the_edges(env):
    with pytest.raises(InvalidArgumentError):
        env.client.start_orchestration("", "X", "")
    with pytest.raises(AlreadyRegisteredError):
        env.rt.register_activity("A", lambda ctx, _: 1)
        env.rt.register_activity("A", lambda ctx, _: 2)
    with pytest.raises(TypeError):
        env.rt.register_orchestration("Async", _async_orch)
    with pytest.raises(DuroxideError, match="semver|version"):
        env.rt.register_orchestration_versioned("V", "not-a-version", lambda ctx, _: 1)
    with pytest.raises(DuroxideError):
        SqliteProvider.open("file:weird?x=1")
    with pytest.raises(DuroxideError, match="postgres") as e:
        duroxide.PostgresProvider.connect("postgres://u:secret@127.0.0.1:1/db?connect_timeout=2")
    assert "secret" not in str(e.value)
    with pytest.raises(DuroxideTimeoutError):
        env.client.wait_for_orchestration("nobody", 100)
    assert env.client.get_status("nobody").status == "NotFound"


async def _async_orch(ctx, _):  # pragma: no cover - rejected at registration
    return 1


def test_management_calls(env):
    env.rt.register_activity("Echo", lambda ctx, x: x)

    @env.rt.register_orchestration("Parent")
    def parent(ctx, n):
        ctx.set_kv_value("parent", "yes")
        if n < 1:
            yield ctx.schedule_sub_orchestration_with_id("Child", f"child-of-{ctx.instance_id}", n)
            yield ctx.continue_as_new(n + 1)
        return n

    @env.rt.register_orchestration("Child")
    def child(ctx, n):
        return (yield ctx.schedule_activity("Echo", n))

    env.rt.start()
    env.completed("mgmt", "Parent", 0, 1)
    c = env.client
    assert set(c.list_all_instances()) == {"mgmt", "child-of-mgmt"}
    assert "mgmt" in c.list_instances_by_status("Completed")
    info = c.get_instance_info("mgmt")
    assert info.name == "Parent" and info.current_execution_id == 2 and info.created_at > 0
    assert c.list_executions("mgmt") == [1, 2]
    ex = c.get_execution_info("mgmt", 1)
    assert ex.status == "ContinuedAsNew" and ex.event_count > 0
    assert c.read_execution_history("mgmt", 1)[0]["type"] == "OrchestrationStarted"
    tree = c.get_instance_tree("mgmt")
    assert tree.root_id == "mgmt" and "child-of-mgmt" in tree.all_ids
    assert c.get_kv_all_values("mgmt") == {"parent": "yes"}
    assert c.get_kv_value_typed("mgmt", "parent") == "yes"
    assert c.wait_for_kv_value("mgmt", "parent", 1000) == "yes"
    m = c.get_system_metrics()
    assert m.total_instances == 2 and m.completed_instances == 2
    q = c.get_queue_depths()
    assert q.orchestrator_queue >= 0 and q.worker_queue >= 0
    pr = c.prune_executions("mgmt", PruneOptions(keep_last=1))
    assert pr.executions_deleted == 1 and c.list_executions("mgmt") == [2]
    pb = c.prune_executions_bulk(InstanceFilter(name="Parent"), PruneOptions(keep_last=1))
    assert pb.instances_processed == 1
    with pytest.raises(DuroxideError):
        c.delete_instance("child-of-mgmt")  # a child: delete its root
    d = c.delete_instance("mgmt")
    assert d.instances_deleted == 2
    assert c.get_status("mgmt").status == "NotFound"
    assert c.delete_instance_bulk().instances_deleted == 0
    assert c.list_dead_letters() == []


def test_warm_and_cold_drivers_write_identical_histories(tmp_path):
    def register(rt):
        rt.register_activity("Step", lambda ctx, s: s + "x")

        @rt.register_orchestration("Mixed")
        def mixed(ctx, s):
            g = yield ctx.new_guid()
            for _ in range(3):
                s = yield ctx.schedule_activity("Step", s)
            r = yield ctx.race(ctx.wait_for_event("never"), ctx.schedule_activity("Step", "r"))
            both = yield ctx.all([ctx.schedule_activity("Step", "a"), ctx.schedule_timer(1)])
            return [s, r.index, both[0], len(g)]

    shapes = []
    for cache in (1000, -1):
        e = Env(str(tmp_path / f"cache{cache}.db"), instance_cache_size=cache)
        try:
            register(e.rt)
            e.rt.start()
            e.completed("m", "Mixed", "s", ["sxxx", 1, "ax", 36])
            shapes.append([(ev["type"], ev.get("name"), ev.get("input"), ev.get("source_event_id")) for ev in e.client.read_history("m")])
            m = e.rt.metrics_snapshot()
            assert (m["warm_turns"] > 0) == (cache > 0)
            assert (m["replayed_jobs"] > 0) == (cache < 0)
        finally:
            e.close()
    assert shapes[0] == shapes[1]


def test_fork_child_gets_a_clear_error(env):
    env.rt.start()
    pid = os.fork()
    if pid == 0:  # the child: never call into Go
        code = 1
        try:
            env.client.get_status("x")
        except ForkedProcessError as e:
            code = 0 if "fork" in str(e) else 2
        except BaseException:
            code = 3
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert env.client.get_status("x").status == "NotFound"  # the parent is fine


def test_loader_lists_every_path_it_tried(tmp_path):
    code = textwrap.dedent(
        """
        import duroxide._native as n
        n._candidates = lambda: ["/nonexistent/libduroxide.so", "/etc/hostname"]
        try:
            n.lib()
        except n.LibraryNotFoundError as e:
            print(e)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), env=sub_env(), capture_output=True, text=True, timeout=60).stdout
    assert "/nonexistent/libduroxide.so: no such file" in out
    assert "/etc/hostname:" in out
    assert "DUROXIDE_LIBRARY" in out


CTRL_C_SCRIPT = """
import sys, time
from duroxide import Client, Runtime, SqliteProvider
p = SqliteProvider.open(sys.argv[1])
rt = Runtime(p)

@rt.register_activity("Slow")
def slow(ctx, _):
    ctx.wait_cancelled(2)  # still running when Ctrl-C comes: shutdown drains it
    return "x"

@rt.register_orchestration("Waits")
def waits(ctx, _):
    yield ctx.schedule_activity("Slow", "")

c = Client(p)
try:
    with rt:
        rt.start()
        c.start_orchestration("w", "Waits", "")
        print("ready", flush=True)
        c.wait_for_orchestration("w", 600_000)   # blocks until Ctrl-C
except KeyboardInterrupt:
    print("interrupted", flush=True)
assert not rt.is_running
c.close()
p.close()
print("clean shutdown", flush=True)
"""


def test_ctrl_c_shuts_the_runtime_down_cleanly(tmp_path):
    script = tmp_path / "ctrlc.py"
    script.write_text(CTRL_C_SCRIPT)
    p = subprocess.Popen([sys.executable, str(script), str(tmp_path / "c.db")], cwd=str(tmp_path), env=sub_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        time.sleep(0.3)  # inside the wait (a Go call) and the activity
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert "interrupted" in out and "clean shutdown" in out, (out, err)
    assert time.monotonic() - t0 < 15


def test_run_forever_stops_on_sigint(tmp_path):
    script = tmp_path / "forever.py"
    script.write_text(
        "import sys\nfrom duroxide import Runtime, SqliteProvider\n"
        "rt = Runtime(SqliteProvider.open(sys.argv[1]))\n"
        "rt.register_activity('A', lambda ctx, x: x)\n"
        "print('ready', flush=True)\nrt.run_forever()\nprint('stopped', flush=True)\n"
    )
    p = subprocess.Popen([sys.executable, str(script), str(tmp_path / "f.db")], cwd=str(tmp_path), env=sub_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0 and "stopped" in out, (out, err)


def test_shutdown_drains_in_flight_activities(env):
    done = []

    @env.rt.register_activity("Short")
    def short(ctx, _):
        time.sleep(0.3)
        done.append(1)
        return "ok"

    @env.rt.register_orchestration("One")
    def one(ctx, _):
        return (yield ctx.schedule_activity("Short", ""))

    env.rt.start()
    env.client.start_orchestration("one", "One", "")
    wait_for("the activity to start", lambda: env.rt.metrics_snapshot()["host_activities_open"] == 1)
    env.rt.shutdown(10_000)
    assert done == [1]
    rt2 = env.new_runtime()
    rt2.register_orchestration("One", one)
    rt2.start()
    assert env.client.wait_for_orchestration("one", 30000).output == "ok"
