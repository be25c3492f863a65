"""The scenarios every driver must pass (shared/SCENARIOS.md), for the
Python driver over the C ABI, on the SQLite file store. Numbered as there."""

from __future__ import annotations

import asyncio
import re
import threading
import time

from conftest import wait_for

from duroxide import ActivityFailed, Cancelled, DuroxideError


def hello(ctx, name):
    return f"Hello, {name}!"


# 1. hello
def test_01_hello(env):
    env.rt.register_activity("Hello", hello)

    @env.rt.register_orchestration("HelloWorld")
    def hello_world(ctx, name):
        first = yield ctx.schedule_activity("Hello", "Go")
        assert first == "Hello, Go!"
        return (yield ctx.schedule_activity("Hello", name))

    env.rt.start()
    env.completed("hello", "HelloWorld", "World", "Hello, World!")


# 2. control flow
def test_02_control_flow(env):
    env.rt.register_activity("GetFlag", lambda ctx, _: "yes")
    env.rt.register_activity("SayYes", lambda ctx, _: "picked_yes")
    env.rt.register_activity("SayNo", lambda ctx, _: "picked_no")

    @env.rt.register_orchestration("Control")
    def control(ctx, _):
        flag = yield ctx.schedule_activity("GetFlag", "")
        return (yield ctx.schedule_activity("SayYes" if flag == "yes" else "SayNo", ""))

    env.rt.start()
    env.completed("control", "Control", "", "picked_yes")


# 3. loop
def test_03_loop(env):
    env.rt.register_activity("Append", lambda ctx, s: s + "x")

    @env.rt.register_orchestration("Loop")
    def loop(ctx, _):
        s = "start"
        for _ in range(3):
            s = yield ctx.schedule_activity("Append", s)
        return s

    env.rt.start()
    env.completed("loop", "Loop", "", "startxxx")


# 4. activity error handled
def test_04_activity_error_handled(env):
    @env.rt.register_activity("Fragile")
    def fragile(ctx, _):
        raise RuntimeError("boom")

    env.rt.register_activity("Recover", lambda ctx, _: "recovered")

    @env.rt.register_orchestration("Handled")
    def handled(ctx, _):
        try:
            yield ctx.schedule_activity("Fragile", "bad")
        except ActivityFailed as e:
            if e.message != "boom" or e.error_type != "RuntimeError":
                raise ValueError(f"unexpected error {e!r} ({e.error_type})")
        return (yield ctx.schedule_activity("Recover", ""))

    env.rt.start()
    env.completed("handled", "Handled", "", "recovered")


# 5. activity error propagated
def test_05_activity_error_propagated(env):
    @env.rt.register_activity("Validate")
    def validate(ctx, s):
        if not s:
            raise ValueError("Input cannot be empty")
        return f"Valid: {s}"

    @env.rt.register_orchestration("Validating")
    def validating(ctx, s):
        return (yield ctx.schedule_activity("Validate", s))

    env.rt.start()
    st = env.run("invalid", "Validating", "")
    assert st.status == "Failed" and "Input cannot be empty" in st.error
    assert st.error_details["error_type"] == "ValueError"
    env.completed("valid", "Validating", "test", "Valid: test")


# 6. fan-out/fan-in
def test_06_fan_out(env):
    env.rt.register_activity("Greet", hello)

    @env.rt.register_orchestration("Gabbar")
    def gabbar(ctx, _):
        out = yield ctx.all([ctx.schedule_activity("Greet", "Gabbar"), ctx.schedule_activity("Greet", "Samba")])
        return ",".join(out)

    env.rt.start()
    env.completed("gabbar", "Gabbar", "", "Hello, Gabbar!,Hello, Samba!")


# 7. fan-out 100
def test_07_fan_out_100(env):
    env.rt.register_activity("Square", lambda ctx, n: n * n)

    @env.rt.register_orchestration("Squares")
    def squares(ctx, _):
        values = yield ctx.all([ctx.schedule_activity("Square", i) for i in range(1, 101)])
        return str(sum(values))

    env.rt.start()
    env.completed("squares", "Squares", "", 338350)  # "338350" decodes as a number
    assert env.client.get_status("squares").raw_output == "338350"


