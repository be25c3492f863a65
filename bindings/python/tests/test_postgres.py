"""The scenarios marked [pg] in SCENARIOS.md, on PostgreSQL. They run when
DUROXIDE_PG_DSN names a database (or build/pg.dsn, written by
`make pg-start`, names a reachable one); each test uses its own schema.
Outside CI a missing server skips them with the reason; in CI (CI=true)
it fails them."""

from __future__ import annotations

import os
import uuid

import pytest

from conftest import FAST, REPO

from duroxide import Client, DuroxideError, PostgresProvider, Runtime, RuntimeOptions


def _dsn():
    dsn = os.environ.get("DUROXIDE_PG_DSN")
    if dsn:
        return dsn, True
    path = os.path.join(REPO, "build", "pg.dsn")
    if os.path.exists(path):
        with open(path) as f:
            return f.read().strip(), False
    return None, False


@pytest.fixture
def pg():
    dsn, required = _dsn()
    in_ci = os.environ.get("CI", "").lower() == "true"
    if not dsn:
        if in_ci:
            pytest.fail("no PostgreSQL in CI: run `make pg-start` (it writes build/pg.dsn) or set DUROXIDE_PG_DSN")
        pytest.skip("no PostgreSQL: run `make pg-start` or set DUROXIDE_PG_DSN")
    schema = "py_" + uuid.uuid4().hex[:12]
    try:
        provider = PostgresProvider.connect_with_schema(dsn, schema)
    except DuroxideError as e:
        if required or in_ci:
            raise
        pytest.skip(f"PostgreSQL in build/pg.dsn is not reachable: {e}")
    rt = Runtime(provider, RuntimeOptions(**FAST))
    client = Client(provider)
    yield rt, client
    rt.shutdown(5000)
    client.close()
    provider.close()


def test_pg_hello_fanout_continue_as_new(pg):
    rt, client = pg
    rt.register_activity("Hello", lambda ctx, name: f"Hello, {name}!")

    @rt.register_orchestration("HelloWorld")
    def hello_world(ctx, name):
        yield ctx.schedule_activity("Hello", "Go")
        return (yield ctx.schedule_activity("Hello", name))

    @rt.register_orchestration("Gabbar")
    def gabbar(ctx, _):
        out = yield ctx.all([ctx.schedule_activity("Hello", "Gabbar"), ctx.schedule_activity("Hello", "Samba")])
        return ",".join(out)

    @rt.register_orchestration("Counter")
    def counter(ctx, n):
        if int(n) < 3:
            yield ctx.continue_as_new(str(int(n) + 1))
        return f"final:{n}"

    rt.start()
    for iid, name, inp, want in (("hello", "HelloWorld", "World", "Hello, World!"),
                                 ("gabbar", "Gabbar", "", "Hello, Gabbar!,Hello, Samba!"),
                                 ("counter", "Counter", "0", "final:3")):
        client.start_orchestration(iid, name, inp)
        st = client.wait_for_orchestration(iid, 60000)
        assert (st.status, st.output) == ("Completed", want), st
    assert client.list_executions("counter") == [1, 2, 3, 4]
