"""The Python driver against hand-written activations (docs/protocol.md),
without the engine: seq numbering, job order, races and drops, cancel."""

from __future__ import annotations

from duroxide._driver import Driver
from duroxide.context import OrchestrationContext


def act(*jobs, instance="i", replaying=False):
    return {"protocol": 1, "instance": instance, "execution_id": 1, "name": "T", "version": "1.0.0",
            "jobs": [dict(j, replaying=replaying) if replaying else j for j in jobs]}


def start(input=""):
    return {"kind": "start", "input": input}


def driver(fn):
    return Driver(fn, OrchestrationContext)


def test_seq_numbering_and_completion():
    def orch(ctx, x):
        a = yield ctx.schedule_activity("A", x)
        b = yield ctx.schedule_timer(5)
        return [a, b]

    d = driver(orch)
    assert d.activate(act(start("in"))) == [{"kind": "schedule_activity", "name": "A", "input": "in", "seq": 1}]
    assert d.activate(act({"kind": "activity", "seq": 1, "result": "r"})) == [{"kind": "create_timer", "delay_ms": 5, "seq": 2}]
    assert d.activate(act({"kind": "timer", "seq": 2})) == [{"kind": "complete", "output": '["r",null]'}]


def test_cold_replay_gives_the_same_commands():
    def orch(ctx, _):
        g = yield ctx.new_guid()
        r = yield ctx.race(ctx.wait_for_event("E"), ctx.schedule_timer(100))
        return f"{g}:{r.index}:{r.value}"

    jobs = [start(), {"kind": "system_call", "seq": 1, "result": "guid-1"}, {"kind": "event", "seq": 2, "name": "E", "data": "x"}]
    warm = driver(orch)
    cmds = []
    for j in jobs:
        cmds += warm.activate(act(j))
    cold = driver(orch)
    assert cold.activate(act(*jobs, replaying=True)) == cmds
    assert cmds[-2:] == [{"kind": "drop_future", "seq": 3}, {"kind": "complete", "output": "guid-1:0:x"}]


def test_race_resolves_by_job_order_and_drops_losers():
    def orch(ctx, _):
        a = ctx.schedule_activity("A")
        b = ctx.schedule_activity("B")
        r = yield ctx.race(a, b)
        return r.index

    d = driver(orch)
    d.activate(act(start()))
    # Both complete in one activation: the first job wins.
    out = d.activate(act({"kind": "activity", "seq": 2, "result": "b"}, {"kind": "activity", "seq": 1, "result": "a"}))
    assert out == [{"kind": "drop_future", "seq": 1}, {"kind": "complete", "output": "1"}]


def test_nested_composites_and_errors():
    def orch(ctx, _):
        inner = ctx.race(ctx.schedule_activity("A"), ctx.schedule_timer(10))
        both = yield ctx.all([inner, ctx.schedule_activity("B")])
        return [both[0].index, both[1]]

    d = driver(orch)
    d.activate(act(start()))
    out = d.activate(act({"kind": "timer", "seq": 2}, {"kind": "activity", "seq": 3, "result": "b"}))
    assert out == [{"kind": "drop_future", "seq": 1}, {"kind": "complete", "output": '[1,"b"]'}]


def test_activity_error_raised_in_generator():
    def orch(ctx, _):
        try:
            yield ctx.schedule_activity("A")
        except Exception as e:
            return f"{type(e).__name__}:{e.message}:{e.error_type}"

    d = driver(orch)
    d.activate(act(start()))
    err = {"category": "application", "kind": "ActivityFailed", "message": "boom", "error_type": "ValueError"}
    assert d.activate(act({"kind": "activity", "seq": 1, "error": err})) == [{"kind": "complete", "output": "ActivityFailed:boom:ValueError"}]


def test_cancel_fails_pending_tasks_and_code_may_compensate():
    def orch(ctx, _):
        try:
            yield ctx.wait_for_event("E")
        except Exception:
            ctx.set_custom_status("compensating")
            raise

    d = driver(orch)
    d.activate(act(start()))
    out = d.activate(act({"kind": "cancel", "reason": "stop"}))
    assert out[0] == {"kind": "set_custom_status", "status": "compensating"}
    assert out[1]["kind"] == "fail" and out[1]["error"]["message"] == "canceled: stop"


def test_exception_and_bad_yield_fail_the_instance():
    def orch(ctx, _):
        yield 42

    d = driver(orch)
    out = d.activate(act(start()))
    assert out[0]["kind"] == "fail" and "yielded 42" in out[0]["error"]["message"]
    assert out[0]["error"]["error_type"] == "TypeError"


def test_continue_as_new_wins():
    def orch(ctx, n):
        yield ctx.continue_as_new(n + 1)
        return "never"

    d = driver(orch)
    assert d.activate(act(start("1"))) == [{"kind": "continue_as_new", "input": "2"}]


def test_plain_function_orchestration_and_kv():
    def orch(ctx, _):
        ctx.set_kv_value("k", {"v": 1})
        return ctx.get_kv_value("k")

    d = driver(orch)
    out = d.activate(act({"kind": "start", "input": "", "kv": {"old": "x"}}))
    assert out == [{"kind": "set_kv", "key": "k", "value": '{"v":1}'}, {"kind": "complete", "output": '{"v":1}'}]


def test_unknown_and_late_jobs_are_ignored():
    def orch(ctx, _):
        r = yield ctx.race(ctx.schedule_activity("A"), ctx.schedule_timer(1))
        yield ctx.schedule_timer(1000)
        return r.index

    d = driver(orch)
    d.activate(act(start()))
    assert d.activate(act({"kind": "timer", "seq": 2})) == [{"kind": "drop_future", "seq": 1}, {"kind": "create_timer", "delay_ms": 1000, "seq": 3}]
    # The loser completing late, and a seq nobody knows: nothing happens.
    assert d.activate(act({"kind": "activity", "seq": 1, "result": "late"}, {"kind": "activity", "seq": 99, "result": "?"})) == []
    assert d.activate(act({"kind": "timer", "seq": 3})) == [{"kind": "complete", "output": "1"}]


def test_replaying_flag_and_logs(caplog):
    seen = []

    def orch(ctx, _):
        seen.append(ctx.is_replaying())
        ctx.trace_info("hello")
        yield ctx.schedule_timer(1)
        seen.append(ctx.is_replaying())
        return "ok"

    d = driver(orch)
    with caplog.at_level("INFO", logger="duroxide.orchestration"):
        d.activate(act(start(), replaying=True))
        d.activate(act({"kind": "timer", "seq": 1}))
    assert seen == [True, False]
    assert not [r for r in caplog.records if "hello" in r.getMessage()]