# 8. timer
def test_08_timer(env):
    @env.rt.register_orchestration("Timer")
    def timer(ctx, _):
        yield ctx.schedule_timer(50)
        return "done"

    env.rt.start()
    env.completed("timer", "Timer", "", "done")
    h = env.client.read_history("timer")
    assert h[-1]["timestamp_ms"] - h[0]["timestamp_ms"] >= 50


# 9. timeout race
def test_09_timeout_race(env):
    env.new_runtime(worker_lock_timeout_ms=400)  # renewals every 200 ms notice a cancellation too
    cancelled = threading.Event()

    @env.rt.register_activity("LongOp")
    def long_op(ctx, _):
        if ctx.wait_cancelled(2.0):
            cancelled.set()
            return "cancelled"
        return "finished"

    @env.rt.register_orchestration("Timeout")
    def timeout(ctx, _):
        r = yield ctx.race(ctx.schedule_activity("LongOp", ""), ctx.schedule_timer(100))
        if r.index == 1:
            raise Exception("timeout")
        return "op finished"

    env.rt.start()
    st = env.run("timeout", "Timeout", "")
    assert st.status == "Failed" and st.error == "timeout"
    assert cancelled.wait(5), "the losing activity's context was not cancelled"


# 10. event race
def test_10_event_race(env):
    @env.rt.register_activity("Sleep")
    def sleep(ctx, _):
        ctx.wait_cancelled(0.3)
        return "slept"

    @env.rt.register_orchestration("EventRace")
    def event_race(ctx, _):
        ev = ctx.wait_for_event("Go")
        r = yield ctx.race(ctx.schedule_activity("Sleep", ""), ev)
        return ("event:" if r.index == 1 else "sleep:") + r.value

    env.rt.start()
    env.client.start_orchestration("race", "EventRace", "")
    wait_for("the wait to exist", lambda: env.history_has("race", "ExternalSubscribed"))
    env.client.raise_event("race", "Go", "ok")
    assert env.client.wait_for_orchestration("race", 30000).output == "event:ok"


# 11. event raised before the wait
def test_11_event_before_wait(env):
    @env.rt.register_activity("Prepare")
    def prepare(ctx, _):
        time.sleep(0.2)
        return "ready"

    @env.rt.register_orchestration("Approve")
    def approve(ctx, _):
        yield ctx.schedule_activity("Prepare", "")
        v = yield ctx.wait_for_event("Approval")
        return "approved:" + v

    env.rt.start()
    env.client.start_orchestration("approve", "Approve", "")
    env.client.raise_event("approve", "Approval", "yes")
    assert env.client.wait_for_orchestration("approve", 30000).output == "approved:yes"


# 12. event queue
def test_12_event_queue(env):
    @env.rt.register_orchestration("Inbox")
    def inbox(ctx, _):
        got = []
        for _ in range(3):
            got.append((yield ctx.dequeue_event("inbox")))
        return ",".join(got)

    env.rt.start()
    env.client.start_orchestration("inbox", "Inbox", "")
    for m in ("a", "b", "c"):
        env.client.enqueue_event("inbox", "inbox", m)
    assert env.client.wait_for_orchestration("inbox", 30000).output == "a,b,c"


# 13. nested race
def test_13_nested_race(env):
    @env.rt.register_activity("Slow")
    def slow(ctx, _):
        ctx.wait_cancelled(1.0)
        return "slow"

    @env.rt.register_orchestration("Nested")
    def nested(ctx, _):
        inner = ctx.race(ctx.schedule_timer(10_000), ctx.wait_for_event("A"))
        outer = yield ctx.race(inner, ctx.schedule_activity("Slow", ""))
        if outer.index == 0 and outer.value.index == 1:
            return "inner:event:" + outer.value.value
        return f"outer={outer.index} inner={inner.winner}"

    env.rt.start()
    env.client.start_orchestration("nested", "Nested", "")
    env.client.raise_event("nested", "A", "x")
    assert env.client.wait_for_orchestration("nested", 30000).output == "inner:event:x"


# 14. sub-orchestration
def test_14_sub_orchestration(env):
    env.rt.register_activity("Upper", lambda ctx, s: s.upper())

    @env.rt.register_orchestration("ChildUpper")
    def child(ctx, s):
        return (yield ctx.schedule_activity("Upper", s))

    @env.rt.register_orchestration("Parent")
    def parent(ctx, s):
        r = yield ctx.schedule_sub_orchestration("ChildUpper", s)
        return "parent:" + r

    env.rt.start()
    env.completed("parent", "Parent", "hi", "parent:HI")


# 15. sub-orchestration chain
def test_15_sub_orchestration_chain(env):
    env.rt.register_activity("AppendX", lambda ctx, s: s + "x")

    @env.rt.register_orchestration("Leaf")
    def leaf(ctx, s):
        return (yield ctx.schedule_activity("AppendX", s))

    @env.rt.register_orchestration("Mid")
    def mid(ctx, s):
        return (yield ctx.schedule_sub_orchestration("Leaf", s)) + "-mid"

    @env.rt.register_orchestration("Root")
    def root(ctx, s):
        return "root:" + (yield ctx.schedule_sub_orchestration("Mid", s))

    env.rt.start()
    env.completed("root", "Root", "a", "root:ax-mid")


# 16. detached orchestration
def test_16_detached(env):
    @env.rt.register_orchestration("Chained")
    def chained(ctx, s):
        yield ctx.schedule_timer(5)
        return s

    @env.rt.register_orchestration("Coordinator")
    def coordinator(ctx, _):
        yield ctx.start_orchestration("Chained", "W1", "A")
        ctx.start_orchestration("Chained", "W2", "B")  # no yield needed
        return "scheduled"

    env.rt.start()
    env.completed("coord", "Coordinator", "", "scheduled")
    for iid, want in (("W1", "A"), ("W2", "B")):
        st = env.client.wait_for_orchestration(iid, 30000)
        assert (st.status, st.output) == ("Completed", want)


# 17. continue-as-new
def test_17_continue_as_new(env):
    @env.rt.register_orchestration("Counter")
    def counter(ctx, n):
        n = int(n)
        if n < 3:
            yield ctx.continue_as_new(str(n + 1))
        return f"final:{n}"

    env.rt.start()
    env.completed("counter", "Counter", "0", "final:3")
    assert env.client.list_executions("counter") == [1, 2, 3, 4]


# 18. deterministic system calls
def test_18_system_calls(env):
    env.new_runtime(instance_cache_size=-1)  # every turn replays the whole history

    @env.rt.register_orchestration("Sys")
    def sys_calls(ctx, _):
        now = yield ctx.utc_now()
        g = yield ctx.new_guid()
        first = f"n={now},g={g}"
        ctx.set_custom_status(first)
        yield ctx.wait_for_event("Go")
        return first  # computed again by the replay after the event

    env.rt.start()
    env.client.start_orchestration("sys", "Sys", "")
    wait_for("the wait", lambda: env.history_has("sys", "ExternalSubscribed"))
    recorded = env.client.get_status("sys").custom_status
    m = re.fullmatch(r"n=(\d+),g=([0-9a-f-]{36})", recorded or "")
    assert m and int(m.group(1)) > 0, recorded
    env.client.raise_event("sys", "Go", "")
    st = env.client.wait_for_orchestration("sys", 30000)
    assert st.status == "Completed" and st.output == recorded
    assert env.rt.metrics_snapshot()["replayed_jobs"] > 0


# 19. custom status
def test_19_custom_status(env):
    env.rt.register_activity("Work", lambda ctx, _: "w")

    @env.rt.register_orchestration("Status")
    def status(ctx, _):
        ctx.set_custom_status("step1")
        yield ctx.schedule_activity("Work", "")
        ctx.set_custom_status("step2")
        yield ctx.wait_for_event("Go")
        return "done"

    env.rt.start()
    env.client.start_orchestration("status", "Status", "")
    seen = 0
    while True:
        st = env.client.wait_for_status_change("status", seen, 0, 20000)
        assert st is not None, "no status change"
        seen = st.custom_status_version
        if st.custom_status == "step2":
            break
    env.client.raise_event("status", "Go", "")
    st = env.client.wait_for_orchestration("status", 30000)
    assert st.status == "Completed" and st.custom_status == "step2"


# 20. KV counter
def test_20_kv_counter(env):
    env.rt.register_activity("Process", lambda ctx, i: f"processed:{i}")

    @env.rt.register_orchestration("KVCounter")
    def kv_counter(ctx, _):
        for i in range(3):
            n = int(ctx.get_kv_value("count") or 0)
            yield ctx.schedule_activity("Process", i)
            ctx.set_kv_value("count", str(n + 1))
        return ctx.get_kv_value("count")

    env.rt.start()
    env.completed("kv", "KVCounter", "", 3)
    assert env.client.get_kv_value("kv", "count") == "3"


# 21. versions
def test_21_versions(env):
    env.rt.register_orchestration_versioned("Versioned", "1.0.0", lambda ctx, _: "v1")
    env.rt.register_orchestration_versioned("Versioned", "2.0.0", lambda ctx, _: "v2")
    env.rt.start()
    env.completed("latest", "Versioned", "", "v2")
    env.client.start_orchestration_versioned("pinned", "Versioned", "", "1.0.0")
    st = env.client.wait_for_orchestration("pinned", 30000)
    assert (st.output, st.version) == ("v1", "1.0.0")


# 22. cancel cascades
def test_22_cancel_cascades(env):
    @env.rt.register_orchestration("Child")
    def child(ctx, _):
        yield ctx.wait_for_event("never")

    @env.rt.register_orchestration("Parent")
    def parent(ctx, _):
        return (yield ctx.schedule_sub_orchestration_with_id("Child", "cancel-child", ""))

    env.rt.start()
    env.client.start_orchestration("cancel-parent", "Parent", "")
    wait_for("the child to wait", lambda: env.history_has("cancel-child", "ExternalSubscribed"))
    env.client.cancel_instance("cancel-parent", "user_request")
    st = env.client.wait_for_orchestration("cancel-parent", 30000)
    assert st.status == "Failed" and st.error_details["kind"] == "Cancelled" and "user_request" in st.error
    cst = env.client.wait_for_orchestration("cancel-child", 30000)
    assert cst.status == "Failed" and cst.error_details["kind"] == "Cancelled"


# 23. retry policy
def test_23_retry_policy(env):
    calls = []

    @env.rt.register_activity("Flaky")
    def flaky(ctx, _):
        calls.append(1)
        if len(calls) <= 2:
            raise RuntimeError("transient")
        return "ok"

    @env.rt.register_orchestration("Retry")
    def retry(ctx, _):
        return (yield ctx.schedule_activity_with_retry("Flaky", "", {"max_attempts": 3, "backoff": "fixed", "backoff_ms": 10}))

    env.rt.start()
    env.completed("retry", "Retry", "", "ok")
    h = env.client.read_history("retry")
    assert sum(1 for e in h if e["type"] == "ActivityScheduled") == 3


# 24. nondeterminism detected
def test_24_nondeterminism(env):
    env.rt.register_activity("A", lambda ctx, _: "a")
    env.rt.register_activity("B", lambda ctx, _: "b")

    @env.rt.register_orchestration("Changing")
    def v1(ctx, _):
        yield ctx.schedule_activity("A", "")
        yield ctx.wait_for_event("Go")
        return "done"

    env.rt.start()
    env.client.start_orchestration("nd", "Changing", "")
    wait_for("the wait", lambda: env.history_has("nd", "ExternalSubscribed"))
    env.new_runtime()  # new code under the same name and version: B first
    env.rt.register_activity("B", lambda ctx, _: "b")

    @env.rt.register_orchestration("Changing")
    def v2(ctx, _):
        yield ctx.schedule_activity("B", "")
        yield ctx.wait_for_event("Go")
        return "done"

    env.rt.start()
    env.client.raise_event("nd", "Go", "")
    st = env.client.wait_for_orchestration("nd", 30000)
    assert st.status == "Failed" and st.error_details["kind"] == "Nondeterminism", st
    assert '"A"' in st.error and '"B"' in st.error, st.error


# 25. unknown orchestration
def test_25_unknown_orchestration(env):
    env.rt.register_activity("Hello", hello)

    @env.rt.register_orchestration("Known")
    def known(ctx, s):
        return (yield ctx.schedule_activity("Hello", s))

    env.rt.start()
    env.client.start_orchestration("ghost", "NoSuchOrchestration", "")
    env.completed("known", "Known", "there", "Hello, there!")  # still serving
    st = env.client.wait_for_orchestration("ghost", 30000)
    assert st.status == "Failed" and "NoSuchOrchestration" in st.error
    assert env.rt.metrics_snapshot()["abandoned"] >= env.opts["max_attempts"] - 1  # retried with backoff first


# 26. unknown activity
def test_26_unknown_activity(env):
    @env.rt.register_orchestration("CallsMissing")
    def calls_missing(ctx, _):
        try:
            yield ctx.schedule_activity("Missing", "")
        except ActivityFailed as e:
            return "caught: " + e.message
        raise DuroxideError("the missing activity succeeded")

    env.rt.start()
    st = env.run("missing", "CallsMissing", "")
    assert st.status == "Completed" and 'activity "Missing" is not registered' in st.output, st


# 27. bad payloads
def test_27_bad_payloads(env):
    env.rt.register_activity("Hello", hello)

    @env.rt.register_activity("ThrowsValue")
    def throws_value(ctx, _):
        raise 42  # type: ignore[misc]  # not an exception: Python raises TypeError

    @env.rt.register_activity("ReturnsObject")
    def returns_object(ctx, _):
        return object()

    @env.rt.register_orchestration("CallsThrower")
    def calls_thrower(ctx, name):
        return (yield ctx.schedule_activity(name, ""))

    @env.rt.register_orchestration("Unencodable")
    def unencodable(ctx, _):
        return {1, 2}
        yield  # a generator

    @env.rt.register_orchestration("Hello")
    def hello_orch(ctx, s):
        return (yield ctx.schedule_activity("Hello", s))

    env.rt.start()
    st = env.run("thrower", "CallsThrower", "ThrowsValue")
    assert st.status == "Failed" and "exceptions must derive from BaseException" in st.error, st
    st = env.run("returns-object", "CallsThrower", "ReturnsObject")
    assert st.status == "Failed" and "cannot encode" in st.error and "object" in st.error, st
    st = env.run("unencodable", "Unencodable", "")
    assert st.status == "Failed" and "cannot encode the orchestration's output" in st.error, st
    env.completed("after", "Hello", "still serving", "Hello, still serving!")


# Beyond the list: async activities, and cancellation reaching them.
def test_async_activity_and_cancellation(env):
    env.new_runtime(worker_lock_timeout_ms=400)
    cancelled = threading.Event()

    @env.rt.register_activity("AsyncHello")
    async def async_hello(ctx, name):
        await asyncio.sleep(0.01)
        return f"Hello, {name}!"

    @env.rt.register_activity("AsyncLong")
    async def async_long(ctx, _):
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "finished"

    @env.rt.register_orchestration("AsyncOrch")
    def orch(ctx, name):
        a = yield ctx.schedule_activity("AsyncHello", name)
        r = yield ctx.race(ctx.schedule_activity("AsyncLong", ""), ctx.schedule_timer(50))
        return f"{a}|{r['index']}"

    env.rt.start()
    env.completed("async", "AsyncOrch", "py", "Hello, py!|1")
    assert cancelled.wait(5)


def test_cancel_visible_to_code(env):
    @env.rt.register_orchestration("Compensating")
    def compensating(ctx, _):
        try:
            yield ctx.wait_for_event("never")
        except Cancelled as e:
            ctx.set_kv_value("compensated", e.reason)
            assert ctx.is_cancel_requested()
            raise

    env.rt.start()
    env.client.start_orchestration("comp", "Compensating", "")
    wait_for("the wait", lambda: env.history_has("comp", "ExternalSubscribed"))
    env.client.cancel_instance("comp", "stop")
    st = env.client.wait_for_orchestration("comp", 30000)
    assert st.status == "Failed" and st.error == "canceled: stop"
    assert env.client.get_kv_value("comp", "compensated") == "stop"
